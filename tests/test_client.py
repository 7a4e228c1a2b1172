"""The OMS client over real sockets: signing accepted by the SDK's signer, tokens, errors, transport faults."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp import web

from bulkretry.errors import ApiError, ConfigError, TransportError
from bulkretry.oms import client as client_module
from bulkretry.oms.actions import ACTIONS, GROUPS
from bulkretry.oms.auth import AkSkAuth, TokenAuth
from bulkretry.oms.client import OmsClient
from bulkretry.oms.credentials import AkSk, Token
from bulkretry.oms.errorbody import MAX_BODY_BYTES, parse_error_body
from tests.servers import AIOHTTP_INFLATES_AHEAD, sdk_expected_authorization, serve
from tests.test_errorbody import ERROR_BODIES

RETRY = ACTIONS["retry", GROUPS]

AK, SK = "HPUAEXAMPLEAK0000001", "sk-example-0123456789abcdef"
ODD_IDS = [
    "2c11d99a-9596-4bc6-a6ad-2336455b149c",
    "a/b",
    "..",
    ".",
    "x?y#z",
    "50%",
    "%2F",
    "任务组 1",
    "tab\there",
    "~tilde+plus&amp=eq;semi",
]


def _segments(request: web.Request) -> list[str]:
    return [unquote(s) for s in request.raw_path.split("?", 1)[0].split("/")]


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def test_signed_calls_are_accepted_by_the_sdk_signer(session: aiohttp.ClientSession) -> None:
    """Every signed retry/show/list call verifies under the official signer, and ids stay in their segment."""
    seen: list[tuple[list[str], bool, dict]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        expected = sdk_expected_authorization(request, body, AK, SK)
        seen.append(
            (_segments(request), expected == request.headers["Authorization"], json.loads(body) if body else None)
        )
        return web.json_response({"taskgroups": [], "count": 0} if request.method == "GET" else {})

    async with serve(handler) as url:
        client = OmsClient(session, AkSkAuth(AkSk(AK, SK)), endpoint=url)
        for group_id in ODD_IDS:
            await client.call(RETRY, "proj-1", group_id, {"src_ak": "源AK", "migrate_failed_object": True})
        await client.show(RETRY, "proj-1", "g-1")
        _ = [g async for g in client.list_task_groups("proj-1", status=5, page_size=7)]

    assert all(ok for _, ok, _ in seen), [s for s, ok, _ in seen if not ok]
    retries = [s for s in seen if s[0][-1] == "retry"]
    assert [s[0] for s in retries] == [["", "v2", "proj-1", "taskgroups", g, "retry"] for g in ODD_IDS]
    assert retries[0][2] == {"src_ak": "源AK", "migrate_failed_object": True}
    assert seen[-1][0] == ["", "v2", "proj-1", "taskgroups"]


async def test_signed_request_headers(session: aiohttp.ClientSession) -> None:
    """AK/SK calls carry X-Sdk-Date, X-Project-Id and, for temporary keys, X-Security-Token."""
    got: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        got.update(request.headers)
        got["verified"] = str(
            sdk_expected_authorization(request, await request.read(), AK, SK) == request.headers["Authorization"]
        )
        return web.json_response({})

    async with serve(handler) as url:
        client = OmsClient(session, AkSkAuth(AkSk(AK, SK, "temp-token-xyz")), endpoint=url)
        await client.call(RETRY, "p1", "g1", {})
    assert got["X-Project-Id"] == "p1"
    assert got["X-Security-Token"] == "temp-token-xyz"
    assert "x-security-token" in got["Authorization"]
    assert len(got["X-Sdk-Date"]) == 16 and got["X-Sdk-Date"].endswith("Z")
    assert got["verified"] == "True"


async def test_token_is_sent_as_x_auth_token(session: aiohttp.ClientSession) -> None:
    """A given token goes out unchanged as X-Auth-Token and nothing is signed."""
    got: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        got.update(request.headers)
        return web.json_response({}, headers={"X-Request-Id": "req-123"})

    async with serve(handler) as url:
        resp = await OmsClient(session, TokenAuth(Token("tok-abc")), endpoint=url).call(RETRY, "p", "g", {})
    assert got["X-Auth-Token"] == "tok-abc"
    assert "Authorization" not in got
    assert resp.status == 200 and resp.request_id == "req-123" and resp.latency_ms >= 0


@pytest.mark.parametrize(("status", "text"), ERROR_BODIES)
async def test_error_responses_become_typed_errors(session: aiohttp.ClientSession, status: int, text: str) -> None:
    """The client raises ApiError with status, code, message, request id and the right retryability."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=text, headers={"X-Request-Id": "rid-9"})

    async with serve(handler) as url:
        with pytest.raises(ApiError) as info:
            await OmsClient(session, TokenAuth(Token("t")), endpoint=url).call(RETRY, "p", "g", {})
    err = info.value
    assert (err.status, err.error_code, err.error_msg) == (status, *parse_error_body(status, text))
    assert err.request_id == "rid-9"
    assert err.retryable == (status == 429 or status >= 500)


