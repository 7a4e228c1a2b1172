"""The official Huawei SDK against the simulator's task-group start and stop and its task calls: what the SDK
sends passes the signature check and the body checks, what the sim answers parses, and the status machines move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkoms.v2 import (
    BatchUpdateTasksReq,
    BatchUpdateTasksRequest,
    ListTasksRequest,
    ShowTaskGroupRequest,
    ShowTaskRequest,
    StartTaskGroupReq,
    StartTaskGroupRequest,
    StartTaskReq,
    StartTaskRequest,
    StopTaskGroupRequest,
    StopTaskRequest,
)

from bulkretry.sim import SimConfig, SimState, SimulatorThread
from tests.test_sim import FakeClock
from tests.test_sim_sdk import sdk_client


class Machine:
    """A threaded simulator on a fake clock, the SDK client for it, and helpers to find records by status."""

    def __init__(self, thread: SimulatorThread, clock: FakeClock) -> None:
        self.thread, self.clock = thread, clock
        self.state = thread.simulator.state
        self.oms = sdk_client(thread.url, thread.config)

    def group(self, status: int) -> str:
        return next(gid for gid in self.state.ids() if self.state.get(gid)["status"] == status)

    def task(self, status: int) -> int:
        return next(tid for tid in self.state.task_ids() if self.state.get_task(tid)["status"] == status)

    def group_status(self, group_id: str) -> int:
        return int(self.oms.show_task_group(ShowTaskGroupRequest(group_id=group_id)).status)

    def task_status(self, task_id: int) -> int:
        return int(self.oms.show_task(ShowTaskRequest(task_id=task_id)).status)

    def settle(self) -> None:
        self.clock.now += self.thread.config.settle_s


@pytest.fixture
def machine() -> Iterator[Machine]:
    """20 groups and 30 tasks on a fake clock, served from a thread."""
    config = SimConfig(groups=20, tasks=30)
    clock = FakeClock()
    with SimulatorThread(config, state=SimState.from_config(config, clock=clock)) as thread:
        yield Machine(thread, clock)


def test_list_tasks_pages_through_every_task(machine: Machine) -> None:
    """Collecting limit/offset pages of ListTasks gives the sim's tasks in order, with the total count on each page."""
    seen, offset = [], 0
    while True:
        page = machine.oms.list_tasks(ListTasksRequest(limit=7, offset=offset))
        assert page.count == 30
        if not page.tasks:
            break
        seen.extend(page.tasks)
        offset += 7
    assert [task.id for task in seen] == machine.state.task_ids()
    assert {task.task_priority for task in seen} <= {"HIGH", "MEDIUM", "LOW"}


def test_list_tasks_filters_on_status_and_group(machine: Machine) -> None:
    """status=4 lists exactly the failed tasks, each with its error; group_id lists exactly that group's tasks."""
    state = machine.state
    failed = machine.oms.list_tasks(ListTasksRequest(status=4, limit=100))
    assert [task.id for task in failed.tasks] == [t for t in state.task_ids() if state.get_task(t)["status"] == 4]
    assert failed.count == 18 and all(task.error_reason.error_code.startswith("TRF.") for task in failed.tasks)
    group_id = next(state.get_task(t)["group_id"] for t in state.task_ids() if state.get_task(t)["group_id"])
    of_group = machine.oms.list_tasks(ListTasksRequest(group_id=group_id, limit=100))
    expected = [t for t in state.task_ids() if state.get_task(t)["group_id"] == group_id]
    assert [task.id for task in of_group.tasks] == expected and of_group.count == len(expected)
    assert {task.group_type for task in of_group.tasks} == {"GROUP_TASK"}


def test_show_task_returns_every_field(machine: Machine) -> None:
    """show_task deserialises every field the sim sends, standalone tasks and tasks of a group alike."""
    state = machine.state
    standalone = next(t for t in state.task_ids() if state.get_task(t)["group_id"] is None)
    in_group = next(t for t in state.task_ids() if state.get_task(t)["group_id"] is not None)
    for task_id in (standalone, in_group):
        shown = machine.oms.show_task(ShowTaskRequest(task_id=task_id))
        expected = state.get_task(task_id)
        assert shown.status_code == 200
        assert sanitize_for_serialization(shown) == {k: v for k, v in expected.items() if v is not None}


def test_a_stopped_group_pauses_and_a_started_one_runs_again(machine: Machine) -> None:
    """stop: monitoring (2) → pausing (7) → paused (3) after settle_s; start: paused → executing (1) → monitoring."""
    group_id = machine.group(2)
    assert machine.oms.stop_task_group(StopTaskGroupRequest(group_id=group_id)).status_code == 200
    assert machine.group_status(group_id) == 7
    machine.settle()
    assert machine.group_status(group_id) == 3
    body = StartTaskGroupReq(src_ak="AK", src_sk="SK", dst_crypto_type="KMS", dst_kms_key_id="k" * 36)
    machine.oms.start_task_group(StartTaskGroupRequest(group_id=group_id, body=body))
    assert machine.group_status(group_id) == 1
    machine.settle()
    assert machine.group_status(group_id) == 2
    assert machine.thread.simulator.received[-3].path_segments[-1] == "start"


