"""Run folders after the fact: the calls of a killed session, a journal that cannot be resumed, and the
`status` of a run, live or not. Real simulator, real child processes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import (
    child_env,
    child_run_argv,
    failed_group_ids,
    run_cli,
    sim_run_argv,
    write_group_manifest,
)


def _puts(sim_thread: SimulatorThread) -> int:
    """The retry calls the simulator received."""
    return sum(1 for r in sim_thread.simulator.received if r.method == "PUT")


def _child_argv(sim_thread: SimulatorThread, tmp_path: Path, n: int, *options: str) -> list[str]:
    """A child ``bulkretry run`` of the simulator's first *n* failed groups into tmp_path/run."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, n))
    return child_run_argv(manifest, sim_thread.url, sim_thread.config.project_id, tmp_path / "run", *options)


def _kill_after(proc: subprocess.Popen[bytes], sim_thread: SimulatorThread, puts: int) -> None:
    """SIGKILL *proc* once the simulator has received *puts* retry calls (or it ended)."""
    deadline = time.monotonic() + 60
    while _puts(sim_thread) < puts and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_calls_after_kill_9_and_resume_count_the_killed_session(tmp_path: Path) -> None:
    """summary.json's calls after kill -9 and --resume include the calls the killed session made (from the
    journal), short only of the calls whose answer never reached it."""
    with SimulatorThread(SimConfig(groups=300, failed_ratio=1.0, latency_ms=20)) as sim_thread:
        argv = _child_argv(sim_thread, tmp_path, 200, "--rate", "400", "--concurrency", "4", "--quiet")
        env = child_env(sim_thread.config)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _kill_after(proc, sim_thread, 100)
        resume = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=120)
        puts = _puts(sim_thread)
    assert resume.returncode in (0, 1), resume.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["sessions"] == 2
    assert puts - 2 * 4 <= summary["calls"] <= puts, (summary["calls"], puts)


@pytest.fixture
def sim_config() -> SimConfig:
    """Twenty groups, all failed."""
    return SimConfig(groups=20, failed_ratio=1.0)


def _finished_run(sim_thread: SimulatorThread, tmp_path: Path, n: int = 10) -> list[str]:
    """A quiet run of the simulator's first *n* failed groups into tmp_path/run (exit 0); its argv."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, n))
    argv = sim_run_argv(sim_thread, manifest, tmp_path / "run", "--rate", "500", "--quiet")
    code, _, err = run_cli(*argv)
    assert code == 0, err
    return argv


def _zeroed(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [_zeroed, _truncated])
def test_a_damaged_journal_is_said_to_be_unresumable(
    sim_thread: SimulatorThread, env: dict[str, str], tmp_path: Path, damage: object
) -> None:
    """A zeroed or truncated journal: a run into the folder and --resume both say it cannot be resumed and why,
    never advise --resume, call nothing and leave the file as it is."""
    argv = _finished_run(sim_thread, tmp_path)
    journal = tmp_path / "run" / "journal.sqlite"
    damage(journal)  # type: ignore[operator]
    before, calls = journal.read_bytes(), len(sim_thread.simulator.received)
    for extra in ((), ("--resume",)):
        code, _, err = run_cli(*argv, *extra)
        assert code == 2, err
        assert "cannot be resumed: its journal.sqlite is damaged (" in err, err
        assert "add --resume" not in err
    assert journal.read_bytes() == before
    assert len(sim_thread.simulator.received) == calls
