"""JSON text for the per-row paths (request bodies, the journal's extra columns, report.json rows).

``json.dumps`` and ``JSONEncoder.encode`` build their C encoder anew on every call; :func:`encoder` builds it
once and gives back the function that uses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

__all__ = ["encoder"]


def encoder(*, separators: tuple[str, str], allow_nan: bool = True) -> Callable[[Any], str]:
    """``JSONEncoder(ensure_ascii=False, separators=separators, allow_nan=allow_nan).encode``, made once.

    Same text, same errors: a value of a type JSON has not is a ``TypeError``; NaN or an infinity is a
    ``ValueError`` unless *allow_nan*. The C encoder is used where Python has it.

    >>> encoder(separators=(",", ":"))({"a": [1, "中"], "b": None})
    '{"a":[1,"中"],"b":null}'
    """
    python = json.JSONEncoder(ensure_ascii=False, separators=separators, allow_nan=allow_nan)
    if c_make_encoder is None:
        return python.encode
    item_separator, key_separator = separators
    chunks = c_make_encoder(
        None, python.default, encode_basestring, None, key_separator, item_separator, False, False, allow_nan
    )

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode
