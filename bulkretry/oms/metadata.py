"""The ECS metadata service: an ECS's agency as temporary keys, asked as the SDK's ``MetadataAccessor`` asks.

``PUT /meta-data/latest/api/token`` with ``X-Metadata-Token-Ttl-Seconds`` gives a session token; ``GET
/openstack/latest/securitykey`` with ``X-Metadata-Token`` gives ``{"credential": {"access", "secret",
"securitytoken", "expires_at"}}``. As in the SDK, a service that has no token route (404, 405, 503) is asked
without one, and a 401 (the session token expired) gets a new token and one more try, unless it says the server
has no agency. Short timeouts, so that off ECS the chain ends in about two seconds, and never through a proxy:
the address is link-local, only the server itself can reach it (a proxy would ask its own metadata, if any).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import aiohttp

from bulkretry.errors import CredentialsError
from bulkretry.oms.errorbody import short_text

__all__ = [
    "METADATA_ORIGIN",
    "MetadataError",
    "TemporaryKey",
    "fetch_key",
    "fetch_key_now",
    "refresh_at",
    "session_token",
]

METADATA_ORIGIN = "http://169.254.169.254"
TOKEN_PATH = "/meta-data/latest/api/token"
SECURITY_KEY_PATH = "/openstack/latest/securitykey"
TOKEN_TTL_HEADER = "X-Metadata-Token-Ttl-Seconds"
TOKEN_HEADER = "X-Metadata-Token"
#: The session token's lifetime the SDK asks for (6 h).
TOKEN_TTL_S = 6 * 3600
#: What the service says when the ECS has no agency (the SDK's ``_CONFIG_AGENCY_ERROR``).
NO_AGENCY = "Please configure Cloud Service Agency first"
#: Connecting, and the whole exchange: the SDK waits 3 s for each; off ECS the connect is what counts.
CONNECT_TIMEOUT_S = 2.0
TOTAL_TIMEOUT_S = 5.0
#: Refresh when less than this share of the keys' lifetime, or this many seconds, is left (the smaller).
REFRESH_SHARE, REFRESH_MARGIN_S = 0.2, 600.0
#: How long a key that looks expired on arrival is used before the next refresh.
SKEWED_USE_S = 30.0
_MAX_ANSWER = 64 * 1024


class MetadataError(CredentialsError):
    """The metadata service gave no key: not reachable, no agency, or an answer that is no key."""


@dataclass(frozen=True)
class TemporaryKey:
    """Temporary AK/SK and security token, with their expiry and when they were fetched (epoch seconds)."""

    ak: str
    sk: str = field(repr=False)
    security_token: str = field(repr=False)
    expires_at: float
    fetched_at: float

    def __repr__(self) -> str:
        return f"TemporaryKey(ak=<{len(self.ak)} chars>, expires_at={self.expires_at!r})"


def refresh_at(key: TemporaryKey) -> float:
    """When *key* is refreshed: a fifth of its lifetime, or 10 minutes, before it expires (the smaller). A key
    that looks expired when it comes (this clock ahead of the service's) is used for :data:`SKEWED_USE_S` before
    the next refresh, not refreshed for every call (the service says when it no longer takes it: a 401)."""
    life = key.expires_at - key.fetched_at
    if life <= 0:
        return key.fetched_at + SKEWED_USE_S
    return key.expires_at - min(life * REFRESH_SHARE, REFRESH_MARGIN_S)


def _expiry(text: object) -> float | None:
    """``expires_at`` (``2026-12-02T03:04:05.000000Z``, the SDK's form, or any ISO 8601) as epoch seconds, UTC."""
    if not isinstance(text, str) or not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            when = datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def parse_key(text: str, fetched_at: float) -> TemporaryKey:
    """The key in a ``securitykey`` answer, read with the SDK's names (``credential``/``credentials``;
    ``access``/``accessKeyId``/``access_key_id``, and so on); MetadataError when one is missing."""
    try:
        data = json.loads(text)
    except ValueError:
        raise MetadataError("the ECS metadata service answered with no JSON") from None
    if isinstance(data, dict):
        data = data.get("credential") or data.get("credentials") or data
    if not isinstance(data, dict):
        raise MetadataError("the ECS metadata service answered with no credential object")

    def first(*names: str) -> str:
        value = next((data[n] for n in names if data.get(n)), "")
        return value if isinstance(value, str) else ""

    ak = first("access", "accessKeyId", "access_key_id")
    sk = first("secret", "secretAccessKey", "secret_access_key")
    token = first("securitytoken", "securityToken", "security_token")
    expires_at = _expiry(data.get("expires_at") or data.get("expiration"))
    missing = [n for n, v in (("access", ak), ("secret", sk), ("securitytoken", token)) if not v]
    if missing or expires_at is None:
        missing += [] if expires_at is not None else ["a readable expires_at"]
        raise MetadataError(f"the ECS metadata service answered without {', '.join(missing)}")
    if any(not v.isprintable() or v.strip() != v for v in (ak, sk, token)):
        raise MetadataError("the ECS metadata service answered with a key holding spaces or control characters")
    return TemporaryKey(ak, sk, token, expires_at, fetched_at)


def session_token(text: str, where: str) -> str:
    """The session token in a token answer, without the line end a service may add (``MDT…\\r\\n``);
    MetadataError for one that could not be sent back as a header (empty, spaces or control characters inside)."""
    token = text.strip()
    if not token or not token.isprintable() or " " in token:
        raise MetadataError(
            f"{where} answered with a session token that is no header value (empty, or holding "
            "spaces or control characters)"
        )
    return token


async def _ask(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with session.request(method, url, headers=headers, allow_redirects=False) as resp:
        raw = await resp.content.read(_MAX_ANSWER + 1)
        return resp.status, raw[:_MAX_ANSWER].decode("utf-8", errors="replace")


async def fetch_key(
    origin: str = METADATA_ORIGIN,
    *,
    clock: Callable[[], float] = time.time,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    total_timeout: float = TOTAL_TIMEOUT_S,
) -> TemporaryKey:
    """A fresh temporary key from the metadata service at *origin*; MetadataError saying why not.

    Its own connection, never through a proxy (``trust_env=False``) and never with the run's session."""
    timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
    where = f"the ECS metadata service ({origin})"
    try:
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:

            async def new_token() -> str | None:
                status, text = await _ask(session, "PUT", origin + TOKEN_PATH, {TOKEN_TTL_HEADER: str(TOKEN_TTL_S)})
                if status == 200:
                    return session_token(text, where)
                if status in (404, 405, 503):  # no token route: asked without one, as the SDK does
                    return None
                raise MetadataError(f"{where} refused a session token: HTTP {status} {short_text(text, 120)}")

            token = await new_token()
            url = origin + SECURITY_KEY_PATH
            status, text = await _ask(session, "GET", url, {TOKEN_HEADER: token} if token else {})
            if status == 401 and NO_AGENCY not in text:  # the session token expired: a new one, once
                token = await new_token()
                status, text = await _ask(session, "GET", url, {TOKEN_HEADER: token} if token else {})
    except (asyncio.TimeoutError, TimeoutError):
        raise MetadataError(f"{where} did not answer within {total_timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise MetadataError(
            f"{where} could not be reached: {short_text(str(exc) or type(exc).__name__, 160)}"
        ) from None
    if NO_AGENCY in text:
        raise MetadataError(
            f"{where} answered that this server has no agency: attach an agency to the ECS "
            f"(Cloud Service Agency), or give other credentials (HTTP {status})"
        )
    if status != 200:  # the body is not quoted: it may hold a key all the same
        raise MetadataError(f"{where} gave no key: HTTP {status}")
    return parse_key(text, clock())


def fetch_key_now(origin: str = METADATA_ORIGIN, **options: object) -> TemporaryKey:
    """:func:`fetch_key` from synchronous code (the CLI, before the run starts), in a thread of its own so that
    it works whether or not an event loop runs here."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(fetch_key(origin, **options))).result()  # type: ignore[arg-type]
