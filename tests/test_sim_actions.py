"""The simulator's task-group start and stop and its task calls over plain HTTP and on its state: generation of
tasks, the status machines on a fake clock, body and path checks, routes, recording and signatures."""

from __future__ import annotations

import json

import pytest

from bulkretry.sim import ROUTES, SimConfig, SimError, SimState, Simulator, generate_groups, generate_tasks
from bulkretry.sim.bodies import TaskUpdate
from tests.test_sim import GROUPS, PID, AkSk, FakeClock, call, first_with_status

TASKS = f"/v2/{PID}/tasks"


def first_task(sim: Simulator, status: int) -> int:
    return next(tid for tid in sim.state.task_ids() if sim.state.get_task(tid)["status"] == status)


def machine(clock: FakeClock) -> SimState:
    """A state of 20 groups and 30 tasks on *clock*, settle_s 2."""
    return SimState.from_config(SimConfig(groups=20, tasks=30), clock=clock)


# --- generation ---------------------------------------------------------------------------------


def test_tasks_are_reproducible_and_leave_the_groups_as_they_were() -> None:
    """The same seed gives the same tasks; the groups of a seed do not depend on how many tasks there are."""
    group_ids = [g["group_id"] for g in generate_groups(42, 20, 0.6, PID)]
    first = generate_tasks(42, 30, 0.6, PID, group_ids)
    assert first == generate_tasks(42, 30, 0.6, PID, group_ids)
    assert len({t["id"] for t in first}) == 30 and all(10**14 <= t["id"] < 10**15 for t in first)
    assert SimState.from_config(SimConfig(groups=20, tasks=0)).ids() == group_ids
    assert SimState.from_config(SimConfig(groups=20, tasks=500)).ids() == group_ids


def test_tasks_have_a_failed_share_a_priority_and_some_a_group() -> None:
    """round(count*ratio) tasks are failed (with a reason); some belong to a group, the others stand alone."""
    group_ids = [g["group_id"] for g in generate_groups(3, 10, 0.5, PID)]
    tasks = generate_tasks(3, 40, 0.25, PID, group_ids)
    assert sum(t["status"] == 4 for t in tasks) == 10
    assert {t["status"] for t in tasks} == {1, 2, 3, 4, 5}
    assert all((t["error_reason"] is not None) == (t["status"] == 4) for t in tasks)
    assert {t["task_priority"] for t in tasks} <= {"HIGH", "MEDIUM", "LOW"}
    in_group = [t for t in tasks if t["group_id"] is not None]
    assert 0 < len(in_group) < 40 and {t["group_id"] for t in in_group} <= set(group_ids)
    assert all(t["group_type"] == ("GROUP_TASK" if t["group_id"] else "NORMAL_TASK") for t in tasks)
    assert all(t["group_id"] is None for t in generate_tasks(3, 10, 0.5, PID))
    for t in tasks:
        assert t["successful_num"] + t["failed_num"] + t["skipped_num"] <= t["total_num"]


@pytest.mark.parametrize("value", [-1, 1_000_001, 2.5, True])
def test_config_rejects_a_task_count_out_of_range(value: object) -> None:
    """SimConfig.tasks is an integer in 0..1000000."""
    with pytest.raises(ValueError, match="tasks"):
        SimConfig(tasks=value)  # type: ignore[arg-type]


def test_config_never_shows_a_secret_it_refuses() -> None:
    """A refused sk, token or IAM password is named, its value is not."""
    for field, value in (("sk", " SECRET "), ("token", b"SECRET"), ("iam_password", " SECRET ")):
        with pytest.raises(ValueError, match=field) as info:
            SimConfig(**{field: value})  # type: ignore[arg-type]
        assert "SECRET" not in str(info.value)


# --- status machines ----------------------------------------------------------------------------


def test_a_stop_replaces_a_retry_on_its_way() -> None:
    """A retried group stopped while executing pauses (not finishes); started again it monitors (2), not finishes."""
    clock = FakeClock()
    state = machine(clock)
    gid = next(g for g in state.ids() if state.get(g)["status"] == 5)
    state.retry(gid)
    clock.now += 1
    state.stop_group(gid)
    clock.now += 1.5
    assert state.get(gid)["status"] == 7
    clock.now += 0.5
    group = state.get(gid)
    assert group["status"] == 3 and group["executing_task_num"] == 0 and group["paused_task_num"] > 0
    state.start_group(gid)
    clock.now += 2
    assert state.get(gid)["status"] == 2 and state.get(gid)["paused_task_num"] == 0


@pytest.mark.parametrize(("status", "allowed"), [(0, False), (1, True), (2, True), (3, False), (5, False), (6, False)])
def test_group_stop_is_allowed_from_executing_and_monitoring(status: int, allowed: bool) -> None:
    """stop: 1 and 2 pause; every other status is 400 OMS.1015 naming it."""
    state = SimState([{"group_id": "g", "status": status}], clock=FakeClock())
    if allowed:
        state.stop_group("g")
        assert state.get("g")["status"] == 7
        return
    with pytest.raises(SimError) as info:
        state.stop_group("g")
    assert (info.value.status, info.value.error_code) == (400, "OMS.1015")
    assert info.value.error_msg.startswith("Task group status does not support stop: ")


