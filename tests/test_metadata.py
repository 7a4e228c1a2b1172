"""The ECS agency: temporary keys from the metadata service, signed with X-Security-Token, refreshed before they
expire, one refresh at a time; the SDK's own MetadataCredentialProvider as the oracle. On loopback here (the service's
origin is a parameter); the real address, 169.254.169.254, only inside a network namespace
(``test_ecs_agency_run_in_a_namespace``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

import aiohttp
import pytest
from huaweicloudsdkcore.auth.internal import StsAccessor

from bulkretry.errors import ApiError, LoginUnavailable
from bulkretry.oms.actions import ACTIONS, GROUPS
from bulkretry.oms.auth import AgencyAuth
from bulkretry.oms.client import OmsClient
from bulkretry.oms.metadata import MetadataError, TemporaryKey, fetch_key, parse_key, refresh_at
from bulkretry.sim import SimConfig, Simulator, running_simulator
from bulkretry.sim.state import SimState
from tests.netns import METADATA_ADDRESS, require_netns, run_isolated
from tests.servers import FakeMetadata, serve_metadata

RETRY = ACTIONS["retry", GROUPS]


class Clock:
    """Wall time, moved on by hand: shared by the simulator's state (key expiry) and the authenticator."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


#: The agency tests' simulator: every group failed, so each call is a retry that the simulator checks.
CONFIG = SimConfig(groups=60, failed_ratio=1.0)


class Agency(NamedTuple):
    """What an agency test works with, all on one clock."""

    clock: Clock
    state: SimState
    fake: FakeMetadata
    sim: Simulator
    origin: str
    auth: AgencyAuth
    client: OmsClient


@asynccontextmanager
async def _agency(delay_s: float = 0.0, revoked: bool = False) -> AsyncIterator[Agency]:
    """The simulator and a metadata service giving keys that live an hour, on one Clock, and a client signing with
    the agency's keys (the first fetched now; *revoked*: the simulator no longer knows it)."""
    clock = Clock()
    state = SimState.from_config(CONFIG, clock=clock)
    fake = FakeMetadata(state, ttl_s=3600, delay_s=delay_s, wall=clock)
    async with (
        running_simulator(CONFIG, state=state) as sim,
        serve_metadata(fake) as origin,
        aiohttp.ClientSession() as session,
    ):
        first = await fetch_key(origin, clock=clock)
        if revoked:
            state._keys.pop(first.ak)
        auth = AgencyAuth(first, fetch=lambda: fetch_key(origin, clock=clock), clock=clock)
        yield Agency(clock, state, fake, sim, origin, auth, OmsClient(session, auth, endpoint=sim.url))


async def _retry_failed(client: OmsClient, state: SimState, project: str, count: int) -> list[object]:
    failed = [g for g in state.ids() if state.get(g)["status"] == 5][:count]
    return await asyncio.gather(*(client.call(RETRY, project, g, {}) for g in failed), return_exceptions=True)


async def test_agency_keys_sign_with_the_security_token_and_refresh_once_for_all(tmp_path: Path) -> None:
    """Every call carries the key's X-Security-Token (the simulator checks it, signed); when the refresh window
    opens, ten calls at once make exactly one refresh (never two at a time), and later calls use the new keys."""
    async with _agency(delay_s=0.05) as (clock, state, fake, sim, origin, auth, client):
        first = await _retry_failed(client, state, CONFIG.project_id, 10)
        assert not [r for r in first if isinstance(r, BaseException)]
        assert (fake.gets, auth.refreshes) == (1, 0)
        clock.shift = 3100  # past a 3600 s key's refresh point (10 minutes before it expires), not yet expired
        second = await _retry_failed(client, state, CONFIG.project_id, 10)
        assert not [r for r in second if isinstance(r, BaseException)]
        assert (fake.gets, fake.peak_gets, auth.refreshes) == (2, 1, 1)
        clock.shift = 3700  # the first key has expired: the simulator refuses it, the new one still works
        third = await _retry_failed(client, state, CONFIG.project_id, 5)
        assert not [r for r in third if isinstance(r, BaseException)]
        issued = list(fake.keys)
        shown = repr(auth) + repr(client) + repr(await fetch_key(origin))
        assert not any(
            k.ak in shown or k.sk in shown or k.security_token in shown  # type: ignore[attr-defined]
            for k in fake.keys
        )
    tokens = [r.headers.get("X-Security-Token") for r in sim.received if r.method == "PUT"]
    assert len(tokens) == 25 and set(tokens) == {k.security_token for k in issued}  # type: ignore[attr-defined]
    assert all("x-security-token" in r.headers["Authorization"] for r in sim.received)