@pytest.mark.slow
async def test_timeout_is_a_retryable_transport_error(session: aiohttp.ClientSession) -> None:
    """No answer within --timeout is TransportError('timeout'), retryable."""

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url, timeout=0.2)
        with pytest.raises(TransportError) as info:
            await client.call(RETRY, "p", "g", {})
    assert info.value.code == "timeout" and info.value.retryable


async def test_dropped_connection_is_a_retryable_transport_error(session: aiohttp.ClientSession) -> None:
    """A server that drops the connection mid-request gives TransportError('connection')."""

    async def handler(request: web.Request) -> web.Response:
        request.transport.close()
        await asyncio.sleep(0.1)
        return web.json_response({})

    async with serve(handler) as url:
        with pytest.raises(TransportError) as info:
            await OmsClient(session, TokenAuth(Token("t")), endpoint=url).call(RETRY, "p", "g", {})
    assert info.value.code == "connection" and info.value.retryable


async def test_refused_connection_is_a_transport_error(session: aiohttp.ClientSession) -> None:
    """Nothing listening is TransportError('connection')."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    async with serve(handler) as url:
        pass  # the port is free again once the server stops
    with pytest.raises(TransportError) as info:
        await OmsClient(session, TokenAuth(Token("t")), endpoint=url).call(RETRY, "p", "g", {})
    assert info.value.code == "connection"


async def test_redirects_are_never_followed(session: aiohttp.ClientSession) -> None:
    """A 3xx to another host is a final error, and the other host receives nothing (no credentials leak)."""
    elsewhere: list[str] = []

    async def other(request: web.Request) -> web.Response:
        elsewhere.append(request.headers.get("X-Auth-Token", ""))
        return web.json_response({})

    async with serve(other) as other_url:

        async def handler(request: web.Request) -> web.Response:
            raise web.HTTPFound(other_url + "/steal")

        async with serve(handler) as url:
            with pytest.raises(ApiError) as info:
                await OmsClient(session, TokenAuth(Token("t")), endpoint=url).call(RETRY, "p", "g", {})
    assert info.value.status == 302 and not info.value.retryable
    assert "not followed" in info.value.error_msg
    assert elsewhere == []


async def test_huge_bodies_are_refused(session: aiohttp.ClientSession) -> None:
    """A body over the limit is an invalid_response error, not a memory blow-up."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=500, body=b"x" * (9 * 1024 * 1024))

    async with serve(handler) as url:
        with pytest.raises(ApiError) as info:
            await OmsClient(session, TokenAuth(Token("t")), endpoint=url).show(RETRY, "p", "g")
    assert info.value.error_code == "invalid_response"


async def test_list_follows_every_page(session: aiohttp.ClientSession) -> None:
    """list_task_groups walks offset/limit until a short page, passing the status filter."""
    groups = [{"group_id": f"g{i}", "status": 5} for i in range(23)]
    queries: list[dict] = []

    async def handler(request: web.Request) -> web.Response:
        q = dict(request.query)
        queries.append(q)
        offset, limit = int(q["offset"]), int(q["limit"])
        return web.json_response({"taskgroups": groups[offset : offset + limit], "count": len(groups)})

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        got = [g async for g in client.list_task_groups("p", status=5, page_size=10)]
    assert got == groups
    assert [q["offset"] for q in queries] == ["0", "10", "20"]
    assert all(q["status"] == "5" and q["limit"] == "10" for q in queries)


