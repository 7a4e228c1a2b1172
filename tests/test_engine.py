"""The batch engine against the in-process simulator: what is sent, retried, capped, spaced and stopped."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from bulkretry.manifest.plan import Planner, RowPlan
from bulkretry.oms.auth import AkSkAuth, TokenAuth
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.credentials import AkSk, Token
from bulkretry.records import Outcome, RowResult
from bulkretry.run.engine import Engine, EngineConfig, utc_now_iso
from bulkretry.run.halt import FirstCallsRefused
from bulkretry.run.pacing import FixedPacer, PacerPool
from bulkretry.run.policy import RetryPolicy
from bulkretry.sim import SimConfig, Simulator, running_simulator
from tests.servers import serve

FAST = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.02, rng=random.Random(1))


def _plans(config: SimConfig, ids: list[str], **cells: str) -> list[RowPlan]:
    planner = Planner(columns=["group_id", *cells], project_id=config.project_id, endpoint="http://x")
    return [planner.plan(i + 2, {"group_id": gid, **cells}) for i, gid in enumerate(ids)]


async def _run(engine: Engine, plans: list[RowPlan]) -> list[RowResult]:
    results: list[RowResult] = []
    await engine.run(plans, results.append)
    return sorted(results, key=lambda r: r.row)


def _failed_ids(sim, n: int | None = None) -> list[str]:
    ids = [g["group_id"] for g in sim.state.list(status=5, offset=0, limit=10_000)[1]]
    return ids if n is None else ids[:n]


def _token_client(session: aiohttp.ClientSession, sim: Simulator, token: str | None = None) -> OmsClient:
    """A client of *sim* that sends *token*, else the simulator's own."""
    return OmsClient(session, TokenAuth(Token(token or sim.config.token)), endpoint=sim.url)  # type: ignore[arg-type]


def _engine(client: OmsClient | None, concurrency: int, **options: Any) -> Engine:
    """An engine without a rate limit, retrying by FAST, with *concurrency* calls at once and other *options*."""
    return Engine(client, EngineConfig(rate=None, concurrency=concurrency, policy=FAST, **options))


@asynccontextmanager
async def _failed_groups(
    session: aiohttp.ClientSession, config: SimConfig, concurrency: int
) -> AsyncIterator[tuple[Simulator, Engine, list[RowPlan]]]:
    """The simulator of *config*, an engine calling it with its token (*concurrency* calls at once), and the plans
    of its failed groups."""
    async with running_simulator(config) as sim:
        yield sim, _engine(_token_client(session, sim), concurrency), _plans(config, _failed_ids(sim))


@pytest.fixture
async def session():
    async with make_session() as s:
        yield s


async def test_every_row_is_sent_as_the_manifest_says(session: aiohttp.ClientSession) -> None:
    """Ids byte for byte, credentials in the body, migrate_failed_object a JSON boolean; all succeed."""
    config = SimConfig(groups=20, failed_ratio=0.5)
    async with running_simulator(config) as sim:
        ids = _failed_ids(sim)
        plans = _plans(
            config, ids, src_ak="SRC-AK", src_sk="SRC-SK", dst_ak="DST-AK", dst_sk="DST-SK", migrate_failed_object="是"
        )
        client = OmsClient(session, AkSkAuth(AkSk(config.ak, config.sk)), endpoint=sim.url)
        results = await _run(_engine(client, 4), plans)
        received = [r for r in sim.received if r.method == "PUT"]
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * len(ids)
    assert sorted(r.path_segments[3] for r in received) == sorted(ids)
    for request in received:
        assert json.loads(request.body) == {
            "src_ak": "SRC-AK",
            "src_sk": "SRC-SK",
            "dst_ak": "DST-AK",
            "dst_sk": "DST-SK",
            "migrate_failed_object": True,
        }
    assert all(r.attempts == 1 and r.http_status == 200 and r.request_id for r in results)


