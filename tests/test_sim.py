"""The OMS + IAM simulator over plain HTTP: generation, status machine, limits, auth, throttling, faults."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from multidict import CIMultiDictProxy
from yarl import URL

from bulkretry.oms.errorbody import parse_error_body
from bulkretry.oms.signer import SigningRequest, sign
from bulkretry.sim import (
    STATUS_NAMES,
    SimConfig,
    SimError,
    SimState,
    Simulator,
    SimulatorThread,
    generate_groups,
    running_simulator,
    serve_forever,
)

PID = SimConfig().project_id
GROUPS = f"/v2/{PID}/taskgroups"


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class AkSk:
    """Sign with AK/SK: the simulator's secret key unless *sk* is given, dated *now* unless it is None."""

    sk: str | None = None
    now: datetime | None = None


async def call(
    sim: Simulator,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    auth: str | AkSk = "token",
) -> Reply:
    """Send one request as-is (path and query already encoded); auth is 'token', 'aksk' (an AkSk()), an AkSk or
    'none'."""
    out = dict(headers or {})
    signing = AkSk() if auth == "aksk" else auth
    if auth == "token" and "X-Auth-Token" not in out:
        assert sim.config.token is not None
        out["X-Auth-Token"] = sim.config.token
    elif isinstance(signing, AkSk):
        out = sign(
            SigningRequest(
                method=method,
                host=sim.url.removeprefix("http://"),
                path=path,
                query=parse_qsl(query, keep_blank_values=True),
                headers={"Content-Type": "application/json", **out},
                body=body,
            ),
            ak=sim.config.ak,
            sk=signing.sk or sim.config.sk,
            now=signing.now,
        )
    url = URL(sim.url + path + (f"?{query}" if query else ""), encoded=True)
    async with aiohttp.ClientSession() as session, session.request(method, url, headers=out, data=body) as resp:
        return Reply(resp.status, resp.headers, await resp.read())


def first_with_status(sim: Simulator, status: int) -> str:
    return next(gid for gid in sim.state.ids() if sim.state.get(gid)["status"] == status)


# --- generation ---------------------------------------------------------------------------------


def test_generation_is_reproducible_from_the_seed() -> None:
    """The same seed gives the same groups; another seed gives other ids."""
    first = generate_groups(7, 30, 0.5, PID)
    assert first == generate_groups(7, 30, 0.5, PID)
    assert [g["group_id"] for g in first] != [g["group_id"] for g in generate_groups(8, 30, 0.5, PID)]
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", g["group_id"])
        for g in first
    )
    assert len({g["group_id"] for g in first}) == 30


@pytest.mark.parametrize(("count", "ratio"), [(50, 0.6), (7, 0.5), (9, 0.0), (9, 1.0), (0, 0.6)])
def test_exactly_the_failed_share_is_failed(count: int, ratio: float) -> None:
    """round(count*ratio) groups are status 5; the rest are waiting, running, paused or finished."""
    groups = generate_groups(42, count, ratio, PID)
    assert sum(g["status"] == 5 for g in groups) == round(count * ratio)
    assert {g["status"] for g in groups if g["status"] != 5} <= {0, 1, 2, 3, 6}


def test_generated_counters_add_up_and_failures_have_reasons() -> None:
    """Counters are consistent with the status; only failed groups carry a TRF error_reason."""
    for g in generate_groups(3, 60, 0.5, PID):
        assert g["success_num"] + g["fail_num"] + g["skip_num"] <= g["total_num"]
        assert 0 <= g["complete_size"] <= g["create_complete_size"] <= g["total_size"]
        assert g["total_task_num"] == sum(
            g[k]
            for k in (
                "failed_task_num",
                "complete_task_num",
                "paused_task_num",
                "executing_task_num",
                "waiting_task_num",
            )
        )
        assert g["task_type"] == "object" and g["src_node"]["cloud_type"] and g["dst_node"]["bucket"]
        assert 1_704_067_200_000 <= g["start_time"] < 1_735_689_600_000
        if g["status"] == 5:
            assert re.fullmatch(r"TRF\.\d{4}", g["error_reason"]["error_code"]) and g["fail_num"] > 0
        else:
            assert g["error_reason"] is None and g["fail_num"] == 0
        if g["status"] == 6:
            assert g["success_num"] + g["skip_num"] == g["total_num"]


