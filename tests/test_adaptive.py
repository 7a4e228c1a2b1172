"""``--rate auto``'s pacer on a simulated clock: spacing, decreases, convergence, bounds; and ``parse_rate``.

Nothing here waits for real time. ``SimClock`` is the pacer's clock and its ``sleep``: sleeping moves
the clock on and, on the way, delivers the answers due by then (``pacer.feedback``), as the engine
would. ``Server`` is the simulator's own ``RateWindow``: a sliding one-second window in which refused calls
count too, as ``bulkretry sim --rate-limit`` and API Gateway behave, answering 429 without saying its limit.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

import pytest

from bulkretry.run.adaptive import AdaptivePacer, RateSpec, parse_rate
from bulkretry.sim.traffic import RateWindow as Server

BETA = AdaptivePacer.BETA


class SimClock:
    """Simulated time; ``sleep`` advances it and delivers the answers that fall due meanwhile."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pacer: AdaptivePacer | None = None
        self._answers: list[tuple[float, int, float, bool]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    def answer_at(self, at: float, sent_at: float, throttled: bool) -> None:
        self._seq += 1
        heapq.heappush(self._answers, (at, self._seq, sent_at, throttled))

    def advance_to(self, target: float) -> None:
        while self._answers and self._answers[0][0] <= target:
            at, _, sent_at, throttled = heapq.heappop(self._answers)
            self.now = max(self.now, at)
            assert self.pacer is not None
            self.pacer.feedback(sent_at, throttled)
        self.now = max(self.now, target)

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the pacer slept for nothing"
        self.advance_to(self.now + seconds)


@dataclass
class Run:
    slots: list[float] = field(default_factory=list)
    admitted: list[bool] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # the pacer's rate after each slot

    def goodput(self, t0: float, t1: float) -> float:
        return sum(ok for s, ok in zip(self.slots, self.admitted) if t0 <= s < t1) / (t1 - t0)

    def throttled_share(self, t0: float, t1: float) -> float:
        picked = [ok for s, ok in zip(self.slots, self.admitted) if t0 <= s < t1]
        return 1 - sum(picked) / len(picked)


def make_pacer(clock: SimClock, **kwargs) -> AdaptivePacer:
    pacer = AdaptivePacer(clock=clock, sleep=clock.sleep, **kwargs)
    clock.pacer = pacer
    return pacer


async def simulate(
    limits: dict[float, float],
    seconds: float,
    *,
    seed: int = 7,
    rtt_s: float = 0.02,
    jitter_s: float = 0.002,
    **pacer_args,
) -> tuple[Run, AdaptivePacer]:
    """Callers always ready (the pacer is the bottleneck) against a server whose limit is ``limits[t]``
    from time t on; answers come after *rtt_s* (a 429 at once), arrivals are jittered."""
    clock = SimClock()
    pacer = make_pacer(clock, **pacer_args)
    rng = random.Random(seed)
    changes = sorted(limits.items())
    server = Server(changes[0][1])
    run = Run()
    while clock.now < seconds:
        if len(changes) > 1 and clock.now >= changes[1][0]:
            changes.pop(0)
            server = Server(changes[0][1])
        slot = await pacer.acquire()
        arrival = slot + rng.uniform(0, jitter_s)
        ok = server.admit(arrival)
        clock.answer_at(arrival + (rtt_s if ok else 0.001), slot, not ok)
        run.slots.append(slot)
        run.admitted.append(ok)
        run.rates.append(pacer.rate)
        clock.advance_to(clock.now)
    return run, pacer


async def acquire_n(pacer: AdaptivePacer, n: int) -> list[float]:
    return [await pacer.acquire() for _ in range(n)]


async def throttle_down(clock: SimClock, pacer: AdaptivePacer, calls: int = 60) -> list[float]:
    """Send *calls* calls, then answer the last one 429: the pacer leaves slow start."""
    slots = await acquire_n(pacer, calls)
    pacer.feedback(slots[-1], True)
    return slots


# -- spacing ---------------------------------------------------------------------------------------


async def test_slots_are_evenly_spaced_at_the_current_rate() -> None:
    """Slots are 1/rate apart, both at a fixed rate and while slow start raises the rate."""
    clock = SimClock()
    pacer = make_pacer(clock, start=20.0, max_rate=20.0)
    slots = await acquire_n(pacer, 40)
    assert slots[0] == 0.0
    assert all(b - a == pytest.approx(1 / 20) for a, b in zip(slots, slots[1:]))

    # While the rate changes (slow start), each gap is 1/rate at the time the slot was handed out.
    pacer = make_pacer(clock, start=10.0, max_rate=1000.0)
    gaps, rates = [], []
    last = await pacer.acquire()
    for _ in range(200):
        rates.append(pacer.rate)
        slot = await pacer.acquire()
        gaps.append(slot - last)
        last = slot
    assert rates[-1] > 5 * rates[0]  # it did grow
    assert gaps == pytest.approx([1 / r for r in rates], rel=1e-9)


async def test_late_wakeups_do_not_lower_the_rate() -> None:
    """Slots keep to the ideal schedule: a wait that ends 5 ms late does not push the next slot back."""
    clock = SimClock()

    async def late_sleep(seconds: float) -> None:
        clock.advance_to(clock.now + seconds + 0.005)

    pacer = AdaptivePacer(start=50.0, max_rate=50.0, clock=clock, sleep=late_sleep)
    clock.pacer = pacer
    slots = await acquire_n(pacer, 101)
    assert slots[-1] - slots[0] == pytest.approx(100 / 50)
    assert clock.now == pytest.approx(slots[-1] + 0.005)


async def test_no_burst_after_idle() -> None:
    """After 30 s idle the first call goes at once and the rest are paced, not sent in a burst."""
    clock = SimClock()
    pacer = make_pacer(clock, start=20.0, max_rate=20.0)
    await acquire_n(pacer, 10)
    clock.advance_to(clock.now + 30.0)  # nobody asked for 30 s
    resumed_at = clock.now
    slots = await acquire_n(pacer, 20)
    assert slots[0] == resumed_at  # the first call goes at once...
    assert all(b - a == pytest.approx(1 / 20) for a, b in zip(slots, slots[1:]))  # ...the rest paced


async def test_idle_time_does_not_grow_the_rate() -> None:
    """Callers far slower than the rate do not raise it; callers waiting again do."""
    clock = SimClock()
    pacer = make_pacer(clock)
    await throttle_down(clock, pacer)
    before = pacer.rate
    for _ in range(20):  # a caller every 10 s: far slower than allowed
        clock.advance_to(clock.now + 10.0)
        await pacer.acquire()
    assert pacer.rate == pytest.approx(before)
    clock.advance_to(clock.now + 10.0)
    slots = await acquire_n(pacer, 3 * round(before))  # callers waiting again: it grows again
    assert pacer.rate > before
    assert slots[1] - slots[0] == pytest.approx(1 / before)


# -- decreases -------------------------------------------------------------------------------------


async def test_a_burst_of_throttles_gives_one_decrease() -> None:
    """429s for calls sent before a decrease count once; a 429 for a call sent after it decreases again."""
    clock = SimClock()
    pacer = make_pacer(clock, start=40.0, max_rate=40.0)
    slots = await acquire_n(pacer, 80)  # 2 s at 40/s
    for sent_at in slots[-30:]:  # every call in flight comes back 429
        pacer.feedback(sent_at, True)
    assert pacer.decreases == 1
    assert pacer.rate == pytest.approx(BETA * 40, rel=0.03)
    pacer.feedback(slots[-1], True)  # a straggler of the same burst
    assert pacer.decreases == 1
    later = await pacer.acquire()  # a call sent after the decrease is news
    pacer.feedback(later, True)
    assert pacer.decreases == 2
    assert pacer.rate < BETA * 40


async def test_a_decrease_starts_from_the_rate_really_sent() -> None:
    """The pacer allowed far more than the callers sent (a concurrency cap): the decrease starts
    from the ~10 calls per second that really went out, not from the allowed rate."""
    clock = SimClock()
    pacer = make_pacer(clock, start=400.0, max_rate=400.0)
    slots = []
    for _ in range(30):
        slots.append(await pacer.acquire())
        clock.advance_to(clock.now + 0.1)
    pacer.feedback(slots[-1], True)
    assert pacer.rate == pytest.approx(BETA * 10, rel=0.15)


async def test_a_decrease_delays_the_call_already_waiting() -> None:
    """A 429 that comes back while a caller waits for its slot re-times that caller at the new rate."""
    clock = SimClock()
    pacer = make_pacer(clock, start=50.0, max_rate=50.0)
    slots = await acquire_n(pacer, 100)
    clock.answer_at(clock.now + 0.001, slots[-1], True)  # due during the next call's wait
    nxt = await pacer.acquire()
    assert pacer.decreases == 1
    assert nxt - slots[-1] >= 1 / pacer.rate - 1e-9
    assert nxt - slots[-1] > 1 / 50 * 1.2


async def test_after_a_decrease_it_drains_the_past_second_first() -> None:
    """Refused calls count at the server: after a decrease from ~50/s the next calls wait until the
    past second holds fewer calls than the limit found, so they are not refused into a full window."""
    clock = SimClock()
    pacer = make_pacer(clock, start=50.0, max_rate=50.0)
    slots = await acquire_n(pacer, 100)
    pacer.feedback(slots[-1], True)
    after = await acquire_n(pacer, 60)
    everything = slots + after
    for slot in after:
        in_window = sum(1 for s in everything if slot - 1.0 + 1e-9 < s < slot)
        assert in_window <= 48, (slot, in_window)
    assert after[0] - slots[-1] > 1 / 50  # it did wait


# -- convergence -----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [5.0, 50.0, 500.0])
async def test_converges_under_an_unknown_limit(limit: float) -> None:
    """Under a hidden limit of 5, 50 or 500/s it settles near the limit with at most 5% throttled."""
    run, pacer = await simulate({0.0: limit}, 120.0)
    goodput = run.goodput(20.0, 120.0)
    assert 0.8 * limit <= goodput <= limit, (goodput, pacer)
    assert run.throttled_share(20.0, 120.0) <= 0.05
    assert run.throttled_share(0.0, 120.0) <= 0.05  # the search from 10/s included
    assert 0.5 * limit < pacer.rate < 1.2 * limit
    assert pacer.decreases < 40  # a throttle every few seconds, not a saw on every call


async def test_finds_fifty_per_second_from_the_default_start_quickly() -> None:
    """From the default start it finds a 50/s limit within 40 s, and slow start does not run away."""
    run, _ = await simulate({0.0: 50.0}, 40.0)
    assert run.goodput(0.0, 40.0) >= 0.9 * 50
    assert run.throttled_share(0.0, 40.0) <= 0.05
    assert max(run.rates[: len(run.slots) // 2]) < 2 * 50  # slow start did not run away


async def test_recovers_upward_after_the_limit_rises() -> None:
    """When the limit rises from 50 to 100/s, the rate climbs to use it."""
    run, pacer = await simulate({0.0: 50.0, 60.0: 100.0}, 120.0)
    assert run.goodput(30.0, 60.0) <= 50
    assert run.goodput(90.0, 120.0) >= 0.8 * 100
    assert pacer.rate > 70


async def test_comes_down_when_the_limit_drops() -> None:
    """When the limit drops from 100 to 20/s, the rate follows it down with few throttles."""
    run, pacer = await simulate({0.0: 100.0, 40.0: 20.0}, 80.0)
    assert 0.8 * 20 <= run.goodput(50.0, 80.0) <= 20
    assert run.throttled_share(50.0, 80.0) <= 0.05
    assert pacer.rate < 25


# -- bounds ----------------------------------------------------------------------------------------


async def test_never_exceeds_max_rate() -> None:
    """A server that allows far more: the rate stops at max_rate and slots are never closer than 1/max_rate."""
    run, pacer = await simulate({0.0: 1000.0}, 30.0, start=10.0, max_rate=30.0)
    assert max(run.rates) == pytest.approx(30.0)
    assert min(b - a for a, b in zip(run.slots, run.slots[1:])) >= 1 / 30 - 1e-9
    assert all(run.admitted) and pacer.decreases == 0


async def test_never_goes_below_min_rate() -> None:
    """A server that refuses nearly everything (one call per 100 s) drives it to min_rate, not below."""
    run, pacer = await simulate({0.0: 0.01}, 120.0, start=10.0, min_rate=0.5)
    assert pacer.decreases >= 5
    assert min(run.rates) == pytest.approx(0.5)
    assert max(b - a for a, b in zip(run.slots, run.slots[1:])) <= 1 / 0.5 + 1e-9


def test_constructor_checks_its_arguments() -> None:
    """Bad rates (zero, negative, NaN, infinite, start above max) are refused; a low start lowers min_rate."""
    for bad in (
        dict(start=0),
        dict(start=-1),
        dict(max_rate=math.nan),
        dict(min_rate=math.inf),
        dict(start=20, max_rate=10),
    ):
        with pytest.raises(ValueError):
            AdaptivePacer(**bad)  # type: ignore[arg-type]
    pacer = AdaptivePacer(start=0.2)  # a start under min_rate lowers the floor
    assert pacer.rate == 0.2 and pacer.min_rate == 0.2 and pacer.max_rate == 1000.0


def test_repr_shows_the_rate() -> None:
    """repr() shows the current rate per second."""
    assert "12.5/s" in repr(AdaptivePacer(start=12.5))


# -- parse_rate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("10", RateSpec(10.0, False, 10.0, 10.0)),
        ("2.5", RateSpec(2.5, False, 2.5, 2.5)),
        ("auto", RateSpec(None, True, 10.0, 1000.0)),
        ("AUTO", RateSpec(None, True, 10.0, 1000.0)),
        ("auto:20", RateSpec(None, True, 20.0, 1000.0)),
        ("auto:20:200", RateSpec(None, True, 20.0, 200.0)),
        ("auto:0.5:2.5", RateSpec(None, True, 0.5, 2.5)),
        ("auto:5:5", RateSpec(None, True, 5.0, 5.0)),
        ("auto:2000", RateSpec(None, True, 2000.0, 2000.0)),
    ],
)
def test_parse_rate_accepts(text: str, spec: RateSpec) -> None:
    """A number is a fixed rate; auto, auto:START and auto:START:MAX are adaptive with their bounds."""
    assert parse_rate(text) == spec


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-1",
        "0.0",
        "nan",
        "inf",
        "-inf",
        "",
        "fast",
        "10/s",
        "auto:",
        "auto:0",
        "auto:-5",
        "auto:nan",
        "auto:inf",
        "auto:20:10",
        "auto:20:0",
        "auto:1:2:3",
        "auto:x",
        "automatic",
        "10:20",
    ],
)
def test_parse_rate_rejects(text: str) -> None:
    """Anything else is a one-line ValueError naming the text and the accepted forms."""
    with pytest.raises(ValueError) as info:
        parse_rate(text)
    message = str(info.value)
    assert repr(text) in message and "auto:START:MAX" in message and "\n" not in message
