"""Each call of the action table end to end through ``bulkretry run``, signed with AK/SK: against the simulator (the
target moves as the service would move it) and against a server that checks every request with the official SDK's
signer (method, path and body as the SDK would send them). And a resumed run keeps its action."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aiohttp import web

from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import PROJECT, csv_dicts, run_manifest, use_sim_credentials
from tests.servers import ServerThread, sdk_expected_authorization

CONFIG = SimConfig(groups=40, tasks=60, failed_ratio=0.4, seed=11, settle_s=0.05)
KEYS = ("src_ak", "src_sk", "dst_ak", "dst_sk")


class Case(NamedTuple):
    action: str
    target: str
    #: The statuses a target must be in for the action (the first rows of the manifest are taken from them).
    before: tuple[int, ...]
    method: str
    #: The path after /v2/{project_id}/, {id} standing for the row's id.
    path: str
    #: What the body holds besides the manifest's keys (None: no body at all).
    body: dict[str, Any] | None
    #: The statuses the target may be in once the run ended.
    after: tuple[int, ...]


CASES = [
    Case("retry", "groups", (5,), "PUT", "taskgroups/{id}/retry", {"migrate_failed_object": False}, (1, 2, 6)),
    Case("start", "groups", (3,), "PUT", "taskgroups/{id}/start", {}, (1, 2)),
    Case("stop", "groups", (1, 2), "PUT", "taskgroups/{id}/stop", None, (7, 3)),
    Case("start", "tasks", (3, 4), "POST", "tasks/{id}/start", {"migrate_failed_object": False}, (1, 2)),
    Case("stop", "tasks", (2,), "POST", "tasks/{id}/stop", None, (7, 3)),
    Case("priority", "tasks", (1, 3, 4), "POST", "tasks/batch-update", None, (1, 3, 4)),
]
IDS = [f"{case.action}-{case.target}" for case in CASES]


def _targets(sim: SimulatorThread, case: Case, n: int = 3) -> list[str]:
    """*n* ids of the simulator's targets in one of the case's statuses."""
    state = sim.simulator.state
    if case.target == "groups":
        found = [g["group_id"] for s in case.before for g in state.list(status=s, offset=0, limit=100)[1]]
    else:
        found = [str(t) for t in state.task_ids() if state.get_task(t)["status"] in case.before]
    assert len(found) >= n, f"seed {CONFIG.seed} has too few {case.target} in {case.before}"
    return found[:n]


def _status(sim: SimulatorThread, case: Case, target_id: str) -> dict[str, Any]:
    state = sim.simulator.state
    return state.get(target_id) if case.target == "groups" else state.get_task(int(target_id))


def _manifest(tmp_path: Path, case: Case, ids: list[str]) -> Path:
    """A manifest of *ids* with made-up keys in every row (the stop calls send none of them)."""
    column = "group_id" if case.target == "groups" else "task_id"
    lines = [",".join((column, *KEYS))] + [
        ",".join((i, *(f"{k.upper()}-{n}" for k in KEYS))) for n, i in enumerate(ids)
    ]
    path = tmp_path / f"{case.action}-{case.target}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(manifest: Path, url: str, out: Path, case: Case, *extra: str, rate: str = "500") -> tuple[int, str, str]:
    levels = ("--priority", "HIGH") if case.action == "priority" else ()
    return run_manifest(manifest, url, PROJECT, out, "--action", case.action, *levels, *extra, rate=rate)


@pytest.fixture
def sim_thread() -> Iterator[SimulatorThread]:
    with SimulatorThread(CONFIG) as sim:
        yield sim


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_each_action_moves_its_targets_in_the_simulator(
    case: Case, sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --check-status, every row is called once (AK/SK signed), succeeds, and its target leaves the status the
    action needs; the report's first columns name the target's id."""
    use_sim_credentials(monkeypatch, CONFIG)
    ids = _targets(sim_thread, case)
    code, _, err = _run(_manifest(tmp_path, case, ids), sim_thread.url, tmp_path / "run", case, "--check-status")
    assert code == 0, err
    rows = csv_dicts(tmp_path / "run" / "report.csv")
    id_column = "group_id" if case.target == "groups" else "task_id"
    assert [(r[id_column], r["outcome"]) for r in rows] == [(i, "succeeded") for i in ids]
    assert all(_status(sim_thread, case, i)["status"] in case.after for i in ids)
    if case.action == "priority":
        assert all(_status(sim_thread, case, i)["task_priority"] == "HIGH" for i in ids)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["action"], summary["target"]) == (case.action, case.target)


class SignedCalls:
    """A stand-in for OMS that answers every call ``{}`` and records, for each, its method, path, JSON body and
    whether its Authorization is the one the SDK's signer computes for what arrived."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, bool]] = []

    async def __call__(self, request: web.Request) -> web.Response:
        body = await request.read()
        signed = sdk_expected_authorization(request, body, CONFIG.ak, CONFIG.sk) == request.headers["Authorization"]
        self.calls.append((request.method, request.path, json.loads(body) if body else None, signed))
        return web.json_response({}, headers={"X-Request-Id": f"req-{len(self.calls)}"})


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_each_action_sends_what_the_sdk_sends_signed_as_the_sdk_signs(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call's method, path and body are the table's, and its signature is the SDK signer's for those bytes."""
    use_sim_credentials(monkeypatch, CONFIG)
    ids = ["101", "102", "103"]
    recorder = SignedCalls()
    with ServerThread(recorder) as server:
        code, _, err = _run(_manifest(tmp_path, case, ids), server.url, tmp_path / "run", case, "--batch-size", "2")
    assert code == 0, err
    assert all(signed for *_, signed in recorder.calls), recorder.calls
    prefix = f"/v2/{PROJECT}/"
    if case.action == "priority":  # two batches: ids as integers, the level given
        bodies = [{"ids": [101, 102], "task_priority": "HIGH"}, {"ids": [103], "task_priority": "HIGH"}]
        assert recorder.calls == [(case.method, prefix + case.path, b, True) for b in bodies]
        return
    expected = [
        (
            case.method,
            prefix + case.path.format(id=i),
            None if case.body is None else {**{k: f"{k.upper()}-{n}" for k in KEYS}, **case.body},
            True,
        )
        for n, i in enumerate(ids)
    ]
    assert sorted(recorder.calls, key=lambda c: c[1]) == expected


@pytest.mark.slow  # a run stopped by its time box, then its resume
def test_a_resumed_run_keeps_its_action(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start run stopped by --max-duration resumes as a start run without --action, and starts the rest."""
    use_sim_credentials(monkeypatch, CONFIG)
    case = CASES[1]  # start on groups
    ids = _targets(sim_thread, case, 3)
    manifest, out = _manifest(tmp_path, case, ids), tmp_path / "run"
    code, _, err = _run(manifest, sim_thread.url, out, case, "--concurrency", "1", "--max-duration", "1s", rate="1")
    assert code == 1 and "max_duration" in csv_dicts(out / "report.csv")[-1]["error_code"], err
    code, _, err = run_manifest(manifest, sim_thread.url, PROJECT, out, "--resume")
    assert code == 0, err
    assert [r["outcome"] for r in csv_dicts(out / "report.csv")] == ["succeeded"] * 3
    calls = [r for r in sim_thread.simulator.received if r.method == "PUT"]
    assert sorted(r.path_segments[-2] for r in calls) == sorted(ids)
    assert {r.path_segments[-1] for r in calls} == {"start"}
