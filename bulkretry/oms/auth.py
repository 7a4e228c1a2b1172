"""Authenticators: turn a request about to be sent into one the service accepts.

Four schemes, one small protocol: AK/SK signing (as the SDK signs), a given token, an IAM
password token fetched per project, cached, refreshed before it expires and once after a 401, and the ECS
agency's temporary keys, signed as AK/SK with their security token and refreshed before they expire.
A project's login is made one at a time, and a failed one is remembered for the authenticator's life:
the rows waiting for it, and every later row of that project, get the same error without asking IAM again
(a wrong password is tried once, not once per row, before IAM locks the account).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

import aiohttp

from bulkretry.errors import BulkRetryError, LoginRefused, LoginUnavailable
from bulkretry.i18n.messages import SOURCE_AGENCY
from bulkretry.masking import mask, redact_credentials
from bulkretry.oms import signer
from bulkretry.oms.credentials import AkSk, Credentials, EcsAgency, IamPassword, Token
from bulkretry.oms.errorbody import MAX_BODY_BYTES, parse_error_body, read_capped, short_text
from bulkretry.oms.metadata import METADATA_ORIGIN, MetadataError, TemporaryKey, fetch_key, fetch_key_now, refresh_at
from bulkretry.oms.network import Network

__all__ = [
    "AgencyAuth",
    "AkSkAuth",
    "Authenticator",
    "IamPasswordAuth",
    "OutgoingRequest",
    "TokenAuth",
    "authenticator_for",
]

log = logging.getLogger(__name__)

_CHECK_IAM = "; check the IAM endpoint (--iam-endpoint or OMS_IAM_ENDPOINT) and the network"

#: Refresh an IAM token this long before the service says it expires.
TOKEN_REFRESH_MARGIN_S = 15 * 60


@dataclass
class OutgoingRequest:
    """A request ready to be authorised: the path is already percent-encoded, the body already bytes."""

    method: str
    host: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    project_id: str = field(default="")


class Authenticator(Protocol):
    name: str
    #: Where the credentials came from, for the run's summary (never a secret).
    source: str

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        """Return the headers to send for *request*."""
        ...

    def fixed_headers(self, headers: dict[str, str]) -> dict[str, str] | None:
        """The headers to send for every request whose own headers are *headers*, when they never change (a
        given token): the client then makes them once and awaits no :meth:`authorize`. None: ask per request."""
        ...

    def invalidate(self, project_id: str) -> bool:
        """Forget cached credentials after a 401; True when fetching new ones may help."""
        ...

    def secrets(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(secrets, access keys)`` this authenticator holds or sends, for redacting what the service quotes
        back (:func:`bulkretry.masking.redact_credentials`): asked for on the failure path only."""
        ...


