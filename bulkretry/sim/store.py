"""Records of one kind (task groups, or tasks) by id, each moved along by the action that last changed it.

An action puts a record in its ``at_once`` status and, when it has a ``then``, the record arrives there once
``settle_s`` has passed on the clock: the move happens when the record is next read, so a test advances a fake
clock instead of sleeping. A new action, or the record added again, replaces what was on the way.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bulkretry.sim.actions import Transition
from bulkretry.sim.errors import not_found

__all__ = ["Clock", "Store"]

Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class _OnTheWay:
    transition: Transition
    since: float


class Store(Generic[K]):
    """Records by id, in the order added. Not locked itself: :class:`~bulkretry.sim.state.SimState` calls it
    with its lock held.

    Attributes:
        noun: what a record is, in the words of a 404 ("task group", "task").
    """

    def __init__(self, noun: str, clock: Clock, settle_s: float) -> None:
        self.noun = noun
        self._clock = clock
        self._settle_s = settle_s
        self._records: dict[K, dict[str, Any]] = {}
        self._on_the_way: dict[K, _OnTheWay] = {}

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def keys(self) -> list[K]:
        """Every id, in the order the records were added."""
        return list(self._records)

    def add(self, key: K, record: dict[str, Any]) -> None:
        """Add (or replace) a record; the dict is copied."""
        self._records[key] = copy.deepcopy(record)
        self._on_the_way.pop(key, None)

    def current(self, key: K) -> dict[str, Any]:
        """The stored record as it is now (not a copy); :class:`SimError` 404 ``OMS.1009`` if unknown."""
        if key not in self._records:
            raise not_found(self.noun)
        record = self._records[key]
        moving = self._on_the_way.get(key)
        if moving is not None and self._clock() - moving.since >= self._settle_s:
            record["status"] = moving.transition.then
            moving.transition.on_arrival(record)
            del self._on_the_way[key]
        return record

    def matching(self, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The current records *wanted* keeps, in order (not copies)."""
        return [record for record in (self.current(key) for key in list(self._records)) if wanted(record)]

    def by_status(self) -> Counter[int]:
        """How many records are in each status now."""
        return Counter(self.current(key)["status"] for key in list(self._records))

    def check(self, transition: Transition, keys: Iterable[K], which: Callable[[K], str] = lambda key: "") -> None:
        """Raise the *transition*'s refusal for the first of *keys* whose status does not allow it."""
        for key in keys:
            status = self.current(key)["status"]
            if status not in transition.allowed:
                raise transition.refusal(status, which(key))

    def apply(self, transition: Transition, key: K) -> dict[str, Any]:
        """Move the record *key* by *transition*, or raise its refusal (or a 404); returns the stored record."""
        self.check(transition, [key])
        record = self.current(key)
        if transition.at_once is not None:
            record["status"] = transition.at_once
            self._on_the_way.pop(key, None)
        transition.on_call(record)
        if transition.then is not None:
            self._on_the_way[key] = _OnTheWay(transition, self._clock())
        return record
