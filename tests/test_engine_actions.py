"""Each action through the engine against the in-process simulator: its call, --check-status, --verify, batches
of priority rows (one result per row), a refused batch, and what a dry run says."""

from __future__ import annotations

import json
import math
import random

import aiohttp
import pytest

from bulkretry.manifest.plan import CallSpec, Planner, RowPlan
from bulkretry.oms.actions import ACTIONS, GROUPS, TASKS, Action
from bulkretry.oms.auth import TokenAuth
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.credentials import Token
from bulkretry.records import Outcome, RowResult
from bulkretry.run.engine import Engine, EngineConfig
from bulkretry.run.policy import RetryPolicy
from bulkretry.sim import SimConfig, Simulator, running_simulator

FAST = RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.02, rng=random.Random(1))
CONFIG = SimConfig(groups=40, tasks=60, failed_ratio=0.3, settle_s=0.05)


def targets(sim: Simulator, target: str, status: int, n: int) -> list[str]:
    """*n* ids of groups or tasks in *status*."""
    if target == GROUPS:
        found = [g["group_id"] for g in sim.state.list(status=status, offset=0, limit=10_000)[1]]
    else:
        found = [str(t) for t in sim.state.task_ids() if sim.state.get_task(t)["status"] == status]
    assert len(found) >= n, f"the simulator has {len(found)} {target} in status {status}"
    return found[:n]


def plans_for(action: Action, ids: list[str], **cells: str) -> list[RowPlan]:
    column = action.id_column
    planner = Planner(
        columns=[column, *cells], project_id=CONFIG.project_id, endpoint="http://x", call=CallSpec(action), env={}
    )
    return [planner.plan(i + 2, {column: tid, **cells}) for i, tid in enumerate(ids)]


async def run(sim: Simulator, action: Action, plans: list[RowPlan], **config: object) -> list[RowResult]:
    results: list[RowResult] = []
    async with make_session() as session:
        client = OmsClient(session, TokenAuth(Token(CONFIG.token)), endpoint=sim.url)
        engine = Engine(client, EngineConfig(**{"concurrency": 3, "policy": FAST, "action": action, **config}))  # type: ignore[arg-type]
        await engine.run(plans, results.append)
    assert sorted(r.row for r in results) == [p.row for p in plans]  # exactly one result per row
    return sorted(results, key=lambda r: r.row)


#: (action, a status it accepts, a status it refuses)
PER_ROW = [
    (("retry", GROUPS), 5, 6),
    (("start", GROUPS), 3, 5),
    (("stop", GROUPS), 2, 3),
    (("start", TASKS), 4, 2),
    (("stop", TASKS), 2, 3),
]


@pytest.fixture
async def sim():
    async with running_simulator(CONFIG) as simulator:
        yield simulator


@pytest.mark.parametrize(("key", "accepted", "refused"), PER_ROW)
async def test_each_action_makes_its_call(sim: Simulator, key: tuple[str, str], accepted: int, refused: int) -> None:
    """Its method and path, its body (none for a stop); a status it is not allowed in is the service's refusal."""
    action = ACTIONS[key]
    ids = [*targets(sim, action.target, accepted, 2), *targets(sim, action.target, refused, 1)]
    results = await run(sim, action, plans_for(action, ids, src_ak="AK", src_sk="SK"))
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.SUCCEEDED, Outcome.FAILED]
    assert (results[2].http_status, results[2].error_code) == (400, "OMS.1015")
    sent = [r for r in sim.received if r.method == action.method]
    assert sorted(r.path_segments[3] for r in sent) == sorted(ids)
    assert all(tuple(r.path_segments[2:]) == action.segments(r.path_segments[3]) for r in sent)
    bodies = [json.loads(r.body) if r.body else None for r in sent]
    if not action.body_fields:
        assert bodies == [None] * 3
    else:
        assert all(b["src_ak"] == "AK" and ("migrate_failed_object" in b) == (key != ("start", GROUPS)) for b in bodies)


