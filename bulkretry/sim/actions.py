"""What each action does to a task group or a task, as data: the statuses it is allowed from, the status it puts
the record in at once, the one it arrives at ``settle_s`` later, and what it does to the record on the way.

A refused action is 400 ``OMS.1015`` naming the status in words, as the service answers a retry of a group
that is not failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bulkretry.sim.errors import SimError
from bulkretry.sim.groups import (
    FAILED,
    FINISHED,
    RUNNING,
    STATUS_NAMES,
    clear_failure,
    pause_counters,
    resume_counters,
    settle_counters,
)
from bulkretry.sim.tasks import (
    TASK_FAILED,
    TASK_PAUSING,
    TASK_RUNNING,
    TASK_STATUS_NAMES,
    TASK_STOPPED,
    TASK_WAITING,
    clear_task_failure,
    stop_moving,
)

__all__ = [
    "GROUP_RETRY",
    "GROUP_START",
    "GROUP_STOP",
    "TASK_PRIORITY",
    "TASK_START",
    "TASK_STOP",
    "Transition",
]

Hook = Callable[[dict[str, Any]], None]

#: Group statuses (``oms/status.py`` names them).
_MONITORING, _PAUSED, _PAUSING = 2, 3, 7


def _unchanged(record: dict[str, Any]) -> None:
    del record


@dataclass(frozen=True)
class Transition:
    """One action on one kind of record.

    Attributes:
        action: the action in the refusal's words ("retry", "start", "stop", "priority change").
        noun: what it acts on, in the refusal's words ("Task group", "Task").
        names: the statuses of that kind of record in words.
        allowed: the statuses the action is allowed from.
        at_once: the status the record shows right after the call; None leaves it as it is.
        then: the status it arrives at ``settle_s`` later; None: it stays at ``at_once``.
        on_call, on_arrival: what the call, and the arrival, do to the record's other fields.
    """

    action: str
    noun: str
    names: Mapping[int, str]
    allowed: frozenset[int]
    at_once: int | None = None
    then: int | None = None
    on_call: Hook = _unchanged
    on_arrival: Hook = _unchanged

    def refusal(self, status: int, which: str = "") -> SimError:
        """400 ``OMS.1015``: a record in *status* (*which* names it, for a batch) does not allow the action."""
        name = self.names.get(status, "unknown")
        return SimError(400, "OMS.1015", f"{self.noun} status does not support {self.action}: {which}{name} ({status})")


GROUP_RETRY = Transition(
    "retry", "Task group", STATUS_NAMES, frozenset({FAILED}), RUNNING, FINISHED, clear_failure, settle_counters
)
GROUP_START = Transition(
    "start", "Task group", STATUS_NAMES, frozenset({_PAUSED}), RUNNING, _MONITORING, resume_counters
)
GROUP_STOP = Transition(
    "stop", "Task group", STATUS_NAMES, frozenset({RUNNING, _MONITORING}), _PAUSING, _PAUSED, on_arrival=pause_counters
)
TASK_START = Transition(
    "start",
    "Task",
    TASK_STATUS_NAMES,
    frozenset({TASK_STOPPED, TASK_FAILED}),
    TASK_WAITING,
    TASK_RUNNING,
    clear_task_failure,
)
TASK_STOP = Transition(
    "stop", "Task", TASK_STATUS_NAMES, frozenset({TASK_RUNNING}), TASK_PAUSING, TASK_STOPPED, on_arrival=stop_moving
)
TASK_PRIORITY = Transition(
    "priority change", "Task", TASK_STATUS_NAMES, frozenset({TASK_WAITING, TASK_STOPPED, TASK_FAILED})
)
