"""A whole run of each action (prepare, execute, journal, reports) against the simulator in a thread."""

from __future__ import annotations

import csv
from pathlib import Path

import anyio
import pytest

from bulkretry.errors import UsageError
from bulkretry.oms.auth import TokenAuth
from bulkretry.oms.credentials import Token
from bulkretry.records import Outcome
from bulkretry.run.prepare import PreparedRun, prepare
from bulkretry.run.runner import RunResult, execute
from bulkretry.run.settings import Checks, ManifestSource, Output, Pacing, RunSettings, ServiceTarget, Work
from bulkretry.sim import SimConfig, SimulatorThread


def settings_for(sim: SimulatorThread, manifest: Path, out: Path, work: Work, **checks: object) -> RunSettings:
    return RunSettings(
        ManifestSource(manifest),
        ServiceTarget(endpoint=sim.url, project_id=sim.config.project_id),
        Pacing(rate=None, concurrency=2),
        Checks(**checks),  # type: ignore[arg-type]
        Output(out_dir=out),
        work=work,
    )


def run(prepared: PreparedRun, sim: SimulatorThread) -> RunResult:
    return anyio.run(lambda: execute(prepared, TokenAuth(Token(sim.config.token))))


def tasks_in(sim: SimulatorThread, statuses: tuple[int, ...], n: int) -> list[int]:
    state = sim.simulator.state
    return [t for t in state.task_ids() if state.get_task(t)["status"] in statuses][:n]


@pytest.fixture
def sim_thread():
    with SimulatorThread(SimConfig(groups=10, tasks=40, failed_ratio=0.3, settle_s=0.05)) as sim:
        yield sim


def test_a_task_manifest_runs_start_on_tasks(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """A task_id column makes a task run: each task started once, its group_id carried, one row per task."""
    failed = tasks_in(sim_thread, (4,), 3)
    manifest = tmp_path / "tasks.csv"
    manifest.write_text("task_id,group_id\n" + "".join(f"{t},g-{t}\n" for t in failed), encoding="utf-8")
    prepared = prepare(settings_for(sim_thread, manifest, tmp_path / "run", Work(action="start")))
    assert prepared.action.key == "start-task"
    result = run(prepared, sim_thread)
    assert result.summary.by_outcome == {Outcome.SUCCEEDED.value: 3}
    with open(tmp_path / "run" / "report.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    assert [(str(t), f"g-{t}") for t in failed] == [(r[2], r[-1]) for r in rows]  # the id, and its group carried
    posted = [r for r in sim_thread.simulator.received if r.method == "POST"]
    assert sorted(int(r.path_segments[3]) for r in posted) == sorted(failed)


def test_a_priority_run_batches_its_rows(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """--action priority --batch-size 2 on five tasks: three calls, five rows succeeded, each task's level set."""
    ids = tasks_in(sim_thread, (1, 3, 4), 5)
    manifest = tmp_path / "tasks.csv"
    manifest.write_text("taskId\n" + "".join(f"{t}\n" for t in ids), encoding="utf-8")
    work = Work(action="priority", priority="HIGH", batch_size=2)
    result = run(prepare(settings_for(sim_thread, manifest, tmp_path / "run", work)), sim_thread)
    assert result.summary.by_outcome == {Outcome.SUCCEEDED.value: 5} and result.summary.calls == 3
    assert all(sim_thread.simulator.state.get_task(t)["task_priority"] == "HIGH" for t in ids)


def test_priority_without_a_level_stops_before_any_call(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """No priority column and no --priority: a usage error from prepare, nothing called."""
    manifest = tmp_path / "tasks.csv"
    manifest.write_text("task_id\n1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="--priority"):
        prepare(settings_for(sim_thread, manifest, tmp_path / "run", Work(action="priority")))
    assert not sim_thread.simulator.received


@pytest.mark.slow  # the run's verify polls every 2 s
def test_a_group_stop_with_check_status_and_verify(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """Groups that run are stopped and verified paused; a paused one is skipped with its status in words."""
    state = sim_thread.simulator.state
    running = [g["group_id"] for g in state.list(status=2, offset=0, limit=100)[1]][:1]
    paused = [g["group_id"] for g in state.list(status=3, offset=0, limit=100)[1]][:1]
    manifest = tmp_path / "groups.csv"
    manifest.write_text("group_id\n" + "".join(f"{g}\n" for g in running + paused), encoding="utf-8")
    settings = settings_for(
        sim_thread, manifest, tmp_path / "run", Work(action="stop"), check_status=True, verify_timeout=5.0
    )
    result = run(prepare(settings), sim_thread)
    assert result.summary.by_outcome == {Outcome.SUCCEEDED.value: 1, Outcome.SKIPPED.value: 1}
    assert state.get(running[0])["status"] == 3