@pytest.mark.parametrize(("key", "accepted", "refused"), PER_ROW)
async def test_check_status_skips_a_status_the_action_does_not_accept(
    sim: Simulator, key: tuple[str, str], accepted: int, refused: int
) -> None:
    """Each target is read first (its own GET); a status outside the precondition is skipped, named in words."""
    action = ACTIONS[key]
    ids = [*targets(sim, action.target, accepted, 1), *targets(sim, action.target, refused, 1)]
    results = await run(sim, action, plans_for(action, ids), check_status=True)
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.SKIPPED]
    assert results[1].error_code == f"status:{refused}"
    assert (
        results[1].error_msg.startswith(f"status {refused} (")
        and f"--action {action.name} accepts " in results[1].error_msg
    )
    before = dict(results[1].extra)
    assert before["status_before"] == str(refused)
    assert ("group_error_code" in before) == (action.target == GROUPS)  # a group's story; a task has none
    gets = [r for r in sim.received if r.method == "GET"]
    assert [r.path_segments[2] for r in gets] == [action.show_path[0]] * 2
    assert len([r for r in sim.received if r.method == action.method]) == 1


def test_a_skip_names_the_statuses_in_words() -> None:
    """The message says the status and what the action accepts, per target."""
    from bulkretry.run.engine import _not_accepted

    assert (
        _not_accepted(ACTIONS["start", TASKS], 2)
        == "status 2 (running): --action start accepts 3 (stopped), 4 (failed)"
    )
    assert _not_accepted(ACTIONS["retry", GROUPS], 6) == (
        "status 6 (migration finished): --action retry accepts 5 (migration failed)"
    )


@pytest.mark.parametrize(("key", "ends"), [(("stop", GROUPS), {3}), (("stop", TASKS), {3}), (("start", TASKS), {1, 2})])
async def test_verify_polls_while_the_action_is_pending(sim: Simulator, key: tuple[str, str], ends: set[int]) -> None:
    """A stop passes 7 (pausing) and is polled until it ends at 3; a started task is no longer stopped or failed."""
    action = ACTIONS[key]
    ids = targets(sim, action.target, 2 if action.name == "stop" else 4, 2)
    results = await run(sim, action, plans_for(action, ids), verify_timeout=5.0, verify_interval=0.02)
    assert all(r.outcome is Outcome.SUCCEEDED and int(dict(r.extra)["status_after"]) in ends for r in results)
    assert all(r.attempts == 1 for r in results)  # the action's call: its polls are status reads
    if action.name == "stop":
        assert dict(results[0].extra)["status_after_meaning"] == ("paused" if action.target == GROUPS else "stopped")


# --- batches ------------------------------------------------------------------------------------


def task_ids(sim: Simulator, statuses: tuple[int, ...], n: int) -> list[str]:
    found = [str(t) for t in sim.state.task_ids() if sim.state.get_task(t)["status"] in statuses]
    assert len(found) >= n
    return found[:n]


PRIORITY = ACTIONS["priority", TASKS]


@pytest.mark.parametrize("size", [1, 3, 50])
async def test_priority_rows_go_in_batches(sim: Simulator, size: int) -> None:
    """ceil(rows / batch size) calls, one result per row, the batch's answer on each of its rows."""
    ids = task_ids(sim, (1, 3, 4), 7)
    results = await run(sim, PRIORITY, plans_for(PRIORITY, ids, priority="HIGH"), batch_size=size)
    calls = [r for r in sim.received if r.method == "POST"]
    assert len(calls) == math.ceil(7 / size)
    assert sorted(i for r in calls for i in json.loads(r.body)["ids"]) == sorted(int(i) for i in ids)
    assert all(json.loads(r.body)["task_priority"] == "HIGH" for r in calls)
    assert all(r.outcome is Outcome.SUCCEEDED and r.attempts == 1 and r.http_status == 200 for r in results)
    assert len({r.request_id for r in results}) == len(calls)
    assert all(sim.state.get_task(int(i))["task_priority"] == "HIGH" for i in ids)


