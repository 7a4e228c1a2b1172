"""Secrets, in one place: which manifest columns are secret or masked, how an access key is shown, and
how a row's secrets are taken out of a text the service sent back.

The rule this serves: a secret (SK, token, key file, connection string) lives only in memory and in the
request body that needs it, never in a report, log, journal, exception text or ``repr``. The planner,
the engine, the annotated copy of the manifest and the credential records all mask through here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from bulkretry.columns import MANIFEST

__all__ = [
    "CSMS_PREFIX",
    "CSMS_PREFIXES",
    "ENV_PREFIX",
    "ENV_PREFIXES",
    "MASKED",
    "MASKED_COLUMNS",
    "PLAIN_ID_CHARS",
    "PLAIN_ID_MAX",
    "REDACTED",
    "SECRET_COLUMNS",
    "hides_in_plain_id",
    "is_csms_reference",
    "is_env_reference",
    "is_reference",
    "looks_secret",
    "mask",
    "masked_text",
    "redact",
    "redact_credentials",
    "redact_url",
    "shown_url",
]

#: Columns never written to a report, log or journal (the registry's ``secret`` columns).
SECRET_COLUMNS = frozenset(column.name for column in MANIFEST if column.secret)
#: Access-key columns: shown masked (``AKIA…7Q2M``; the registry's ``masked`` columns).
MASKED_COLUMNS = frozenset(column.name for column in MANIFEST if column.masked)
#: What a secret cell shows in the annotated copy of the manifest.
MASKED = "***"
#: What a secret quoted by the service becomes in a report.
REDACTED = "[redacted]"
#: A request id made only of these (hex digits and dashes, what OMS and the simulator send) and at most
#: ``PLAIN_ID_MAX`` long cannot hold a secret that has any other character: it is kept without a look.
PLAIN_ID_CHARS = "0123456789abcdefABCDEF-"
PLAIN_ID_MAX = 64
#: Shorter values are not looked for in server text (they would match by chance, and are no real secret).
_MIN_SECRET = 4
#: A cell that starts with this (in any case: ``env:``, ``ENV:``, ``Env:``) names an environment variable: no secret.
ENV_PREFIX = "env:"
#: The prefix in every case (``env:``, ``ENV:``, ``Env:``, ...): ``cell[:4] in ENV_PREFIXES`` is one set lookup, a
#: third of ``cell[:4].lower() == ENV_PREFIX`` (it runs for every credential cell of every row).
ENV_PREFIXES = frozenset(e + n + v + ":" for e in "eE" for n in "nN" for v in "vV")
#: A ``csms:NAME[#KEY][@VERSION]`` cell names a secret in Huawei's secret manager (``oms/csms.py``): no secret.
CSMS_PREFIX = "csms:"
#: The prefix in every case, as :data:`ENV_PREFIXES` (``cell[:5] in CSMS_PREFIXES``).
CSMS_PREFIXES = frozenset(c + s + m + t + ":" for c in "cC" for s in "sS" for m in "mM" for t in "sS")
#: Parts of a setting's name that say it may hold a secret (or a key): such a setting is never shown.
_SECRET_NAME_HINTS = ("secret", "password", "token", "credential", "_sk", "_ak", "auth_file", "connection_string")


def mask(value: str | None) -> str:
    """Show an access key as ``AKIA…7Q2M``: enough to tell keys apart, never enough to use one."""
    if not value:
        return ""
    if len(value) <= 8:
        return "…" + value[-2:] if len(value) > 4 else "…"
    return f"{value[:4]}…{value[-4:]}"


def is_env_reference(text: str) -> bool:
    """Whether a cell is an ``env:NAME`` reference (the prefix in any case): a variable's name, not a secret."""
    return text[:4] in ENV_PREFIXES


def is_csms_reference(text: str) -> bool:
    """Whether a cell is a ``csms:`` reference (the prefix in any case): a secret's name, not a secret."""
    return text[:5] in CSMS_PREFIXES