def test_a_started_task_runs_and_a_stopped_one_stops(machine: Machine) -> None:
    """start: failed (4) → waiting (1) → running (2), its error cleared; stop: running → pausing (7) → stopped (3)."""
    task_id = machine.task(4)
    body = StartTaskReq(src_ak="AK", src_sk="SK", src_security_token="STS", migrate_failed_object=True)
    assert machine.oms.start_task(StartTaskRequest(task_id=task_id, body=body)).status_code == 200
    shown = machine.oms.show_task(ShowTaskRequest(task_id=task_id))
    assert (shown.status, shown.error_reason) == (1, None)
    machine.settle()
    assert machine.task_status(task_id) == 2
    machine.oms.stop_task(StopTaskRequest(task_id=task_id))
    assert machine.task_status(task_id) == 7
    machine.settle()
    assert machine.task_status(task_id) == 3
    machine.oms.start_task(StartTaskRequest(task_id=task_id))
    assert machine.task_status(task_id) == 1


def test_priority_changes_are_visible_through_show_task(machine: Machine) -> None:
    """batch-update sets task_priority on every task named by id (the SDK's body as sent); ShowTask shows it."""
    state = machine.state
    ids = [t for t in state.task_ids() if state.get_task(t)["status"] in (1, 3, 4)][:5]
    for priority in ("HIGH", "LOW"):
        request = BatchUpdateTasksRequest(body=BatchUpdateTasksReq(ids=ids, task_priority=priority))
        assert machine.oms.batch_update_tasks(request).status_code == 200
        assert {machine.oms.show_task(ShowTaskRequest(task_id=t)).task_priority for t in ids} == {priority}
    assert machine.thread.simulator.received[-6].body == f'{{"ids": {ids}, "task_priority": "LOW"}}'.encode()


def test_priority_of_a_groups_tasks_changes_together(machine: Machine) -> None:
    """batch-update with a group_id changes every task of that group when each allows it."""
    state = machine.state
    group_id = "prio-group"
    for n, status in enumerate((1, 3, 4)):
        state.add_task({"id": 900 + n, "status": status, "group_id": group_id, "task_priority": "LOW"})
    state.add_group({"group_id": group_id, "status": 2})
    request = BatchUpdateTasksRequest(body=BatchUpdateTasksReq(group_id=group_id, task_priority="MEDIUM"))
    machine.oms.batch_update_tasks(request)
    assert [state.get_task(900 + n)["task_priority"] for n in range(3)] == ["MEDIUM"] * 3


REFUSALS = {
    "start a failed group": (lambda m: m.oms.start_task_group(StartTaskGroupRequest(group_id=m.group(5))), "OMS.1015"),
    "stop a paused group": (lambda m: m.oms.stop_task_group(StopTaskGroupRequest(group_id=m.group(3))), "OMS.1015"),
    "start a running task": (lambda m: m.oms.start_task(StartTaskRequest(task_id=m.task(2))), "OMS.1015"),
    "stop a failed task": (lambda m: m.oms.stop_task(StopTaskRequest(task_id=m.task(4))), "OMS.1015"),
    "prioritise a running task": (
        lambda m: m.oms.batch_update_tasks(
            BatchUpdateTasksRequest(body=BatchUpdateTasksReq(ids=[m.task(2)], task_priority="HIGH"))
        ),
        "OMS.1015",
    ),
    "show an unknown task": (lambda m: m.oms.show_task(ShowTaskRequest(task_id=12345)), "OMS.1009"),
    "stop an unknown group": (lambda m: m.oms.stop_task_group(StopTaskGroupRequest(group_id="nope")), "OMS.1009"),
    "start with KMS but no key": (
        lambda m: m.oms.start_task(StartTaskRequest(task_id=m.task(4), body=StartTaskReq(src_crypto_type="KMS"))),
        "OMS.0002",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_reach_the_sdk_with_the_oms_code(machine: Machine, case: str) -> None:
    """A call the status (or the body, or a missing record) does not allow raises with the OMS code and a request id."""
    act, code = REFUSALS[case]
    with pytest.raises(ClientRequestException) as info:
        act(machine)
    assert info.value.error_code == code
    assert info.value.status_code == {"OMS.1015": 400, "OMS.0002": 400, "OMS.1009": 404}[code]
    assert len(info.value.request_id) == 32


def test_refusals_name_the_status_in_words(machine: Machine) -> None:
    """A refused task stop names the status; a refused batch names the first task that does not allow it and
    changes none."""
    with pytest.raises(ClientRequestException) as info:
        machine.oms.stop_task(StopTaskRequest(task_id=machine.task(4)))
    assert info.value.error_msg == "Task status does not support stop: failed (4)"
    running, waiting = machine.task(2), machine.task(1)
    before = machine.state.get_task(waiting)["task_priority"]
    body = BatchUpdateTasksReq(ids=[waiting, running], task_priority="HIGH")
    with pytest.raises(ClientRequestException) as info:
        machine.oms.batch_update_tasks(BatchUpdateTasksRequest(body=body))
    assert info.value.error_msg == f"Task status does not support priority change: task {running} is running (2)"
    assert machine.state.get_task(waiting)["task_priority"] == before


def test_unknown_task_ids_are_listed_and_nothing_changes(machine: Machine) -> None:
    """batch-update with unknown ids is 404 OMS.1009 naming them; the known tasks keep their priority."""
    known = machine.task(1)
    before = machine.state.get_task(known)["task_priority"]
    other = "LOW" if before != "LOW" else "HIGH"
    body = BatchUpdateTasksReq(ids=[known, 11, 12], task_priority=other)
    with pytest.raises(ClientRequestException) as info:
        machine.oms.batch_update_tasks(BatchUpdateTasksRequest(body=body))
    assert (info.value.status_code, info.value.error_code) == (404, "OMS.1009")
    assert info.value.error_msg == "The tasks do not exist: 11, 12"
    assert machine.state.get_task(known)["task_priority"] == before