async def test_final_errors_are_not_retried(session: aiohttp.ClientSession) -> None:
    """400 (not failed) and 404 (unknown) are final after one call, with the service's codes."""
    config = SimConfig(groups=10, failed_ratio=0.0)
    async with running_simulator(config) as sim:
        plans = _plans(config, [sim.state.ids()[0], "no-such-group"])
        client = _token_client(session, sim)
        results = await _run(_engine(client, 2), plans)
        calls = len(sim.received)
    assert [(r.outcome, r.http_status, r.error_code, r.attempts) for r in results] == [
        (Outcome.FAILED, 400, "OMS.1015", 1),
        (Outcome.FAILED, 404, "OMS.1009", 1),
    ]
    assert calls == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, {"error_code": "APIGW.0308", "error_msg": "throttled"}),
        (500, {"error_code": "OMS.0000", "error_msg": "internal"}),
        (503, {"error": {"code": "APIGW.0202", "message": "backend unavailable"}}),
        (504, {"errorCode": "APIGW.0203", "errorMsg": "backend timeout"}),
    ],
)
async def test_retryable_failures_are_retried_until_they_pass(
    session: aiohttp.ClientSession, status: int, body: dict
) -> None:
    """A row that fails twice with a retryable status succeeds on its third attempt."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        if len(seen) <= 2:
            return web.json_response(body, status=status)
        return web.json_response({})

    async with serve(handler) as url:
        plans = _plans(SimConfig(), ["g-1"])
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        [result] = await _run(_engine(client, 1), plans)
    assert (result.outcome, result.attempts, result.http_status) == (Outcome.SUCCEEDED, 3, 200)


async def test_retries_stop_at_max_attempts_with_the_last_error(session: aiohttp.ClientSession) -> None:
    """A row that always gets 503 is failed after max_attempts calls, carrying the last code."""
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.json_response(
            {"error": {"code": "APIGW.0202", "message": "down"}}, status=503, headers={"X-Request-Id": f"r{calls}"}
        )

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        [result] = await _run(_engine(client, 1), _plans(SimConfig(), ["g"]))
    assert calls == 4
    assert (result.outcome, result.attempts, result.error_code, result.request_id) == (
        Outcome.FAILED,
        4,
        "APIGW.0202",
        "r4",
    )


async def test_timeouts_and_resets_are_retried(session: aiohttp.ClientSession) -> None:
    """A dropped connection, then a timeout, then success: three attempts, succeeded."""
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            request.transport.close()
        if calls == 2:
            await anyio.sleep(1)
        return web.json_response({})

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url, timeout=0.2)
        [result] = await _run(_engine(client, 1), _plans(SimConfig(), ["g"]))
    assert (result.outcome, result.attempts) == (Outcome.SUCCEEDED, 3)


async def test_concurrency_cap_is_respected_and_reached(session: aiohttp.ClientSession) -> None:
    """With 50 ms latency and --concurrency 3, the server never sees more than 3 calls at once."""
    config = SimConfig(groups=24, failed_ratio=1.0, latency_ms=50)
    async with running_simulator(config) as sim:
        client = _token_client(session, sim)
        engine = _engine(client, 3)
        results = await _run(engine, _plans(config, _failed_ids(sim)))
        peak = sim.peak_in_flight
    assert all(r.outcome is Outcome.SUCCEEDED for r in results)
    assert peak == 3
    assert engine.stats.peak_in_flight == 3


@pytest.mark.slow
class _SlotLog(FixedPacer):
    """A fixed pacer that keeps the time of every slot it hands out."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.slots: list[float] = []

    async def acquire(self) -> float:
        self.slots.append(await super().acquire())
        return self.slots[-1]

    def ready(self) -> float | None:
        slot = super().ready()
        if slot is not None:
            self.slots.append(slot)
        return slot


