"""The OMS v2 client: one call at a time, authenticated, typed results, no printing and no retry policy.

The client names each failure (an :class:`ApiError`'s status and code, a :class:`TransportError`'s code and kind);
whether it is retried is :mod:`bulkretry.run.policy`'s word, and retrying is the engine's job. The client only
refreshes an IAM token once after a 401.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from bulkretry import __version__
from bulkretry.errors import PROXY_AUTH, ApiError, ConfigError, TransportError
from bulkretry.i18n.messages import CONNECTION_FAILED, NO_ANSWER, SERVER_DISCONNECTED, say
from bulkretry.jsontext import encoder
from bulkretry.masking import PLAIN_ID_CHARS, PLAIN_ID_MAX, hides_in_plain_id, redact, redact_credentials
from bulkretry.oms.actions import ACTIONS, Action
from bulkretry.oms.auth import Authenticator, OutgoingRequest
from bulkretry.oms.endpoint import Endpoint, check_region, endpoint_for_region, parse_endpoint
from bulkretry.oms.errorbody import MAX_BODY_BYTES, parse_error_body, read_capped, short_text
from bulkretry.oms.network import Network

__all__ = [
    "SEND_FAILURES",
    "OmsClient",
    "Response",
    "connect_failure",
    "connection_message",
    "encode_segment",
    "make_session",
    "parse_retry_after",
    "transport_failure",
]

log = logging.getLogger(__name__)

USER_AGENT = f"bulkretry/{__version__}"
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
#: The longest ``X-Request-Id`` kept (real ones are 32 hex digits).
MAX_REQUEST_ID_CHARS = 128
#: The list API's largest page.
MAX_PAGE_SIZE = 100

#: The headers of every request, made once (an authenticator copies them before it adds its own).
_PLAIN_HEADERS = {"User-Agent": USER_AGENT}
_JSON_HEADERS = {"User-Agent": USER_AGENT, "Content-Type": JSON_CONTENT_TYPE}

#: A request body as compact JSON (what ``json.dumps(body, ensure_ascii=False, separators=(",", ":"))`` writes).
_json_text = encoder(separators=(",", ":"))


def make_session(*, limit: int = 100) -> aiohttp.ClientSession:
    """The one connection pool of a run: at most *limit* connections, keep-alive, and no hidden resends.

    aiohttp quietly re-sends an idempotent request (PUT included) once when a kept-alive connection
    drops; that second call would bypass the rate limiter and the attempt count, so it is turned off
    here and the engine's own retry policy handles the dropped connection instead.
    """
    # No cookie jar: the API uses none, and a gateway's Set-Cookie must not ride along on later calls
    # (it also saves filtering cookies on every request).
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=0), cookie_jar=aiohttp.DummyCookieJar()
    )
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote() leaves as it is: the usual id needs no work


#: The fixed segments of the actions' paths (and their targets' GETs), already encoded.
_SEGMENTS = {part: part for action in ACTIONS.values() for part in (*action.path, *action.show_path) if part != "{id}"}


def encode_segment(value: str) -> str:
    """Percent-encode *value* as one path segment: nothing in it can reach another segment or the query.

    ``/ ? # %`` and control characters are encoded as the SDK does; a segment that is exactly ``.`` or
    ``..`` has its dots encoded too, so no client or proxy can fold it into the path.
    """
    encoded = value if _PLAIN_SEGMENT.fullmatch(value) else quote(value, safe="")
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded


class Response(NamedTuple):
    """A successful (2xx) answer (a named tuple: made once per call, it costs a third of a frozen dataclass)."""

    status: int
    request_id: str
    latency_ms: float
    body: Any


class OmsClient:
    """Async OMS v2 client over one shared :class:`aiohttp.ClientSession` (one pool, keep-alive).

    *endpoint* wins over *region*; a call may name its own region when no endpoint was given, and a region's
    endpoint is its override in *region_endpoints* (the SDK's variables), else ``oms.{region}``. Both are
    checked here (:mod:`bulkretry.oms.endpoint`; a :class:`ConfigError` for a bad one), and every URL built is
    checked to go to the host they name before anything is sent. *network* is the run's proxy and trust
    (``Network(verify=False)`` for ``--insecure``); without one, no proxy and the system's store.
    """

    #: The API's version, the first segment of every path (``oms/csms.py``'s client, on the same machinery: ``v1``).
    api_version = "v2"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth: Authenticator,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        timeout: float = 30.0,
        network: Network | None = None,
        region_endpoints: Mapping[str, Endpoint] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._session = session
        self._auth = auth
        self._endpoint = parse_endpoint(endpoint) if endpoint else None
        self._region = check_region(region) if region and not endpoint else region
        #: The SDK's HUAWEICLOUD_SDK_REGION_OMS_<REGION> overrides (:func:`~bulkretry.oms.endpoint.region_overrides`).
        self._region_endpoints = dict(region_endpoints or {})
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # The proxy and trust of the run (oms/network.py); without one, no proxy and the system's store.
        self._network = network if network is not None else Network()
        # The trust read now when a call may use TLS: a bundle that cannot serve is a ConfigError before any call.
        self._network.check_trust(self._endpoint.origin if self._endpoint else None)
        #: The proxies the calls went through (``host:port``), for the run's summary.
        self.proxies_used: set[str] = set()
        # A plain request id (hex and dashes) needs a look only if one of the run's secrets could stand in it.
        self._scan_ids = hides_in_plain_id(auth.secrets()[0])
        # (region, project id) -> (netloc, "scheme://netloc", "/v2/{project}/", aiohttp's ssl and proxy options):
        # a run has a few of each.
        self._prefixes: dict[tuple[str | None, str], tuple[str, str, str, dict[str, Any]]] = {}
        # The headers of every call without and with a body, when the authenticator's never change (a token):
        # made once, and no call then awaits the authenticator.
        self._fixed = (auth.fixed_headers(_PLAIN_HEADERS), auth.fixed_headers(_JSON_HEADERS))
        #: An action's path (its parts) -> its text before and after the ``{id}``, made once per action.
        self._templates: dict[tuple[str, ...], tuple[str, str | None]] = {}

    def __repr__(self) -> str:
        endpoint = self._endpoint.origin if self._endpoint else None
        return f"OmsClient(endpoint={endpoint!r}, region={self._region!r}, auth={self._auth!r})"

    def endpoint(self, region: str | None = None) -> str:
        """The endpoint a call for *region* goes to (``scheme://host[:port]``); ConfigError for a bad region."""
        return self._target(region).origin

    def _target(self, region: str | None) -> Endpoint:
        if self._endpoint:
            return self._endpoint
        region = region or self._region
        if not region:
            raise ValueError("no endpoint: give --endpoint, --region, or a region column")
        return endpoint_for_region(region, self._region_endpoints)

    # -- the calls ---------------------------------------------------------------------------------

    def call(
        self, action: Action, project_id: str, target_id: str, body: Mapping[str, Any], *, region: str | None = None
    ) -> Coroutine[Any, Any, Response]:
        """*action* on the group or task *target_id* (``PUT /v2/{project_id}/taskgroups/{group_id}/retry``, ...),
        with *body* as JSON, or no body at all for an action that has none (a stop): the request to await (the
        path and body made here, so the one call a row makes is one coroutine, not two)."""
        path = self._path(action.path, target_id)
        json_body = _json_body(body) if action.body_fields else None
        return self._request(action.method, project_id, path, None, json_body, region)

    async def call_batch(
        self,
        action: Action,
        project_id: str,
        ids: Sequence[int],
        body: Mapping[str, Any],
        *,
        region: str | None = None,
    ) -> Response:
        """A batch *action* (``POST /v2/{project_id}/tasks/batch-update``) on the tasks *ids*: one call, its body
        ``{"ids": [...]}`` and the fields of *body* (``task_priority``)."""
        return await self.request(
            action.method, project_id, action.path, json_body={"ids": list(ids), **_json_body(body)}, region=region
        )

    async def show(
        self, action: Action, project_id: str, target_id: str, *, region: str | None = None
    ) -> dict[str, Any]:
        """The GET of *action*'s target (``GET /v2/{project_id}/taskgroups/{group_id}`` or ``.../tasks/{task_id}``):
        the group or task as a dict."""
        resp = await self._request("GET", project_id, self._path(action.show_path, target_id), None, None, region)
        return self._expect_object(resp)

    async def list_task_groups(
        self,
        project_id: str,
        *,
        status: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
        region: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every group (of *status*, if given), page by page through ``GET /v2/{project_id}/taskgroups``."""
        pages = self.list_pages(project_id, "taskgroups", {"status": status}, page_size=page_size, region=region)
        async for group in pages:
            yield group

    # -- the one place a request goes out ----------------------------------------------------------

    def _prefix(self, region: str | None, project_id: str) -> tuple[str, str, str, dict[str, Any]]:
        """``(netloc, "scheme://netloc", "/v2/{project}/", options)`` for *region* and *project_id* (made once for
        each); *options* are the request's ``ssl``, ``proxy`` and ``proxy_headers`` (the run's :class:`Network`).

        A defence in depth: the URL is parsed as it will be sent, and a call whose host, port, scheme or user
        is not the one the region or ``--endpoint`` named is refused (not retryable) before anything is sent.
        """
        found = self._prefixes.get((region, project_id))
        if found is None:
            try:
                target = self._target(region)
            except ConfigError as exc:
                raise TransportError("invalid_request", f"not sent: {exc}") from None
            path = f"/{self.api_version}/{encode_segment(project_id)}/"
            url = URL(target.origin + path, encoded=True)
            if ((url.host or "").lower(), url.explicit_port, url.scheme, url.user) != (
                target.host.lower(),
                target.port,
                target.scheme,
                None,
            ):
                raise TransportError(
                    "invalid_request",
                    f"not sent: the URL built for {target.origin} goes to {short_text(str(url.host))}, another host",
                )
            options = self._network.aiohttp_options(target.origin + path)
            if "proxy" in options:
                self.proxies_used.add(urlsplit(options["proxy"]).netloc)
            found = self._prefixes[(region, project_id)] = (target.netloc, target.origin, path, options)
        return found

    async def request(
        self,
        method: str,
        project_id: str,
        segments: tuple[str, ...],
        *,
        query: list[tuple[str, str]] | None = None,
        json_body: Any = None,
        region: str | None = None,
    ) -> Response:
        """Send one request under ``/{api_version}/{project_id}/``; raise ApiError or TransportError."""
        path = "/".join([_SEGMENTS.get(part) or encode_segment(part) for part in segments])
        return await self._request(method, project_id, path, query, json_body, region)

    def _path(self, parts: tuple[str, ...], target_id: str) -> str:
        """An action's path (*parts*) encoded, with *target_id* in place of ``{id}``: the same text as each part
        encoded in turn, the fixed parts joined once per action."""
        template = self._templates.get(parts)
        if template is None:
            template = self._templates[parts] = _path_template(parts)
        head, tail = template
        return head if tail is None else head + encode_segment(target_id) + tail

    async def _request(
        self,
        method: str,
        project_id: str,
        segments: str,
        query: list[tuple[str, str]] | None,
        json_body: Any,
        region: str | None,
    ) -> Response:
        """:meth:`request`, with the path after ``/v2/{project_id}/`` (*segments*) already encoded."""
        netloc, origin, path, options = self._prefix(region, project_id)
        path += segments
        body = b""
        headers, fixed = _PLAIN_HEADERS, self._fixed[0]
        if json_body is not None:
            body = _json_text(json_body).encode("utf-8")
            headers, fixed = _JSON_HEADERS, self._fixed[1]
        query = list(query) if query else []
        sending = (
            fixed if fixed is not None else OutgoingRequest(method, netloc, path, query, headers, body, project_id)
        )
        if query:
            path += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
        url = URL(origin + path, encoded=True)
        try:
            return await self._send(url, method, body, sending, json_body, options)
        except (ApiError, TransportError) as exc:
            error = self._scrubbed(exc, json_body)  # before a 401 drops the token it may quote
        if isinstance(error, ApiError) and error.status == 401 and self._auth.invalidate(project_id):
            log.info("401 for project %s: fetching a new token and trying once more", project_id)
            try:
                return await self._send(url, method, body, sending, json_body, options)
            except (ApiError, TransportError) as exc:
                error = self._scrubbed(exc, json_body)
        raise error

    def _redacted(self, text: str, body: Any) -> str:
        """*text* from the service without the run's credentials or the row's secrets (the failure path)."""
        secrets, keys = self._auth.secrets()
        text = redact_credentials(text, secrets, keys)
        # (a dict, the usual body, is checked first: isinstance against the Mapping ABC costs several times more)
        return redact(text, body) if isinstance(body, (dict, Mapping)) else text

    def _request_id(self, request_id: str, body: Any) -> str:
        """An odd ``X-Request-Id`` (not hex digits and dashes): the secrets out, then one short printable line."""
        request_id = self._redacted(request_id, body)
        if not (len(request_id) <= MAX_REQUEST_ID_CHARS and request_id.isascii() and request_id.isprintable()):
            request_id = short_text(request_id, MAX_REQUEST_ID_CHARS)
        return request_id

    def _scrubbed(self, error: ApiError | TransportError, body: Any) -> ApiError | TransportError:
        """*error* with the run's credentials (and the row's secrets) out of every text it carries: what the
        service or IAM sent back, and the messages made from it."""
        if isinstance(error, TransportError):
            message = self._redacted(error.message, body)
            if message == error.message:
                return error
            return TransportError(error.code, message, kind=error.kind, latency_ms=error.latency_ms)
        fields = (
            self._redacted(error.error_code, body),
            self._redacted(error.error_msg, body),
            self._request_id(error.request_id, body) if error.request_id else "",
        )
        if fields == (error.error_code, error.error_msg, error.request_id):
            return error
        return ApiError(
            error.status,
            fields[0],
            fields[1],
            request_id=fields[2],
            latency_ms=error.latency_ms,
            retry_after=error.retry_after,
        )

    async def _send(
        self,
        url: URL,
        method: str,
        body: bytes,
        sending: dict[str, str] | OutgoingRequest,
        json_body: Any,
        options: dict[str, Any],
    ) -> Response:
        """Send *body* to *url*; *sending* is the headers to send, or the request for the authenticator to sign."""
        started = time.perf_counter()
        headers = sending if isinstance(sending, dict) else await self._auth.authorize(sending, self._session)
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=body or None,
                timeout=self._timeout,
                allow_redirects=False,
                **options,
            ) as resp:
                length = resp.content_length
                # The usual case: a small body of a declared length, in one go. A compressed body's declared
                # length is its wire length (48 KB of gzip can inflate to gigabytes), so it goes, like a body
                # without a length, through the capped reader: resp.content yields the decompressed bytes,
                # inflated as they are read, and the reader stops just past the limit.
                if length is not None and length <= MAX_BODY_BYTES and "Content-Encoding" not in resp.headers:
                    raw = await resp.read()
                else:
                    raw = await read_capped(resp.content, MAX_BODY_BYTES)
        except SEND_FAILURES as exc:
            raise transport_failure(exc, self._timeout.total, _ms(time.perf_counter() - started)) from None
        return self._answer(resp.status, resp.headers, raw, json_body, _ms(time.perf_counter() - started))

    def _answer(self, status: int, head: Mapping[str, str], raw: bytes, json_body: Any, latency: float) -> Response:
        """The answer to a call as a :class:`Response`, or the :class:`ApiError` it is."""
        request_id = head.get("X-Request-Id", "")
        if len(request_id) > PLAIN_ID_MAX or request_id.strip(PLAIN_ID_CHARS) or self._scan_ids:
            request_id = self._request_id(request_id, json_body)  # not the usual hex id: it may quote a secret
        if 200 <= status < 300 and raw == b"{}":  # what the actions answer: no need for the parser
            return Response(status, request_id, latency, {})
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(
                status,
                "invalid_response",
                f"response body over {MAX_BODY_BYTES} bytes",
                request_id=request_id,
                latency_ms=latency,
            )
        text = raw.decode("utf-8", errors="replace")
        if not 200 <= status < 300:
            raise self._status_error(status, head, text, json_body, request_id, latency)
        return Response(status, request_id, latency, self._json(status, head, text, json_body, request_id, latency))

    def _status_error(
        self, status: int, head: Mapping[str, str], text: str, json_body: Any, request_id: str, latency: float
    ) -> ApiError:
        """A status that is not 2xx as its :class:`ApiError`: a redirect not followed, or the service's error."""
        if 300 <= status < 400:
            try:
                target = short_text(urlsplit(head.get("Location", "")).netloc) or "the same host"
            except ValueError:  # a Location that is no URL at all, e.g. "http://[oops"
                target = "an unreadable Location"
            return ApiError(
                status, str(status), f"redirect to {target} not followed", request_id=request_id, latency_ms=latency
            )
        if status == 407:  # the proxy answered a plain-HTTP request for the endpoint
            return ApiError(status, "proxy_auth", PROXY_AUTH, request_id=request_id, latency_ms=latency)
        code, msg = parse_error_body(status, self._redacted(text, json_body))  # before the text is shortened
        retry_after = parse_retry_after(head.get("Retry-After"))
        return ApiError(status, code, msg, request_id=request_id, latency_ms=latency, retry_after=retry_after)

    def _json(
        self, status: int, head: Mapping[str, str], text: str, json_body: Any, request_id: str, latency: float
    ) -> Any:
        """A 2xx body as JSON (or None when empty, OMS's other answer).

        Anything else is an HTML or text page with a 2xx: a proxy, a captive portal or a gateway speaking, and the
        call may never have reached OMS. Not a success.
        """
        content_type = head.get("Content-Type", "")
        if "html" in content_type.lower():
            raise _not_json(status, "an HTML page", self._redacted(text, json_body), request_id, latency)
        try:
            return json.loads(text) if text.strip() else None
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the stack allows
            raise _not_json(
                status,
                f"a body that is not JSON ({short_text(content_type, 40) or 'no type'})",
                self._redacted(text, json_body),
                request_id,
                latency,
            ) from None

    @staticmethod
    def _expect_object(resp: Response) -> dict[str, Any]:
        if not isinstance(resp.body, dict):
            raise ApiError(
                resp.status,
                "invalid_response",
                "expected a JSON object from the service",
                request_id=resp.request_id,
                latency_ms=resp.latency_ms,
            )
        return resp.body

    # -- listing tasks, and the paging every list shares --------------------------------------------

    async def list_tasks(
        self,
        project_id: str,
        *,
        status: int | None = None,
        group_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        region: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every task (of *status*, of the group *group_id*, each if given), page by page through
        ``GET /v2/{project_id}/tasks``."""
        filters = {"status": status, "group_id": group_id}
        async for task in self.list_pages(project_id, "tasks", filters, page_size=page_size, region=region):
            yield task

    async def list_pages(
        self,
        project_id: str,
        collection: str,
        filters: Mapping[str, object],
        *,
        page_size: int = MAX_PAGE_SIZE,
        region: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every entry of ``GET /v2/{project_id}/{collection}`` (``taskgroups``, ``tasks``: the answer's list has
        the same name), ``limit`` *page_size* and ``offset`` from 0 until a short page; *filters* go into the
        query, those that are None left out."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        wanted = [(name, str(value)) for name, value in filters.items() if value is not None]
        offset = 0
        while True:
            query = [("limit", str(page_size)), ("offset", str(offset)), *wanted]
            resp = await self.request("GET", project_id, (collection,), query=query, region=region)
            page = self._expect_object(resp).get(collection) or []
            if not isinstance(page, list):
                raise ApiError(
                    resp.status, "invalid_response", f"{collection!r} is not a list", request_id=resp.request_id
                )
            for entry in page:
                yield entry
            offset += len(page)
            if len(page) < page_size:
                return


#: getaddrinfo's answers that a name does not resolve (the resolver said so): asking again cannot help.
#: ``EAI_AGAIN`` ("temporary failure", no resolver answered) is not among them: it may heal.
_NO_SUCH_NAME = frozenset(
    getattr(socket, name) for name in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY") if hasattr(socket, name)
)


def connect_failure(exc: aiohttp.ClientConnectorError, latency_ms: float | None = None) -> TransportError:
    """A connection that could not be made, named: ``tls_certificate`` (an untrusted certificate), ``tls``
    (another TLS handshake failure), ``dns`` (a name that does not resolve; kind ``dns_temporary`` when no
    resolver answered) or ``connection`` (a refused or unreachable port). Whether each is retried is
    :mod:`bulkretry.run.policy`'s word."""
    where = f"{exc.host}:{exc.port}"
    cause = exc.os_error if not isinstance(exc, aiohttp.ClientConnectorCertificateError) else exc.certificate_error
    if isinstance(exc, aiohttp.ClientConnectorCertificateError) or isinstance(cause, ssl.SSLCertVerificationError):
        why = getattr(cause, "verify_message", "") or getattr(cause, "reason", "") or str(cause)
        message = (
            f"certificate verify failed for {where}: {why}; the endpoint's certificate is not trusted here (check "
            "--endpoint, or trust the CA that signs it with --ca-bundle FILE, REQUESTS_CA_BUNDLE or SSL_CERT_FILE)"
        )
        return TransportError("tls_certificate", short_text(message), latency_ms=latency_ms)
    if isinstance(exc, aiohttp.ClientSSLError):  # a handshake that failed for another reason: no TLS there at all
        message = f"{_tls_problem(exc)} ({where}); check --endpoint and any proxy"
        return TransportError("tls", short_text(message), latency_ms=latency_ms)
    if isinstance(cause, socket.gaierror):
        why = cause.strerror or cause
        if cause.errno in _NO_SUCH_NAME:
            return TransportError(
                "dns", short_text(f"the name {exc.host} does not resolve ({why})"), latency_ms=latency_ms
            )
        message = f"the name {exc.host} could not be resolved now ({why})"
        return TransportError("dns", short_text(message), kind="dns_temporary", latency_ms=latency_ms)
    return TransportError("connection", connection_message(exc), latency_ms=latency_ms)


def connection_message(exc: BaseException) -> str:
    """A dropped or refused connection in our words (a table message); aiohttp's own text kept as the detail."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return SERVER_DISCONNECTED
    return short_text(say(CONNECTION_FAILED, detail=f"{type(exc).__name__}: {exc}"))


#: What sending a request and reading its answer can raise, each named by :func:`transport_failure`.
SEND_FAILURES = (TimeoutError, asyncio.TimeoutError, aiohttp.ClientError, ValueError)


def transport_failure(exc: BaseException, timeout_s: float | None, latency_ms: float) -> TransportError:
    """What went wrong when no usable answer came (one of :data:`SEND_FAILURES`), named."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):  # one class from Python 3.11 on
        return TransportError("timeout", say(NO_ANSWER, seconds=f"{timeout_s:g}"), latency_ms=latency_ms)
    if isinstance(exc, aiohttp.ClientConnectorError):  # no connection: refused, no route, DNS, TLS handshake
        return connect_failure(exc, latency_ms)
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
        return TransportError("connection", connection_message(exc), latency_ms=latency_ms)
    if isinstance(exc, aiohttp.InvalidURL):  # (a ValueError too) a URL aiohttp cannot send: it never will
        return TransportError("invalid_request", short_text(f"not sent: invalid URL {exc}"), latency_ms=latency_ms)
    if isinstance(exc, aiohttp.ClientHttpProxyError):  # the proxy refused the tunnel (CONNECT) to the endpoint
        if exc.status == 407:
            return TransportError("proxy_auth", PROXY_AUTH, latency_ms=latency_ms)
        message = short_text(f"the proxy refused the tunnel to the endpoint: HTTP {exc.status} {exc.message}")
        return TransportError("connection", message, latency_ms=latency_ms)
    if isinstance(exc, aiohttp.ClientResponseError):  # an answer that is not HTTP (aiohttp calls it a 400)
        message = short_text(f"the answer is not valid HTTP: {exc.message}")
        return TransportError("connection", message, latency_ms=latency_ms)
    if isinstance(exc, aiohttp.ClientError):
        return TransportError("connection", connection_message(exc), latency_ms=latency_ms)
    # a header or URL that cannot be sent (e.g. a control character)
    return TransportError("invalid_request", short_text(str(exc)), latency_ms=latency_ms)


def _path_template(parts: tuple[str, ...]) -> tuple[str, str | None]:
    """An action's path as its encoded text before and after its ``{id}`` (after: None when it has none)."""
    if "{id}" not in parts:
        return "/".join([_SEGMENTS.get(part) or encode_segment(part) for part in parts]), None
    at = parts.index("{id}")
    head = "".join(f"{_SEGMENTS.get(part) or encode_segment(part)}/" for part in parts[:at])
    tail = "".join(f"/{_SEGMENTS.get(part) or encode_segment(part)}" for part in parts[at + 1 :])
    return head, tail


def _json_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """*body* as a plain dict (a ``CallBody`` or a dict: copied at C speed)."""
    copy = getattr(body, "copy", None)
    return copy() if copy is not None else dict(body)


def _not_json(status: int, what: str, text: str, request_id: str, latency: float) -> ApiError:
    """A 2xx that is not the API's answer: ``invalid_response`` (not retryable), saying who likely answered."""
    start = short_text(text, 60)
    message = (
        f"HTTP {status} with {what}: a proxy or captive page likely answered, not OMS; the call may not "
        "have reached it. Check --endpoint and any proxy" + (f" (page: {start})" if start else "")
    )
    return ApiError(status, "invalid_response", short_text(message), request_id=request_id, latency_ms=latency)


def _tls_problem(exc: aiohttp.ClientSSLError) -> str:
    """What went wrong in a TLS handshake, in a few words (the certificate's verify message when there is one)."""
    certificate = getattr(exc, "certificate_error", None)
    what = getattr(certificate, "verify_message", "") or getattr(certificate, "reason", "") or str(exc)
    return f"TLS: {what}"


def _ms(seconds: float) -> float:
    """A latency as the reports show it: milliseconds, one decimal (``round(ms, 1)`` at a third of the cost:
    rounding to a whole number needs no decimal conversion)."""
    return round(seconds * 10000.0) / 10


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
