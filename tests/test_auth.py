"""IAM password tokens: fetched per project, cached, refreshed before expiry and once after a 401."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web

from bulkretry.errors import ApiError, BulkRetryError, TransportError
from bulkretry.oms.actions import ACTIONS, GROUPS
from bulkretry.oms.auth import IamPasswordAuth
from bulkretry.oms.client import OmsClient
from bulkretry.oms.credentials import IamPassword
from tests.servers import AIOHTTP_INFLATES_AHEAD, serve

RETRY = ACTIONS["retry", GROUPS]

NOW = 1_800_000_000.0


class FakeIam:
    """An IAM + OMS pair that issues numbered tokens valid for `ttl` seconds of its own clock."""

    def __init__(self, ttl: float = 3600.0) -> None:
        self.ttl = ttl
        self.now = NOW
        self.issued: list[tuple[str, str]] = []  # (token, project)
        self.revoked: set[str] = set()
        self.bodies: list[dict] = []
        self.seen_tokens: list[str] = []

    async def handler(self, request: web.Request) -> web.Response:
        if request.path == "/v3/auth/tokens":
            body = await request.json()
            self.bodies.append(body)
            if body["auth"]["identity"]["password"]["user"]["password"] != "right":
                return web.json_response(
                    {"error": {"code": 401, "message": "The username or password is wrong."}}, status=401
                )
            token = f"token-{len(self.issued) + 1}"
            project = body["auth"]["scope"]["project"]["id"]
            self.issued.append((token, project))
            expires = datetime.fromtimestamp(self.now + self.ttl, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return web.json_response({"token": {"expires_at": expires}}, status=201, headers={"X-Subject-Token": token})
        token = request.headers.get("X-Auth-Token", "")
        self.seen_tokens.append(token)
        if token in self.revoked or token not in {t for t, _ in self.issued}:
            return web.json_response({"error_code": "APIGW.0301", "error_msg": "token invalid"}, status=401)
        return web.json_response({})


@pytest.fixture
async def iam():
    fake = FakeIam()
    async with serve(fake.handler) as url, aiohttp.ClientSession() as session:
        fake.url, fake.session = url, session  # type: ignore[attr-defined]
        yield fake


def _client(iam: FakeIam, password: str = "right") -> tuple[OmsClient, IamPasswordAuth]:
    auth = IamPasswordAuth(IamPassword(iam.url, "alice", "corp", password), clock=lambda: iam.now)  # type: ignore[attr-defined]
    return OmsClient(iam.session, auth, endpoint=iam.url), auth  # type: ignore[attr-defined]


async def test_token_is_fetched_once_per_project_and_cached(iam: FakeIam) -> None:
    """Many calls, even concurrent ones, fetch one token per project with a project-scoped password body."""
    client, auth = _client(iam)
    await asyncio.gather(*(client.call(RETRY, "p1", f"g{i}", {}) for i in range(10)))
    await client.call(RETRY, "p2", "g", {})
    assert auth.fetches == 2
    assert [p for _, p in iam.issued] == ["p1", "p2"]
    ident = iam.bodies[0]["auth"]["identity"]
    assert ident["methods"] == ["password"]
    assert ident["password"]["user"] == {"name": "alice", "password": "right", "domain": {"name": "corp"}}


async def test_token_is_refreshed_before_it_expires(iam: FakeIam) -> None:
    """Close to its expiry (inside the refresh margin) a new token is fetched before the call."""
    client, auth = _client(iam)
    await client.call(RETRY, "p1", "g", {})
    iam.now += 3600 - 60  # one minute before expiry: inside the margin
    await client.call(RETRY, "p1", "g", {})
    assert auth.fetches == 2
    assert iam.seen_tokens == ["token-1", "token-2"]


async def test_a_401_refreshes_the_token_once(iam: FakeIam) -> None:
    """A revoked token gets one fresh token and one more try; the call then succeeds."""
    client, auth = _client(iam)
    await client.call(RETRY, "p1", "g", {})
    iam.revoked.add("token-1")
    await client.call(RETRY, "p1", "g", {})
    assert iam.seen_tokens == ["token-1", "token-1", "token-2"]
    assert auth.fetches == 2


async def test_a_second_401_is_final(iam: FakeIam) -> None:
    """When the fresh token is refused too, the 401 is reported, not looped on."""
    client, _ = _client(iam)
    await client.call(RETRY, "p1", "g", {})
    iam.revoked.update({"token-1", "token-2", "token-3"})
    with pytest.raises(ApiError) as info:
        await client.call(RETRY, "p1", "g", {})
    assert info.value.status == 401 and info.value.error_code == "APIGW.0301"
    assert len(iam.issued) == 2


async def test_wrong_password_is_an_iam_error(iam: FakeIam) -> None:
    """IAM's own error shape comes through with its status, its message and the project, never the password."""
    client, _ = _client(iam, password="not-the-right-one")
    with pytest.raises(BulkRetryError) as info:
        await client.call(RETRY, "p1", "g", {})
    assert getattr(info.value, "status", None) == 401 and info.value.exit_status == 2
    assert "username or password is wrong" in str(info.value) and "p1" in str(info.value)
    assert "wrong" not in str(info.value).replace("is wrong", "")


