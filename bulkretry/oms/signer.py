"""AK/SK request signing (``SDK-HMAC-SHA256``), byte-identical to ``huaweicloudsdkcore``'s signer.

Every step mirrors ``huaweicloudsdkcore/signer/signer.py`` (3.1.x), quirks included, because the
gateway verifies what the SDK produces. The same functions serve the simulator's verification, so
client and server cannot drift apart. ``tests/test_signer.py`` compares the two on hundreds of
generated requests.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "DATE_FORMAT",
    "HEADER_DATE",
    "ParsedAuthorization",
    "SigningRequest",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "format_sdk_date",
    "get_ignore_case",
    "parse_authorization",
    "sign",
    "signature",
    "string_to_sign",
]

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
HEADER_DATE = "X-Sdk-Date"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

QueryParams = Iterable[tuple[str, object]]


def get_ignore_case(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header *name* in any letter case, as the SDK looks headers up; None if absent."""
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None


def _url_encode(value: str) -> str:
    return quote(value, safe="~")


def format_sdk_date(moment: datetime) -> str:
    """``X-Sdk-Date`` for *moment* (naive datetimes are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(DATE_FORMAT)


def canonical_uri(path: str) -> str:
    """The path, decoded, each segment re-encoded (RFC 3986, ``~`` kept), always ending in ``/``."""
    encoded = "/".join(_url_encode(part) for part in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(params: QueryParams | None) -> str:
    """Sorted ``k=v`` pairs, percent-encoded, joined by ``&`` (lists expand, booleans lower-case)."""
    pairs: list[str] = []
    for key, value in sorted(params or ()):
        k = _url_encode(key)
        if isinstance(value, list):
            pairs.extend(f"{k}={_url_encode(str(v))}" for v in sorted(value))
        elif isinstance(value, bool):
            pairs.append(f"{k}={_url_encode(str(value).lower())}")
        else:
            pairs.append(f"{k}={_url_encode(str(value))}")
    return "&".join(pairs)


def _signed_header_names(headers: Mapping[str, str]) -> list[str]:
    return sorted(key.lower() for key in headers if "_" not in key)


def _payload_hash(headers: Mapping[str, str], body: bytes | None) -> str:
    if not body:
        return EMPTY_SHA256
    declared = get_ignore_case(headers, HEADER_CONTENT_SHA256)
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    path: str,
    query: QueryParams | None,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes | None,
) -> str:
    """The canonical request string; *headers* must already hold ``Host`` and ``X-Sdk-Date``."""
    by_name = {key.lower(): str(value).strip() for key, value in headers.items()}
    canonical_headers = "".join(f"{name}:{by_name.get(name, '')}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            _payload_hash(headers, body),
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(sk: str, to_sign: str) -> str:
    return hmac.new(sk.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SigningRequest:
    """A request as it is signed: *path* as sent (already percent-encoded), *query* the parameters as
    ``(name, value)`` pairs, *body* as sent (text is signed as its UTF-8 bytes)."""

    method: str
    host: str
    path: str
    query: QueryParams | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str | None = None


def _headers_to_sign(request: SigningRequest, now: datetime | None) -> tuple[dict[str, str], str]:
    """``(headers, X-Sdk-Date)``: *request*'s headers with what the SDK adds before it signs (an unsigned
    payload declared for content that is not JSON or BSON, the date unless given, the host unless given)."""
    out = dict(request.headers)
    content_type = out.get("Content-Type")
    if content_type and not content_type.startswith(("application/json", "application/bson")):
        out[HEADER_CONTENT_SHA256] = "UNSIGNED-PAYLOAD"
    sdk_date = get_ignore_case(out, HEADER_DATE)
    if sdk_date is None:
        sdk_date = format_sdk_date(now or datetime.now(timezone.utc))
        out[HEADER_DATE] = sdk_date
    if get_ignore_case(out, "Host") is None:
        out["Host"] = request.host
    return out, sdk_date


def sign(request: SigningRequest, *, ak: str, sk: str, now: datetime | None = None) -> dict[str, str]:
    """Return the headers to send: *request*'s headers (values trimmed) plus date, host and ``Authorization``.
    A ``X-Sdk-Date`` already in the headers is kept, as the SDK does; else it is *now* (default: the clock)."""
    if not ak or not sk:
        raise ValueError("AK/SK signing needs both an access key and a secret key")
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    out, sdk_date = _headers_to_sign(request, now)
    signed = _signed_header_names(out)
    canonical = canonical_request(request.method, request.path, request.query, out, signed, body)
    sig = signature(sk, string_to_sign(canonical, sdk_date))
    out = {key: str(value).strip() for key, value in out.items()}
    out["Authorization"] = f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    return out


class ParsedAuthorization(NamedTuple):
    ak: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str | None) -> ParsedAuthorization | None:
    """Split an ``SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`` header; None if malformed."""
    if not value or not value.startswith(ALGORITHM + " "):
        return None
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields[name] = val
    try:
        return ParsedAuthorization(
            fields["Access"], [h for h in fields["SignedHeaders"].split(";") if h], fields["Signature"]
        )
    except KeyError:
        return None
