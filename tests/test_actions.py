"""The action table (``bulkretry/oms/actions.py``) against the official SDK: each call's method, path and body
fields are the SDK's, and the choices a user can make are refused with a way out where there is no such call."""

from __future__ import annotations

import huaweicloudsdkoms.v2 as sdk
import pytest
from huaweicloudsdkoms.v2 import OmsClient as SdkClient

from bulkretry.errors import UsageError
from bulkretry.oms.actions import ACTION_NAMES, ACTIONS, CRYPTO_FIELDS, GROUPS, TASKS, action_for

#: Each action and the SDK's call, request class (its ``body``) and id parameter.
SDK_CALLS = {
    ("retry", GROUPS): ("retry_task_group", sdk.RetryTaskGroupRequest, sdk.RetryTaskGroupReq, "group_id"),
    ("start", GROUPS): ("start_task_group", sdk.StartTaskGroupRequest, sdk.StartTaskGroupReq, "group_id"),
    ("stop", GROUPS): ("stop_task_group", sdk.StopTaskGroupRequest, None, "group_id"),
    ("start", TASKS): ("start_task", sdk.StartTaskRequest, sdk.StartTaskReq, "task_id"),
    ("stop", TASKS): ("stop_task", sdk.StopTaskRequest, None, "task_id"),
    ("priority", TASKS): ("batch_update_tasks", sdk.BatchUpdateTasksRequest, sdk.BatchUpdateTasksReq, None),
}


def _sdk_http_info(name: str, request_class: type) -> dict[str, object]:
    info: dict[str, object] = getattr(SdkClient, f"_{name}_http_info")(request_class())
    return info


def test_every_action_has_its_sdk_call() -> None:
    """The table holds exactly the six calls of the SDK that bulkretry makes in bulk."""
    assert set(ACTIONS) == set(SDK_CALLS)
    assert ACTION_NAMES == ("retry", "start", "stop", "priority")


@pytest.mark.parametrize("key", list(SDK_CALLS), ids=lambda key: "-".join(key))
def test_method_and_path_are_the_sdks(key: tuple[str, str]) -> None:
    """Method and path template as the SDK's ``*_http_info`` has them."""
    name, request_class, _, id_param = SDK_CALLS[key]
    info = _sdk_http_info(name, request_class)
    action = ACTIONS[key]
    assert action.method == info["method"]
    assert action.describe() == f"{info['method']} {info['resource_path']}"
    if id_param is not None:
        assert action.id_column == id_param
        assert action.segments("7")[1] == "7"


@pytest.mark.parametrize("key", list(SDK_CALLS), ids=lambda key: "-".join(key))
def test_body_fields_are_the_sdk_models(key: tuple[str, str]) -> None:
    """The body carries every field of the SDK's request model that a manifest can fill, and nothing else."""
    _, _, model, _ = SDK_CALLS[key]
    action = ACTIONS[key]
    if model is None:
        assert action.body_fields == ()
    elif action.batch:  # ids and the level come from the batch and --priority, not from other columns
        assert set(action.body_fields) | {"ids", "group_id", "bandwidth_policy"} == set(model.openapi_types)
    else:
        assert set(action.body_fields) == set(model.openapi_types)


def test_start_of_a_group_has_no_migrate_failed_object() -> None:
    """A paused group resumes: the start body has no ``migrate_failed_object``; retry and task start have it."""
    assert "migrate_failed_object" not in ACTIONS["start", GROUPS].body_fields
    assert "migrate_failed_object" in ACTIONS["retry", GROUPS].body_fields
    assert "migrate_failed_object" in ACTIONS["start", TASKS].body_fields
    assert {"src_security_token", "dst_security_token"} <= set(ACTIONS["start", TASKS].body_fields)


@pytest.mark.parametrize(
    ("key", "allowed", "refused"),
    [
        (("retry", GROUPS), [5], [0, 1, 2, 3, 4, 6, 7]),
        (("start", GROUPS), [3], [1, 2, 5, 7]),
        (("stop", GROUPS), [1, 2], [0, 3, 5, 7]),
        (("start", TASKS), [3, 4], [1, 2, 5, 7]),
        (("stop", TASKS), [2], [1, 3, 4, 7]),
        (("priority", TASKS), [1, 3, 4], [2, 5, 6, 7]),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, tuple) else None,
)
def test_preconditions(key: tuple[str, str], allowed: list[int], refused: list[int]) -> None:
    """Each action is accepted in the statuses the API allows it, and only there."""
    action = ACTIONS[key]
    assert [s for s in allowed if action.accepts(s)] == allowed
    assert not [s for s in refused if action.accepts(s)]


def test_verify_waits_while_the_action_has_not_taken_effect() -> None:
    """A stopped group is still pending while pausing (7) and done when paused (3); a retried one once out of 5."""
    stop = ACTIONS["stop", GROUPS]
    assert 7 in stop.pending and 3 not in stop.pending
    assert ACTIONS["retry", GROUPS].pending == frozenset({5})
    assert not ACTIONS["priority", TASKS].pending


def test_crypto_fields_name_their_key_ids() -> None:
    """Each ``*_crypto_type`` names a key id field that the same bodies carry."""
    for action in ACTIONS.values():
        types = [f for f in action.body_fields if f in CRYPTO_FIELDS]
        assert all(CRYPTO_FIELDS[f] in action.body_fields for f in types)


def test_retry_on_tasks_says_to_start_them() -> None:
    """``--action retry --target tasks`` is a usage error that names ``--action start``."""
    with pytest.raises(UsageError, match="--action start"):
        action_for("retry", TASKS)


def test_an_action_on_the_wrong_target_names_its_target() -> None:
    """``priority`` works on tasks only, and the message says so; an unknown action lists the choices."""
    with pytest.raises(UsageError, match="works on tasks, not on groups"):
        action_for("priority", GROUPS)
    with pytest.raises(UsageError, match="retry, start, stop, priority"):
        action_for("delete", GROUPS)
    assert action_for("stop", TASKS).describe() == "POST /v2/{project_id}/tasks/{task_id}/stop"
