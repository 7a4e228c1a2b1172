"""The fixed pacer's schedule (with a fake clock, no timing), the pacer pool, and --rate end to end."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from bulkretry.run.pacing import FixedPacer, PacerPool
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import failed_group_ids, run_cli, sim_run_argv, use_sim_credentials, write_group_manifest


class FakeClock:
    """A clock that only moves when told to, and a sleep that moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _slots(pacer: FixedPacer, clock: FakeClock, n: int, gap: float = 0.0) -> list[float]:
    """Acquire *n* slots; the clock jumps to each slot (as if the sleep took exactly that long)."""
    slots = []
    for _ in range(n):
        slot = await pacer.acquire()
        clock.now = max(clock.now, slot) + gap
        slots.append(slot)
    return slots


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def instant(delay: float) -> None:
        return None

    monkeypatch.setattr(anyio, "sleep", instant)


@pytest.mark.usefixtures("no_sleep")
async def test_fixed_slots_are_evenly_spaced_at_the_rate() -> None:
    """Back-to-back acquires get slots exactly 1/rate apart, starting now."""
    clock = FakeClock()
    slots = await _slots(FixedPacer(20, clock=clock), clock, 50)
    assert slots[0] == 100.0
    assert all(abs((b - a) - 0.05) < 1e-9 for a, b in zip(slots, slots[1:]))


@pytest.mark.usefixtures("no_sleep")
async def test_fixed_pacer_never_bursts_after_idle() -> None:
    """After a long idle spell the next slots are still 1/rate apart (no saved-up credit)."""
    clock = FakeClock()
    pacer = FixedPacer(10, clock=clock)
    await _slots(pacer, clock, 3)
    clock.now += 60
    back = clock.now
    slots = await _slots(pacer, clock, 5)
    assert slots[0] == back  # the first slot is now, not earlier ...
    assert all(abs((b - a) - 0.1) < 1e-9 for a, b in zip(slots, slots[1:]))  # ... and no burst follows


@pytest.mark.usefixtures("no_sleep")
async def test_late_wakeups_do_not_lower_the_average_rate() -> None:
    """Each waiter wakes 3 ms late: the slots keep their schedule, so N slots span exactly (N-1)/rate."""
    clock = FakeClock()
    slots = await _slots(FixedPacer(100, clock=clock), clock, 101, gap=0.003)
    assert abs((slots[-1] - slots[0]) - 1.0) < 0.05  # a late waker does not push the schedule back


def test_fixed_pacer_refuses_a_rate_that_is_not_positive() -> None:
    """A fixed rate of zero is a ValueError saying the rate must be positive."""
    with pytest.raises(ValueError, match="positive"):
        FixedPacer(0)


def test_pool_shares_one_pacer_or_keeps_one_per_key() -> None:
    """shared: every key gets the same pacer; otherwise one each, and the total rate is their sum."""
    shared = PacerPool(lambda: FixedPacer(5), shared=True)
    assert shared.get("a") is shared.get("b") and shared.rate == 5 and shared.rates == {"*": 5}
    per_key = PacerPool(lambda: FixedPacer(5), shared=False)
    assert per_key.get("a") is per_key.get("a") and per_key.get("a") is not per_key.get("b")
    assert per_key.rate == 10 and per_key.rates == {"a": 5, "b": 5}


# -- --rate end to end --------------------------------------------------------------------------------


@pytest.mark.slow
def test_rate_auto_finishes_a_throttled_run_and_reports_the_learned_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--rate auto against a server that answers 429 beyond 40/s: every row succeeds (429s retried) and
    summary.json says which rate the project's pacer ended at."""
    config = SimConfig(groups=120, failed_ratio=1.0, rate_limit=40)
    with SimulatorThread(config) as sim_thread:
        ids = failed_group_ids(sim_thread, 100)
        manifest = write_group_manifest(tmp_path / "m.csv", ids)
        use_sim_credentials(monkeypatch, config)
        options = ("--rate", "auto:80", "--max-attempts", "20", "--quiet", "--json-summary")
        code, out, err = run_cli(*sim_run_argv(sim_thread, manifest, tmp_path / "run", *options))
        throttled = sim_thread.simulator.traffic.throttled
    assert code == 0, err
    summary_json = json.loads(out)
    assert summary_json["by_outcome"] == {"succeeded": 100}
    assert throttled > 0  # starting at 80/s against 40/s, it must have been throttled, and slowed down
    assert set(summary_json["learned_rates"]) == {config.project_id}
    assert 0 < summary_json["learned_rates"][config.project_id] < 80


@pytest.mark.parametrize("value", ["auto:5:1", "auto:x", "fast", "0", "auto:0"])
def test_bad_rate_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable --rate: exit 2 naming the accepted forms, nothing run."""
    code, _, _ = run_cli("run", "m.csv", "--rate", value)
    assert code == 2 and "auto:START:MAX" in capsys.readouterr().err
