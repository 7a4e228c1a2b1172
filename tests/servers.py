"""Small real HTTP servers for tests: a canned responder (in the test's loop or a thread of its own) and a server
that checks signatures with the SDK."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """Serve every path and method with *handler* on a free loopback port; yield the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,]*)")

#: What aiohttp may inflate of a compressed body before a reader asks for it: before 3.14 (3.13 is the last
#: release for Python 3.9), a network chunk whole, up to its own cap of 32 MiB; from 3.14, only what is read.
AIOHTTP_INFLATES_AHEAD = 2**25 if tuple(map(int, aiohttp.__version__.split(".")[:2])) < (3, 14) else 0


def sdk_expected_authorization(request: web.Request, body: bytes, ak: str, sk: str) -> str | None:
    """The Authorization header the official SDK signer computes for what this server received."""
    return sdk_authorization(request.method, request.host, request.raw_path, dict(request.headers), body, ak, sk)


def sdk_authorization(
    method: str, host: str, raw_path: str, headers: dict[str, str], body: bytes, ak: str, sk: str
) -> str | None:
    """The Authorization header the official SDK signer computes for a request received as these parts
    (*raw_path* with its query, as sent); None when the request names no signed headers."""
    lower = {k.lower(): v for k, v in headers.items()}
    match = _SIGNED_HEADERS.search(lower.get("authorization", ""))
    if not match:
        return None
    names = [n for n in match.group(1).split(";") if n]
    signed = {name: lower.get(name, "") for name in names}
    path, _, query = raw_path.partition("?")
    sdk_request = SdkRequest(
        method=method,
        schema="http",
        host=host,
        resource_path=path,
        query_params=parse_qsl(query, keep_blank_values=True),
        header_params=signed,
        body=body,
    )
    return Signer(BasicCredentials(ak, sk)).sign(sdk_request).header_params["Authorization"]


class Recorder:
    """Keeps what a handler saw; handlers append to it."""

    def __init__(self) -> None:
        self.requests: list[dict] = []


class FakeMetadata:
    """The ECS metadata service for an agency, as the SDK's ``MetadataAccessor`` talks to it: ``PUT
    /meta-data/latest/api/token`` (needs ``X-Metadata-Token-Ttl-Seconds``), then ``GET
    /openstack/latest/securitykey`` (needs a token it gave) answering the simulator's temporary keys
    (``state.issue_key``), which live *ttl_s* seconds. ``fixed``: the same key on every GET (as the real service
    does between rotations); otherwise a new one each time. ``delay_s`` holds each GET, so that overlapping
    refreshes would show in ``peak_gets``. ``no_agency``: answers as an ECS without an agency does. ``wall``:
    the time ``expires_at`` is told in (a test's shifted clock)."""

    def __init__(
        self,
        state: object,
        *,
        ttl_s: float = 3600.0,
        fixed: bool = False,
        delay_s: float = 0.0,
        no_agency: bool = False,
        wall: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.state, self.ttl_s, self.fixed, self.delay_s, self.no_agency = state, ttl_s, fixed, delay_s, no_agency
        self.wall = wall or time.time
        self.puts = self.gets = self.in_flight = self.peak_gets = 0
        self.tokens: set[str] = set()
        self.keys: list[object] = []
        self.down = False

    def answer(self, key: object) -> dict:
        from datetime import datetime, timezone

        expires = self.wall() + (key.expires_at - self.state.clock())  # type: ignore[attr-defined]
        when = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "credential": {
                "access": key.ak,
                "secret": key.sk,  # type: ignore[attr-defined]
                "securitytoken": key.security_token,
                "expires_at": when,
            }
        }  # type: ignore[attr-defined]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        import asyncio
        import secrets

        if self.down:
            return web.Response(status=500, text="metadata service down")
        if request.method == "PUT" and request.path == "/meta-data/latest/api/token":
            self.puts += 1
            if not request.headers.get("X-Metadata-Token-Ttl-Seconds", "").isdigit():
                return web.Response(status=400, text="X-Metadata-Token-Ttl-Seconds is required")
            token = "md-" + secrets.token_hex(8)
            self.tokens.add(token)
            return web.Response(text=token)
        if request.method == "GET" and request.path == "/openstack/latest/securitykey":
            if request.headers.get("X-Metadata-Token") not in self.tokens:
                return web.Response(status=401, text="Unauthorized")
            if self.no_agency:
                return web.Response(status=404, text="Please configure Cloud Service Agency first")
            self.gets += 1
            self.in_flight += 1
            self.peak_gets = max(self.peak_gets, self.in_flight)
            try:
                await asyncio.sleep(self.delay_s)
                if not (self.fixed and self.keys):
                    self.keys.append(self.state.issue_key(self.ttl_s))  # type: ignore[attr-defined]
                return web.json_response(self.answer(self.keys[-1]))
            finally:
                self.in_flight -= 1
        return web.Response(status=404, text="not found")


@asynccontextmanager
async def serve_metadata(fake: FakeMetadata, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve *fake* on *host*:*port* (0: a free one); yield its origin, ``http://host[:port]``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://{host}" + ("" if bound == 80 else f":{bound}")
    finally:
        await runner.cleanup()


class ServerThread:
    """An aiohttp server answering every request with *handler*, in a background thread (the CLI blocks)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[web.Request] = []
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _record(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        return await self.handler(request)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(10), "the test server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


async def empty_json(request: web.Request) -> web.Response:
    """Answer any request with an empty JSON object (a server that only records what it was asked)."""
    return web.json_response({})


class Listener:
    """A loopback TCP port that accepts connections on a thread of its own and counts them: it closes each at once,
    or (*hold*) holds it open, never answering, until the listener is closed."""

    def __init__(self, hold: bool = False) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._hold = hold
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # socket.timeout, not yet TimeoutError on Python 3.9
                continue
            self.connections += 1
            if self._hold:
                self._held.append(conn)
            else:
                conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._sock.close()