async def test_rate_limit_holds_in_every_one_second_window(session: aiohttp.ClientSession) -> None:
    """At --rate 20 with retries in the mix, every call the server saw had a slot of the pacer, and no
    one-second window of slots holds more than 20."""
    config = SimConfig(groups=40, failed_ratio=1.0, error_rate=0.2, seed=3)
    # The pacer's slots, not the arrival times at the server: those add the machine's scheduling jitter (under
    # load, two calls 50 ms apart can arrive together), which is no fault of the pacer's.
    pacer = _SlotLog(20)
    async with running_simulator(config) as sim:
        client = _token_client(session, sim)
        pool = PacerPool(lambda: pacer, shared=True)
        engine = Engine(client, EngineConfig(rate=20, concurrency=16, policy=FAST, pacers=pool))
        results = await _run(engine, _plans(config, _failed_ids(sim)[:30]))
        received = len(sim.received)
    assert all(r.outcome is Outcome.SUCCEEDED for r in results)
    assert len(pacer.slots) == received > 30  # retries happened, and each one waited for its slot too
    for i, start in enumerate(pacer.slots):  # (slots are sums of 0.05 s steps: 1 µs of rounding is forgiven)
        in_window = sum(1 for t in pacer.slots[i:] if t - start < 1.0 - 1e-6)
        assert in_window <= 20, (i, in_window)


async def test_invalid_and_duplicate_rows_are_never_sent(session: aiohttp.ClientSession) -> None:
    """Only valid first occurrences reach the server; the others are reported with their reason."""
    config = SimConfig(groups=6, failed_ratio=1.0)
    async with running_simulator(config) as sim:
        ids = _failed_ids(sim)
        columns = ["group_id", "src_ak", "src_sk"]
        planner = Planner(columns=columns, project_id=config.project_id, endpoint="http://x")
        plans = [
            planner.plan(2, {"group_id": ids[0], "src_ak": "ok", "src_sk": "sk"}),
            planner.plan(3, {"group_id": ids[1], "src_ak": "A" * 101, "src_sk": "sk"}),
            planner.plan(4, {"group_id": ids[0], "src_ak": "ok", "src_sk": "sk"}),
            planner.plan(5, {"group_id": "", "src_ak": "ok", "src_sk": "sk"}),
        ]
        client = _token_client(session, sim)
        results = await _run(_engine(client, 2), plans)
        sent = [r.path_segments[3] for r in sim.received]
    assert sent == [ids[0]]
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.SUCCEEDED, ""),
        (Outcome.INVALID, "invalid:src_ak too long"),
        (Outcome.DUPLICATE, "duplicate"),
        (Outcome.INVALID, "invalid:group_id missing"),
    ]
    assert all(r.attempts == 0 for r in results[1:])


async def test_stop_marks_unstarted_rows_interrupted(session: aiohttp.ClientSession) -> None:
    """After stop(), calls in flight finish and every other row is reported interrupted, once each."""
    async with _failed_groups(session, SimConfig(groups=30, failed_ratio=1.0, latency_ms=100), 2) as (
        sim,
        engine,
        plans,
    ):
        results: list[RowResult] = []

        def on_result(result: RowResult) -> None:
            results.append(result)
            if len(results) == 4:
                engine.stop()

        await engine.run(plans, on_result)
        calls = len(sim.received)
    assert sorted(r.row for r in results) == list(range(2, 32))
    succeeded = [r for r in results if r.outcome is Outcome.SUCCEEDED]
    interrupted = [r for r in results if r.outcome is Outcome.INTERRUPTED]
    assert len(succeeded) + len(interrupted) == 30
    assert len(succeeded) == calls and 4 <= calls <= 6
    assert all(r.attempts == 0 for r in interrupted)


async def test_halt_stops_new_calls_and_marks_the_rest_halted(session: aiohttp.ClientSession) -> None:
    """halt(reason): no new call starts; every row not called is interrupted with code halted and the reason."""
    async with _failed_groups(session, SimConfig(groups=10, failed_ratio=1.0), 1) as (sim, engine, plans):
        results: list[RowResult] = []

        def on_result(result: RowResult) -> None:
            results.append(result)
            engine.halt("the sky fell")
            engine.halt("a second reason is not kept")

        await engine.run(plans, on_result)
        calls = sim.calls
    assert calls == 1 and engine.halt_reason == "the sky fell"
    assert results[0].outcome is Outcome.SUCCEEDED and len(results) == 10
    assert {(r.outcome, r.error_code, r.error_msg, r.attempts) for r in results[1:]} == {
        (Outcome.INTERRUPTED, "halted", "halted: the sky fell", 0)
    }


