"""Hardening against full disks and read-only archives: no answer lost, one warning, an archive read and not
written."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from bulkretry.sim import SimulatorThread
from tests.clitools import read_report, run_at, run_cli
from tests.manifests import write_csv

# -- full disks and read-only archives -------------------------------------------------------------------


@contextmanager
def _mounted(folder: Path, *options: str) -> Iterator[Path]:
    """*folder* as a real mount for the block (``mount OPTIONS``), unmounted after; skips unless root can mount."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) to mount a small tmpfs or a read-only bind mount")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *options, str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}): a container without CAP_SYS_ADMIN?")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of *size* (e.g. ``256k``) on *folder*."""
    return _mounted(folder, "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs")


def _unsaved_lines(err: str) -> list[dict[str, object]]:
    """The results a run could not journal, as printed on stderr (one JSON object per line)."""
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_full_disk_loses_no_answer_and_a_resume_counts_every_session(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """The run folder's disk fills mid-run: exit 1, every answer journalled or printed, the session survives."""
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], *([f"g{i:04d}"] for i in range(300))])
    with _tmpfs(tmp_path / "disk", "256k") as disk:
        out = disk / "run"
        code, _, err = run_at(sim_thread.url, manifest, out, "--concurrency", "4", "--rate", "2000")
        sent = [r.path_segments[3] for r in sim_thread.simulator.received if r.method == "PUT"]
        assert code == 1, err
        assert 0 < len(sent) < 300 and "Traceback" not in err
        assert "database or disk is full" in err and str(out / "journal.sqlite") in err
        printed = {str(row["group_id"]) for row in _unsaved_lines(err)}
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        with closing(sqlite3.connect(out / "journal.sqlite")) as db:
            journalled = {g for (g,) in db.execute("SELECT group_id FROM rows WHERE attempts > 0")}
            sessions = json.loads(db.execute("SELECT value FROM run WHERE key = 'sessions'").fetchone()[0])
        assert set(sent) <= journalled | printed, set(sent) - journalled - printed
        assert len(sessions) == 1
        code, _, err = run_at(sim_thread.url, manifest, out, "--resume", "--rate", "2000")
        assert code == 1, err  # the groups are unknown to the simulator: each one fails (404)
        summary_json = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary_json["sessions"] == 2 and summary_json["by_outcome"] == {"failed": 300}


@pytest.mark.parametrize("disk", ["dev-full", "tmpfs"])
def test_a_full_disk_under_the_log_file_is_one_warning_and_the_run_goes_on(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], disk: str
) -> None:
    """--log-file whose disk is full (at once, or after a few records): one warning, no traceback, exit 0."""
    ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]]
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in ids)])
    if disk == "dev-full":
        if not os.path.exists("/dev/full"):
            pytest.skip("needs /dev/full to fake a full disk")
        code, out, err = run_at(sim_thread.url, manifest, tmp_path / "run", "--log-file", "/dev/full")
    else:
        with _tmpfs(tmp_path / "disk", "64k") as mounted:
            (mounted / "filler").write_bytes(b"x" * 60 * 1024)  # one page left: a few records fit, then ENOSPC
            log = mounted / "run.jsonl"
            code, out, err = run_at(sim_thread.url, manifest, tmp_path / "run", "--log-file", str(log))
            assert 0 < log.stat().st_size <= 4096
    err += capsys.readouterr().err  # logging's own error handler writes to sys.stderr
    assert code == 0, err
    assert f"{len(ids)} rows: {len(ids)} succeeded" in out
    assert err.count("warning: --log-file") == 1 and "No space left on device" in err, err
    assert "Traceback" not in err and "Logging error" not in err, err
    assert [r["outcome"] for r in read_report(tmp_path / "run")] == ["succeeded"] * len(ids)


def test_an_archived_run_on_a_read_only_mount_is_read_not_written(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """rerun and diff --out work from a read-only run folder; report and diff's default say where to write instead."""
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"], ["g2"]])
    code, _, err = run_at(sim_thread.url, manifest, tmp_path / "run")
    assert code == 1, err  # unknown groups: failed, to rerun
    with _mounted(tmp_path / "archive", "-o", "bind,ro", str(tmp_path / "run")) as archive:
        before = sorted(p.name for p in archive.iterdir())
        code, _, err = run_cli("rerun", str(archive), "--out", str(tmp_path / "again"), "--quiet")
        assert code == 1 and "Traceback" not in err, err
        assert [r["group_id"] for r in read_report(tmp_path / "again")] == ["g1", "g2"]
        code, out, err = run_cli("diff", str(archive), str(tmp_path / "again"), "--out", str(tmp_path / "d.csv"))
        assert code == 0 and "still failing: 2" in out, err
        code, _, err = run_cli("diff", str(tmp_path / "again"), str(archive))
        assert code == 2 and "--out" in err and str(archive) in err and "Traceback" not in err, err
        code, _, err = run_cli("report", str(archive))
        assert code == 2 and "cannot write" in err and str(archive) in err and "Traceback" not in err, err
        assert "copy" in err, err
        assert sorted(p.name for p in archive.iterdir()) == before
