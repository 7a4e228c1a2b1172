"""Shared fixtures: the OMS + IAM simulator, in the test's event loop or in a background thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bulkretry.sim import SimConfig, Simulator, SimulatorThread, running_simulator


@pytest.fixture(autouse=True)
def _english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' outputs are in English whatever the machine's locale: the language a report and the summary
    line are written in comes from LC_ALL, LC_MESSAGES or LANG when --lang is not given."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sim_config() -> SimConfig:
    """A small simulator: 20 groups, 12 of them failed, default credentials."""
    return SimConfig(groups=20)


@pytest.fixture
async def sim(sim_config: SimConfig) -> AsyncIterator[Simulator]:
    """The simulator, listening on a free port in the test's event loop."""
    async with running_simulator(sim_config) as s:
        yield s


@pytest.fixture
def sim_thread(sim_config: SimConfig) -> Iterator[SimulatorThread]:
    """The simulator served from a background thread, for blocking clients such as the official SDK."""
    with SimulatorThread(sim_config) as thread:
        yield thread
