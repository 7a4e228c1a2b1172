"""The simulator's gateway checks: an ``X-Auth-Token``, or an ``SDK-HMAC-SHA256`` signature, by the configured
keys or by temporary keys the state issued (which need their ``X-Security-Token``, signed and unexpired).

The signature is recomputed with :mod:`bulkretry.oms.signer`, the same code the client signs with, which
``tests/test_signer.py`` holds byte-identical to the official SDK. Reasons given back never echo a
token, a secret key or a signature.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime, timezone

from bulkretry.oms.signer import (
    DATE_FORMAT,
    HEADER_DATE,
    canonical_request,
    get_ignore_case,
    parse_authorization,
    signature,
    string_to_sign,
)
from bulkretry.sim.config import SimConfig
from bulkretry.sim.state import SimState
from bulkretry.sim.traffic import ReceivedRequest

__all__ = ["auth_problem"]


def _temporary_key_problem(
    state: SimState, ak: str, headers: Mapping[str, str], signed_headers: tuple[str, ...] | list[str]
) -> tuple[str | None, str | None]:
    """``(secret key, None)`` for the temporary key *ak* presented with its security token; ``(None, why)`` when
    the token is missing, wrong, unsigned or expired; ``(None, None)`` when *ak* is no temporary key."""
    key = state.temporary_key(ak)
    if key is None:
        return None, None
    token = get_ignore_case(headers, "X-Security-Token")
    if token is None:
        return None, "a temporary access key needs its X-Security-Token"
    if not hmac.compare_digest(token.encode(), key.security_token.encode()):
        return None, "the security token does not belong to the access key"
    if "x-security-token" not in signed_headers:
        return None, "X-Security-Token is not among the signed headers"
    if state.clock() >= key.expires_at:
        return None, "the temporary access key has expired"
    return key.sk, None


def _date_problem(sdk_date: str, now: datetime, max_skew_s: float) -> str | None:
    """Why the ``X-Sdk-Date`` value is malformed or too far from *now*; None when it is good."""
    try:
        signed_at = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return f"the {HEADER_DATE} header is not a date in the form YYYYMMDDTHHMMSSZ"
    if abs((now - signed_at).total_seconds()) > max_skew_s:
        return f"the request date ({HEADER_DATE}) is more than {max_skew_s:g} s away from the server time"
    return None


def _signature_problem(config: SimConfig, state: SimState, request: ReceivedRequest, now: datetime) -> str | None:
    headers = request.headers
    parsed = parse_authorization(get_ignore_case(headers, "Authorization"))
    if parsed is None:
        return "the Authorization header is not an SDK-HMAC-SHA256 signature with Access, SignedHeaders and a signature"
    sk, problem = _temporary_key_problem(state, parsed.ak, headers, parsed.signed_headers)
    if problem is not None:
        return problem
    if sk is None:
        if not hmac.compare_digest(parsed.ak.encode(), config.ak.encode()):
            return "the access key is unknown"
        sk = config.sk
    sdk_date = get_ignore_case(headers, HEADER_DATE)
    if sdk_date is None:
        return f"the {HEADER_DATE} header is missing"
    problem = _date_problem(sdk_date, now, config.max_date_skew_s)
    if problem is not None:
        return problem
    by_name = {key.lower() for key in headers}
    missing = [name for name in parsed.signed_headers if name not in by_name]
    if missing:
        return f"signed header(s) not in the request: {', '.join(missing)}"
    canonical = canonical_request(
        request.method, request.raw_path, request.query, headers, parsed.signed_headers, request.body
    )
    expected = signature(sk, string_to_sign(canonical, sdk_date))
    if not hmac.compare_digest(expected.encode(), parsed.signature.encode()):
        return "the signature does not match (check the secret key and what is signed)"
    return None


def auth_problem(
    config: SimConfig, state: SimState, request: ReceivedRequest, project_id: str, now: datetime | None = None
) -> str | None:
    """None if *request* is authenticated for *project_id*; otherwise the reason, safe to send back.

    The signature is checked over the request as received (its raw path and query); *now* is the real UTC
    time (injectable for tests) against which ``X-Sdk-Date`` is checked.
    """
    headers = request.headers
    token = get_ignore_case(headers, "X-Auth-Token")
    if token is not None:
        if config.token is not None and hmac.compare_digest(token.encode(), config.token.encode()):
            problem = None
        else:
            problem = state.token_problem(token, project_id)
    elif get_ignore_case(headers, "Authorization") is not None:
        problem = _signature_problem(config, state, request, now or datetime.now(timezone.utc))
    else:
        return "no X-Auth-Token and no Authorization header"
    if problem is None:
        header_project = get_ignore_case(headers, "X-Project-Id")
        if header_project is not None and header_project != project_id:
            return "X-Project-Id does not match the project in the path"
    return problem
