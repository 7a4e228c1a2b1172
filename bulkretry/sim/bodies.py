"""What a request carries, checked as the service checks it: the JSON bodies of the actions and the query of a
task list, each read into a value the state acts on.

Every field the SDK's request model has is checked for its type and limit; a field the model does not have is
ignored, as the service ignores it. Values are never echoed in an error: they may be secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkretry.sim.errors import SimError, bad_param
from bulkretry.sim.tasks import MAX_TASK_ID, PRIORITIES

__all__ = [
    "GROUP_START_BODY",
    "MAX_ID_LENGTH",
    "RETRY_BODY",
    "RETRY_STRING_LIMITS",
    "TASK_START_BODY",
    "BodyShape",
    "TaskQuery",
    "TaskUpdate",
    "checked_body",
    "int_param",
    "json_object",
    "task_id_of",
    "task_query",
    "task_update",
]

#: String fields of the retry body and their largest allowed length (the API page's limits).
RETRY_STRING_LIMITS: dict[str, int] = {
    "src_ak": 100,
    "src_sk": 100,
    "dst_ak": 100,
    "dst_sk": 100,
    "source_cdn_authentication_key": 255,
    "json_auth_file": 65535,
    "connection_string": 2048,
}
#: The sides that may be encrypted with a KMS key: ``<side>_crypto_type`` and ``<side>_kms_key_id``.
KMS_SIDES = ("src", "dst", "source_cdn")
#: A KMS key id is 36 characters (the SDK's models say so).
KMS_KEY_ID_LENGTH = 36
CRYPTO_TYPES = ("DEFAULT", "KMS")
#: Temporary tokens a task start may carry; no limit is documented, so the sim takes what a token header takes.
SECURITY_TOKEN_LIMITS: dict[str, int] = {"src_security_token": 16384, "dst_security_token": 16384}
MAX_ID_LENGTH = 1024

_INTEGER = re.compile(r"-?[0-9]{1,15}")


@dataclass(frozen=True)
class BodyShape:
    """The fields of one action's body: strings and their limits, the KMS fields, ``migrate_failed_object``."""

    strings: Mapping[str, int]
    kms: bool = True
    migrate_failed_object: bool = True


RETRY_BODY = BodyShape(RETRY_STRING_LIMITS)
GROUP_START_BODY = BodyShape(RETRY_STRING_LIMITS, migrate_failed_object=False)
TASK_START_BODY = BodyShape({**RETRY_STRING_LIMITS, **SECURITY_TOKEN_LIMITS})


def json_object(body: bytes) -> dict[str, Any]:
    """*body* as a JSON object; an empty body is ``{}``; anything else is 400 ``OMS.0002``."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise SimError(400, "OMS.0002", "Invalid request body: expected a JSON object")
    return data


def _check_string(data: Mapping[str, Any], name: str, limit: int) -> None:
    value = data.get(name)
    if value is None:
        return
    if not isinstance(value, str):
        raise bad_param(f"{name} must be a string")
    if len(value) > limit:
        raise bad_param(f"{name} length must be 0..{limit}")


def _check_kms(data: Mapping[str, Any], side: str) -> None:
    """``<side>_crypto_type`` is DEFAULT or KMS; KMS needs its ``<side>_kms_key_id``."""
    crypto, key_id = f"{side}_crypto_type", f"{side}_kms_key_id"
    _check_string(data, key_id, KMS_KEY_ID_LENGTH)
    value = data.get(crypto)
    if value is not None and value not in CRYPTO_TYPES:
        raise bad_param(f"{crypto} must be one of {', '.join(CRYPTO_TYPES)}")
    if value == "KMS" and not data.get(key_id):
        raise bad_param(f"{key_id} is required when {crypto} is KMS")


def checked_body(shape: BodyShape, body: bytes) -> dict[str, Any]:
    """An action's request body, checked against *shape* (values are never echoed)."""
    data = json_object(body)
    for name, limit in shape.strings.items():
        _check_string(data, name, limit)
    if shape.kms:
        for side in KMS_SIDES:
            _check_kms(data, side)
    flag = data.get("migrate_failed_object")
    if shape.migrate_failed_object and flag is not None and not isinstance(flag, bool):
        raise bad_param("migrate_failed_object must be a boolean")
    return data


