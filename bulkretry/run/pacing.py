"""How fast calls go out: a pacer hands out send slots; the engine awaits one before every call
(first attempts and retries alike) and tells it how each call went.

``FixedPacer`` gives evenly spaced slots at exactly ``rate`` per second. Slots come from an ideal
schedule (``next = max(now, next) + 1/rate``), not from when a waiter happened to wake up, so timer
lateness never lowers the achieved rate, and idle time never builds up a burst. (aiolimiter's leaky
bucket, measured here with capacity 1, delivered 97 % of 100/s and 89 % of 500/s.)

``--rate auto`` uses an adaptive pacer per ``(endpoint, project)`` (see :mod:`bulkretry.run.adaptive`);
``PacerPool`` hands each project its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import anyio

__all__ = ["FixedPacer", "Pacer", "PacerPool"]

#: Waits shorter than this are skipped (the schedule still advances, so the average rate stays exact).
_MIN_SLEEP_S = 1e-4


class Pacer(Protocol):
    """Send slots for one quota (the whole run, or one project with ``--rate auto``)."""

    @property
    def rate(self) -> float:
        """Calls per second it allows now."""

    async def acquire(self) -> float:
        """Wait for the next send slot; return the clock time of the slot (the call's send time)."""

    def ready(self) -> float | None:
        """Take the next send slot if it is due now (no wait): its clock time; None when the caller must
        :meth:`acquire` it (the engine awaits nothing for a slot that is free, at a high rate most of them)."""

    def feedback(self, sent_at: float, throttled: bool) -> None:
        """How the call sent at *sent_at* went: answered 429 (*throttled*) or not."""


class FixedPacer:
    """Exactly *rate* evenly spaced slots per second."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        self._rate = float(rate)
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = float("-inf")

    def __repr__(self) -> str:
        return f"FixedPacer({self._rate:g}/s)"

    @property
    def rate(self) -> float:
        return self._rate

    async def acquire(self) -> float:
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot - now > _MIN_SLEEP_S:  # a wait shorter than the loop's own timer resolution is not worth one
            await anyio.sleep(slot - now)
        return slot

    def ready(self) -> float | None:
        now = self._clock()
        slot = max(now, self._next)
        if slot - now > _MIN_SLEEP_S:  # a wait: acquire() takes it
            return None
        self._next = slot + self._interval
        return slot

    def feedback(self, sent_at: float, throttled: bool) -> None:
        """A fixed rate does not change."""


class PacerPool:
    """One pacer per key (a project), made on first use by *factory*; ``shared`` gives all keys one."""

    def __init__(self, factory: Callable[[], Pacer], *, shared: bool) -> None:
        self._factory = factory
        self._shared = factory() if shared else None
        self._pacers: dict[str, Pacer] = {}

    def __repr__(self) -> str:
        return f"PacerPool({'shared' if self._shared else f'{len(self._pacers)} keys'})"

    def get(self, key: str) -> Pacer:
        if self._shared is not None:
            return self._shared
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = self._factory()
        return pacer

    @property
    def rate(self) -> float:
        """The total rate allowed now, over every key."""
        if self._shared is not None:
            return self._shared.rate
        return sum(p.rate for p in self._pacers.values())

    @property
    def rates(self) -> dict[str, float]:
        """Each key's current rate (one entry, ``"*"``, when shared)."""
        if self._shared is not None:
            return {"*": self._shared.rate}
        return {key: p.rate for key, p in self._pacers.items()}