# --- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 70000),
        ("failed_ratio", 1.5),
        ("error_rate", -0.1),
        ("rate_limit", 0),
        ("groups", -1),
        ("settle_s", -1.0),
    ],
)
def test_config_rejects_values_out_of_range(field: str, value: object) -> None:
    """A bad value is a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        SimConfig(**{field: value})  # type: ignore[arg-type]


def test_config_repr_hides_secrets() -> None:
    """sk, token and IAM password never appear in the repr."""
    text = repr(SimConfig(sk="SECRET-SK", token="SECRET-TOKEN", iam_password="SECRET-PW"))
    assert "SECRET" not in text and "SIMAK" in text


# --- status machine -----------------------------------------------------------------------------


def test_retry_runs_a_failed_group_then_it_finishes_after_settle_s() -> None:
    """Failed → executing (error and failures cleared) → finished once settle_s has passed."""
    clock = FakeClock()
    state = SimState(generate_groups(1, 10, 0.5, PID), settle_s=2.0, clock=clock)
    gid = next(gid for gid in state.ids() if state.get(gid)["status"] == 5)
    state.retry(gid, {"migrate_failed_object": True})
    group = state.get(gid)
    assert (group["status"], group["error_reason"], group["fail_num"], group["failed_task_num"]) == (1, None, 0, 0)
    clock.now += 1.99
    assert state.get(gid)["status"] == 1
    clock.now += 0.01
    group = state.get(gid)
    assert group["status"] == 6 and group["success_num"] + group["skip_num"] == group["total_num"]
    assert gid in {g["group_id"] for g in state.list(status=6, limit=100)[1]}
    assert state.retries_by_group[gid] == 1
    with pytest.raises(SimError) as info:
        state.retry(gid)
    assert (info.value.status, info.value.error_code) == (400, "OMS.1015")
    assert "migration finished (6)" in info.value.error_msg


def test_state_list_counts_all_matches_and_pages() -> None:
    """count is the number of matching groups; the page is offset..offset+limit in order."""
    state = SimState(generate_groups(5, 25, 0.4, PID))
    count, page = state.list(status=5, offset=3, limit=4)
    failed = [gid for gid in state.ids() if state.get(gid)["status"] == 5]
    assert count == 10 and [g["group_id"] for g in page] == failed[3:7]
    assert state.list(offset=24, limit=10)[0] == 25 and len(state.list(offset=24, limit=10)[1]) == 1


async def test_retry_over_http_moves_the_group_on(sim: Simulator) -> None:
    """PUT …/retry on a failed group answers 200 {} and the group shows status 1."""
    gid = first_with_status(sim, 5)
    reply = await call(sim, "PUT", f"{GROUPS}/{gid}/retry", body=b'{"migrate_failed_object": false}')
    assert (reply.status, reply.json()) == (200, {})
    assert reply.headers["Content-Type"].startswith("application/json")
    shown = await call(sim, "GET", f"{GROUPS}/{gid}")
    assert shown.json()["status"] == 1 and shown.json()["error_reason"] is None
    assert sim.state.retries_by_group[gid] == 1


@pytest.mark.parametrize("status", [0, 1, 2, 3, 6])
async def test_retry_of_a_group_that_is_not_failed_is_a_400(sim: Simulator, status: int) -> None:
    """Retrying a non-failed group is 400 OMS.1015 naming the status in words."""
    gid = first_with_status(sim, status)
    reply = await call(sim, "PUT", f"{GROUPS}/{gid}/retry")
    assert reply.status == 400
    assert reply.json() == {
        "error_code": "OMS.1015",
        "error_msg": f"Task group status does not support retry: {STATUS_NAMES[status]} ({status})",
    }


async def test_unknown_group_is_a_404_oms_1009(sim: Simulator) -> None:
    """Show and retry of an unknown group answer 404 OMS.1009."""
    for method, suffix in (("GET", ""), ("PUT", "/retry")):
        reply = await call(sim, method, f"{GROUPS}/no-such-group{suffix}")
        assert reply.status == 404 and reply.json()["error_code"] == "OMS.1009"


# --- request validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("src_ak", 100),
        ("src_sk", 100),
        ("dst_ak", 100),
        ("dst_sk", 100),
        ("source_cdn_authentication_key", 255),
        ("json_auth_file", 65535),
        ("connection_string", 2048),
    ],
)
async def test_retry_body_over_a_limit_is_a_400_that_never_echoes_it(sim: Simulator, field: str, limit: int) -> None:
    """One character over the limit is 400 OMS.0002 naming the field; exactly at the limit is accepted."""
    gid = first_with_status(sim, 5)
    over = json.dumps({field: "Q" * (limit + 1)}).encode()
    reply = await call(sim, "PUT", f"{GROUPS}/{gid}/retry", body=over)
    assert reply.status == 400
    assert reply.json() == {
        "error_code": "OMS.0002",
        "error_msg": f"Invalid parameter: {field} length must be 0..{limit}",
    }
    assert "QQ" not in reply.text
    at_limit = json.dumps({field: "Q" * limit, "unknown_field": 1}).encode()
    assert (await call(sim, "PUT", f"{GROUPS}/{gid}/retry", body=at_limit)).status == 200


@pytest.mark.parametrize(
    "body", [b"[1]", b"{not json", b'"text"', b'{"src_ak": 5}', b'{"migrate_failed_object": "yes"}', b"\xff\xfe"]
)
async def test_retry_body_of_the_wrong_shape_is_a_400(sim: Simulator, body: bytes) -> None:
    """Bodies that are not a JSON object, or hold fields of the wrong type, are 400 OMS.0002."""
    reply = await call(sim, "PUT", f"{GROUPS}/{first_with_status(sim, 5)}/retry", body=body)
    assert reply.status == 400 and reply.json()["error_code"] == "OMS.0002"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "offset=-1", "status=10", "status="])
async def test_list_rejects_bad_parameters(sim: Simulator, query: str) -> None:
    """limit 1..100, offset >= 0, status 0..9: anything else is 400 OMS.0002 naming the parameter."""
    reply = await call(sim, "GET", GROUPS, query=query)
    assert reply.status == 400 and reply.json()["error_code"] == "OMS.0002"
    assert query.split("=")[0] in reply.json()["error_msg"]


async def test_list_pages_and_filters(sim: Simulator) -> None:
    """count is the total that matches; the default page is 10 and status filters."""
    everything = (await call(sim, "GET", GROUPS)).json()
    assert everything["count"] == 20 and len(everything["taskgroups"]) == 10
    failed = (await call(sim, "GET", GROUPS, query="status=5&limit=100&offset=2")).json()
    assert failed["count"] == 12 and len(failed["taskgroups"]) == 10
    assert {g["status"] for g in failed["taskgroups"]} == {5}


async def test_encoded_slash_stays_in_its_segment(sim: Simulator) -> None:
    """A group id 'a/b' is found at /taskgroups/a%2Fb; the raw /taskgroups/a/b is no API."""
    sim.state.add_group({"group_id": "a/b", "status": 5})
    reply = await call(sim, "GET", f"{GROUPS}/a%2Fb")
    assert reply.status == 200 and reply.json()["group_id"] == "a/b"
    assert sim.received[-1].raw_path == f"{GROUPS}/a%2Fb"
    assert sim.received[-1].path_segments == ("v2", PID, "taskgroups", "a/b")
    assert (await call(sim, "PUT", f"{GROUPS}/a%2Fb/retry")).status == 200
    raw = await call(sim, "GET", f"{GROUPS}/a/b")
    assert raw.status == 404 and raw.json()["error_code"] == "APIGW.0101"


async def test_unknown_routes_and_wrong_methods_answer_json(sim: Simulator) -> None:
    """Unknown paths are 404 APIGW.0101; a known path with the wrong method is a JSON 405."""
    for path in ("/", "/v2", f"/v2/{PID}/jobs", f"{GROUPS}/x/retry/more", f"{GROUPS}//retry"):
        reply = await call(sim, "GET", path)
        assert reply.status == 404 and reply.json()["error_code"] == "APIGW.0101", path
    reply = await call(sim, "POST", f"{GROUPS}/x/retry")
    assert reply.status == 405 and reply.headers["Allow"] == "PUT" and "error_code" in reply.json()


# --- recording and headers ----------------------------------------------------------------------


async def test_every_response_has_a_request_id(sim: Simulator) -> None:
    """200, 4xx and unknown-route answers all carry a distinct 32-hex X-Request-Id."""
    replies = [
        await call(sim, "GET", GROUPS),
        await call(sim, "GET", GROUPS, auth="none"),
        await call(sim, "GET", "/nowhere"),
        await call(sim, "GET", f"{GROUPS}/missing"),
    ]
    ids = [r.headers["X-Request-Id"] for r in replies]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == 4


async def test_requests_are_recorded_byte_for_byte(sim: Simulator) -> None:
    """method, raw path, decoded segments, query pairs, headers and body are kept as received."""
    sim.state.add_group({"group_id": "中 %", "status": 5})
    body = '{"src_ak": "AK-中"}'.encode()
    before = time.monotonic()
    await call(sim, "PUT", f"{GROUPS}/%E4%B8%AD%20%25/retry", body=body, query="x=1&y=%2F")
    seen = sim.received[-1]
    assert (seen.method, seen.raw_path, seen.body) == ("PUT", f"{GROUPS}/%E4%B8%AD%20%25/retry", body)
    assert seen.path_segments[3] == "中 %" and seen.query == (("x", "1"), ("y", "/"))
    assert seen.headers["X-Auth-Token"] == sim.config.token and before <= seen.at <= time.monotonic()
    assert "AK-" not in repr(seen) and sim.calls == 1


# --- authentication -----------------------------------------------------------------------------


async def test_signed_requests_are_accepted(sim: Simulator) -> None:
    """AK/SK-signed list (with a query) and retry (with a body) pass the signature check."""
    reply = await call(sim, "GET", GROUPS, query="limit=2&offset=1&status=5", auth="aksk")
    assert reply.status == 200 and reply.json()["count"] == 12
    gid = reply.json()["taskgroups"][0]["group_id"]
    retried = await call(
        sim, "PUT", f"{GROUPS}/{gid}/retry", body=b'{"dst_sk": "x"}', auth="aksk", headers={"X-Project-Id": PID}
    )
    assert retried.status == 200


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"auth": AkSk(sk="wrong-secret")}, "signature does not match"),
        ({"auth": "aksk", "headers": {"X-Project-Id": "other"}}, "X-Project-Id"),
        ({"auth": "token", "headers": {"X-Auth-Token": "not-the-token"}}, "token is not valid"),
        ({"auth": "none"}, "no X-Auth-Token"),
        ({"auth": "none", "headers": {"Authorization": "Basic abc"}}, "Authorization header"),
    ],
)
async def test_bad_credentials_are_a_401_that_echoes_no_secret(
    sim: Simulator, kwargs: dict[str, Any], reason: str
) -> None:
    """Every authentication failure is 401 APIGW.0301 with a reason and without the secret."""
    reply = await call(sim, "GET", GROUPS, **kwargs)
    assert reply.status == 401 and reply.json()["error_code"] == "APIGW.0301"
    assert reason in reply.json()["error_msg"]
    assert "wrong-secret" not in reply.text and "not-the-token" not in reply.text
    assert not re.search(r"[0-9a-f]{64}", reply.text)


async def test_a_tampered_signed_request_is_a_401(sim: Simulator) -> None:
    """Changing the path after signing breaks the signature."""
    headers = sign(
        SigningRequest(
            method="GET", host=sim.url.removeprefix("http://"), path=f"{GROUPS}/x", query=None, headers={}, body=b""
        ),
        ak=sim.config.ak,
        sk=sim.config.sk,
    )
    reply = await call(sim, "GET", f"{GROUPS}/y", headers=headers, auth="none")
    assert reply.status == 401 and "signature" in reply.json()["error_msg"]


@pytest.mark.parametrize(("minutes", "status"), [(-16, 401), (16, 401), (-10, 200)])
async def test_signing_date_must_be_within_the_skew(sim: Simulator, minutes: int, status: int) -> None:
    """An X-Sdk-Date more than 15 minutes from now is a 401 that mentions the date."""
    now = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    reply = await call(sim, "GET", GROUPS, auth=AkSk(now=now))
    assert reply.status == status
    if status == 401:
        assert "X-Sdk-Date" in reply.json()["error_msg"]


async def test_another_project_is_a_403(sim: Simulator) -> None:
    """Valid credentials on another project's path answer 403 OMS.0003."""
    reply = await call(sim, "GET", "/v2/ffffffffffffffffffffffffffffffff/taskgroups", auth="aksk")
    assert reply.status == 403 and reply.json()["error_code"] == "OMS.0003"


