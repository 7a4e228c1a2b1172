"""Task group statuses as the OMS API numbers them (``GET /v2/{project_id}/taskgroups/{group_id}``)."""

from __future__ import annotations

from typing import Any

from bulkretry.i18n import DEFAULT_LANG, N_, translation

__all__ = ["FAILED", "FINISHED", "RUNNING", "STATUS_NAMES", "status_name", "status_of"]

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


def status_name(status: int | None, lang: str = DEFAULT_LANG) -> str:
    """The status in words (``5`` -> ``migration failed``; in Chinese ``迁移失败``, as the OMS console says)."""
    _ = translation(lang).gettext
    if status is None:
        return _("unknown")
    name = STATUS_NAMES.get(status)
    return _(name) if name else _("status {status}").format(status=status)


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
