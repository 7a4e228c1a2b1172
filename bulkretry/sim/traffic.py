"""What the simulator saw: recorded requests, counters, and the sliding window behind its rate limit."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["RateWindow", "ReceivedRequest", "Traffic"]


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived, byte for byte (headers and body may hold secrets: not in ``repr``).

    Attributes:
        raw_path: the path as sent, still percent-encoded, without the query.
        path_segments: the path split on ``/`` and each segment decoded (``a%2Fb`` stays one segment).
        query: the raw query parsed into ``(name, value)`` pairs, in order.
        at: the state clock's reading when the request arrived (``time.monotonic`` unless injected).
    """

    method: str
    raw_path: str
    path_segments: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    at: float


@dataclass
class Traffic:
    """Live counters of one simulator, shared by its app and the :class:`Simulator` that exposes them.

    Attributes:
        received: every request, when ``SimConfig.record`` is on.
        calls: OMS API calls received (throttled and rejected ones included; IAM not).
        throttled: OMS calls answered 429.
        injected_errors: OMS calls answered with an injected 5xx.
        in_flight, peak_in_flight: OMS calls being handled now, and the most at any one time.
    """

    received: list[ReceivedRequest] = field(default_factory=list)
    calls: int = 0
    throttled: int = 0
    injected_errors: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


class RateWindow:
    """At most ``limit`` events per second over a sliding window; refused events count too.

    For a whole ``limit`` N this is "N per 1-second window". A fractional limit keeps the average:
    ``max(1, floor(limit))`` events per ``capacity / limit`` seconds (0.5/s: one event per 2 s).
    """

    __slots__ = ("_times", "capacity", "limit", "window_s")

    def __init__(self, limit: float) -> None:
        if limit <= 0:
            raise ValueError("RateWindow limit must be > 0 events per second")
        self.limit = limit
        self.capacity = max(1, int(limit))
        self.window_s = self.capacity / limit
        self._times: deque[float] = deque()

    def __repr__(self) -> str:
        return f"<RateWindow {len(self._times)}/{self.capacity} in {self.window_s:g}s>"

    def admit(self, now: float) -> bool:
        """Record an event at *now*; True if it is within the limit."""
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        allowed = len(self._times) < self.capacity
        self._times.append(now)
        return allowed
