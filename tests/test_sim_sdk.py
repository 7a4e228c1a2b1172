"""The official Huawei SDK against the simulator: what it sends passes, what the sim answers parses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkoms.v2 import (
    ListTaskGroupRequest,
    OmsClient,
    RetryTaskGroupReq,
    RetryTaskGroupRequest,
    ShowTaskGroupRequest,
)

from bulkretry.oms.status import group_story
from bulkretry.sim import SimConfig, SimulatorThread


def sdk_client(url: str, config: SimConfig, *, sk: str | None = None) -> OmsClient:
    """An OmsClient signing with AK/SK, pointed at *url*."""
    http_config = HttpConfig.get_default_config()
    http_config.timeout = (5, 10)
    return (
        OmsClient.new_builder()
        .with_http_config(http_config)
        .with_credentials(BasicCredentials(config.ak, sk or config.sk, config.project_id))
        .with_endpoints([url])
        .build()
    )


@pytest.fixture
def oms(sim_thread: SimulatorThread) -> OmsClient:
    """The SDK client for the threaded simulator."""
    return sdk_client(sim_thread.url, sim_thread.config)


@pytest.fixture
def thread_with(request: pytest.FixtureRequest) -> Iterator[SimulatorThread]:
    """A threaded simulator with the SimConfig overrides given by indirect parametrisation."""
    with SimulatorThread(SimConfig(groups=4, **request.param)) as thread:
        yield thread


def failed_id(thread: SimulatorThread, status: int = 5) -> str:
    state = thread.simulator.state
    return next(gid for gid in state.ids() if state.get(gid)["status"] == status)


def test_list_pages_through_every_group(oms: OmsClient, sim_thread: SimulatorThread) -> None:
    """Collecting limit/offset pages gives the sim's groups in order, with the total count on each page."""
    state = sim_thread.simulator.state
    seen, offset = [], 0
    while True:
        page = oms.list_task_group(ListTaskGroupRequest(limit=7, offset=offset))
        assert page.count == len(state)
        if not page.taskgroups:
            break
        seen.extend(page.taskgroups)
        offset += 7
    assert [g.group_id for g in seen] == state.ids()
    first = state.get(seen[0].group_id)
    assert seen[0].src_node.cloud_type == first["src_node"]["cloud_type"]
    assert seen[0].total_num == first["total_num"] and seen[0].start_time == first["start_time"]


def test_list_filters_on_status(oms: OmsClient, sim_thread: SimulatorThread) -> None:
    """status=5 lists exactly the failed groups, each with its TRF error_reason."""
    page = oms.list_task_group(ListTaskGroupRequest(status=5, limit=100))
    state = sim_thread.simulator.state
    assert page.count == 12
    assert [g.group_id for g in page.taskgroups] == [gid for gid in state.ids() if state.get(gid)["status"] == 5]
    assert all(g.error_reason.error_code.startswith("TRF.") for g in page.taskgroups)


def test_show_returns_the_group(oms: OmsClient, sim_thread: SimulatorThread) -> None:
    """show_task_group deserialises every field the sim sends."""
    gid = failed_id(sim_thread)
    shown = oms.show_task_group(ShowTaskGroupRequest(group_id=gid))
    expected = sim_thread.simulator.state.get(gid)
    assert shown.status_code == 200
    assert sanitize_for_serialization(shown) == {k: v for k, v in expected.items() if v is not None}


def test_show_answers_the_groups_story_under_the_sdk_names(oms: OmsClient, sim_thread: SimulatorThread) -> None:
    """A failed group's show answer carries its error, counts, sizes and failed-object list where the SDK's
    ShowTaskGroupResponse reads them, and group_story takes the same values from the raw answer."""
    state = sim_thread.simulator.state
    gid = next(g for g in state.ids() if state.get(g)["status"] == 5 and state.get(g)["enable_failed_object_recording"])
    shown = oms.show_task_group(ShowTaskGroupRequest(group_id=gid))
    record = shown.failed_object_record
    assert record.result is True and record.list_file_key.endswith(f"{gid}/failed_objects.txt")
    assert shown.fail_num > 0 and shown.failed_task_num > 0 and shown.total_size >= shown.complete_size > 0
    assert dict(group_story(state.get(gid))) == {
        "group_error_code": shown.error_reason.error_code,
        "group_error_msg": shown.error_reason.error_msg,
        "group_total_task_num": shown.total_task_num,
        "group_failed_task_num": shown.failed_task_num,
        "group_success_num": shown.success_num,
        "group_fail_num": shown.fail_num,
        "group_total_size": shown.total_size,
        "group_complete_size": shown.complete_size,
        "group_failed_object_list": record.list_file_key,
    }
    finished = oms.show_task_group(ShowTaskGroupRequest(group_id=failed_id(sim_thread, 6)))
    assert finished.failed_object_record.result is False and finished.failed_object_record.list_file_key == ""