@pytest.mark.parametrize(
    ("token", "project", "refused"), [("wrong", None, "401 APIGW.0301"), (None, "other-project", "403 OMS.0003")]
)
async def test_first_calls_all_refused_halt_the_engine(
    session: aiohttp.ClientSession, token: str | None, project: str | None, refused: str
) -> None:
    """With FirstCallsRefused(3), three refused calls (401 or 403) halt the run: no fourth call is made."""
    config = SimConfig(groups=10, failed_ratio=1.0)
    async with running_simulator(config) as sim:
        client = _token_client(session, sim, token)
        plans = [p._replace(project_id=project) if project else p for p in _plans(config, _failed_ids(sim))]
        engine = _engine(client, 1, halt_rule=FirstCallsRefused(3))
        results = await _run(engine, plans)
        calls = sim.calls
    assert calls == 3 and [r.outcome for r in results[:3]] == [Outcome.FAILED] * 3
    reason = f"the first 3 calls were refused with {refused}; check the credentials"
    assert engine.halt_reason == reason
    assert {(r.outcome, r.error_code, r.error_msg) for r in results[3:]} == {
        (Outcome.INTERRUPTED, "halted", f"halted: {reason}")
    }


async def test_one_call_not_refused_among_the_first_is_no_storm(session: aiohttp.ClientSession) -> None:
    """A success among the first calls settles it: later refusals are per-row failures, every row is called."""
    config = SimConfig(groups=10, failed_ratio=1.0)
    async with running_simulator(config) as sim:
        client = _token_client(session, sim)
        plans = _plans(config, _failed_ids(sim))
        plans = plans[:1] + [p._replace(project_id="other-project") for p in plans[1:]]
        engine = _engine(client, 1, halt_rule=FirstCallsRefused(3))
        results = await _run(engine, plans)
        calls = sim.calls
    assert calls == 10 and engine.halt_reason == ""
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] + [Outcome.FAILED] * 9


@pytest.mark.slow
async def test_cancel_records_calls_in_flight_as_interrupted(session: aiohttp.ClientSession) -> None:
    """A hard abort still reports the calls that were in flight, as interrupted."""
    async with _failed_groups(session, SimConfig(groups=4, failed_ratio=1.0, latency_ms=2000), 4) as (_, engine, plans):
        results: list[RowResult] = []
        with anyio.move_on_after(0.3):
            await engine.run(plans, results.append)
    assert sorted(r.row for r in results) == [2, 3, 4, 5]
    assert {r.outcome for r in results} == {Outcome.INTERRUPTED}
    assert all(r.attempts == 1 for r in results)