def _login(project: str, password: str = "sim-password") -> bytes:
    """The body of an IAM password login as the simulator's user, scoped to *project*."""
    user = {"name": "sim-user", "password": password, "domain": {"name": "sim-domain"}}
    identity = {"methods": ["password"], "password": {"user": user}}
    return json.dumps({"auth": {"identity": identity, "scope": {"project": {"id": project}}}}).encode()


async def test_iam_token_flow() -> None:
    """IAM issues a 201 token that works until it expires; a wrong password is IAM's 401."""
    config = SimConfig(groups=3, token=None, token_ttl_s=60)
    clock = FakeClock()
    async with running_simulator(config, state=SimState.from_config(config, clock=clock)) as sim:
        issued = await call(sim, "POST", "/v3/auth/tokens", body=_login(PID), auth="none")
        assert issued.status == 201
        token = issued.headers["X-Subject-Token"]
        body = issued.json()["token"]
        expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        issued_at = datetime.strptime(body["issued_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert expires - issued_at == timedelta(seconds=60) and body["project"]["id"] == PID
        assert (await call(sim, "GET", GROUPS, headers={"X-Auth-Token": token})).status == 200
        clock.now += 60
        expired = await call(sim, "GET", GROUPS, headers={"X-Auth-Token": token})
        assert expired.status == 401 and "expired" in expired.json()["error_msg"]
        assert token not in expired.text
        wrong = await call(sim, "POST", "/v3/auth/tokens", body=_login(PID, password="wrong"), auth="none")
        assert wrong.status == 401
        assert wrong.json() == {
            "error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}
        }
        bad = await call(sim, "POST", "/v3/auth/tokens", body=b"{}", auth="none")
        assert bad.status == 400 and bad.json()["error"]["code"] == 400
        assert sim.iam_tokens_issued == 1 and sim.calls == 2


async def test_token_for_another_project_is_refused() -> None:
    """IAM refuses a scope other than the configured project."""
    async with running_simulator(SimConfig(groups=0)) as sim:
        reply = await call(sim, "POST", "/v3/auth/tokens", body=_login("other"), auth="none")
        assert reply.status == 401 and "X-Subject-Token" not in reply.headers


# --- throttling, latency, faults ----------------------------------------------------------------


async def test_rate_limit_throttles_beyond_n_per_second_and_counts_refusals() -> None:
    """Beyond N calls in a sliding second: 429 APIGW.0308, no Retry-After; refused calls count too."""
    config = SimConfig(groups=3, rate_limit=3)
    clock = FakeClock()
    async with running_simulator(config, state=SimState.from_config(config, clock=clock)) as sim:
        assert [(await call(sim, "GET", GROUPS)).status for _ in range(3)] == [200, 200, 200]
        clock.now += 0.9
        refused = [await call(sim, "GET", GROUPS) for _ in range(3)]
        assert [r.status for r in refused] == [429, 429, 429]
        assert refused[0].json() == {
            "error_code": "APIGW.0308",
            "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:3,time:1 second",
        }
        assert "Retry-After" not in refused[0].headers
        clock.now += 0.6  # the first three left the window, the three refusals did not
        assert (await call(sim, "GET", GROUPS)).status == 429
        clock.now += 1.0
        assert (await call(sim, "GET", GROUPS)).status == 200
        assert (sim.calls, sim.throttled) == (8, 4)
        assert (await call(sim, "GET", GROUPS, auth="none")).status == 401  # auth comes after the limit


async def test_latency_is_added_to_oms_calls() -> None:
    """latency_ms delays every OMS answer."""
    async with running_simulator(SimConfig(groups=1, latency_ms=60)) as sim:
        started = time.monotonic()
        await call(sim, "GET", GROUPS)
        assert time.monotonic() - started >= 0.06


async def test_error_injection_rotates_through_every_shape() -> None:
    """error_rate=1 answers 500, 502 (HTML), 503 (nested) and 504 (camel) in turn, all readable."""
    async with running_simulator(SimConfig(groups=2, error_rate=1.0)) as sim:
        replies = [await call(sim, "GET", GROUPS) for _ in range(5)]
    assert [r.status for r in replies] == [500, 502, 503, 504, 500]
    codes = [parse_error_body(r.status, r.text)[0] for r in replies[:4]]
    assert codes == ["OMS.0000", "502", "APIGW.0202", "APIGW.0203"]
    assert replies[1].headers["Content-Type"].startswith("text/html") and "<html>" in replies[1].text
    assert all("X-Request-Id" in r.headers for r in replies) and sim.injected_errors == 5


async def test_error_rate_is_a_share_and_reproducible() -> None:
    """error_rate=0.3 fails roughly that share, the same calls for the same seed."""
    outcomes = []
    for _ in range(2):
        async with running_simulator(SimConfig(groups=1, error_rate=0.3)) as sim:
            outcomes.append([(await call(sim, "GET", GROUPS)).status for _ in range(40)])
    assert outcomes[0] == outcomes[1]
    assert 4 <= sum(s >= 500 for s in outcomes[0]) <= 20


async def test_in_flight_calls_are_tracked() -> None:
    """peak_in_flight counts OMS calls answered at the same time."""
    async with running_simulator(SimConfig(groups=1, latency_ms=100)) as sim:
        await asyncio.gather(*(call(sim, "GET", GROUPS) for _ in range(4)))
        assert sim.peak_in_flight == 4 and sim.traffic.in_flight == 0


# --- running ------------------------------------------------------------------------------------


async def test_serve_forever_reports_its_url_and_stops_when_cancelled() -> None:
    """on_listening gets a working URL; cancelling the task closes the port."""
    urls: list[str] = []
    task = asyncio.create_task(serve_forever(SimConfig(groups=1), urls.append))
    while not urls:
        await asyncio.sleep(0.005)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", urls[0])
    async with aiohttp.ClientSession() as session, session.get(urls[0] + GROUPS) as resp:
        assert resp.status == 401
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session, session.get(urls[0] + GROUPS):
            pass


def test_simulator_thread_reports_a_port_it_cannot_use(sim_thread: SimulatorThread) -> None:
    """A second simulator on a taken port fails in __enter__ with a clear error."""
    port = int(sim_thread.url.rsplit(":", 1)[1])
    with pytest.raises(RuntimeError, match="could not start"), SimulatorThread(SimConfig(port=port)):
        pass
