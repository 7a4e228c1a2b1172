"""``report.csv``: UTF-8 with a BOM (so Excel picks the encoding), commas, CRLF rows, a header row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulkretry.records import RunSummary
from bulkretry.report.common import TextFileReport, Value, csv_writer, neutralise, open_csv, plain_line

__all__ = ["CsvReport"]


class CsvReport(TextFileReport):
    """Streams rows to ``report.csv``; every text cell is neutralised, numbers are written as numbers."""

    filename = "report.csv"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._csv: Any = None
        self._csv_line: Callable[[str], Any] = print  # (the file's write, from start)

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        self._fh = open_csv(self.path)  # closed by finish/discard
        self._csv = csv_writer(self._fh)  # the "excel" dialect: ',' and '\r\n'
        self._csv_line = self._fh.write
        self._csv.writerow([neutralise(name) for name in header])

    def write(self, values: tuple[Value, ...]) -> None:
        # The usual row is a plain line (plain_line); numbers are written as the csv module writes them (str), and
        # the usual row has no empty value (None) to write as ''.
        texts = [*map(str, values)] if None not in values else [_text(value) for value in values]
        line = plain_line(texts)
        if line is None:  # a cell to quote, or one that starts like a formula
            self._csv.writerow([_cell(value) for value in values])
        else:
            self._csv_line(line)

    def finish(self) -> None:
        self.close_with("")


def _text(value: Value) -> str:
    return "" if value is None else str(value)


def _cell(value: Value) -> str:
    if type(value) is str:
        return neutralise(value) if value else value
    return _text(value)
