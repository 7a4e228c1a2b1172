"""The simulator's HTTP face: an ``aiohttp.web`` app with OMS task-group routes and IAM tokens.

Paths are parsed from ``request.raw_path`` (split on ``/`` first, then each segment decoded), because
aiohttp's router decodes ``%2F`` and would let an encoded slash cross segments. Each OMS call passes,
in order: rate limit (429 ``APIGW.0308``), authentication (401 ``APIGW.0301``, 403 ``OMS.0003``),
injected latency, injected transient errors, then the handler.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from bulkretry.sim.config import SimConfig
from bulkretry.sim.iam import issue_token
from bulkretry.sim.state import SimError, SimState
from bulkretry.sim.traffic import RateWindow, ReceivedRequest, Traffic
from bulkretry.sim.verify import auth_problem

__all__ = ["CONFIG", "STATE", "TRAFFIC", "build_app"]

CONFIG = web.AppKey("bulkretry_sim_config", SimConfig)
STATE = web.AppKey("bulkretry_sim_state", SimState)
TRAFFIC = web.AppKey("bulkretry_sim_traffic", Traffic)

#: String fields of the retry body and their largest allowed length (the API page's limits).
RETRY_STRING_LIMITS: dict[str, int] = {
    "src_ak": 100,
    "src_sk": 100,
    "dst_ak": 100,
    "dst_sk": 100,
    "source_cdn_authentication_key": 255,
    "json_auth_file": 65535,
    "connection_string": 2048,
}
MAX_ID_LENGTH = 1024

_NO_API = {
    "error_code": "APIGW.0101",
    "error_msg": "The API does not exist or has not been published in the environment",
}
_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_INTEGER = re.compile(r"-?[0-9]{1,12}")


class _Route(NamedTuple):
    name: str  # "iam", "list", "show" or "retry"
    method: str
    project_id: str = ""
    group_id: str = ""


def _resolve(segments: tuple[str, ...]) -> _Route | None:
    if segments == ("v3", "auth", "tokens"):
        return _Route("iam", "POST")
    if len(segments) < 3 or segments[0] != "v2" or segments[2] != "taskgroups" or not all(segments):
        return None
    if len(segments) == 3:
        return _Route("list", "GET", segments[1])
    if len(segments) == 4:
        return _Route("show", "GET", segments[1], segments[3])
    if len(segments) == 5 and segments[4] == "retry":
        return _Route("retry", "PUT", segments[1], segments[3])
    return None


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _error(status: int, code: str, msg: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return _json(status, {"error_code": code, "error_msg": msg}, headers)


def _bad_param(message: str) -> SimError:
    return SimError(400, "OMS.0002", f"Invalid parameter: {message}")


def _int_param(query: Mapping[str, str], name: str, default: int | None, low: int, high: int | None) -> int | None:
    raw = query.get(name)
    if raw is None:
        return default
    allowed = f"{low}..{high}" if high is not None else f">= {low}"
    if not _INTEGER.fullmatch(raw):
        raise _bad_param(f"{name} must be an integer {allowed}")
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise _bad_param(f"{name} must be an integer {allowed}")
    return value


def _retry_body(body: bytes) -> dict[str, Any]:
    """The retry request body, checked against the API's limits (values are never echoed)."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise SimError(400, "OMS.0002", "Invalid request body: expected a JSON object")
    for name, limit in RETRY_STRING_LIMITS.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _bad_param(f"{name} must be a string")
        if len(value) > limit:
            raise _bad_param(f"{name} length must be 0..{limit}")
    flag = data.get("migrate_failed_object")
    if flag is not None and not isinstance(flag, bool):
        raise _bad_param("migrate_failed_object must be a boolean")
    return data


class _Handler:
    """The catch-all request handler and the per-app machinery it needs (window, error RNG)."""

    def __init__(self, config: SimConfig, state: SimState, traffic: Traffic, utcnow: Callable[[], datetime]) -> None:
        self.config, self.state, self.traffic, self.utcnow = config, state, traffic, utcnow
        self.window = RateWindow(config.rate_limit) if config.rate_limit is not None else None
        self.error_rng = random.Random(config.seed ^ 0x5EED)
        self.errors_sent = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        raw_path, _, raw_query = request.raw_path.partition("?")
        raw_path = raw_path.partition("#")[0]
        segments = tuple(unquote(part) for part in raw_path.split("/")[1:]) if raw_path.startswith("/") else ()
        headers = dict(request.headers)
        if self.config.record:
            self.traffic.received.append(
                ReceivedRequest(
                    method=request.method,
                    raw_path=raw_path,
                    path_segments=segments,
                    query=tuple(parse_qsl(raw_query, keep_blank_values=True)),
                    headers=headers,
                    body=body,
                    at=self.state.clock(),
                )
            )
        route = _resolve(segments)
        if route is None:
            return _json(404, _NO_API)
        if request.method != route.method:
            return _error(
                405,
                "APIGW.0101",
                f"Method {request.method} is not allowed for this API (use {route.method})",
                {"Allow": route.method},
            )
        if route.name == "iam":
            status, payload, extra = issue_token(self.config, self.state, body, self.utcnow())
            return _json(status, payload, extra)
        self.traffic.calls += 1
        self.traffic.in_flight += 1
        self.traffic.peak_in_flight = max(self.traffic.peak_in_flight, self.traffic.in_flight)
        try:
            return await self._oms(request.method, route, raw_path, raw_query, headers, body)
        finally:
            self.traffic.in_flight -= 1

    async def _oms(
        self, method: str, route: _Route, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes
    ) -> web.StreamResponse:
        config = self.config
        if self.window is not None and not self.window.admit(self.state.clock()):
            self.traffic.throttled += 1
            return _error(
                429,
                "APIGW.0308",
                "The throttling threshold has been reached: policy user over "
                f"ratelimit,limit:{config.rate_limit:g},time:1 second",
            )
        problem = auth_problem(
            config,
            self.state,
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            project_id=route.project_id,
            now=self.utcnow(),
        )
        if problem is not None:
            return _error(401, "APIGW.0301", f"Incorrect IAM authentication information: {problem}")
        if route.project_id != config.project_id:
            return _error(403, "OMS.0003", "The project does not match the credentials")
        if config.latency_ms > 0:
            await asyncio.sleep(config.latency_ms / 1000)
        if config.error_rate > 0 and self.error_rng.random() < config.error_rate:
            self.traffic.injected_errors += 1
            self.errors_sent += 1
            return _injected_error(self.errors_sent)
        try:
            return self._answer(route, raw_query, body)
        except SimError as exc:
            return _json(exc.status, exc.body())

    def _answer(self, route: _Route, raw_query: str, body: bytes) -> web.Response:
        if len(route.group_id) > MAX_ID_LENGTH:
            raise _bad_param(f"group_id length must be 1..{MAX_ID_LENGTH}")
        if route.name == "list":
            query = dict(parse_qsl(raw_query, keep_blank_values=True))
            limit = _int_param(query, "limit", 10, 1, 100) or 10
            offset = _int_param(query, "offset", 0, 0, None) or 0
            status = _int_param(query, "status", None, 0, 9)
            count, page = self.state.list(status, offset, limit)
            return _json(200, {"taskgroups": page, "count": count})
        if route.name == "show":
            return _json(200, self.state.get(route.group_id))
        self.state.retry(route.group_id, _retry_body(body))
        return _json(200, {})


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