def test_retry_then_show_reports_executing(oms: OmsClient, sim_thread: SimulatorThread) -> None:
    """A retry with a body is 200; the group then shows status 1 without an error_reason."""
    gid = failed_id(sim_thread)
    body = RetryTaskGroupReq(src_ak="AK", src_sk="SK", migrate_failed_object=True)
    assert oms.retry_task_group(RetryTaskGroupRequest(group_id=gid, body=body)).status_code == 200
    shown = oms.show_task_group(ShowTaskGroupRequest(group_id=gid))
    assert (shown.status, shown.error_reason) == (1, None)
    assert sim_thread.simulator.received[-2].body == b'{"src_ak": "AK", "src_sk": "SK", "migrate_failed_object": true}'


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("not failed", 400, "OMS.1015"),
        ("unknown", 404, "OMS.1009"),
        ("over a limit", 400, "OMS.0002"),
    ],
)
def test_service_errors_become_client_request_exceptions(
    oms: OmsClient, sim_thread: SimulatorThread, case: str, status: int, code: str
) -> None:
    """The SDK reads the sim's error bodies into status_code, error_code, error_msg and request_id."""
    gid = {"not failed": failed_id(sim_thread, 6), "unknown": "no-such-group", "over a limit": failed_id(sim_thread)}[
        case
    ]
    body = RetryTaskGroupReq(dst_sk="S" * 101) if case == "over a limit" else None
    with pytest.raises(ClientRequestException) as info:
        oms.retry_task_group(RetryTaskGroupRequest(group_id=gid, body=body))
    assert (info.value.status_code, info.value.error_code) == (status, code)
    expected_msg = {
        "not failed": "Task group status does not support retry: migration finished (6)",
        "unknown": "The task group does not exist",
        "over a limit": "Invalid parameter: dst_sk length must be 0..100",
    }[case]
    assert info.value.error_msg == expected_msg
    assert len(info.value.request_id) == 32


def test_wrong_secret_key_is_a_401(sim_thread: SimulatorThread) -> None:
    """A client signing with the wrong SK gets 401 APIGW.0301."""
    client = sdk_client(sim_thread.url, sim_thread.config, sk="not-the-secret")
    with pytest.raises(ClientRequestException) as info:
        client.list_task_group(ListTaskGroupRequest())
    assert (info.value.status_code, info.value.error_code) == (401, "APIGW.0301")
    assert info.value.error_msg.startswith("Incorrect IAM authentication information: the signature")


@pytest.mark.parametrize("thread_with", [{"rate_limit": 1}], indirect=True)
def test_throttled_call_is_a_429_without_the_body(thread_with: SimulatorThread) -> None:
    """The SDK gives up on the first 429 (no retry) and reports code '429', losing the APIGW.0308 body."""
    client = sdk_client(thread_with.url, thread_with.config)
    client.list_task_group(ListTaskGroupRequest())
    with pytest.raises(ClientRequestException) as info:
        client.list_task_group(ListTaskGroupRequest())
    assert info.value.status_code == 429
    assert info.value.error_code == "429" and "too many 429 error responses" in info.value.error_msg
    assert (thread_with.simulator.calls, thread_with.simulator.throttled) == (2, 1)


@pytest.mark.parametrize("thread_with", [{"error_rate": 1.0}], indirect=True)
def test_injected_5xx_are_server_response_exceptions(thread_with: SimulatorThread) -> None:
    """Each injected shape reaches the SDK as ServerResponseException with the right status and code."""
    client = sdk_client(thread_with.url, thread_with.config)
    seen = []
    for _ in range(4):
        with pytest.raises(ServerResponseException) as info:
            client.show_task_group(ShowTaskGroupRequest(group_id="any"))
        seen.append((info.value.status_code, info.value.error_code))
    assert seen == [(500, "OMS.0000"), (502, "502"), (503, "APIGW.0202"), (504, "APIGW.0203")]


@pytest.mark.parametrize(
    "group_id", ["中文 任务组", "with space", "50%off", "%2F", "a/b", "x?y#z", "a+b&c=d;e", "~tilde'!*()", "ümlaut-ß"]
)
def test_sdk_signatures_pass_for_awkward_group_ids(oms: OmsClient, sim_thread: SimulatorThread, group_id: str) -> None:
    """The SDK's encoded paths pass the sim's signature check and reach the right group."""
    sim_thread.simulator.state.add_group({"group_id": group_id, "status": 5})
    assert oms.show_task_group(ShowTaskGroupRequest(group_id=group_id)).group_id == group_id
    oms.retry_task_group(RetryTaskGroupRequest(group_id=group_id, body=RetryTaskGroupReq(dst_ak="x")))
    assert sim_thread.simulator.state.retries_by_group[group_id] == 1
    assert sim_thread.simulator.received[-1].path_segments[3] == group_id
