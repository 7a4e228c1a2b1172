"""The encoders made once write what JSONEncoder writes, with its errors."""

from __future__ import annotations

import json
import math

import pytest

from bulkretry.jsontext import encoder

VALUES = [
    {"a": [1, 2.5, -0.0, 1e300], "中文": 'q"\\\n\u2028😀', "b": None, "c": True},
    [["k", "v"], ("t", 1)],
    "x",
    3,
    0.1,
]


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_text_is_what_json_dumps_writes(separators: tuple[str, str]) -> None:
    """With either separators, the encoder writes exactly what json.dumps writes."""
    encode = encoder(separators=separators)
    for value in VALUES:
        assert encode(value) == json.dumps(value, ensure_ascii=False, separators=separators)


def test_errors_are_json_dumps_errors() -> None:
    """Unserialisable values, and NaN under allow_nan=False, raise as in json.dumps; infinity is written as it does."""
    with pytest.raises(TypeError, match="not JSON serializable"):
        encoder(separators=(",", ":"))({"a": object()})
    with pytest.raises(ValueError):
        encoder(separators=(",", ":"), allow_nan=False)([math.nan])
    assert encoder(separators=(",", ":"))([math.inf]) == json.dumps([math.inf], separators=(",", ":"))
