"""Excel manifests (``.xlsx``, ``.xlsm``), read with openpyxl in read-only mode: every cell as the user sees
it in Excel (ids as digits, zero-padded numbers padded, dates as ISO 8601).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterator
from typing import Any

from bulkretry.errors import ManifestError
from bulkretry.i18n.messages import AS_TEXT, ERROR_VALUE, FIX_FORMULA, LOST_DIGITS, NOT_WHOLE, say
from bulkretry.manifest.columns import (
    ManifestInfo,
    RawRow,
    is_blank,
    quoted,
    raw_rows,
    row_values,
    sheet_header,
)
from bulkretry.manifest.package import check_package, not_a_workbook

__all__ = [
    "MAX_EXACT_INTEGER",
    "MAX_XLSX_CELLS",
    "NotAnId",
    "cell_text",
    "error_value",
    "iter_xlsx",
    "open_xlsx",
]

#: The most cells a sheet of an ``.xlsx`` manifest may become when read, each row as wide as its last value
#: (styled empty cells after it are free): twenty million, e.g. a million rows of 20 columns, about two minutes of
#: openpyxl's reading. A sheet read a row at a time takes no more memory for more cells, only time; a bigger one is
#: a ``.csv`` (read ten times faster). A few KB of XML with a value far to the right of every row reaches this
#: within a second.
MAX_XLSX_CELLS = 20_000_000

_SCAN_CHUNK = 1 << 20  # bytes of a sheet's XML scanned at a time for formulas
_FORMULA_ELEMENT = re.compile(rb"[<:]f[\s>/]")  # <f>, <f t="shared" …/>, <x:f>
_ZERO_PADDED_FORMAT = re.compile(r"0+")
_TIME_TOKENS = re.compile(r"[hs]", re.IGNORECASE)
_QUOTED_OR_BRACKETED = re.compile(r'"[^"]*"|\[[^\]]*\]')


#: Every integer below this a float holds exactly; at and above it a spreadsheet's number may have lost digits.
MAX_EXACT_INTEGER = 2**53


class NotAnId(str):
    """The text of a cell that no id can be read from exactly, as the spreadsheet shows it: a number that lost
    digits or is not a whole number, or an error value. ``code`` names the case for the report (``stored as a
    number``), ``why`` says what the cell holds and ``fix`` what to do. A plain ``str`` everywhere else: a column
    that holds no id keeps the text."""

    code: str
    why: str
    fix: str

    def __new__(cls, text: str, code: str, why: str, fix: str) -> NotAnId:
        cell = super().__new__(cls, text)
        cell.code, cell.why, cell.fix = code, why, fix
        return cell


def _number_text(value: int | float, number_format: str | None) -> str:
    """A number's text; a :class:`NotAnId` when no id can be read from it exactly (a float holds every integer
    below :data:`MAX_EXACT_INTEGER` exactly, and a fraction is no id)."""
    text = _format_number(value, number_format)
    if not (isinstance(value, int) or value.is_integer()):
        return NotAnId(text, "stored as a number", NOT_WHOLE, AS_TEXT)
    if abs(value) < MAX_EXACT_INTEGER:
        return text
    why = say(LOST_DIGITS, digits=len(text.lstrip("-")))
    return NotAnId(text, "stored as a number", why, AS_TEXT)


def error_value(text: str) -> NotAnId:
    """A cell whose value is an error (``#DIV/0!``, ``#N/A``: a formula that failed), as the spreadsheet shows it."""
    return NotAnId(text, "error value", ERROR_VALUE, FIX_FORMULA)


def _load_workbook(path: str, *, data_only: bool = True) -> Any:
    from openpyxl import load_workbook

    check_package(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about features it drops; we only read values
            return load_workbook(path, read_only=True, data_only=data_only, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, ValueError…) for damaged files
        raise not_a_workbook(path, exc) from None


def _pick_sheet(path: str, workbook: Any, sheet: str | None) -> Any:
    """The worksheet named *sheet* (hidden or not), or without a name the first visible worksheet: a hidden
    sheet (Excel's hidden or very hidden) is never read unless asked for by name."""
    names = list(workbook.sheetnames)
    if sheet is None:
        worksheets = workbook.worksheets
        if not worksheets:
            raise ManifestError("has no worksheet", path=path)
        for worksheet in worksheets:
            if getattr(worksheet, "sheet_state", "visible") == "visible":
                return worksheet
        raise ManifestError(
            f"has only hidden worksheets ({', '.join(quoted(w.title) for w in worksheets)}): "
            "name the one to read with --sheet, or unhide it in Excel",
            path=path,
        )
    if sheet not in names:
        folded = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
        if len(folded) != 1:
            raise ManifestError(f"has no sheet {sheet!r}; its sheets are {', '.join(map(repr, names))}", path=path)
        sheet = folded[0]
    worksheet = workbook[sheet]
    if not hasattr(worksheet, "iter_rows"):
        raise ManifestError(f"sheet {sheet!r} is a chart sheet, not a table; choose another with --sheet", path=path)
    return worksheet


def _format_number(value: int | float, number_format: str | None) -> str:
    if isinstance(value, float) and not value.is_integer():
        return format(value, ".15g")
    text = str(int(value))
    section = (number_format or "").split(";")[0].strip()
    if _ZERO_PADDED_FORMAT.fullmatch(section):
        digits = text.lstrip("-").zfill(len(section))
        text = f"-{digits}" if value < 0 else digits
    return text


def cell_text(value: Any, number_format: str | None) -> str:
    """A cell's value as the user sees it in Excel (ids as digits, dates as ISO 8601)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return _number_text(value, number_format)
    if isinstance(value, dt.datetime):
        shows_time = bool(_TIME_TOKENS.search(_QUOTED_OR_BRACKETED.sub("", number_format or "")))
        if value.time() == dt.time() and not shows_time:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)


def _sheet_rows(path: str, worksheet: Any, min_row: int = 1) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cell texts)`` for every row from *min_row*, blank ones included, each up to its last value.
    Raises ManifestError past :data:`MAX_XLSX_CELLS` cells."""
    from openpyxl.cell.read_only import EMPTY_CELL  # the cell openpyxl pads a row with, one object for all

    rows = iter(_rows_to_last_value(worksheet, min_row))
    row = min_row - 1
    cells_read = 0
    while True:
        row += 1
        try:
            cells = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # the sheet's XML is parsed lazily; a damaged part fails here
            raise ManifestError(
                f"cannot be read ({type(exc).__name__}: {exc}); open it in Excel and save it again", path=path, row=row
            ) from None
        cells_read += len(cells)
        if cells_read > MAX_XLSX_CELLS:
            raise _too_many_cells(path, worksheet.title, row)
        yield row, ["" if cell is EMPTY_CELL else _text_of(cell) for cell in cells]


def _too_many_cells(path: str, sheet: str, row: int) -> ManifestError:
    return ManifestError(
        f"sheet {sheet!r} holds more than {MAX_XLSX_CELLS:,} cells by this row (each row as wide as its last "
        "value), over the limit for an .xlsx manifest: save it as .csv (read ten times faster), or split it",
        path=path,
        row=row,
    )


def _rows_to_last_value(worksheet: Any, min_row: int) -> Iterator[Any]:
    """The worksheet's rows from *min_row* (openpyxl's read-only cells), each ending at its last value.

    openpyxl pads each row with empty cells up to its last cell, even one that holds only a style: a styled cell
    in column XFD on every row (a formatted column, or a hostile file) makes 16,384 cells of each. The row is cut
    first, from the few cells parsed from its XML, by wrapping the method that pads it (its private
    ``_get_row``); an openpyxl without it pads as it does, and :data:`MAX_XLSX_CELLS` still bounds the reading."""
    pad = getattr(worksheet, "_get_row", None)
    if pad is not None:

        def cut(parsed: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
            end = len(parsed)
            while end and parsed[end - 1].get("value") is None:
                end -= 1
            return pad(parsed[:end], *args, **kwargs)

        worksheet._get_row = cut
    worksheet.reset_dimensions()  # some writers store a wrong size; read what is really there
    rows: Iterator[Any] = worksheet.iter_rows(min_row=min_row)
    return rows


def _text_of(cell: Any) -> str:
    """An openpyxl cell's text: an error value (``#DIV/0!``) is no text like another."""
    if cell.data_type == "e":
        return error_value(str(cell.value))
    return cell_text(cell.value, cell.number_format)


def open_xlsx(path: str, sheet: str | None) -> ManifestInfo:
    workbook = _load_workbook(path)
    try:
        worksheet = _pick_sheet(path, workbook, sheet)
        header = sheet_header(path, worksheet.title, _sheet_rows(path, worksheet))
        hidden: tuple[str, ...] = ()
        if sheet is None:  # the hidden sheets passed over to reach this one, for the user to be told
            hidden = tuple(w.title for w in workbook.worksheets[: workbook.worksheets.index(worksheet)])
        cells = tuple(header.cells)
        return ManifestInfo(
            path, "xlsx", None, None, worksheet.title, cells, header.columns, header.row, hidden, header.titles
        )
    finally:
        workbook.close()


def iter_xlsx(info: ManifestInfo) -> Iterator[RawRow]:
    workbook = _load_workbook(info.path)
    try:
        worksheet = _pick_sheet(info.path, workbook, info.sheet)
        records = _sheet_rows(info.path, worksheet, info.header_row + 1)
        if not _may_hold_formulas(worksheet):  # the usual sheet: one read
            yield from raw_rows(info, records)
            return
        # A formula stored without its value reads as None: a second read, in step, gives the formula text.
        formulas = _load_workbook(info.path, data_only=False)
        try:
            formula_rows = _rows_to_last_value(formulas[worksheet.title], info.header_row + 1)
            yield from _rows_with_formulas(info, records, formula_rows)
        finally:
            formulas.close()
    finally:
        workbook.close()


def _may_hold_formulas(worksheet: Any) -> bool:
    """Whether the sheet's XML has a formula element (``<f>``, prefixed or not), by a byte scan of the part;
    a false yes costs only the second read. Unsure (openpyxl changed, a damaged part): yes."""
    try:
        with worksheet._get_source() as source:  # openpyxl's reader of the sheet's part
            tail = b""
            while chunk := source.read(_SCAN_CHUNK):
                if _FORMULA_ELEMENT.search(tail + chunk):
                    return True
                tail = chunk[-2:]
    except Exception:  # any failure here means: read it the careful way, which reports the damage
        return True
    return False


def _rows_with_formulas(
    info: ManifestInfo, records: Iterator[tuple[int, list[str]]], formula_rows: Iterator[Any]
) -> Iterator[RawRow]:
    """:func:`raw_rows` for a sheet with formulas: each row names its columns whose formula has no value; a row
    of such cells only is not blank."""
    width = len(info.columns)
    columns = info.columns
    for (row, cells), formula_cells in zip(records, formula_rows):
        # A row ends at its last value: a formula without one at the end is past the texts read.
        texts = cells[:width] + [""] * (width - len(cells))
        pairs = enumerate(zip(texts, formula_cells))
        missing = tuple(columns[index] for index, (text, cell) in pairs if cell.data_type == "f" and not text)
        if missing or not is_blank(cells):
            yield RawRow(row, row_values(info, row, cells, width), missing)
