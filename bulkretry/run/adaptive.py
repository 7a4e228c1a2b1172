"""``--rate auto``: find a server's unknown rate limit from its 429 answers alone.

Huawei Cloud's API Gateway answers an over-quota call with 429 ``APIGW.0308``, without ``Retry-After``
and without saying what the quota is. :class:`AdaptivePacer` learns it the way TCP CUBIC (RFC 9438)
learns a path's capacity and botocore's adaptive retry mode (``botocore/retries/adaptive.py``: CUBIC
on a client-side token bucket) learns AWS's throttling limits:

* **Even slots.** Slots are spaced ``1/rate`` apart on an ideal schedule, as in
  :class:`~bulkretry.run.pacing.FixedPacer`; idle time never builds up a burst. Waiters queue in order
  and the head computes its slot only when it gets there, so a decrease applies to every call not yet
  sent, not only to callers that came after it.
* **Slow start.** Until the first 429 the rate triples per second of sending (10/s reaches 50/s in
  1.5 s and 500/s in 3.6 s), capped at ``max_rate``. botocore sends unthrottled until its first
  throttle; a bounded ramp keeps the overshoot to a few calls.
* **Multiplicative decrease, once per congestion event.** A 429 sets ``W_max`` to the rate the call
  was *really* sent at: the pacer's rate at that slot, or, if lower, the send rate measured over the
  second before it (spacing of the slots, at most their count: what a per-second quota saw; the
  concurrency cap or an idle spell may have kept the calls slower than allowed). The rate drops to
  ``β·W_max``. The calls in flight come back 429 too: a throttle of a call sent before the last
  decrease belongs to the event already answered and is ignored, or one burst would collapse the rate.
* **Drain.** Gateways count calls per second, refused ones included (so does the simulator's sliding
  window), so right after a throttle that second is full and a call sent into it is refused and keeps
  it full. The pacer never puts more than ``max(rate, min(0.95·W_max, W_max − 1))`` of its own calls
  into any sliding second: after a decrease it waits (~0.05 s) until its past second holds a little
  fewer calls than ``W_max``, so that its calls, which reach the server a few ms apart from their
  slots, find room there.
* **CUBIC growth.** ``W(t) = C·(t−K)³ + W_max`` with ``K = ∛(W_max·(1−β)/C)``: quick at first, flat
  near the last known limit, then probing past it ever faster, so a quota that rose is found again.
  ``t`` only counts time in which callers waited for the pacer: while they come slower than allowed
  (idle, backoffs, the concurrency cap) the curve does not climb, so no pause returns as a jump.

Constants (class attributes) and why:

* ``BETA = 0.8`` (RFC 9438 and botocore: 0.7). A cycle averages ``(1 − (1−β)/4)·W_max`` below the
  limit: 92.5 % at 0.7, 95 % at 0.8; measured, 0.8 keeps goodput above 90 % with drains included.
* ``RECOVERY_S = 5``, ``RECOVERY_CALLS = 40``: ``K``, the time from a decrease back to ``W_max``, is
  the larger of 5 s and 40 calls' time. botocore's fixed ``C = 0.4`` calls/s⁴ gives ``K = 3.3 s`` at
  50/s but 7.2 s at 500/s and 1.6 s at 5/s, where a throttle every ~2.5 s (at least one refused call
  each) is > 5 % of the calls. Scaling ``C = W_max·(1−β)/K³`` gives every limit the same cycle: one
  throttle per ~6 s and ≥ 40 calls, ~0.4 % of the calls at 50/s; past ``W_max`` the rate reaches
  1.2× after another ``K`` and 2× after 1.7 ``K``, so a doubled limit is found in ~14 s.
* ``SLOW_START_GROWTH = 3`` per second: ×2 (TCP's, per round trip) cost 8 % of a 40-s run at 500/s.
* ``WINDOW_S = 1``: the quota window that the drain and the measured send rate assume.
* ``DRAIN_MARGIN = 0.05``: with ``W_max − 1`` alone, at 500/s a call sent after the drain was still
  refused now and then (send-time skew of a few ms is a few calls there), a second decrease that
  left the rate ~20 % under the limit for a whole cycle.

Simulated against a 1-s sliding window (refused calls counted), from 10/s, at steady state: 50/s limit
→ 94 % goodput, 0.4 % of calls answered 429; 5/s → 91 %, 2.7 %; 500/s → 94 %, < 0.1 %. Whole 40-s
runs of ``bulkretry run --rate auto`` against ``bulkretry sim``: see ``benchmarks/adaptive_rate.py``.

``clock`` and ``sleep`` are injectable (a simulated clock in tests). One event loop; not thread-safe.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from bulkretry.defaults import MAX_RATE, MIN_RATE

__all__ = ["DEFAULT_MAX", "DEFAULT_START", "AdaptivePacer", "RateSpec", "parse_rate"]

#: ``--rate auto``'s first rate and ceiling, in calls per second.
DEFAULT_START = 10.0
DEFAULT_MAX = 1000.0


class AdaptivePacer:
    """Evenly spaced send slots at a rate learnt from 429s (CUBIC; see the module docstring)."""

    BETA = 0.8
    RECOVERY_S = 5.0
    RECOVERY_CALLS = 40.0
    SLOW_START_GROWTH = 3.0
    WINDOW_S = 1.0
    DRAIN_MARGIN = 0.05
    #: How far back slots are remembered, to find the rate a late-answered call was sent at.
    HISTORY_S = 60.0

    def __init__(
        self,
        start: float = DEFAULT_START,
        max_rate: float = DEFAULT_MAX,
        *,
        min_rate: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        for name, value in (("start", start), ("max_rate", max_rate), ("min_rate", min_rate)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"AdaptivePacer {name} must be a finite number > 0 (got {value!r})")
        if start > max_rate:
            raise ValueError(f"AdaptivePacer start must not be above max_rate (got {start:g} > {max_rate:g})")
        self._min = float(min(min_rate, start))  # a start below min_rate lowers the floor to it
        self._max = float(max_rate)
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock(fast_acquire=True)
        self._rate = float(start)
        self._slow_start = True
        self._w_max = 0.0
        self._t = 0.0  # busy seconds since the last decrease: CUBIC's t
        self._k = self.RECOVERY_S  # CUBIC's K
        self._decreased_at = -math.inf
        #: Slots handed out (oldest first, from index ``_first``) and the rate each was spaced at.
        self._slots: list[float] = []
        self._rates: list[float] = []
        self._first = 0
        self.decreases = 0

    def __repr__(self) -> str:
        phase = "slow start" if self._slow_start else f"max {self._w_max:.3g}/s"
        return f"AdaptivePacer({self._rate:.3g}/s, {phase}, {self.decreases} decreases)"

    @property
    def rate(self) -> float:
        """Calls per second it allows now."""
        return self._rate

    @property
    def max_rate(self) -> float:
        return self._max

    @property
    def min_rate(self) -> float:
        return self._min

    # -- slots -------------------------------------------------------------------------------------

    async def acquire(self) -> float:
        """Wait for the next send slot; return its clock time.

        Waiters queue in order and the head computes its slot when it gets there, so a decrease
        applies to every call not yet sent, not only to those that asked after it.
        """
        asked = self._clock()
        async with self._lock:
            while True:
                slot = self._earliest(asked)
                now = self._clock()
                if slot <= now:
                    break
                await self._sleep(slot - now)  # then look again: the rate may have dropped meanwhile
            self._hand_out(slot, waited=slot > asked)
            return slot

    def ready(self) -> float | None:
        """The next slot if it is due now and no caller waits for one (as :meth:`acquire` would give it without
        a wait); None otherwise."""
        if self._lock.locked():
            return None
        asked = self._clock()
        slot = self._earliest(asked)
        if slot > asked:
            return None
        self._hand_out(slot, waited=False)
        return slot

    def _earliest(self, asked: float) -> float:
        """The first allowed slot for a caller that has been ready since *asked*."""
        if len(self._slots) == self._first:
            return asked
        slot = max(asked, self._slots[-1] + 1.0 / self._rate)
        # Drain rule: at most n slots in any window of ~WINDOW_S, n being the current rate's worth or,
        # if more, a little less than W_max's: after a decrease the calls of the past second, which
        # the server still counts, must leave until it has room again before the next goes out.
        w_max = self._w_max * self.WINDOW_S
        allowed = max(self._rate * self.WINDOW_S, min(w_max * (1.0 - self.DRAIN_MARGIN), w_max - 1.0))
        n = max(1, int(allowed + 1e-9))  # (49.99999… calls are 50)
        if len(self._slots) - self._first >= n:
            slot = max(slot, self._slots[-n] + self.WINDOW_S * n / allowed)
        return slot

    def _hand_out(self, slot: float, waited: bool) -> None:
        self._slots.append(slot)
        self._rates.append(self._rate)
        if waited and len(self._slots) - self._first > 1:
            # Growth time is time in which a caller waited for the pacer (at most one interval per
            # slot): a caller that found its slot free was slower than allowed, so the curve waits.
            self._grow(min(slot - self._slots[-2], 1.0 / self._rate))
        if self._slots[self._first] < slot - self.HISTORY_S:
            self._first = bisect.bisect_left(self._slots, slot - self.HISTORY_S, self._first)
            if self._first > len(self._slots) // 2:
                del self._slots[: self._first], self._rates[: self._first]
                self._first = 0

    def _grow(self, dt: float) -> None:
        if dt <= 0:
            return
        if self._slow_start:
            rate = self._rate * self.SLOW_START_GROWTH**dt
        else:
            self._t += dt
            k = self._k
            # W(t) = C·(t−K)³ + W_max with C = W_max·(1−β)/K³, so that W(0) = β·W_max.
            rate = self._w_max * (1.0 + (1.0 - self.BETA) * ((self._t - k) / k) ** 3)
        self._rate = min(self._max, max(self._min, rate))

    # -- feedback ----------------------------------------------------------------------------------

    def feedback(self, sent_at: float, throttled: bool) -> None:
        """How the call sent at *sent_at* went; a 429 (*throttled*) may lower the rate."""
        if not throttled or sent_at <= self._decreased_at:
            return  # a success, or a throttle of the congestion event already answered
        self._w_max = max(self._min, min(self._max, self._sent_rate(sent_at)))
        self._rate = max(self._min, self.BETA * self._w_max)
        self._t = 0.0
        self._k = max(self.RECOVERY_S, self.RECOVERY_CALLS / self._w_max)
        self._slow_start = False
        self._decreased_at = self._clock()
        self.decreases += 1

    def _sent_rate(self, sent_at: float) -> float:
        """The rate the call of *sent_at* really went out at: the pacer's rate at that slot, or the
        rate measured over the window before it if lower. The measure is the slots' spacing (exact
        for evenly spaced slots), but no more than the window's count (what a per-second quota saw,
        if the calls came in a burst after a pause, or the pacer started less than a window ago)."""
        slots, first = self._slots, self._first
        i = bisect.bisect_right(slots, sent_at, first) - 1
        if i < first:
            return self._rate  # older than the history: today's rate is the best guess
        rate = self._rates[i]
        window = self.WINDOW_S * max(1.0, 4.0 / rate)  # at least ~4 calls, or a slow rate reads as 0
        j = bisect.bisect_right(slots, sent_at - window, first, i)
        measured = (i - j + 1) / window
        if i > j and slots[i] > slots[j]:
            measured = min(measured, (i - j) / (slots[i] - slots[j]))
        return max(self._min, min(rate, measured))


# -- --rate ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateSpec:
    """A parsed ``--rate``: ``fixed`` calls per second, or ``auto`` from ``start`` up to ``max_rate``
    (for a fixed rate both repeat it)."""

    fixed: float | None
    auto: bool
    start: float
    max_rate: float


_FORMS = "N (calls per second, e.g. 10 or 2.5), auto, auto:START or auto:START:MAX (e.g. auto:20:200)"


def parse_rate(text: str) -> RateSpec:
    """``"10"``, ``"2.5"``, ``"auto"``, ``"auto:START"`` or ``"auto:START:MAX"`` as a :class:`RateSpec`.

    ``auto`` starts at 10/s and goes up to 1000/s (or START, if START is higher). Raises ValueError,
    naming *text* and the accepted forms, for anything else: 0, negative, nan, inf, a number outside
    ``MIN_RATE``..``MAX_RATE``, START > MAX, garbage.
    """
    parts = [part.strip() for part in str(text).split(":")]
    problem = ""
    if parts[0].lower() == "auto" and len(parts) <= 3:
        numbers = [_number(part) for part in parts[1:]]
        values = [number for number in numbers if number is not None]
        if len(values) == len(numbers):  # every part a number
            start = values[0] if values else DEFAULT_START
            top = values[1] if len(values) > 1 else max(DEFAULT_MAX, start)
            if start <= top:
                return RateSpec(None, True, start, top)
            problem = " (START is above MAX)"
    elif len(parts) == 1 and (value := _number(parts[0])) is not None:
        return RateSpec(value, False, value, value)
    raise ValueError(
        f"invalid rate {text!r}{problem}: expected {_FORMS}, with numbers from {MIN_RATE:g} to "
        f"{MAX_RATE:g} calls per second"
    )


def _number(text: str) -> float | None:
    """A number of calls per second from ``MIN_RATE`` to ``MAX_RATE`` (as ``float`` reads it), else None: below,
    the wait between calls is hours, or infinite (``1 / 1e-320``); above, it is no limit but an overflow risk."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if MIN_RATE <= value <= MAX_RATE else None