def int_param(query: Mapping[str, str], name: str, default: int | None, low: int, high: int | None) -> int | None:
    """The integer query parameter *name*, *default* when absent; 400 ``OMS.0002`` outside ``low..high``."""
    raw = query.get(name)
    if raw is None:
        return default
    allowed = f"{low}..{high}" if high is not None else f">= {low}"
    if not _INTEGER.fullmatch(raw):
        raise bad_param(f"{name} must be an integer {allowed}")
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise bad_param(f"{name} must be an integer {allowed}")
    return value


def task_id_of(segment: str) -> int:
    """The task id of a path segment; 400 ``OMS.0002`` when it is not an integer the API takes."""
    value = int_param({"task_id": segment}, "task_id", None, 0, MAX_TASK_ID)
    assert value is not None  # the parameter is present
    return value


@dataclass(frozen=True)
class TaskQuery:
    """A page of the task list: tasks in ``status`` (any when None) of ``group_id`` (any when None) whose name
    holds ``task_name``."""

    offset: int = 0
    limit: int = 10
    status: int | None = None
    group_id: str | None = None
    task_name: str = ""

    def matches(self, task: Mapping[str, Any]) -> bool:
        """Whether *task* is one this query lists."""
        return (
            (self.status is None or task["status"] == self.status)
            and (self.group_id is None or task.get("group_id") == self.group_id)
            and self.task_name in str(task.get("name", ""))
        )


def task_query(query: Mapping[str, str]) -> TaskQuery:
    """The query of ``GET /v2/{project_id}/tasks``: ``limit`` 1..100 (10), ``offset`` >= 0, ``status`` 1..7,
    ``group_id``, ``task_name`` (0..255 characters, matched as a part of the name)."""
    group_id = query.get("group_id")
    if group_id is not None and not 1 <= len(group_id) <= MAX_ID_LENGTH:
        raise bad_param(f"group_id length must be 1..{MAX_ID_LENGTH}")
    task_name = query.get("task_name", "")
    if len(task_name) > 255:
        raise bad_param("task_name length must be 0..255")
    return TaskQuery(
        offset=int_param(query, "offset", 0, 0, None) or 0,
        limit=int_param(query, "limit", 10, 1, 100) or 10,
        status=int_param(query, "status", None, 1, 7),
        group_id=group_id,
        task_name=task_name,
    )


@dataclass(frozen=True)
class TaskUpdate:
    """``POST /v2/{project_id}/tasks/batch-update``: the new ``task_priority`` of the tasks ``ids``, or of every
    task of ``group_id``."""

    task_priority: str
    ids: tuple[int, ...] = field(default=())
    group_id: str | None = None


def _task_ids(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise bad_param("ids must be a non-empty array of task ids")
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= MAX_TASK_ID:
            raise bad_param(f"ids must hold integers 0..{MAX_TASK_ID}")
    return tuple(value)


def task_update(body: bytes) -> TaskUpdate:
    """The batch-update body: exactly one of ``ids`` and ``group_id``, and a ``task_priority``. A
    ``bandwidth_policy`` is refused: the simulator does not keep one."""
    data = json_object(body)
    if ("ids" in data) == ("group_id" in data):
        raise bad_param("give exactly one of ids and group_id")
    if data.get("bandwidth_policy") is not None:
        raise bad_param("bandwidth_policy is not supported by the simulator")
    priority = data.get("task_priority")
    if priority not in PRIORITIES:
        raise bad_param(f"task_priority must be one of {', '.join(PRIORITIES)}")
    if "ids" in data:
        return TaskUpdate(priority, ids=_task_ids(data["ids"]))
    group_id = data["group_id"]
    if not isinstance(group_id, str) or not 1 <= len(group_id) <= MAX_ID_LENGTH:
        raise bad_param(f"group_id must be a string of 1..{MAX_ID_LENGTH} characters")
    return TaskUpdate(priority, group_id=group_id)
