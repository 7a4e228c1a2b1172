"""Reading what the service answered: error bodies in every spelling the SDK accepts, and short texts."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_error_body", "short_text"]

#: The longest error text kept from a body that is not JSON (a gateway page, say).
SHORT_TEXT_LIMIT = 300

_SPELLINGS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


def short_text(text: str, limit: int = SHORT_TEXT_LIMIT) -> str:
    """*text* on one line, whitespace folded, cut to *limit* characters with an ellipsis."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def _find(obj: dict[str, Any]) -> tuple[Any, Any] | None:
    # The SDK's DefaultExceptionHandler: the first spelling whose two keys are both present wins;
    # otherwise each nested object is searched and the last match found wins.
    for code_key, msg_key in _SPELLINGS:
        if code_key in obj and msg_key in obj:
            return obj[code_key], obj[msg_key]
    found = None
    for value in obj.values():
        if isinstance(value, dict):
            found = _find(value) or found
    return found


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_error_body(status: int, text: str) -> tuple[str, str]:
    """``(error_code, error_msg)`` from an error response, as the official SDK reads it.

    Falls back to the status as the code and the (shortened) body as the message.
    """
    code = msg = ""
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        found = _find(data)
        if found:
            code, msg = _as_text(found[0]), _as_text(found[1])
    return code or str(status), short_text(msg or text)