async def test_a_batch_is_one_project_region_and_level(sim: Simulator) -> None:
    """A change of level ends a batch; invalid rows between members are reported and do not end it."""
    ids = task_ids(sim, (1, 3, 4), 4)
    planner = Planner(
        columns=["task_id", "priority"], project_id=CONFIG.project_id, endpoint="http://x", call=CallSpec(PRIORITY)
    )
    cells = [(ids[0], "LOW"), ("not-a-task", "LOW"), (ids[1], "LOW"), (ids[2], "HIGH"), (ids[3], "LOW")]
    plans = [planner.plan(i + 2, {"task_id": t, "priority": p}) for i, (t, p) in enumerate(cells)]
    results = await run(sim, PRIORITY, plans, concurrency=1)
    calls = [json.loads(r.body) for r in sim.received if r.method == "POST"]
    assert [(len(c["ids"]), c["task_priority"]) for c in calls] == [(2, "LOW"), (1, "HIGH"), (1, "LOW")]
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.INVALID, *[Outcome.SUCCEEDED] * 3]


async def test_a_refused_batch_fails_each_of_its_rows(sim: Simulator) -> None:
    """All or nothing: a running task in the batch refuses it (400 OMS.1015), every row of it failed with the code."""
    good = task_ids(sim, (1, 3, 4), 3)
    running = task_ids(sim, (2,), 1)
    ids = [good[0], running[0], good[1], good[2]]
    results = await run(sim, PRIORITY, plans_for(PRIORITY, ids, priority="MEDIUM"), batch_size=2)
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.FAILED, "OMS.1015"),
        (Outcome.FAILED, "OMS.1015"),
        (Outcome.SUCCEEDED, ""),
        (Outcome.SUCCEEDED, ""),
    ]
    assert results[0].request_id == results[1].request_id and results[0].attempts == 1


async def test_check_status_reads_each_task_before_its_batch(sim: Simulator) -> None:
    """Each task is read first; only the accepted ones go into the batch call."""
    good = task_ids(sim, (1, 3, 4), 3)
    running = task_ids(sim, (2,), 1)
    ids = [good[0], running[0], good[1], good[2]]
    results = await run(sim, PRIORITY, plans_for(PRIORITY, ids, priority="LOW"), check_status=True, concurrency=1)
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.SKIPPED, Outcome.SUCCEEDED, Outcome.SUCCEEDED]
    calls = [json.loads(r.body) for r in sim.received if r.method == "POST"]
    assert calls == [{"ids": [int(good[0]), int(good[1]), int(good[2])], "task_priority": "LOW"}]
    assert [r.attempts for r in results] == [1, 0, 1, 1]  # the batch's call: the reads are not attempts


@pytest.mark.parametrize("key", sorted(ACTIONS))
async def test_a_dry_run_says_the_call_it_would_make(key: tuple[str, str]) -> None:
    """No client, no call: each row says dry_run and the call."""
    action = ACTIONS[key]
    plans = plans_for(action, ["1", "2"], priority="LOW")
    results: list[RowResult] = []
    await Engine(None, EngineConfig(dry_run=True, action=action)).run(plans, results.append)
    assert [r.outcome for r in results] == [Outcome.DRY_RUN] * 2
    assert results[0].error_msg == f"dry run: not called ({action.describe()})"


async def test_a_stopped_batch_run_still_gives_one_result_per_row(sim: Simulator) -> None:
    """A stop before the calls: every row is interrupted, none called."""
    ids = task_ids(sim, (1, 3, 4), 5)
    async with aiohttp.ClientSession() as session:
        engine = Engine(
            OmsClient(session, TokenAuth(Token(CONFIG.token)), endpoint=sim.url),
            EngineConfig(action=PRIORITY, batch_size=2),
        )
        engine.stop_now()
        results: list[RowResult] = []
        await engine.run(plans_for(PRIORITY, ids, priority="LOW"), results.append)
    assert sorted(r.row for r in results) == [p + 2 for p in range(5)]
    assert {r.outcome for r in results} == {Outcome.INTERRUPTED} and engine.stats.calls == 0
