"""Small real HTTP servers for tests: a canned responder and a server that checks signatures with the SDK."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

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


def sdk_expected_authorization(request: web.Request, body: bytes, ak: str, sk: str) -> str | None:
    """The Authorization header the official SDK signer computes for what this server received."""
    return sdk_authorization(request.method, request.host, request.raw_path, dict(request.headers), body, ak, sk)


def sdk_authorization(method: str, host: str, raw_path: str, headers: dict[str, str], body: bytes, ak: str,
                      sk: str) -> str | None:
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
        method=method, schema="http", host=host, resource_path=path,
        query_params=parse_qsl(query, keep_blank_values=True), header_params=signed, body=body,
    )
    return Signer(BasicCredentials(ak, sk)).sign(sdk_request).header_params["Authorization"]


class Recorder:
    """Keeps what a handler saw; handlers append to it."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