async def test_a_failed_refresh_keeps_the_valid_keys_then_fails_calls_at_once() -> None:
    """The metadata service down at refresh time: calls go on with the keys still valid (one attempt, then one
    every RETRY_S); once they have expired every call gets LoginUnavailable (the run halts), without a wait and
    without asking the service again within RETRY_S."""
    async with _agency() as (clock, state, fake, sim, _, auth, client):
        fake.down = True
        clock.shift = 3100
        results = await _retry_failed(client, state, CONFIG.project_id, 5)
        assert not [r for r in results if isinstance(r, BaseException)]
        assert fake.gets == 1 and auth.refreshes == 0
        clock.shift = 3601
        calls = sim.calls
        results = await _retry_failed(client, state, CONFIG.project_id, 5)
        assert all(isinstance(r, LoginUnavailable) and "expired" in str(r) for r in results), results
        assert sim.calls == calls  # nothing was sent with an expired key
        fake.down = False
        clock.shift = 3601 + AgencyAuth.RETRY_S
        results = await _retry_failed(client, state, CONFIG.project_id, 5)
        assert not [r for r in results if isinstance(r, BaseException)] and auth.refreshes == 1


async def test_a_401_fetches_new_keys_once_when_the_keys_are_not_new() -> None:
    """Keys revoked early (the gateway answers 401): new keys and one more try, only when the keys in use are
    at least a minute old, so that a 401 for another reason does not ask the service for every row."""
    async with _agency(revoked=True) as (clock, state, _, sim, _, auth, client):
        with pytest.raises(ApiError) as info:
            await _retry_failed_one(client, state, CONFIG.project_id)
        assert info.value.status == 401 and auth.refreshes == 0  # new keys: no fetch
        clock.shift = 120
        await _retry_failed_one(client, state, CONFIG.project_id)
        assert auth.refreshes == 1
    assert sim.calls == 3


async def _retry_failed_one(client: OmsClient, state: SimState, project: str) -> None:
    results = await _retry_failed(client, state, project, 1)
    if isinstance(results[0], BaseException):
        raise results[0]


async def test_the_metadata_service_is_never_asked_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY (a dead one here) is not used for the link-local service; its errors are clear."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
    fake = FakeMetadata(SimState())
    async with serve_metadata(fake) as origin:
        key = await fetch_key(origin)
        assert key.ak.startswith("SIMTMP") and fake.puts == 1
        fake.no_agency = True
        with pytest.raises(MetadataError, match="no agency"):
            await fetch_key(origin)
    with pytest.raises(MetadataError, match="could not be reached"):
        await fetch_key(origin)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """TZ=UTC, as the SDK reads expires_at as local time (time.mktime)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


ANSWERS = [
    {
        "credential": {
            "access": "A1",
            "secret": "S1",
            "securitytoken": "T1",
            "expires_at": "2026-12-02T03:04:05.000000Z",
        }
    },
    {
        "credentials": {
            "accessKeyId": "A2",
            "secretAccessKey": "S2",
            "securityToken": "T2",
            "expiration": "2027-01-01T00:00:00.500000Z",
        }
    },
    {"access_key_id": "A3", "secret_access_key": "S3", "security_token": "T3", "expires_at": "2030-06-30T12:00:00.0Z"},
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_a_securitykey_answer_reads_as_the_sdk_reads_it(utc: None, answer: dict) -> None:
    """Each spelling the SDK's StsAccessor accepts gives the same key, token and expiry here."""
    sdk = StsAccessor._process_credential(json.dumps(answer))
    ours = parse_key(json.dumps(answer), 0.0)
    assert (ours.ak, ours.sk, ours.security_token) == (sdk.access, sdk.secret, sdk.security_token)
    assert int(ours.expires_at) == int(sdk.expire_at)
    with pytest.raises(MetadataError, match="securitytoken"):
        parse_key(json.dumps({"credential": {"access": "A", "secret": "S", "expires_at": "2030-01-01T00:00:00Z"}}), 0.0)


