"""Reading what the service answered: bodies read with a cap, error bodies in every spelling the SDK accepts,
and short texts."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

__all__ = ["MAX_BODY_BYTES", "parse_error_body", "read_capped", "short_text"]

#: The largest response body read (decompressed); anything longer is a broken or hostile server.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: The longest error text kept from a body that is not JSON (a gateway page, say).
SHORT_TEXT_LIMIT = 300
#: The longest error code kept: real ones are short (``OMS.1009``, ``APIGW.0308``).
CODE_LIMIT = 64
#: How deep nested objects are searched for an error spelling.
MAX_SEARCH_DEPTH = 8

# Control characters that str.split() does not fold (NUL, ESC, DEL, C1) and bidi overrides: a broken or
# hostile server must not put terminal escapes, NULs or reversed text into a report or a summary line.
# Lone surrogates (JSON may spell "\ud800") cannot be written as UTF-8 at all: blanked too.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]+")

_SPELLINGS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


def short_text(text: str, limit: int = SHORT_TEXT_LIMIT) -> str:
    """*text* on one line: control characters blanked, whitespace folded, cut to *limit* characters."""
    folded = " ".join(_CONTROL.sub(" ", text).split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def _json_or_none(text: str) -> Any:
    """*text* parsed as JSON; None when it is empty or not JSON (nested too deep to parse included)."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested deeper than the stack allows
        return None


def _find(obj: dict[str, Any], depth: int = 0) -> tuple[Any, Any] | None:
    # The SDK's DefaultExceptionHandler: the first spelling whose two keys are both present wins;
    # otherwise each nested object is searched and the last match found wins (here to a bounded depth).
    for code_key, msg_key in _SPELLINGS:
        if code_key in obj and msg_key in obj:
            return obj[code_key], obj[msg_key]
    found = None
    if depth < MAX_SEARCH_DEPTH:
        for value in obj.values():
            if isinstance(value, dict):
                found = _find(value, depth + 1) or found
    return found


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):  # nested too deep to write back: keep it out of the report
        return ""


def parse_error_body(status: int, text: str) -> tuple[str, str]:
    """``(error_code, error_msg)`` from an error response, as the official SDK reads it.

    Falls back to the status as the code and the (shortened) body as the message. Both come back on
    one line without control characters, the code cut to ``CODE_LIMIT`` characters.
    """
    code = msg = ""
    data = _json_or_none(text)
    if isinstance(data, dict):
        found = _find(data)
        if found:
            code, msg = short_text(_as_text(found[0]), CODE_LIMIT), _as_text(found[1])
    return code or str(status), short_text(msg or text)


async def read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body (decompressed, as aiohttp hands it over), or its first ``limit + 1`` bytes when it is longer
    (the caller refuses those)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
