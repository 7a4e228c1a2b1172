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


def _stopped_run(sim_thread: SimulatorThread, tmp_path: Path) -> list[str]:
    """A run of 10 groups at 2 calls a second, time-boxed to 2 s (rows left interrupted, exit 1); its argv."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 10))
    argv = sim_run_argv(sim_thread, manifest, tmp_path / "run", "--rate", "2", "--max-duration", "2s", "--quiet")
    code, _, err = run_cli(*argv, "--concurrency", "2", "--max-attempts", "2")
    assert code == 1, err
    return argv


@pytest.mark.slow
def test_resume_dir_continues_with_the_settings_the_run_started_with(
    sim_thread: SimulatorThread, env: dict[str, str], tmp_path: Path
) -> None:
    """`resume DIR` alone calls only the rows not finished, against the run's endpoint and project, at its pace
    options (recorded in the journal, which holds no secret), and the run ends finished."""
    _stopped_run(sim_thread, tmp_path)
    folder = tmp_path / "run"
    code, out, err = run_cli("status", str(folder), "--json")
    assert code == 0, err
    before = json.loads(out)
    assert before["state"] == "interrupted" and before["by_outcome"]["interrupted"] > 0
    calls = len(sim_thread.simulator.received)
    code, _, err = run_cli("resume", str(folder), "--rate", "500", "--quiet")
    assert code == 0, err
    assert len(sim_thread.simulator.received) - calls == before["by_outcome"]["interrupted"]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["sessions"] == 2 and summary["by_outcome"] == {"succeeded": 10}
    journal = (folder / "journal.sqlite").read_bytes()
    assert all(secret.encode() not in journal for secret in env.values())
    code, out, err = run_cli("status", str(folder), "--json")
    after = json.loads(out)
    assert after["state"] == "finished" and after["eta_s"] is None
    assert {k: v for k, v in after.items() if k not in ("state", "manifest_rows", "elapsed_s", "eta_s")} == summary


def test_resume_dir_refuses_a_changed_endpoint_without_force(
    sim_thread: SimulatorThread, env: dict[str, str], tmp_path: Path
) -> None:
    """An --endpoint given to `resume DIR` is a change of what the run calls: exit 2 without --force."""
    _finished_run(sim_thread, tmp_path)
    code, _, err = run_cli("resume", str(tmp_path / "run"), "--endpoint", "https://127.0.0.1:9")
    assert code == 2
    assert "endpoint was" in err and "--force" in err


@pytest.mark.slow
def test_status_of_a_live_run_reads_it_without_holding_it_up(tmp_path: Path) -> None:
    """`status` of a run going on (a child process, its lock held): state running, rows so far, calls; the run
    then finishes normally."""
    with SimulatorThread(SimConfig(groups=60, failed_ratio=1.0, latency_ms=20)) as sim_thread:
        argv = _child_argv(sim_thread, tmp_path, 50, "--rate", "20", "--concurrency", "2", "--quiet")
        proc = subprocess.Popen(argv, env=child_env(sim_thread.config), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while _puts(sim_thread) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        code, out, err = run_cli("status", str(tmp_path / "run"), "--json")
        text = run_cli("status", str(tmp_path / "run"))[1]
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert code == 0, err
    live = json.loads(out)
    assert live["state"] == "running" and live["manifest_rows"] == 50
    assert 0 < live["by_outcome"].get("succeeded", 0) < 50 and live["calls"] >= live["by_outcome"]["succeeded"]
    assert live["eta_s"] is None or live["eta_s"] > 0
    assert ": running · " in text and " of 50 rows done" in text
    assert json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))["by_outcome"] == {
        "succeeded": 50
    }


def test_status_of_a_folder_without_a_run_exits_2(tmp_path: Path) -> None:
    """`status` of a folder that holds no run says so (exit 2)."""
    code, _, err = run_cli("status", str(tmp_path))
    assert code == 2 and "holds no run" in err