SCENARIO = Path(__file__).with_name("netns_ecs_agency.py")


@pytest.mark.slow
def test_ecs_agency_run_in_a_namespace(tmp_path: Path) -> None:
    """On 'an ECS with only an agency' (169.254.169.254 on lo, in a loopback-only namespace): the SDK's own
    MetadataCredentialProvider and bulkretry get the same key; then `bulkretry run`, with no credentials anywhere and a
    dead HTTP_PROXY, succeeds on every row, every call with X-Security-Token, the short-lived keys refreshed, one
    refresh at a time, and the summary says the ECS agency was used."""
    require_netns()
    done = run_isolated(SCENARIO, str(tmp_path), addresses=[METADATA_ADDRESS], env=_clean_env(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["sdk_key"] == report["our_key"] and report["sdk_key"][0].startswith("SIMTMP")
    assert report["exit"] == 0 and report["by_outcome"] == {"succeeded": 40}, report
    assert report["calls"] == report["with_security_token"] == 40
    assert report["refreshes"] >= 1 and report["peak_gets"] == 1
    assert report["credentials_source"] == "ECS metadata (agency)"
    assert report["secret_in_files"] is False


def test_off_ecs_the_chain_ends_at_once_with_exit_2(tmp_path: Path) -> None:
    """No metadata service (a namespace without the address): no credentials, exit 2, the message says what to
    set, and no run folder."""
    require_netns()
    script = tmp_path / "off.py"
    script.write_text(
        "import io, json, sys\nfrom bulkretry.cli import main\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "code = main(['run', sys.argv[1], '--endpoint', 'http://127.0.0.1:9', '--project-id', 'p', '--out', "
        "sys.argv[2]], out=out, err=err)\n"
        "print(json.dumps({'exit': code, 'err': err.getvalue()}))\n"
    )
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\ng1\n")
    done = run_isolated(script, str(manifest), str(tmp_path / "run"), env=_clean_env(tmp_path))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit"] == 2, report
    assert "169.254.169.254" in report["err"] and "HUAWEICLOUD_SDK_AK" in report["err"]
    assert not (tmp_path / "run").exists()


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """Only what Python needs: no credentials, an empty HOME, the metadata step on."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    import os

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "CI")}
    return {**keep, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "TZ": "UTC"}


@pytest.mark.parametrize(("life", "before"), [(86400.0, 600.0), (3600.0, 600.0), (1000.0, 200.0), (3.0, 0.6)])
def test_keys_are_refreshed_a_fifth_of_their_life_or_ten_minutes_before_they_expire(life: float, before: float) -> None:
    """The refresh point: the smaller of a fifth of the lifetime and 10 minutes before expiry; a key that looks
    expired on arrival (clock skew) is used for 30 s, not refreshed on every call."""
    key = TemporaryKey("a", "s", "t", expires_at=1000.0 + life, fetched_at=1000.0)
    assert refresh_at(key) == pytest.approx(1000.0 + life - before)
    assert refresh_at(TemporaryKey("a", "s", "t", expires_at=990.0, fetched_at=1000.0)) == 1030.0