def test_endpoint_comes_from_region_unless_given() -> None:
    """--endpoint wins; otherwise https://oms.{region}.myhuaweicloud.com, per call if needed."""
    client = OmsClient(None, TokenAuth(Token("t")), region="cn-north-4")  # type: ignore[arg-type]
    assert client.endpoint() == "https://oms.cn-north-4.myhuaweicloud.com"
    assert client.endpoint("ap-southeast-1") == "https://oms.ap-southeast-1.myhuaweicloud.com"
    pinned = OmsClient(None, TokenAuth(Token("t")), endpoint="http://x:1/", region="r")  # type: ignore[arg-type]
    assert pinned.endpoint("other") == "http://x:1"
    with pytest.raises(ValueError, match="--region"):
        OmsClient(None, TokenAuth(Token("t"))).endpoint()  # type: ignore[arg-type]


async def test_a_region_naming_another_host_is_never_called(session: aiohttp.ClientSession) -> None:
    """A call's region holding @ : / # is refused (not retryable) before any connection, token never sent."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        port = listener.getsockname()[1]
        client = OmsClient(session, TokenAuth(Token("tok-secret")), timeout=2)
        for region in (f"x@127.0.0.1:{port}#", f"a:b@127.0.0.1:{port}/", "UPPER"):
            with pytest.raises(TransportError) as info:
                await client.call(RETRY, "p", "g", {"src_sk": "s"}, region=region)
            assert (info.value.code, info.value.retryable) == ("invalid_request", False), info.value
            assert "region id" in info.value.message
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    with pytest.raises(ConfigError, match="--region"):
        OmsClient(session, TokenAuth(Token("t")), region=f"x@127.0.0.1:{port}#")


ODD_2XX = {  # name -> (status, body, content type)
    "html page": (200, b"<html><title>Sign in to the hotel Wi-Fi</title></html>", "text/html"),
    "empty html": (200, b"", "text/html; charset=utf-8"),
    "html labelled json": (200, b"<!DOCTYPE html><p>proxy</p>", "application/json"),
    "plain text": (200, b"OK", "text/plain"),
    "broken json": (202, b'{"a": ', "application/json"),
}
FINE_2XX = {
    "empty": (200, b"", None),
    "object": (200, b"{}", "application/json"),
    "null": (200, b"null", None),
    "array": (200, b"[1, 2]", "application/json"),
    "spaces": (204, b"", None),
}


async def test_a_2xx_that_is_not_json_is_an_invalid_response(session: aiohttp.ClientSession) -> None:
    """A 2xx whose body is not JSON, or is labelled text/html: ApiError invalid_response, not retryable, naming a
    proxy or captive page; an empty body or any JSON (what OMS answers) is a success."""
    cases = {**ODD_2XX, **FINE_2XX}

    async def handler(request: web.Request) -> web.Response:
        status, body, ctype = cases[unquote(request.path.split("/")[4])]
        response = web.Response(status=status, body=body)
        if ctype:
            response.headers["Content-Type"] = ctype
        return response

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        for name, (status, _, _) in ODD_2XX.items():
            with pytest.raises(ApiError) as info:
                await client.call(RETRY, "p", name, {})
            err = info.value
            assert (err.status, err.error_code, err.retryable) == (status, "invalid_response", False), name
            assert "proxy or captive page" in err.error_msg, err.error_msg
            assert name != "html page" or "hotel Wi-Fi" in err.error_msg  # the page's start, to recognise it
        for name, (status, _, _) in FINE_2XX.items():
            assert (await client.call(RETRY, "p", name, {})).status == status


QUOTED = {
    "sk": "sk-quoted-0123456789abcdef",
    "security": "security-token-quoted-0123456789",
    "token": "MIIToken-quoted-" + "x" * 400,
    "password": "pw-quoted-hunter2",
}
AK_QUOTED = "HPUAQUOTEDAK00000001"


async def test_a_server_quoting_the_runs_credentials_never_gets_them_into_a_result(
    session: aiohttp.ClientSession,
) -> None:
    """Token, AK, SK, security token, IAM password (and the row's SK) quoted back in error_code, error_msg or
    X-Request-Id (a 4xx, a 2xx, after a long prefix): redacted, access keys masked, under every scheme."""
    from bulkretry.oms.auth import IamPasswordAuth
    from bulkretry.oms.credentials import IamPassword

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/v3/auth/tokens":
            return web.json_response({}, status=201, headers={"X-Subject-Token": QUOTED["token"]})
        quoted = " ".join(
            [
                AK_QUOTED,
                request.headers.get("X-Auth-Token", ""),
                *QUOTED.values(),
                request.headers.get("Authorization", ""),
                (await request.text()),
            ]
        )
        if request.path.endswith("/g-ok/retry"):
            return web.json_response({}, headers={"X-Request-Id": f"id {quoted}"[:4000]})
        return web.json_response(
            {"error_code": f"OMS.0002 {quoted}", "error_msg": "x" * 250 + quoted},
            status=400,
            headers={"X-Request-Id": quoted[:4000]},
        )

    async with serve(handler) as url:
        auths = {
            TokenAuth(Token(QUOTED["token"])): ["token"],
            AkSkAuth(AkSk(AK_QUOTED, QUOTED["sk"], QUOTED["security"])): ["sk", "security"],
            IamPasswordAuth(IamPassword(url, "u", "d", QUOTED["password"])): ["password", "token"],
        }
        for auth, own in auths.items():
            secrets = [QUOTED[name] for name in own] + ["row-src-sk-0123456789"]
            client = OmsClient(session, auth, endpoint=url)
            body = {"src_ak": "SRCAK0000000001", "src_sk": "row-src-sk-0123456789"}
            ok = await client.call(RETRY, "p", "g-ok", body)
            with pytest.raises(ApiError) as info:
                await client.call(RETRY, "p", "g-bad", body)
            err = info.value
            texts = [ok.request_id, err.error_code, err.error_msg, err.request_id, str(err)]
            for text in texts:
                assert not any(secret in text or secret[:12] in text for secret in secrets), (auth, text)
                assert AK_QUOTED not in text or "sk" not in own
            assert "[redacted]" in err.error_msg and "[redacted]" in ok.request_id, (auth, err.error_msg)
            assert "HPUA…0001" in err.error_msg or "sk" not in own


@pytest.mark.parametrize(
    "body",
    [
        {"src_ak": "AK", "src_sk": 's"k\\n', "migrate_failed_object": False},
        {
            "json_auth_file": '{"type": "service_account",\n "private_key": "-----BEGIN\\nKEY\\n-----"}',
            "dst_sk": "中文✓😀",
        },
        {"connection_string": "a\u2028b\x00c\x7f", "flag": True, "n": 3, "none": None},
        {},
    ],
)
def test_the_body_is_encoded_as_compact_json_exactly(body):
    """The client's JSON body (C encoder made once) is what json.dumps(separators=(',', ':')) writes."""
    assert client_module._json_text(body) == json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    with pytest.raises(TypeError, match="not JSON serializable"):
        client_module._json_text({"bad": object()})


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("declared", [True, False])
async def test_compressed_bodies_are_capped_when_decompressed(
    session: aiohttp.ClientSession, encoding: str, declared: bool
) -> None:
    """A small compressed body that inflates past the limit is refused after reading just past the limit."""
    import gzip
    import tracemalloc
    import zlib

    inflated = 6 * MAX_BODY_BYTES  # 48 MiB of zeros: about 48 KB on the wire
    data = bytes(inflated)
    wire = gzip.compress(data, compresslevel=1) if encoding == "gzip" else zlib.compress(data, 1)
    del data

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
        if declared:  # Content-Length is the wire length: far under the limit
            return web.Response(status=500, body=wire, headers=headers)
        resp = web.StreamResponse(status=500, headers=headers)  # chunked: no length at all
        await resp.prepare(request)
        await resp.write(wire)
        await resp.write_eof()
        return resp

    async with serve(handler) as url:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        tracemalloc.start()
        try:
            with pytest.raises(ApiError) as info:
                await client.show(RETRY, "p", "g")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert info.value.error_code == "invalid_response"
    held = f"{peak / 2**20:.0f} MiB held for a {inflated // 2**20} MiB body"
    assert peak < 3 * MAX_BODY_BYTES + AIOHTTP_INFLATES_AHEAD, held


async def test_a_small_compressed_body_is_read_whole(session: aiohttp.ClientSession) -> None:
    """A gzip body under the limit, of a declared length, is decompressed and parsed as before."""
    import gzip

    group = {"group_id": "g", "description": "x" * 5000}

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(json.dumps(group).encode()),
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )

    async with serve(handler) as url:
        assert await OmsClient(session, TokenAuth(Token("t")), endpoint=url).show(RETRY, "p", "g") == group
