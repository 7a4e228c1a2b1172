"""Hardening against stop signals, in a real child process: before the first call and after the last one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import PROJECT, child_env, read_report, run_argv
from tests.manifests import write_csv

# -- stop signals before the first call and after the last one ----------------------------------------------------


def _bulkretry(*argv: str, env: dict[str, str], ignore_sigint: bool = False) -> subprocess.Popen[str]:
    """``python -m bulkretry ARGV`` as a child process (with SIGINT ignored, as a shell's background job has it)."""

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [sys.executable, "-m", "bulkretry", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore if ignore_sigint else None,
    )


def _wait_until(found: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Poll (bounded) until *found*; fail the test if the child ends first or it never happens."""
    deadline = time.monotonic() + 60
    while not found():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"never saw {what} (exit {proc.returncode}): {err[-2000:]}")
        time.sleep(0.002)


def _has_open(pid: int, path: Path) -> bool:
    """Whether process *pid* has *path* open (Linux: /proc/PID/fd)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see when the manifest is being read")
@pytest.mark.parametrize(
    ("signame", "expected", "ignored"), [("SIGINT", 130, False), ("SIGTERM", 143, False), ("SIGINT", 130, True)]
)
def test_a_signal_while_the_manifest_is_read_stops_before_any_call(
    tmp_path: Path, signame: str, expected: int, ignored: bool
) -> None:
    """A stop signal while a large workbook is still being read: no call ever starts, exit 130/143, one line."""
    manifest = tmp_path / "big.xlsx"
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("groups")
    sheet.append(["group_id"])
    for n in range(6000):
        sheet.append([f"{n:08x}-0000-4000-8000-000000000000"])
    book.save(manifest)
    config = SimConfig(groups=5)
    with SimulatorThread(config) as sim_thread:
        env = child_env(config)
        argv = run_argv(manifest, sim_thread.url, config.project_id, tmp_path / "run", "--quiet")
        proc = _bulkretry(*argv, env=env, ignore_sigint=ignored)
        _wait_until(lambda: _has_open(proc.pid, manifest), proc, "the manifest being read")
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=60)
        received = len(sim_thread.simulator.received)
    assert proc.returncode == expected, err
    assert received == 0  # nothing was called, then or later
    assert "Traceback" not in err and f"stopped by {signame}" in err and "nothing was called" in err


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux only, as the test above")
@pytest.mark.parametrize(("signame", "expected"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_while_the_reports_are_written_ends_with_its_status(
    tmp_path: Path, signame: str, expected: int
) -> None:
    """A stop signal while the reports are written: they are finished (whole, consistent), and the exit
    status is the signal's, not 0."""
    rows = 8000
    manifest = write_csv(tmp_path / "m.csv", [["group_id"]] + [[f"g-{n:06d}"] for n in range(rows)])
    out = tmp_path / "run"
    proc = _bulkretry(
        *run_argv(manifest, "http://127.0.0.1:9", PROJECT, out, "--dry-run", "--quiet"), env=dict(os.environ)
    )
    _wait_until(
        lambda: out.is_dir() and any(p.suffix == ".tmp" for p in out.iterdir()), proc, "the reports being written"
    )
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == expected, err
    assert "Traceback" not in err and f"stopped by {signame}" in err
    assert not [p.name for p in out.iterdir() if p.suffix == ".tmp"]
    assert len(read_report(out)) == rows and {r["outcome"] for r in read_report(out)} == {"dry_run"}
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["by_outcome"] == {"dry_run": rows}
    for name in ("report.json", "report.xlsx", "report.html", "annotated.csv"):
        assert (out / name).stat().st_size > 0