@pytest.mark.parametrize(("status", "allowed"), [(1, False), (2, False), (3, True), (4, True), (5, False), (7, False)])
def test_task_start_is_allowed_from_stopped_and_failed(status: int, allowed: bool) -> None:
    """start: 3 and 4 go to waiting (1), then running (2); every other status is 400 OMS.1015."""
    clock = FakeClock()
    state = SimState(tasks=[{"id": 7, "status": status}], clock=clock)
    if not allowed:
        with pytest.raises(SimError, match="Task status does not support start"):
            state.start_task(7)
        return
    state.start_task(7)
    assert state.get_task(7)["status"] == 1
    clock.now += 2
    assert state.get_task(7)["status"] == 2


def test_batch_update_is_all_or_nothing() -> None:
    """One task that does not allow a priority change refuses the whole batch; duplicates count once."""
    state = SimState(tasks=[{"id": n, "status": s, "task_priority": "LOW"} for n, s in ((1, 1), (2, 3), (3, 2))])
    with pytest.raises(SimError, match="task 3 is running"):
        state.update_tasks(TaskUpdate("HIGH", ids=(1, 2, 3)))
    assert {state.get_task(n)["task_priority"] for n in (1, 2, 3)} == {"LOW"}
    assert state.update_tasks(TaskUpdate("HIGH", ids=(1, 2, 1))) == 2
    assert [state.get_task(n)["task_priority"] for n in (1, 2, 3)] == ["HIGH", "HIGH", "LOW"]


def test_batch_update_of_an_unknown_group_is_a_404() -> None:
    """group_id names a group that does not exist: 404 OMS.1009."""
    with pytest.raises(SimError) as info:
        SimState().update_tasks(TaskUpdate("HIGH", group_id="nope"))
    assert (info.value.status, info.value.error_code) == (404, "OMS.1009")


def test_repr_counts_tasks_by_status() -> None:
    """The state's repr counts groups and tasks by status."""
    state = SimState([{"group_id": "g", "status": 5}], tasks=[{"id": 1, "status": 4}, {"id": 2, "status": 4}])
    assert repr(state) == "<SimState 1 groups, by status {5: 1}; 2 tasks, by status {4: 2}>"


# --- bodies and paths over HTTP -----------------------------------------------------------------


def action_paths(sim: Simulator) -> dict[str, tuple[str, str]]:
    """The method and path of each action that takes credentials, on a record that allows it."""
    return {
        "retry": ("PUT", f"{GROUPS}/{first_with_status(sim, 5)}/retry"),
        "start group": ("PUT", f"{GROUPS}/{first_with_status(sim, 3)}/start"),
        "start task": ("POST", f"{TASKS}/{first_task(sim, 4)}/start"),
    }


@pytest.mark.parametrize("action", ["retry", "start group", "start task"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"src_crypto_type": "KMS"}, "src_kms_key_id is required when src_crypto_type is KMS"),
        ({"dst_crypto_type": "KMS", "dst_kms_key_id": ""}, "dst_kms_key_id is required when dst_crypto_type is KMS"),
        ({"source_cdn_crypto_type": "AES"}, "source_cdn_crypto_type must be one of DEFAULT, KMS"),
        ({"src_kms_key_id": "k" * 37}, "src_kms_key_id length must be 0..36"),
        ({"dst_ak": 5}, "dst_ak must be a string"),
    ],
)
async def test_kms_fields_are_checked_on_every_action_that_takes_keys(
    sim: Simulator, action: str, body: dict[str, object], message: str
) -> None:
    """A KMS type without its key id, an unknown type or a key id over 36 characters is 400 OMS.0002."""
    method, path = action_paths(sim)[action]
    reply = await call(sim, method, path, body=json.dumps(body).encode())
    assert (reply.status, reply.json()) == (
        400,
        {"error_code": "OMS.0002", "error_msg": f"Invalid parameter: {message}"},
    )
    fine = {"src_crypto_type": "KMS", "src_kms_key_id": "k" * 36, "dst_crypto_type": "DEFAULT"}
    assert (await call(sim, method, path, body=json.dumps(fine).encode())).status == 200


