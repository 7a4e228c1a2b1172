"""``report.json`` (streamed) and ``summary.json``.

``report.json`` is one object, ``{"summary": {...}, "rows": [{...}, ...]}``: the summary first (it is known
before the first row), then one row object per line, keyed by the report's column names. Values keep
their types (numbers, ``null`` for none) and text is written as it is: JSON is not a spreadsheet, so
nothing is neutralised.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring as _encode_text  # what JSONEncoder(ensure_ascii=False) uses
from pathlib import Path
from typing import Any

from bulkretry.jsontext import encoder
from bulkretry.records import RunSummary
from bulkretry.report.common import TextFileReport, Value, sync_close

__all__ = ["JsonReport", "write_summary"]


class JsonReport(TextFileReport):
    """Streams rows to ``report.json`` without holding them: the opening, each row, then the closing."""

    filename = "report.json"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._header: tuple[str, ...] = ()
        self._template = ""
        self._separator = ""

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        self._header = header
        # The row as a dict through the C encoder: one call, where a template filled value by value costs
        # a Python call per value. The template is for the values the C encoder refuses (see _value).
        self._template = (
            "{{" + ", ".join(_dumps(name).replace("{", "{{").replace("}", "}}") + ": {}" for name in header) + "}}"
        )
        self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed by finish/discard)
        self._fh.write(f'{{"summary": {_dumps(_json_safe(summary.as_dict()))},\n"rows": [')
        self._separator = "\n"

    def write(self, values: tuple[Value, ...]) -> None:
        assert self._fh is not None
        try:
            text = _encode_row(dict(zip(self._header, values)))
        except (TypeError, ValueError):  # a value that is not str, int, finite float nor None
            text = self._template.format(*map(_value, values))
        self._fh.write(self._separator + text)
        self._separator = ",\n"

    def finish(self) -> None:
        self.close_with("\n]}\n")


def write_summary(path: Path, summary: RunSummary) -> None:
    """Write ``RunSummary.as_dict()`` to ``path``, pretty-printed UTF-8."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_json_safe(summary.as_dict()), fh, ensure_ascii=False, indent=2)
        fh.write("\n")
        sync_close(fh)


#: Any value as ``json.dumps(value, ensure_ascii=False)`` writes it.
_dumps = encoder(separators=(", ", ": "))

# The same for a row's dict, NaN and infinities refused (a ValueError): those rows go through _value.
_encode_row = encoder(separators=(", ", ": "), allow_nan=False)


def _value(value: Value) -> str:
    """One value as JSON: text as it is (``ensure_ascii=False``), numbers, ``null`` for none."""
    cls = value.__class__
    if cls is str:
        return _encode_text(value)  # type: ignore[arg-type]
    if value is None:
        return "null"
    if cls is int:
        return int.__repr__(value)
    if cls is float and value - value == 0.0:  # type: ignore[operator]
        return float.__repr__(value)  # what the encoder writes for a finite float
    return _dumps(value)  # whatever else may come


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    # NaN and infinities are not JSON; a rate computed over no time must not make the file unreadable.
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value for key, value in data.items()
    }