async def test_a_refused_login_is_asked_once_and_shared(iam: FakeIam) -> None:
    """Calls waiting for the login and calls after it all get the refusal; IAM is asked once per project."""
    client, _ = _client(iam, password="wrong")
    first = await asyncio.gather(*(client.call(RETRY, "p1", f"g{i}", {}) for i in range(8)), return_exceptions=True)
    later = await asyncio.gather(client.call(RETRY, "p1", "g", {}), return_exceptions=True)
    assert len(iam.bodies) == 1 and iam.seen_tokens == []
    assert all(isinstance(e, BulkRetryError) and "refused the login" in str(e) for e in [*first, *later])
    await asyncio.gather(client.call(RETRY, "p2", "g", {}), return_exceptions=True)
    assert len(iam.bodies) == 2  # another project is its own login


async def test_an_iam_that_does_not_answer_is_asked_once_and_shared() -> None:
    """A silent IAM is tried once (one connection) for all the calls of a project, not once per call."""
    connections = []
    hold = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await hold.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with aiohttp.ClientSession() as session:
            auth = IamPasswordAuth(IamPassword(url, "alice", "corp", "right"), timeout=0.2)
            client = OmsClient(session, auth, endpoint=url)
            errors = await asyncio.gather(
                *(client.call(RETRY, "p1", f"g{i}", {}) for i in range(6)), return_exceptions=True
            )
    finally:
        hold.set()
        server.close()
        await server.wait_closed()
    assert len(connections) == 1
    assert all(isinstance(e, TransportError) and not e.retryable and url in str(e) for e in errors), errors


async def test_an_iam_answer_that_inflates_past_the_limit_is_not_held_whole() -> None:
    """IAM's answer is read by its decompressed size with the same cap as the service's: a small gzip body that
    inflates to 48 MiB is refused (the login is unavailable) after reading just past 8 MiB."""
    import gzip
    import tracemalloc

    from bulkretry.errors import LoginUnavailable
    from bulkretry.oms.errorbody import MAX_BODY_BYTES

    wire = gzip.compress(bytes(6 * MAX_BODY_BYTES), compresslevel=1)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            status=201,
            body=wire,
            headers={"Content-Encoding": "gzip", "X-Subject-Token": "t-1", "Content-Type": "application/json"},
        )

    async with serve(handler) as url, aiohttp.ClientSession() as session:
        auth = IamPasswordAuth(IamPassword(url, "alice", "corp", "right"))
        client = OmsClient(session, auth, endpoint=url)
        tracemalloc.start()
        try:
            with pytest.raises(LoginUnavailable) as info:
                await client.call(RETRY, "p1", "g", {})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert "over 8388608 bytes" in str(info.value)
    assert peak < 3 * MAX_BODY_BYTES + AIOHTTP_INFLATES_AHEAD, f"{peak / 2**20:.0f} MiB held"