class AkSkAuth:
    """``SDK-HMAC-SHA256`` signing with ``X-Project-Id`` and, for temporary keys, ``X-Security-Token``."""

    name = "aksk"

    def __init__(self, credentials: AkSk, *, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._credentials = credentials
        self._now = now
        self.source = credentials.source

    def __repr__(self) -> str:
        return f"AkSkAuth(ak={mask(self._credentials.ak)!r})"

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        c = self._credentials
        return _signed(request, c.ak, c.sk, c.security_token, self._now())

    def fixed_headers(self, headers: dict[str, str]) -> dict[str, str] | None:
        return None  # signed anew for every request (its date and body)

    def invalidate(self, project_id: str) -> bool:
        return False

    def secrets(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        c = self._credentials
        return (c.sk, c.security_token or ""), (c.ak,)


def _signed(request: OutgoingRequest, ak: str, sk: str, security_token: str | None, now: datetime) -> dict[str, str]:
    """*request*'s headers signed with *ak*/*sk*, with ``X-Project-Id`` and (temporary keys) ``X-Security-Token``
    added first, so that both are signed, as the SDK does."""
    headers = dict(request.headers)
    if request.project_id:
        headers["X-Project-Id"] = request.project_id
    if security_token:
        headers["X-Security-Token"] = security_token
    signing = signer.SigningRequest(request.method, request.host, request.path, request.query, headers, request.body)
    return signer.sign(signing, ak=ak, sk=sk, now=now)


class TokenAuth:
    """A token given by the user, sent as ``X-Auth-Token`` unchanged."""

    name = "token"

    def __init__(self, credentials: Token) -> None:
        self._token = credentials.token
        self.source = credentials.source

    def __repr__(self) -> str:
        return "TokenAuth(<token>)"

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        return {**request.headers, "X-Auth-Token": self._token}

    def fixed_headers(self, headers: dict[str, str]) -> dict[str, str] | None:
        if type(self).authorize is not TokenAuth.authorize:  # a subclass that authorizes its own way: per request
            return None
        return {**headers, "X-Auth-Token": self._token}

    def invalidate(self, project_id: str) -> bool:
        return False

    def secrets(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (self._token,), ()


@dataclass
class _CachedToken:
    value: str = field(repr=False)
    refresh_at: float


@dataclass(frozen=True)
class _LoginAnswer:
    """What IAM answered a login: its status, its body as text (the password taken out of an error's; ``""`` when
    the body was too long), its ``X-Subject-Token`` and its ``X-Request-Id`` (redacted, shortened)."""

    status: int
    text: str = field(repr=False)
    token: str = field(repr=False)
    request_id: str
    #: The body was over :data:`MAX_BODY_BYTES`.
    too_long: bool


class IamPasswordAuth:
    """IAM password token per project, from ``POST {iam}/v3/auth/tokens`` (``X-Subject-Token``)."""

    name = "password"

    def __init__(
        self,
        credentials: IamPassword,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        network: Network | None = None,
    ) -> None:
        self._credentials = credentials
        self.source = credentials.source
        self._clock = clock
        self._timeout = timeout
        # aiohttp's ssl= and proxy options for IAM: the run's network (oms/network.py: its proxy, its trust, and
        # --insecure as Network(verify=False)), else no proxy and the system's store, as the client's.
        self._url = f"{credentials.iam_endpoint}/v3/auth/tokens"
        self._options = (network or Network()).aiohttp_options(self._url)
        self._tokens: dict[str, _CachedToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: A project's failed login, made again for every row that asks for a token (no second login).
        self._failures: dict[str, Callable[[], BulkRetryError]] = {}
        #: How many tokens were fetched (for tests and the run summary).
        self.fetches = 0

    def __repr__(self) -> str:
        return f"IamPasswordAuth(user={self._credentials.user!r}, projects={sorted(self._tokens)!r})"

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        token = await self._token_for(request.project_id, session)
        return {**request.headers, "X-Auth-Token": token}

    def fixed_headers(self, headers: dict[str, str]) -> dict[str, str] | None:
        return None  # the project's token, fetched and refreshed: asked for every request

    def invalidate(self, project_id: str) -> bool:
        return self._tokens.pop(project_id, None) is not None

    def secrets(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (self._credentials.password, *(cached.value for cached in self._tokens.values())), ()

    async def _token_for(self, project_id: str, session: aiohttp.ClientSession) -> str:
        cached = self._tokens.get(project_id)
        if cached and self._clock() < cached.refresh_at:
            return cached.value
        lock = self._locks.setdefault(project_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(project_id)
            if cached and self._clock() < cached.refresh_at:
                return cached.value
            failed = self._failures.get(project_id)
            if failed is not None:
                raise failed()
            try:
                cached = await self._fetch(project_id, session)
            except (LoginRefused, LoginUnavailable) as exc:
                self._failures[project_id] = _again(exc)
                raise
            self._tokens[project_id] = cached
            return cached.value

    async def _fetch(self, project_id: str, session: aiohttp.ClientSession) -> _CachedToken:
        answer = await self._login(project_id, session)
        token = self._token_in(answer, project_id)
        self.fetches += 1
        return _CachedToken(token, self._refresh_at(answer.text))

    @property
    def _where(self) -> str:
        return f"IAM at {self._credentials.iam_endpoint}"

    def _login_body(self, project_id: str) -> str:
        """The login's JSON: the user's password, scoped to *project_id*."""
        c = self._credentials
        identity = {"name": c.user, "password": c.password, "domain": {"name": c.domain}}
        return json.dumps(
            {
                "auth": {
                    "identity": {"methods": ["password"], "password": {"user": identity}},
                    "scope": {"project": {"id": project_id}},
                }
            }
        )

    async def _login(self, project_id: str, session: aiohttp.ClientSession) -> _LoginAnswer:
        """IAM's answer to the login for *project_id*; :class:`LoginUnavailable` when none came."""
        password, body = (self._credentials.password,), self._login_body(project_id)
        try:
            async with session.post(
                self._url,
                data=body,
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
                **self._options,
            ) as resp:
                raw = await read_capped(resp.content, MAX_BODY_BYTES)  # decompressed, as IAM may gzip it
                text = raw.decode("utf-8", errors="replace") if len(raw) <= MAX_BODY_BYTES else ""
                if resp.status >= 300:  # IAM may quote the password: out before the text is shortened
                    text = redact_credentials(text, password)
                return _LoginAnswer(
                    status=resp.status,
                    text=text,
                    token=resp.headers.get("X-Subject-Token", ""),
                    request_id=short_text(redact_credentials(resp.headers.get("X-Request-Id", ""), password), 128),
                    too_long=len(raw) > MAX_BODY_BYTES,
                )
        except (TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11 on
            raise LoginUnavailable(
                "iam_timeout",
                f"{self._where} did not answer the login for project {project_id} within {self._timeout:g} s"
                f"{_CHECK_IAM}",
            ) from None
        except (aiohttp.ClientError, ValueError) as exc:
            why = short_text(str(exc) or type(exc).__name__)
            raise LoginUnavailable(
                "iam_connection",
                f"{self._where} could not be reached for the login of project {project_id}: {why}{_CHECK_IAM}",
            ) from None

    def _token_in(self, answer: _LoginAnswer, project_id: str) -> str:
        """The token *answer* gives; :class:`LoginRefused` when IAM refused the login, :class:`LoginUnavailable`
        when it gave no token for another reason."""
        where, status = self._where, answer.status
        if answer.too_long:  # a broken or hostile answer: never held whole in memory
            raise LoginUnavailable(
                "iam_invalid_response",
                f"{where} answered the login for project {project_id} with over {MAX_BODY_BYTES} bytes{_CHECK_IAM}",
            )
        if 400 <= status < 500 and status != 429:  # the login itself was refused: trying again cannot help
            raise self._refused(answer, project_id)
        if status >= 300 or not answer.token:
            code, msg = (
                parse_error_body(status, answer.text) if status >= 300 else ("iam_no_token", "no X-Subject-Token")
            )
            raise LoginUnavailable(
                "iam_no_token",
                f"{where} gave no token for project {project_id}: {_answer(status, code, msg)}{_CHECK_IAM}",
            )
        return answer.token

    def _refused(self, answer: _LoginAnswer, project_id: str) -> LoginRefused:
        """The run-stopping error for a login IAM refused (4xx but 429), with what to check."""
        c, request_id = self._credentials, answer.request_id
        code, msg = parse_error_body(answer.status, answer.text)
        return LoginRefused(
            f"{self._where} refused the login of user {c.user!r} (domain {c.domain!r}) for project {project_id}: "
            f"{_answer(answer.status, code, msg)}"
            + (f" (X-Request-Id {request_id})" if request_id else "")
            + ". Check the user, password and domain (OMS_IAM_USER or --iam-user, OMS_IAM_PASSWORD, "
            "OMS_IAM_DOMAIN or --iam-domain) and the project id; the run stopped at this first refusal, as "
            "IAM locks an account after a few failed logins",
            status=answer.status,
            error_code=code,
            project_id=project_id,
            request_id=request_id,
        )

    def _refresh_at(self, text: str) -> float:
        now = self._clock()
        try:
            expires = json.loads(text)["token"]["expires_at"]
            expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError):
            expires_at = now + 3600.0  # no usable expiry: assume an hour, a 401 refreshes it anyway
        margin = min(TOKEN_REFRESH_MARGIN_S, max(0.0, expires_at - now) / 2)
        return expires_at - margin


class AgencyAuth:
    """The ECS agency's temporary keys, signed as AK/SK with ``X-Security-Token``.

    The keys are refreshed from the metadata service when less than a fifth of their lifetime (at most 10
    minutes) is left: one refresh at a time, which every call in flight waits for. A failed refresh is tried
    again after :attr:`RETRY_S`; meanwhile the old keys serve while they are valid, and once they have expired
    every call gets a :class:`LoginUnavailable` (the run halts; ``--resume`` continues), never a wait.
    """

    name = "aksk"
    #: After a failed refresh, the next one is tried this much later.
    RETRY_S = 30.0
    #: A 401 fetches new keys only when the keys in use are at least this old (else it is not about them).
    REFETCH_AFTER_S = 60.0

    def __init__(
        self,
        key: TemporaryKey,
        *,
        source: str = SOURCE_AGENCY,
        fetch: Callable[[], Awaitable[TemporaryKey]] | None = None,
        clock: Callable[[], float] = time.time,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.source = source
        self._clock = clock
        self._now = now
        self._fetch = fetch if fetch is not None else (lambda: fetch_key(METADATA_ORIGIN, clock=clock))
        self._lock: asyncio.Lock | None = None  # made in the run's event loop
        self._key = key
        self._refresh_at = refresh_at(key)
        self._retry_at = 0.0
        self._failure = ""
        #: Every key used, for redaction (a late error may quote an earlier one).
        self._keys: list[TemporaryKey] = [key]
        #: How many refreshes were made (the first fetch not counted).
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"AgencyAuth(source={self.source!r}, refreshes={self.refreshes})"

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        key = self._key if self._clock() < self._refresh_at else await self._refreshed()
        return _signed(request, key.ak, key.sk, key.security_token, self._now())

    async def _refreshed(self) -> TemporaryKey:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = self._clock()
            if now < self._refresh_at:  # refreshed while this call waited
                return self._key
            if now >= self._retry_at:
                try:
                    key = await self._fetch()
                except MetadataError as exc:
                    self._retry_at = self._clock() + self.RETRY_S
                    self._failure = str(exc)
                    log.warning(
                        "the ECS agency's keys could not be refreshed: %s",
                        exc,
                        extra={"event": "metadata_refresh_failed", "fields": {"error": str(exc)}},
                    )
                else:
                    self._key, self._refresh_at, self._retry_at = key, refresh_at(key), 0.0
                    self._keys = [*self._keys[-3:], key]
                    self.refreshes += 1
                    log.info(
                        "the ECS agency's keys were refreshed",
                        extra={"event": "metadata_refresh", "fields": {"expires_at": key.expires_at}},
                    )
                    return key
            if self._clock() < self._key.expires_at:  # still valid: used until a refresh succeeds
                return self._key
            raise LoginUnavailable(
                "metadata_unavailable",
                f"the ECS agency's keys expired and new ones could not be "
                f"had: {self._failure}; check the ECS's agency, then continue with --resume",
            )

    def fixed_headers(self, headers: dict[str, str]) -> dict[str, str] | None:
        return None  # the agency's keys refresh: signed anew for every request

    def invalidate(self, project_id: str) -> bool:
        if self._clock() - self._key.fetched_at < self.REFETCH_AFTER_S:
            return False
        self._refresh_at = 0.0  # the next call refreshes (once: the new keys are fresh)
        return True

    def secrets(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (tuple(s for k in self._keys for s in (k.sk, k.security_token)), tuple(k.ak for k in self._keys))


def _answer(status: int, code: str, msg: str) -> str:
    """``HTTP 401 IAM.0001: message`` (the code left out when it only repeats the status)."""
    return f"HTTP {status}" + (f" {code}" if code != str(status) else "") + f": {msg.rstrip('.')}"


def _again(error: LoginRefused | LoginUnavailable) -> Callable[[], BulkRetryError]:
    """The same failure as a new exception each time (one instance raised from many tasks would share a
    traceback)."""
    if isinstance(error, LoginRefused):
        return lambda: LoginRefused(
            str(error),
            status=error.status,
            error_code=error.error_code,
            project_id=error.project_id,
            request_id=error.request_id,
        )
    return lambda: LoginUnavailable(error.code, error.message)


def authenticator_for(
    credentials: Credentials, *, timeout: float = 30.0, network: Network | None = None
) -> Authenticator:
    """The authenticator that uses *credentials* (IAM logins go through *network*'s proxy and trust). For the ECS
    agency this asks the metadata service for the first keys now (a few seconds at most), so that a run off ECS, or
    on one without an agency, stops here with a :class:`~bulkretry.errors.CredentialsError` (exit 2), before
    anything is called."""
    if isinstance(credentials, AkSk):
        return AkSkAuth(credentials)
    if isinstance(credentials, Token):
        return TokenAuth(credentials)
    if isinstance(credentials, EcsAgency):
        try:
            key = fetch_key_now()
        except MetadataError as exc:
            first = (
                "no credentials are configured (options, environment, the SDK's credentials file, a KooCLI "
                "profile), and "
                if credentials.source == EcsAgency().source
                else f"{credentials.source}: "
            )
            raise MetadataError(
                f"{first}{exc}. On an ECS, attach an agency to it; elsewhere set HUAWEICLOUD_SDK_AK "
                "and HUAWEICLOUD_SDK_SK, write ~/.huaweicloud/credentials, or name a KooCLI profile "
                "with --profile (BULKRETRY_NO_METADATA=1 leaves the metadata service out)"
            ) from None
        return AgencyAuth(key, source=credentials.source)
    return IamPasswordAuth(credentials, timeout=timeout, network=network)
