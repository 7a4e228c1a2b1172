"""``report.xlsx``: a ``Summary`` sheet, then the rows, written with openpyxl's write-only (streaming) workbook.

What write-only mode implies, and how this module lives with it:

- Each sheet streams its XML to its own temporary file (in ``tempfile.gettempdir()``), so memory stays
  flat; strings are written inline, there is no shared-strings table growing in memory. ``save`` zips
  those files into the workbook and deletes them; until then they cost disk (about 1 KB a row).
- Sheets are saved in the order they were created, so ``Summary`` is created (and filled: the summary
  is known before the first row) before ``Rows``. (Sheets may be filled in any interleaving, and
  reordered before saving with ``wb.move_sheet("Summary", -1)``: by title, as the sheet object is refused.)
- The sheet's view, column widths and formats go out with its first row: freeze panes and widths are
  set before the first ``append``. The autofilter is written when the sheet is closed, so its range
  can be set once the row count is known.
- A ``str`` starting with ``=`` becomes a formula and one equal to an error literal (``#N/A``) an error
  cell; control characters raise ``IllegalCharacterError``; a raw CR is read back as LF. Text is cleaned
  (control characters dropped, CR made LF), neutralised and, for the error literals, forced to text.
- A sheet holds at most 1,048,576 rows: longer reports continue on ``Rows 2``, ``Rows 3``, ...
"""

from __future__ import annotations

import unicodedata
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from ..records import RunSummary
from ._common import Value, finite, neutralise, sync_close

__all__ = ["XlsxReport"]

_BOLD = Font(bold=True)

# Widths (in characters) of the contract's columns; extra columns are sized from their header.
_WIDTHS = {
    "row": 7, "project_id": 34, "group_id": 38, "outcome": 12, "http_status": 12, "error_code": 18,
    "error_msg": 60, "attempts": 9, "request_id": 38, "latency_ms": 12, "started_at": 28, "finished_at": 28,
}

_SUMMARY_FIELDS = (
    "run_id", "manifest", "started_at", "finished_at", "duration_s", "rows", "calls", "achieved_rate", "sessions",
)


class XlsxReport:
    """Streams rows to ``report.xlsx``: a ``Summary`` sheet, then ``Rows`` with a frozen bold header and a filter."""

    filename = "report.xlsx"
    #: Data rows per sheet: Excel's 1,048,576 rows less the header.
    rows_per_sheet = 1_048_575

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wb: Any = None
        self._ws: Any = None
        self._header: tuple[str, ...] = ()
        self._sheets = 0
        self._rows = 0  # data rows on the current sheet

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        self._wb = Workbook(write_only=True)
        self._header = header
        _write_summary(self._wb.create_sheet("Summary"), summary)
        self._new_rows_sheet()

    def write(self, values: tuple[Value, ...]) -> None:
        if self._rows == self.rows_per_sheet:
            self._close_rows_sheet()
            self._new_rows_sheet()
        self._ws.append([_cell(self._ws, value) for value in values])
        self._rows += 1

    def finish(self) -> None:
        self._close_rows_sheet()
        # What Workbook.save does, except that the archive is closed on failure too: left open, the
        # ZipFile complains from its __del__ ("Exception ignored ...") long after a full disk was reported.
        self._wb.properties.modified = datetime.now(UTC).replace(tzinfo=None)
        with open(self.path, "wb") as fh:
            archive = ZipFile(fh, "w", ZIP_DEFLATED, allowZip64=True)
            try:
                ExcelWriter(self._wb, archive).save()
            except BaseException:
                with suppress(Exception):
                    archive.close()
                raise
            sync_close(fh)

    def discard(self) -> None:
        """Remove openpyxl's temporary sheet files now, rather than when the interpreter exits."""
        if self._wb is None:
            return
        for ws in self._wb.worksheets:
            writer = ws._writer  # openpyxl has no public way to drop an unsaved write-only sheet
            if writer is None:
                continue
            with suppress(Exception):
                if not ws.closed:
                    ws.close()
            with suppress(Exception):
                writer.cleanup()  # deletes the file; raises if save() already did

    def __repr__(self) -> str:
        return f"<XlsxReport {self.path} sheets={self._sheets} rows_on_sheet={self._rows}>"

    def _new_rows_sheet(self) -> None:
        self._sheets += 1
        ws = self._wb.create_sheet("Rows" if self._sheets == 1 else f"Rows {self._sheets}")
        # Views and column widths are written with the first row: set them before it.
        ws.freeze_panes = "A2"
        for index, name in enumerate(self._header, 1):
            ws.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(name) or _width(name)
        ws.append([_bold(ws, _text(name)) for name in self._header])
        self._ws, self._rows = ws, 0

    def _close_rows_sheet(self) -> None:
        # The autofilter is written when the sheet closes: now its range is known.
        last = get_column_letter(len(self._header))
        self._ws.auto_filter.ref = f"A1:{last}{self._rows + 1}"
        self._ws.close()


def _write_summary(ws: Any, summary: RunSummary) -> None:
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 48
    data = summary.as_dict()
    ws.append([_bold(ws, "run"), _bold(ws, "value")])
    for key in _SUMMARY_FIELDS:
        ws.append([key, _cell(ws, data[key])])
    if summary.source_run is not None:  # a rerun says which run it came from
        source = summary.source_run
        ws.append(["rerun of", _cell(ws, f"{source['run_id']} ({source['out_dir']})")])
        ws.append(["rerun rows", _cell(ws, f"outcome {', '.join(source['only'])}"
                                           + (f"; error code {', '.join(source['error_codes'])}"
                                              if source["error_codes"] else ""))])
    for heading, counts in (("outcome", summary.by_outcome), ("error_code", summary.by_error_code)):
        ws.append([])
        ws.append([_bold(ws, heading), _bold(ws, "rows")])
        for key, count in counts.items():
            ws.append([_cell(ws, key), count])


def _cell(ws: Any, value: Value) -> Any:
    if value is None or isinstance(value, int | float):
        return finite(value)
    text = _text(str(value))
    if text in ERROR_CODES:  # openpyxl would write "#N/A" as an error cell, not as the text it is
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"
        return cell
    return text


def _text(value: str) -> str:
    # Control characters cannot be stored in XML: drop them, then neutralise what remains. XML readers
    # turn a raw CR into LF: do it here (after neutralising, which looks for a leading CR), so the file
    # holds what is read back.
    value = neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def _bold(ws: Any, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"  # a heading is text, even "#N/A"
    cell.font = _BOLD
    return cell


def _width(name: str) -> int:
    # East Asian wide characters (a Chinese header) take two columns.
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in name)
    return min(max(shown + 4, 12), 60)
