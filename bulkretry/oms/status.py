"""Task group and task statuses as the OMS API numbers them (``GET /v2/{project_id}/taskgroups/{group_id}``,
``GET /v2/{project_id}/tasks/{task_id}``: two scales), in words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bulkretry.i18n import DEFAULT_LANG, N_, translation
from bulkretry.i18n.messages import STATUS_NUMBER
from bulkretry.oms.actions import GROUPS, Action
from bulkretry.oms.codes import needs_fix
from bulkretry.oms.errorbody import short_text
from bulkretry.records import GROUP_COLUMNS, NEEDS_FIX_PREFIX

__all__ = [
    "FAILED",
    "FINISHED",
    "RUNNING",
    "STATUS_NAMES",
    "TASK_STATUS_NAMES",
    "fix_first",
    "group_story",
    "reason_of",
    "status_name",
    "status_of",
]

STATUS_NAMES: dict[int, str] = {
    0: N_("waiting"),
    1: N_("executing"),
    2: N_("monitoring"),
    3: N_("paused"),
    4: N_("creating failed"),
    5: N_("migration failed"),
    6: N_("migration finished"),
    7: N_("pausing"),
    8: N_("waiting for deletion"),
    9: N_("deleted"),
}
RUNNING, FAILED, FINISHED = 1, 5, 6
#: Task statuses (``GET /v2/{project_id}/tasks/{task_id}``): another scale than the groups'.
TASK_STATUS_NAMES: dict[int, str] = {
    1: N_("waiting"),
    2: N_("running"),
    3: N_("stopped"),
    4: N_("failed"),
    5: N_("succeeded"),
    6: N_("retrying"),
    7: N_("pausing"),
}


def status_name(status: int | None, lang: str = DEFAULT_LANG, target: str = GROUPS) -> str:
    """The status of a group (or, *target* ``tasks``, of a task) in words (``5`` -> ``migration failed``; in
    Chinese ``迁移失败``, as the OMS console says)."""
    _ = translation(lang).gettext
    if status is None:
        return _("unknown")
    name = (STATUS_NAMES if target == GROUPS else TASK_STATUS_NAMES).get(status)
    return _(name) if name else _(STATUS_NUMBER).format(number=status)


def status_of(group: Any) -> int | None:
    """The ``status`` of a group as the API returned it, or None when it has none that reads as a number."""
    value = group.get("status") if isinstance(group, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def reason_of(group: Any) -> str:
    """The code of a group's own ``error_reason`` (``TRF.0058``) as the API returned it; '' when it has none.

    >>> reason_of({"error_reason": {"error_code": "TRF.0058", "error_msg": "..."}}), reason_of({"error_reason": None})
    ('TRF.0058', '')
    """
    reason = group.get("error_reason") if isinstance(group, dict) else None
    code = reason.get("error_code") if isinstance(reason, dict) else None
    return code if isinstance(code, str) else ""


#: The longest group error message or failed-object list key kept (the service's are far shorter).
STORY_TEXT_LIMIT = 1_000
#: ``GROUP_COLUMNS`` and where each is in ``ShowTaskGroupResponse`` (the SDK's names): ``(object, field)``.
_STORY_FIELDS: tuple[tuple[str, str | None, str], ...] = (
    ("group_error_code", "error_reason", "error_code"),
    ("group_error_msg", "error_reason", "error_msg"),
    ("group_total_task_num", None, "total_task_num"),
    ("group_failed_task_num", None, "failed_task_num"),
    ("group_success_num", None, "success_num"),
    ("group_fail_num", None, "fail_num"),
    ("group_total_size", None, "total_size"),
    ("group_complete_size", None, "complete_size"),
    ("group_failed_object_list", "failed_object_record", "list_file_key"),
)
assert tuple(column for column, _, _ in _STORY_FIELDS) == GROUP_COLUMNS


def group_story(group: Any, clean: Callable[[str], str] = str) -> tuple[tuple[str, str | int], ...]:
    """What a group's GET answered, as ``(column, value)`` pairs in ``GROUP_COLUMNS`` order: its error
    (``error_reason``), task and object counts, sizes in bytes and failed-object list
    (``failed_object_record.list_file_key``). Counts are ints; a field missing or of the wrong type is ''.
    Texts go through *clean* (the row's secrets taken out) after being put on one line.

    >>> story = dict(group_story({"error_reason": {"error_code": "TRF.0058"}, "fail_num": 3, "total_size": "x"}))
    >>> story["group_error_code"], story["group_fail_num"], story["group_total_size"]
    ('TRF.0058', 3, '')
    """
    if not isinstance(group, dict):
        group = {}
    story: list[tuple[str, str | int]] = []
    for column, parent, name in _STORY_FIELDS:
        where = group.get(parent) if parent else group
        value = where.get(name) if isinstance(where, dict) else None
        if parent:  # a text
            story.append((column, clean(short_text(value, STORY_TEXT_LIMIT)) if isinstance(value, str) else ""))
        elif isinstance(value, int) and not isinstance(value, bool):
            story.append((column, value))
        elif isinstance(value, str) and value.strip().isdigit():
            story.append((column, int(value)))
        else:
            story.append((column, ""))
    return tuple(story)


def fix_first(action: Action, group: Any, body: Mapping[str, Any], *, call_anyway: bool = False) -> str:
    """``needs_fix:TRF.xxxx`` when *action* would restart a *group* (its GET) whose own ``error_reason`` no retry
    can fix and whose call (*body*) does not bring the keys that fix it; '' to call it (a reason a retry may fix,
    no reason, an action that restarts nothing, or *call_anyway*). The one rule of ``run --check-status`` and of
    ``validate --online --check-status``."""
    if not action.restarts or call_anyway:
        return ""
    reason = reason_of(group).strip().upper()
    fix = needs_fix(reason) if reason else None
    if fix is None or fix.brought_by(body):
        return ""
    return NEEDS_FIX_PREFIX + reason  # a code of the table: never text the server made up
