"""Task group statuses as the OMS API numbers them (``GET /v2/{project_id}/taskgroups/{group_id}``)."""

from __future__ import annotations

from typing import Any

__all__ = ["FAILED", "FINISHED", "RUNNING", "STATUS_NAMES", "status_name", "status_of"]

STATUS_NAMES: dict[int, str] = {
    0: "waiting",
    1: "executing",
    2: "monitoring",
    3: "paused",
    4: "creating failed",
    5: "migration failed",
    6: "migration finished",
    7: "pausing",
    8: "waiting for deletion",
    9: "deleted",
}
RUNNING, FAILED, FINISHED = 1, 5, 6


def status_name(status: int | None) -> str:
    """The status in words (``5`` -> ``migration failed``)."""
    if status is None:
        return "unknown"
    return STATUS_NAMES.get(status, f"status {status}")


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