async def test_task_start_checks_its_security_tokens_and_flag(sim: Simulator) -> None:
    """src/dst_security_token must be strings, migrate_failed_object a boolean; a group start ignores that flag."""
    path = f"{TASKS}/{first_task(sim, 4)}/start"
    for body, field in (({"src_security_token": 1}, "src_security_token"), ({"migrate_failed_object": "1"}, "flag")):
        reply = await call(sim, "POST", path, body=json.dumps(body).encode())
        assert reply.status == 400 and reply.json()["error_code"] == "OMS.0002", field
    group = f"{GROUPS}/{first_with_status(sim, 3)}/start"
    assert (await call(sim, "PUT", group, body=b'{"migrate_failed_object": "not a field here"}')).status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [1.5], "task_priority": "HIGH"},
        {"ids": ["1"], "task_priority": "HIGH"},
        {"ids": [True], "task_priority": "HIGH"},
        {"ids": [-1], "task_priority": "HIGH"},
        {"ids": [], "task_priority": "HIGH"},
        {"ids": 1, "task_priority": "HIGH"},
        {"ids": [1], "group_id": "g", "task_priority": "HIGH"},
        {"task_priority": "HIGH"},
        {"ids": [1], "task_priority": "URGENT"},
        {"ids": [1]},
        {"ids": [1], "task_priority": "HIGH", "bandwidth_policy": [{"start": "00:00", "end": "01:00"}]},
    ],
)
async def test_batch_update_bodies_of_the_wrong_shape_are_a_400(sim: Simulator, body: dict[str, object]) -> None:
    """ids must be a non-empty array of integers, exactly one of ids and group_id, a known task_priority."""
    reply = await call(sim, "POST", f"{TASKS}/batch-update", body=json.dumps(body).encode())
    assert reply.status == 400 and reply.json()["error_code"] == "OMS.0002"


@pytest.mark.parametrize("task_id", ["abc", "-1", "1e3", "1000000000000000", "%20"])
async def test_a_task_id_that_is_not_an_integer_is_a_400(sim: Simulator, task_id: str) -> None:
    """Show, start and stop of a task id that is not an integer 0..999999999999999 are 400 OMS.0002."""
    for method, suffix in (("GET", ""), ("POST", "/start"), ("POST", "/stop")):
        reply = await call(sim, method, f"{TASKS}/{task_id}{suffix}")
        assert reply.status == 400 and "task_id" in reply.json()["error_msg"], (method, suffix)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", "status=0", "status=8", "task_name=" + "n" * 256]
)
async def test_list_tasks_rejects_bad_parameters(sim: Simulator, query: str) -> None:
    """limit 1..100, offset >= 0, status 1..7, task_name up to 255: anything else is 400 OMS.0002 naming it."""
    reply = await call(sim, "GET", TASKS, query=query)
    assert reply.status == 400 and query.split("=")[0] in reply.json()["error_msg"]


async def test_list_tasks_matches_part_of_a_name(sim: Simulator) -> None:
    """task_name lists the tasks whose name holds it."""
    task_id = sim.state.task_ids()[3]
    reply = await call(sim, "GET", TASKS, query=f"task_name={str(task_id)[2:]}")
    assert [task["id"] for task in reply.json()["tasks"]] == [task_id]


# --- routes, recording, signatures ------------------------------------------------------------------


async def test_new_routes_are_recorded_with_method_and_path(sim: Simulator) -> None:
    """Every new call is recorded as sent and counted as an OMS call; a wrong method is a JSON 405."""
    task_id = first_task(sim, 2)
    await call(sim, "POST", f"{TASKS}/{task_id}/stop")
    await call(sim, "PUT", f"{GROUPS}/{first_with_status(sim, 2)}/stop")
    assert [(r.method, r.path_segments[2:]) for r in sim.received] == [
        ("POST", ("tasks", str(task_id), "stop")),
        ("PUT", ("taskgroups", first_with_status(sim, 7), "stop")),
    ]
    wrong = await call(sim, "PUT", f"{TASKS}/{task_id}/start")
    assert wrong.status == 405 and wrong.headers["Allow"] == "POST" and sim.calls == 2


async def test_signed_action_calls_are_accepted(sim: Simulator) -> None:
    """AK/SK-signed task start, group stop and batch-update (bodies and ids in the path) pass the signature check."""
    replies = [
        await call(sim, "POST", f"{TASKS}/{first_task(sim, 3)}/start", body=b'{"dst_sk": "x"}', auth="aksk"),
        await call(sim, "PUT", f"{GROUPS}/{first_with_status(sim, 1)}/stop", auth="aksk"),
        await call(
            sim, "POST", f"{TASKS}/batch-update", body=b'{"group_id": "none", "task_priority": "LOW"}', auth="aksk"
        ),
        await call(sim, "GET", TASKS, query="status=4&limit=3", auth="aksk"),
    ]
    assert [r.status for r in replies] == [200, 200, 404, 200]
    bad = await call(sim, "POST", f"{TASKS}/{first_task(sim, 2)}/stop", auth=AkSk(sk="wrong"))
    assert bad.status == 401 and bad.json()["error_code"] == "APIGW.0301"


def test_every_route_has_a_handler_and_a_distinct_name() -> None:
    """The route table and the handlers agree: each OMS route is answered, and names are unique."""
    from bulkretry.sim.handlers import HANDLERS

    names = [route.name for route in ROUTES]
    assert len(set(names)) == len(names) and set(names) - {"iam"} == set(HANDLERS)
    assert "/v2/{project_id}/tasks/{id}/start" in {route.path for route in ROUTES}