def is_reference(text: str) -> bool:
    """Whether a cell names where its secret is (``env:`` or ``csms:``) rather than holding it."""
    # (the colon of either prefix first: one slice, where the usual cell, a key, has none there)
    return ":" in text[3:5] and (text[:4] in ENV_PREFIXES or text[:5] in CSMS_PREFIXES)


def masked_text(column: str, text: str) -> str:
    """A manifest cell as it may be shown: a secret as ``***``, an access key masked, an ``env:`` or ``csms:``
    reference (any case; no secret) and any other cell as they are."""
    if not text or is_reference(text):
        return text
    if column in SECRET_COLUMNS:
        return MASKED
    if column in MASKED_COLUMNS:
        return mask(text)
    return text


def looks_secret(name: object) -> bool:
    """Whether a setting named *name* may hold a secret or a key, by its name (``iam_password``, ``src_sk``):
    report.html leaves such a setting out of the run's parameters, whatever its value."""
    lowered = str(name).lower()
    return any(hint in lowered for hint in _SECRET_NAME_HINTS)


def redact(text: str, body: Mapping[str, Any]) -> str:
    """*text* from the service with this row's secrets taken out: a server that echoes the body back
    (``invalid src_sk 'abc…'``) must not put a secret key into the report. Access keys become masked."""
    if not text:
        return text
    for name, value in body.items():
        if not isinstance(value, str) or len(value) < 4:
            continue
        if name in SECRET_COLUMNS:
            parts = [value, *_json_strings(value)] if name == "json_auth_file" else [value]
            for part in parts:
                if part in text:
                    text = text.replace(part, REDACTED)
        elif name in MASKED_COLUMNS and value in text:
            text = text.replace(value, mask(value))
    return text


def _json_strings(text: str) -> list[str]:
    # A key file's private key may come back on its own: redact each long string value too.
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return [v for v in data.values() if isinstance(v, str) and len(v) >= 8] if isinstance(data, dict) else []


def redact_credentials(text: str, secrets: Iterable[str], keys: Iterable[str] = ()) -> str:
    """*text* from the service with the run's own credentials taken out: each of *secrets* (a token, secret
    key, security token, IAM password) becomes ``[redacted]``, each access key of *keys* is masked.

    For failure texts and odd request ids only (never on a call's success path): a server that quotes the
    token it was sent must not put it into a report. Longer secrets go first, so one holding another is
    replaced whole.
    """
    if not text:
        return text
    found = [s for s in secrets if s and len(s) >= _MIN_SECRET and s in text]
    for value in sorted(found, key=len, reverse=True) if len(found) > 1 else found:
        text = text.replace(value, REDACTED)
    for key in keys:
        if key and len(key) >= _MIN_SECRET and key in text:
            text = text.replace(key, mask(key))
    return text


def hides_in_plain_id(values: Iterable[str]) -> bool:
    """Whether one of *values* could stand inside a plain request id (hex digits and dashes only, short):
    then even plain ids must be looked at."""
    return any(_MIN_SECRET <= len(v) <= PLAIN_ID_MAX and not v.strip(PLAIN_ID_CHARS) for v in values if v)


def shown_url(url: str) -> str:
    """A notification URL as it may be shown: its scheme alone, ``dingtalk://***`` (webhook URLs hold their keys
    in every part: the host, the path, the user, the query)."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme.lower()}://***" if sep and scheme.isascii() and scheme.isalnum() else "***"


_URL_PARTS = re.compile(r"[/?&=:@#;,]")


def redact_url(text: str, url: str) -> str:
    """*text* (what a notification library said about sending to *url*) with every part of *url* after its
    scheme taken out: host, user, password, path segments, query names and values of 4 characters or more,
    as they are and percent-decoded. For warnings only."""
    if not text:
        return text
    rest = url.partition("://")[2] or url
    parts = {p for p in _URL_PARTS.split(rest) if len(p) >= 4}
    parts |= {unquote(p) for p in parts} | {quote(unquote(p), safe="") for p in parts}
    for part in sorted(parts, key=len, reverse=True):
        if part in text:
            text = text.replace(part, REDACTED)
    return text
