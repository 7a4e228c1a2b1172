"""Small real HTTP servers for tests: a canned responder and a server that checks signatures with the SDK."""

from __future__ import annotations

import re
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
    match = _SIGNED_HEADERS.search(request.headers.get("Authorization", ""))
    if not match:
        return None
    names = [n for n in match.group(1).split(";") if n]
    headers = {name: request.headers.get(name, "") for name in names}
    sdk_request = SdkRequest(
        method=request.method, schema="http", host=request.host,
        resource_path=request.raw_path.split("?", 1)[0],
        query_params=parse_qsl(request.query_string, keep_blank_values=True),
        header_params=headers, body=body,
    )
    return Signer(BasicCredentials(ak, sk)).sign(sdk_request).header_params["Authorization"]


class Recorder:
    """Keeps what a handler saw; handlers append to it."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