async def test_dry_run_calls_nothing(session: aiohttp.ClientSession) -> None:
    """A dry run reports every valid row as dry_run and needs no client."""
    results = await _run(_engine(None, 1, dry_run=True), _plans(SimConfig(), ["a", "b"]))
    assert [r.outcome for r in results] == [Outcome.DRY_RUN, Outcome.DRY_RUN]


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (400, {"error_code": "OMS.1015", "error_msg": "not failed"}, "OMS.1015"),
        (403, {"errorCode": "OMS.0060", "errorMsg": "region not supported"}, "OMS.0060"),
        (404, {"code": "OMS.1009", "message": "no such group"}, "OMS.1009"),
        (401, {"error": {"code": "APIGW.0301", "message": "bad credentials"}}, "APIGW.0301"),
    ],
)
async def test_final_error_spellings_give_the_right_code(
    session: aiohttp.ClientSession, status: int, body: dict, code: str
) -> None:
    """Every error-body spelling ends the row at once as failed, with the service's own code and message."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body, status=status, headers={"X-Request-Id": "rid"})

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        [result] = await _run(_engine(client, 1), _plans(SimConfig(), ["g"]))
    assert (result.outcome, result.http_status, result.error_code, result.attempts, result.request_id) == (
        Outcome.FAILED,
        status,
        code,
        1,
        "rid",
    )
    assert result.error_msg


async def test_a_server_echoing_the_body_does_not_leak_secrets(session: aiohttp.ClientSession) -> None:
    """Error text that repeats the body: secret keys (and a key file's private key) are redacted, AKs masked."""
    key_file = json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----abcdef"})

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {
                "error_code": "OMS.0002",
                "error_msg": f"bad body {body} / {body['src_sk']} / "
                f"{json.loads(body['json_auth_file'])['private_key']}",
            },
            status=400,
        )

    async with serve(handler) as url:
        plans = _plans(
            SimConfig(),
            ["g"],
            src_ak="SRCAK12345678",
            src_sk="the-source-secret",
            dst_ak="DSTAK12345678",
            dst_sk="the-destination-secret",
            json_auth_file=key_file,
        )
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        [result] = await _run(_engine(client, 1), plans)
    assert result.outcome is Outcome.FAILED and result.error_code == "OMS.0002"
    for secret in ("the-source-secret", "the-destination-secret", "PRIVATE KEY-----abcdef", "SRCAK12345678"):
        assert secret not in result.error_msg
    assert "[redacted]" in result.error_msg and "SRCA…5678" in result.error_msg


async def test_an_unexpected_error_fails_its_row_not_the_run(session: aiohttp.ClientSession) -> None:
    """A bug in one row's call (here: an auth that raises) fails that row as internal_error; the rest go on."""

    class BrokenAuth(TokenAuth):
        async def authorize(self, *args, **kwargs):  # type: ignore[override]
            raise ZeroDivisionError("boom")

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    async with serve(handler) as url:
        client = OmsClient(session, BrokenAuth(Token("t")), endpoint=url)
        results = await _run(_engine(client, 2), _plans(SimConfig(), ["a", "b"]))
    assert [(r.outcome, r.error_code, r.attempts) for r in results] == [(Outcome.FAILED, "internal_error", 1)] * 2
    assert "ZeroDivisionError: boom" in results[0].error_msg


def test_utc_now_iso_is_the_current_millisecond_in_utc() -> None:
    """Each timestamp is UTC ISO 8601 with milliseconds, between the clock readings around it, never behind."""
    seen = []
    for _ in range(20_000):  # long enough to cross milliseconds (and likely a second)
        before = time.time()
        text = utc_now_iso()
        after = time.time()
        stamp = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
        assert int(before * 1000) / 1000 - 1e-6 <= stamp <= after + 1e-6, (before, text, after)
        seen.append(text)
    assert seen == sorted(seen) and len(set(seen)) > 1


@pytest.mark.parametrize(
    "group",
    [
        {},
        {"status": None},
        {"status": "failed"},
        {"status": True},
        {"status": 5.0},
        {"status": ""},
        {"taskgroup": {"status": 5}},
    ],
)
async def test_check_status_without_a_readable_status_fails_the_row(
    session: aiohttp.ClientSession, group: object
) -> None:
    """--check-status: a lookup answered without a readable status fails the row (status:unknown), no retry."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.json_response(group, headers={"X-Request-Id": "rid-1"})

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        [result] = await _run(
            _engine(client, 1, check_status=True),
            _plans(SimConfig(), ["g"]),
        )
    assert (result.outcome, result.error_code, result.http_status, result.attempts) == (
        Outcome.FAILED,
        "status:unknown",
        200,
        0,
    )
    assert "no readable status" in result.error_msg and "--check-status" in result.error_msg
    assert dict(result.extra)["status_before_meaning"] == "unknown"
    assert seen == ["GET"]  # looked up, never retried
