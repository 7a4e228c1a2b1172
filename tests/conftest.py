"""Shared fixtures: the OMS + IAM simulator, in the test's event loop or in a background thread, and the
environment a CLI run against it needs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bulkretry.records import Outcome, RowResult, RunSummary
from bulkretry.sim import SimConfig, Simulator, SimulatorThread, running_simulator
from tests.clitools import DEMO_SECRETS, TOKEN, clear_credentials, use_sim_credentials
from tests.reports import result, run_summary


@pytest.fixture(autouse=True)
def no_ambient_credentials(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's own credentials or asks the real ECS metadata service: HOME is an empty
    folder (no ~/.huaweicloud/credentials, no ~/.hcloud/config.json, no bulkretry config), no systemd credentials,
    HUAWEICLOUD_SDK_CREDENTIALS_FILE and the SDK's endpoint overrides and BULKRETRY_<OPTION> settings are unset,
    and BULKRETRY_NO_METADATA=1 leaves the metadata step out of the chain
    (the network-namespace tests turn it back on inside their namespace). Returns the HOME folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.delenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", raising=False)
    for name in [n for n in os.environ if n.startswith("HUAWEICLOUD_SDK_REGION_")]:
        monkeypatch.delenv(name)
    # Nor the developer's settings: no BULKRETRY_<OPTION> variable, no user config file (cli/config.py).
    for name in [
        n
        for n in os.environ
        if n.startswith("BULKRETRY_") or n in ("XDG_CONFIG_HOME", "APPDATA", "CREDENTIALS_DIRECTORY")
    ]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BULKRETRY_NO_METADATA", "1")
    return home


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


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, sim_config: SimConfig) -> dict[str, str]:
    """Only the simulator's AK/SK as credentials, and the secrets the sample manifests' env: cells name
    (DEMO_SECRETS); nothing else from the caller's environment. Returns what was set."""
    return use_sim_credentials(monkeypatch, sim_config, **DEMO_SECRETS)


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """Only a token as credentials (sent as X-Auth-Token, so nothing in aiohttp stops a URL with a user name)."""
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_AUTH_TOKEN", TOKEN)
    return TOKEN


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credential of any kind from the caller's environment (a test sets the one it needs)."""
    clear_credentials(monkeypatch)


@pytest.fixture
def summary(results: list[RowResult]) -> RunSummary:
    """The summary of ``results``: outcome and error-code counts and a Chinese manifest name."""
    return run_summary(results)


@pytest.fixture
def results() -> list[RowResult]:
    """Three results: a success, a server failure with Chinese text, and a local one with no HTTP status."""
    return [
        result(2, extra=(("owner", "alice"), ("备注", "第一批"))),
        result(
            3,
            outcome=Outcome.FAILED,
            http_status=400,
            error_code="OMS.0001",
            error_msg="任务组状态不允许重试",
            attempts=3,
            latency_ms=101.0,
            extra=(("备注", "第二批"),),
        ),
        result(
            4,
            group_id="",
            outcome=Outcome.INVALID,
            http_status=None,
            error_code="invalid:group_id",
            error_msg="group_id is empty",
            attempts=0,
            request_id="",
            latency_ms=None,
            started_at="",
            finished_at="",
            extra=(("owner", "bob"), ("ignored", "not a report column")),
        ),
    ]
