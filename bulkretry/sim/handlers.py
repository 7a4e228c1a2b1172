"""One function per route: it reads the call's path, query and body, asks the state, and returns the JSON
body of a 200 answer. Errors are :class:`~bulkretry.sim.errors.SimError`; no HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bulkretry.sim.bodies import (
    GROUP_START_BODY,
    MAX_ID_LENGTH,
    RETRY_BODY,
    TASK_START_BODY,
    checked_body,
    int_param,
    task_id_of,
    task_query,
    task_update,
)
from bulkretry.sim.errors import bad_param
from bulkretry.sim.state import SimState

__all__ = ["HANDLERS", "Call", "Handler"]


@dataclass(frozen=True)
class Call:
    """What a handler reads: the id in the path (empty for a list), the query and the body, as received."""

    item_id: str
    query: Mapping[str, str]
    body: bytes
    #: A secret's version in a CSMS path (empty elsewhere).
    version: str = ""


Handler = Callable[[SimState, Call], dict[str, Any]]


def _group_id(call: Call) -> str:
    if len(call.item_id) > MAX_ID_LENGTH:
        raise bad_param(f"group_id length must be 1..{MAX_ID_LENGTH}")
    return call.item_id


def list_groups(state: SimState, call: Call) -> dict[str, Any]:
    """``GET /v2/{project_id}/taskgroups``: ``limit`` 1..100 (10), ``offset`` >= 0, ``status`` 0..9."""
    limit = int_param(call.query, "limit", 10, 1, 100) or 10
    offset = int_param(call.query, "offset", 0, 0, None) or 0
    status = int_param(call.query, "status", None, 0, 9)
    count, page = state.list(status, offset, limit)
    return {"taskgroups": page, "count": count}


def show_group(state: SimState, call: Call) -> dict[str, Any]:
    """``GET /v2/{project_id}/taskgroups/{group_id}``."""
    return state.get(_group_id(call))


def retry_group(state: SimState, call: Call) -> dict[str, Any]:
    """``PUT /v2/{project_id}/taskgroups/{group_id}/retry``."""
    group_id = _group_id(call)
    state.retry(group_id, checked_body(RETRY_BODY, call.body))
    return {}


def start_group(state: SimState, call: Call) -> dict[str, Any]:
    """``PUT /v2/{project_id}/taskgroups/{group_id}/start``."""
    group_id = _group_id(call)
    state.start_group(group_id, checked_body(GROUP_START_BODY, call.body))
    return {}


def stop_group(state: SimState, call: Call) -> dict[str, Any]:
    """``PUT /v2/{project_id}/taskgroups/{group_id}/stop`` (the call has no body)."""
    state.stop_group(_group_id(call))
    return {}


def list_tasks(state: SimState, call: Call) -> dict[str, Any]:
    """``GET /v2/{project_id}/tasks``: ``limit``, ``offset``, ``status``, ``group_id``, ``task_name``."""
    count, page = state.list_tasks(task_query(call.query))
    return {"tasks": page, "count": count}


def show_task(state: SimState, call: Call) -> dict[str, Any]:
    """``GET /v2/{project_id}/tasks/{task_id}``."""
    return state.get_task(task_id_of(call.item_id))


def start_task(state: SimState, call: Call) -> dict[str, Any]:
    """``POST /v2/{project_id}/tasks/{task_id}/start``."""
    task_id = task_id_of(call.item_id)
    state.start_task(task_id, checked_body(TASK_START_BODY, call.body))
    return {}


def stop_task(state: SimState, call: Call) -> dict[str, Any]:
    """``POST /v2/{project_id}/tasks/{task_id}/stop`` (the call has no body)."""
    state.stop_task(task_id_of(call.item_id))
    return {}


def update_tasks(state: SimState, call: Call) -> dict[str, Any]:
    """``POST /v2/{project_id}/tasks/batch-update``: a new priority for tasks by id or for a group's tasks."""
    state.update_tasks(task_update(call.body))
    return {}


#: The handler of each OMS route, by the route's name (``routes.ROUTES``); IAM is answered by ``iam.py``.
def show_secret_version(state: SimState, call: Call) -> dict[str, Any]:
    """The CSMS stand-in: a secret's version (its name in the id's place)."""
    return state.secret_store.version(call.item_id, call.version)


HANDLERS: dict[str, Handler] = {
    "list_groups": list_groups,
    "show_group": show_group,
    "retry_group": retry_group,
    "start_group": start_group,
    "stop_group": stop_group,
    "list_tasks": list_tasks,
    "show_task": show_task,
    "start_task": start_task,
    "stop_task": stop_task,
    "update_tasks": update_tasks,
    "show_secret_version": show_secret_version,
}
