"""The simulator's HTTP face: an ``aiohttp.web`` app that answers the routes of ``routes.py`` (OMS task groups
and tasks, IAM tokens) with the handlers of ``handlers.py`` (CSMS's secret versions too, ``csms.py``).

Paths are parsed from ``request.raw_path`` (split on ``/`` first, then each segment decoded), because
aiohttp's router decodes ``%2F`` and would let an encoded slash cross segments. Every request is recorded
(when ``SimConfig.record``); each OMS call then passes, in order: rate limit (429 ``APIGW.0308``),
authentication (401 ``APIGW.0301``, 403 ``OMS.0003``), injected latency, injected transient errors, then
its handler.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from bulkretry.sim.config import SimConfig
from bulkretry.sim.errors import SimError
from bulkretry.sim.handlers import HANDLERS, Call
from bulkretry.sim.iam import issue_token
from bulkretry.sim.routes import Match, resolve
from bulkretry.sim.state import SimState
from bulkretry.sim.traffic import RateWindow, ReceivedRequest, Traffic
from bulkretry.sim.verify import auth_problem

__all__ = ["CONFIG", "STATE", "TRAFFIC", "build_app"]

CONFIG = web.AppKey("bulkretry_sim_config", SimConfig)
STATE = web.AppKey("bulkretry_sim_state", SimState)
TRAFFIC = web.AppKey("bulkretry_sim_traffic", Traffic)

_NO_API = {
    "error_code": "APIGW.0101",
    "error_msg": "The API does not exist or has not been published in the environment",
}
_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _error(status: int, code: str, msg: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return _json(status, {"error_code": code, "error_msg": msg}, headers)


def _received(request: web.Request, body: bytes, at: float) -> ReceivedRequest:
    """The request as it arrived: its raw path split on ``/`` before each segment is decoded."""
    raw_path, _, raw_query = request.raw_path.partition("?")
    raw_path = raw_path.partition("#")[0]
    segments = tuple(unquote(part) for part in raw_path.split("/")[1:]) if raw_path.startswith("/") else ()
    return ReceivedRequest(
        method=request.method,
        raw_path=raw_path,
        path_segments=segments,
        query=tuple(parse_qsl(raw_query, keep_blank_values=True)),
        headers=dict(request.headers),
        body=body,
        at=at,
    )


class _Handler:
    """The catch-all request handler and the per-app machinery it needs (window, error RNG)."""

    def __init__(self, config: SimConfig, state: SimState, traffic: Traffic, utcnow: Callable[[], datetime]) -> None:
        self.config, self.state, self.traffic, self.utcnow = config, state, traffic, utcnow
        self.window = RateWindow(config.rate_limit) if config.rate_limit is not None else None
        self.error_rng = random.Random(config.seed ^ 0x5EED)
        self.errors_sent = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        received = _received(request, await request.read(), self.state.clock())
        if self.config.record:
            self.traffic.received.append(received)
        match = resolve(received.path_segments)
        if match is None:
            return _json(404, _NO_API)
        allowed = match.route.method
        if request.method != allowed:
            message = f"Method {request.method} is not allowed for this API (use {allowed})"
            return _error(405, "APIGW.0101", message, {"Allow": allowed})
        if match.route.name == "iam":
            status, payload, extra = issue_token(self.config, self.state, received.body, self.utcnow())
            return _json(status, payload, extra)
        self.traffic.calls += 1
        self.traffic.in_flight += 1
        self.traffic.peak_in_flight = max(self.traffic.peak_in_flight, self.traffic.in_flight)
        try:
            return await self._oms(received, match)
        finally:
            self.traffic.in_flight -= 1

    def _gate(self, received: ReceivedRequest, project_id: str) -> web.Response | None:
        """The gateway's refusal (throttled, not authenticated, another project), or None to go on."""
        if self.window is not None and not self.window.admit(self.state.clock()):
            self.traffic.throttled += 1
            return _error(
                429,
                "APIGW.0308",
                "The throttling threshold has been reached: policy user over "
                f"ratelimit,limit:{self.config.rate_limit:g},time:1 second",
            )
        problem = auth_problem(self.config, self.state, received, project_id, self.utcnow())
        if problem is not None:
            return _error(401, "APIGW.0301", f"Incorrect IAM authentication information: {problem}")
        if project_id != self.config.project_id:
            return _error(403, "OMS.0003", "The project does not match the credentials")
        return None

    async def _oms(self, received: ReceivedRequest, match: Match) -> web.StreamResponse:
        refusal = self._gate(received, match.project_id)
        if refusal is not None:
            return refusal
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if self.config.error_rate > 0 and self.error_rng.random() < self.config.error_rate:
            self.traffic.injected_errors += 1
            self.errors_sent += 1
            return _injected_error(self.errors_sent)
        call = Call(match.item_id, dict(received.query), received.body, match.version)
        try:
            return _json(200, HANDLERS[match.route.name](self.state, call))
        except SimError as exc:
            return _json(exc.status, exc.body())


def _injected_error(serial: int) -> web.Response:
    """The *serial*-th injected failure, rotating over the shapes gateways and backends really send."""
    kind = (serial - 1) % 4
    if kind == 0:
        return _error(500, "OMS.0000", "Internal error")
    if kind == 1:
        return web.Response(status=502, text=_BAD_GATEWAY_PAGE, content_type="text/html")
    if kind == 2:
        return _json(503, {"error": {"code": "APIGW.0202", "message": "Backend unavailable"}})
    return _json(504, {"errorCode": "APIGW.0203", "errorMsg": "Backend timeout"})


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    del request
    response.headers.setdefault("X-Request-Id", uuid.uuid4().hex)


def build_app(
    config: SimConfig, state: SimState, traffic: Traffic | None = None, *, utcnow: Callable[[], datetime] | None = None
) -> web.Application:
    """The simulator as an ``aiohttp.web.Application``; *traffic* collects what it sees.

    *utcnow* (default: the real UTC time) is what ``X-Sdk-Date`` is checked against and what IAM
    dates its tokens with.
    """
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[CONFIG] = config
    app[STATE] = state
    app[TRAFFIC] = traffic if traffic is not None else Traffic()
    handler = _Handler(config, state, app[TRAFFIC], utcnow or (lambda: datetime.now(timezone.utc)))
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    app.on_response_prepare.append(_add_request_id)
    return app
