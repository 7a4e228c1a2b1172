"""``report.csv``: UTF-8 with a BOM (so Excel picks the encoding), commas, CRLF rows, a header row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulkretry.records import RunSummary
from bulkretry.report.common import TRIGGER_STARTS, TextFileReport, Value, csv_writer, neutralise, open_csv, plain_line

__all__ = ["CsvReport"]


class CsvReport(TextFileReport):
    """Streams rows to ``report.csv``; every text cell is neutralised, numbers are written as numbers."""

    filename = "report.csv"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._csv: Any = None
        self._text: tuple[int, ...] = ()
        self._csv_line: Callable[[str], Any] = print  # (the file's write, from start)

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        self._fh = open_csv(self.path)  # closed by finish/discard
        self._csv = csv_writer(self._fh)  # the "excel" dialect: ',' and '\r\n'
        self._csv_line = self._fh.write
        self._csv.writerow([neutralise(name) for name in header])
        # The cells that may hold text; the rest are numbers (or None, which csv writes as '') and the
        # outcome, one of our own words.
        self._text = tuple(i for i, name in enumerate(header) if name not in _NEVER_FORMULAS)

    def write(self, values: tuple[Value, ...]) -> None:
        # The usual row is a plain line (plain_line); numbers are written as the csv module writes them (str).
        line = plain_line(
            [value if isinstance(value, str) else "" if value is None else str(value) for value in values]
        )
        if line is not None:
            self._csv_line(line)
            return
        for i in self._text:
            value = values[i]
            if value and value.__class__ is str and value[0] in TRIGGER_STARTS:  # type: ignore[index, unused-ignore]
                self._csv.writerow([_cell(value) for value in values])
                return
        self._csv.writerow(values)

    def finish(self) -> None:
        self.close_with("")


_NEVER_FORMULAS = frozenset({"row", "outcome", "http_status", "attempts", "latency_ms"})


def _cell(value: Value) -> str:
    if type(value) is str:
        return neutralise(value) if value else value
    return "" if value is None else str(value)
