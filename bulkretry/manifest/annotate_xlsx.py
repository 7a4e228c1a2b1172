"""``annotated.xlsx`` (``.xlsm``): a copy of the user's workbook, every sheet kept, each row's outcome beside it.

Loaded and saved with openpyxl in its normal mode (styles, widths, formulas, filters and frozen panes stay; a
``.xlsm`` keeps its macros). On the manifest sheet the four columns are added after the last header (bold, a
legend in a comment on ``outcome``) or overwritten where the sheet already has them, and each row with a result
is filled in and coloured by outcome. The whole workbook is held in memory, so one of more than
``XLSX_MAX_ROWS`` rows is not annotated (:class:`Skip`).
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from bulkretry.i18n.messages import (
    CHANGED_ENDS,
    CHANGED_HEADER,
    CHANGED_NO_ROW,
    CHANGED_SHEET,
    TOO_MANY_ROWS_TO_COPY,
    WORKBOOK_NOT_OPENED,
    WORKBOOK_NOT_READ_AGAIN,
    say,
)
from bulkretry.manifest.annotate_common import (
    ANNOTATION_COLUMNS,
    OUTCOME_COLOURS,
    XLSX_MAX_ROWS,
    Skip,
    annotation,
    annotation_slots,
    changed,
    header_of,
    holds_another_group,
)
from bulkretry.manifest.columns import ManifestInfo
from bulkretry.manifest.excel import cell_text
from bulkretry.manifest.package import ROW_TAG, count_tags, parts_of_type
from bulkretry.masking import MASKED, MASKED_COLUMNS, SECRET_COLUMNS, masked_text
from bulkretry.records import RowResult, RunSummary
from bulkretry.report.common import neutralise, sync_close
from bulkretry.report.xlsx_writer import ILLEGAL_XML_CHARS, MAX_TEXT

__all__ = ["AnnotatedXlsx"]

_LEGEND = (
    "bulkretry: rows are coloured by outcome. Green: succeeded. Red: failed. Amber: invalid, "
    "interrupted. Grey: duplicate, skipped, dry_run. Secret columns show ***, access keys are masked."
)
_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_WIDTHS = {"outcome": 12, "error_code": 18, "error_msg": 60, "request_id": 38}


class AnnotatedXlsx:
    """Writes the annotated workbook to *path* (a ``Writer[RowResult]``, see ``report.common.Writer``):
    ``start`` loads the workbook and adds the columns, ``write`` fills in each result's row (in row order),
    ``finish`` saves it. A workbook too large, unreadable, or that no longer matches the results is a
    :class:`Skip`; ``rows`` is how many rows got a result."""

    def __init__(self, info: ManifestInfo, path: Path, *, keep_vba: bool = False) -> None:
        assert info.sheet is not None
        self.info = info
        self.path = path
        self.filename = "annotated.xlsm" if keep_vba else "annotated.xlsx"
        self.rows = 0
        self._keep_vba = keep_vba
        self._book: Any = None
        self._rows: Iterator[tuple[Any, ...]] = iter(())
        self._last = 0  # the sheet's last row
        self._plan: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        return f"<AnnotatedXlsx {self.path} {'open' if self._book is not None else 'closed'}>"

    def start(self, header: tuple[str, ...] = (), summary: RunSummary | None = None) -> None:
        """Load the workbook and add the columns (*header* and *summary* are the reports'; unused here)."""
        from openpyxl.styles import PatternFill

        info = self.info
        ws = self._sheet()
        top = info.header_row
        width = len(info.headers)
        header_cells = [
            cell_text(cell.value, cell.number_format)
            for cell in next(ws.iter_rows(min_row=top, max_row=top, max_col=max(width, 1)))
        ]
        if header_of(header_cells) != info.headers:
            raise changed(info, say(CHANGED_HEADER))
        slots, reannotating = annotation_slots(info.headers)
        _add_columns(ws, top, width, slots)
        fills = {
            outcome: PatternFill(fill_type="solid", start_color=rgb, end_color=rgb)
            for outcome, rgb in OUTCOME_COLOURS.items()
        }
        guarded = [
            (index, column)
            for index, column in enumerate(info.columns)
            if column in SECRET_COLUMNS or column in MASKED_COLUMNS
        ]
        self._plan = (
            info.columns.index("group_id"),
            slots,
            reannotating,
            fills,
            set(OUTCOME_COLOURS.values()),
            PatternFill(fill_type=None),
            guarded,
        )
        self._last = ws.max_row
        total = max(width, max(slots) + 1)
        self._rows = ws.iter_rows(min_row=top + 1, max_row=max(self._last, top + 1), max_col=total)

    def _sheet(self) -> Any:
        """The manifest's sheet, its workbook loaded (kept in ``_book``); a :class:`Skip` for a workbook too big
        to copy in memory or one openpyxl cannot open."""
        from openpyxl import load_workbook

        info = self.info
        limit = XLSX_MAX_ROWS
        if _stored_rows(info.path, limit) > limit:
            raise Skip(say(TOO_MANY_ROWS_TO_COPY, limit=f"{limit:,}"))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about the features it does not keep
                self._book = book = load_workbook(info.path, keep_vba=self._keep_vba)
        except Exception as exc:  # openpyxl raises many kinds for what it cannot read
            raise Skip(say(WORKBOOK_NOT_OPENED, error=f"{type(exc).__name__}: {exc}")) from None
        if info.sheet not in book.sheetnames:
            raise changed(info, say(CHANGED_SHEET, sheet=repr(info.sheet)))
        return book[info.sheet]

    def write(self, result: RowResult, /) -> None:
        """Mask the rows up to *result*'s, and fill that one in with *result*'s outcome."""
        if result.row <= self.info.header_row:
            raise changed(self.info, say(CHANGED_NO_ROW, row=result.row))
        self._fill(result)

    def finish(self) -> None:
        """Mask the rows left, then save the workbook to the path, flushed to disk."""
        self._fill(None)
        out = open(self.path, "wb")  # noqa: SIM115 (closed below)
        try:
            self._book.save(out)
        except BaseException:
            out.close()
            raise
        sync_close(out)
        self._close_book()

    def discard(self) -> None:
        self._close_book()

    def _close_book(self) -> None:
        book, self._book = self._book, None
        if book is not None:
            with suppress(Exception):
                book.close()
            # openpyxl keeps an .xlsm's macros in an in-memory zip it never closes: left to the garbage collector,
            # its buffer may go first and its __del__ then fails (seen on Python 3.13).
            with suppress(Exception):
                if book.vba_archive is not None:
                    book.vba_archive.close()

    def _fill(self, result: RowResult | None) -> None:
        """Go through the rows up to *result*'s (every row left when it is None): mask each, fill *result*'s in."""
        info = self.info
        group, slots, reannotating, fills, ours, no_fill, guarded = self._plan
        for cells in self._rows:
            row = cells[0].row
            for index, column in guarded:
                _mask_cell(cells[index], column)
            if result is not None and result.row == row:
                cell = cells[group]
                if cell.data_type != "f" and cell_text(cell.value, cell.number_format) != result.group_id:
                    raise holds_another_group(info, row, str(cell.value), result)
                for slot, value in zip(slots, annotation(result)):
                    cells[slot].value = _xlsx_text(value) or None
                fill = fills[result.outcome]
                for cell in cells:
                    cell.fill = fill
                self.rows += 1
                return
            if reannotating:  # clear what an earlier annotation left on a row this run has no result for
                for slot in slots:
                    cells[slot].value = None
                for cell in cells:
                    if cell.fill.fill_type == "solid" and str(cell.fill.fgColor.rgb)[-6:] in ours:
                        cell.fill = no_fill
        if result is not None:
            raise changed(info, say(CHANGED_ENDS, row=self._last, wanted=result.row))


def _add_columns(ws: Any, top: int, width: int, slots: list[int]) -> None:
    """The annotation's headers (bold, sized; a column already there keeps its header and width), the legend
    as a comment on the first, and the header row frozen (unless the sheet freezes something already)."""
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for slot, name in zip(slots, ANNOTATION_COLUMNS):
        if slot >= width:  # a new column (an existing one keeps its header and width)
            cell = ws.cell(row=top, column=slot + 1, value=name)
            cell.font = Font(bold=True)
            letter = get_column_letter(slot + 1)
            if letter not in ws.column_dimensions:
                ws.column_dimensions[letter].width = _WIDTHS[name]
    legend = ws.cell(row=top, column=slots[0] + 1)
    legend.comment = Comment(_LEGEND, "bulkretry", height=110, width=320)
    if ws.freeze_panes is None:
        ws.freeze_panes = f"A{top + 1}"


def _stored_rows(path: str, limit: int) -> int:
    """The rows stored in all the workbook's sheets (openpyxl loads them all), counted up to ``limit + 1`` by a
    byte scan of their XML: well under a second for 200,000 rows, where parsing them takes half a minute."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = parts_of_type(archive, _WORKSHEET_TYPE) or sorted(
                name for name in archive.namelist() if name.startswith("xl/worksheets/") and name.endswith(".xml")
            )
            count = 0
            for part in parts:
                count += count_tags(archive, part, ROW_TAG, limit - count)
                if count > limit:
                    break
            return count
    except (zipfile.BadZipFile, ET.ParseError, KeyError, EOFError, zlib.error) as exc:
        raise Skip(say(WORKBOOK_NOT_READ_AGAIN, error=f"{type(exc).__name__}: {exc}")) from None


def _mask_cell(cell: Any, column: str) -> None:
    """Mask a secret or access-key cell in place (a formula there, whatever it computes, becomes ``***``)."""
    value = cell.value
    if value is None or value == "":
        return
    if cell.data_type == "f":
        cell.value = MASKED
    else:
        text = cell_text(value, cell.number_format)
        shown = masked_text(column, text)
        if shown == text:
            return  # an env: reference
        cell.value = _xlsx_text(shown)
    if cell.hyperlink is not None:
        cell.hyperlink = None


def _xlsx_text(value: str) -> str:
    """Text as report.xlsx writes it: no XML-illegal characters, neutralised, CR as LF, at most 32,767 units."""
    value = neutralise(ILLEGAL_XML_CHARS.sub("", value))
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if len(value) > MAX_TEXT // 2:
        units = value.encode("utf-16-le", "surrogatepass")
        if len(units) > 2 * MAX_TEXT:
            value = units[: 2 * MAX_TEXT].decode("utf-16-le", "ignore")  # "ignore": a pair cut in half
    return value
