"""Excel 97-2003 (``.xls``, with xlrd) and OpenDocument (``.ods``, with odfpy) manifests, read through pandas.

Each cell as the user sees it, as for ``.xlsx`` (:func:`bulkretry.manifest.excel.cell_text`): ids as digits, dates
as ISO 8601, ``TRUE``/``FALSE``; Chinese text as it is. Blank rows are kept, so a row's number is the one the
spreadsheet shows. Unlike ``.xlsx`` these are read whole, a sheet at a time (an ``.xls`` sheet holds at most
65,536 rows), so a sheet is first counted (:mod:`bulkretry.manifest.extent`) and refused when it would become
too many cells. An ``.xls`` is read by xlrd itself (pandas would pad every row to the widest and turn an error
value into NaN): without ``--sheet`` its first visible sheet, as for ``.xlsx``. An ``.ods`` is read from its first
sheet. A number format's zero padding is not known here: a padded id must be a text cell (as ids usually are).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any, Literal

from bulkretry.errors import ManifestError
from bulkretry.manifest.columns import ManifestInfo, RawRow, raw_rows, sheet_header
from bulkretry.manifest.excel import cell_text, error_value
from bulkretry.manifest.extent import check_cells, ods_cells, xls_cells
from bulkretry.manifest.package import check_package, damaged

__all__ = ["ENGINES", "iter_sheet", "open_sheet"]

#: The reader (pandas' engine name) and the package it needs, of each kind.
ENGINES: dict[str, tuple[Literal["xlrd", "odf"], str]] = {"xls": ("xlrd", "xlrd"), "ods": ("odf", "odfpy")}
_NAMES = {"xls": "Excel 97-2003 workbook", "ods": "OpenDocument spreadsheet"}


def _book(path: str, kind: str) -> Any:
    """The workbook opened by its reader: pandas with odfpy for an ``.ods``, xlrd for an ``.xls``."""
    engine, package = ENGINES[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "ods":
                import pandas as pd

                return pd.ExcelFile(path, engine=engine)
            import xlrd

            # Ragged rows: each row only as wide as its last value (pandas has xlrd pad every row to the widest);
            # on demand: only the sheet asked for is loaded.
            return xlrd.open_workbook(path, on_demand=True, ragged_rows=True)
    except ImportError:
        raise ManifestError(
            f"is an {_NAMES[kind]} and reading one needs the Python package {package}, which is "
            f"not installed: pip install {package}, or save the file as .xlsx or .csv",
            path=path,
        ) from None
    except Exception as exc:  # xlrd and odfpy raise many kinds for a damaged file
        raise _damaged(path, kind, exc) from None


def _damaged(path: str, kind: str, exc: Exception) -> ManifestError:
    return damaged(path, f"an {_NAMES[kind]}", exc, "open it and save it again, or save it as .xlsx or .csv")


def _sheet_name(path: str, names: list[str], sheet: str | None) -> str:
    """The sheet named *sheet* (its case and edge spaces aside), or without a name the first."""
    if not names:
        raise ManifestError("has no worksheet", path=path)
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    folded = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
    if len(folded) != 1:
        raise ManifestError(f"has no sheet {sheet!r}; its sheets are {', '.join(map(repr, names))}", path=path)
    return folded[0]


#: A sheet as read: its name, every row (blank ones too) as ``(row number, cell texts)``, and the hidden sheets
#: passed over to reach it.
Records = tuple[str, list[tuple[int, list[str]]], tuple[str, ...]]

#: The last sheet read, by ``(path, kind, sheet, size, mtime)``: a run reads its manifest three times (the header,
#: the count, the rows), and odfpy takes about 0.3 s per 1,000 rows; one entry, so memory holds one sheet at most.
_last: dict[tuple[Any, ...], Records] = {}


def _records(path: str, kind: str, sheet: str | None) -> Records:
    """The sheet as read (:data:`Records`), from the last read while the file is unchanged."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    key = (os.path.abspath(path), kind, sheet, st.st_size, st.st_mtime_ns)
    cached = _last.get(key)
    if cached is None:
        cached = _read_xls(path, sheet) if kind == "xls" else _read_ods(path, sheet)
        _last.clear()
        _last[key] = cached
    return cached


def _read_ods(path: str, sheet: str | None) -> Records:
    check_package(path)
    extent = _ods_extent(path)
    name = _sheet_name(path, list(extent), sheet)
    check_cells(path, name, extent[name])
    book = _book(path, "ods")
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = book.parse(name, header=None, dtype=object, na_filter=False)
        except Exception as exc:
            raise _unreadable(path, name, exc) from None
    finally:
        book.close()
    rows = [[cell_text(value, None) for value in values] for values in frame.itertuples(index=False, name=None)]
    return name, list(enumerate(rows, start=1)), ()


def _ods_extent(path: str) -> dict[str, int]:
    """Each table's cells once read (:func:`ods_cells`), counted before odfpy loads the document."""
    try:
        return ods_cells(path)
    except ManifestError:
        raise
    except Exception as exc:  # no content.xml, XML that does not parse, a damaged zip member
        raise _damaged(path, "ods", exc) from None


def _unreadable(path: str, name: str, exc: Exception) -> ManifestError:
    return ManifestError(
        f"sheet {name!r} cannot be read ({type(exc).__name__}: {exc}); open the file and save it again, or save "
        "it as .xlsx or .csv",
        path=path,
    )


def _read_xls(path: str, sheet: str | None) -> Records:
    book = _book(path, "xls")
    try:
        names = [str(name) for name in book.sheet_names()]
        index = _visible_sheet(path, book, names) if sheet is None else names.index(_sheet_name(path, names, sheet))
        try:
            loaded = book.sheet_by_index(index)
        except Exception as exc:  # xlrd raises many kinds for a damaged sheet
            raise _unreadable(path, names[index], exc) from None
        check_cells(path, names[index], xls_cells(loaded))
        rows = [_xls_row(book, loaded, row) for row in range(loaded.nrows)]
        hidden = tuple(names[:index]) if sheet is None else ()
        return names[index], list(enumerate(rows, start=1)), hidden
    finally:
        book.release_resources()


def _visible_sheet(path: str, book: Any, names: list[str]) -> int:
    """The first visible sheet: a hidden one (hidden or very hidden, from the workbook's sheet list, nothing
    loaded) is never read unless asked for by name."""
    if not names:
        raise ManifestError("has no worksheet", path=path)
    visibility = list(getattr(book, "_sheet_visibility", [])) or [0] * len(names)  # xlrd's BOUNDSHEET flags
    for index, state in enumerate(visibility):
        if state == 0:
            return index
    raise ManifestError(
        f"has only hidden worksheets ({', '.join(map(repr, names))}): name the one to read with --sheet, or "
        "unhide it in Excel",
        path=path,
    )


def _xls_row(book: Any, sheet: Any, row: int) -> list[str]:
    """One row of an xlrd sheet as text, as pandas would give it to :func:`cell_text`, an error value as the
    spreadsheet shows it (``#DIV/0!``)."""
    import xlrd

    cells: list[str] = []
    for ctype, value in zip(sheet.row_types(row), sheet.row_values(row)):
        if ctype == xlrd.XL_CELL_DATE:
            value = _xls_date(book, value)
        elif ctype == xlrd.XL_CELL_BOOLEAN:
            value = bool(value)
        elif ctype == xlrd.XL_CELL_ERROR:
            cells.append(error_value(xlrd.error_text_from_code.get(value, "#ERROR")))
            continue
        cells.append(cell_text(value, None))
    return cells


def _xls_date(book: Any, value: float) -> Any:
    """A date cell as pandas reads it: a time of day when it has no date, else a datetime."""
    import xlrd

    if 0 <= value < 1:
        return xlrd.xldate.xldate_as_datetime(value, book.datemode).time()
    return xlrd.xldate.xldate_as_datetime(value, book.datemode)


def open_sheet(path: str, kind: str, sheet: str | None) -> ManifestInfo:
    """Check an ``.xls`` or ``.ods`` manifest (*kind*) and read its header, as ``open_xlsx`` does."""
    name, records, hidden = _records(path, kind, sheet)
    header = sheet_header(path, name, iter(records))
    return ManifestInfo(
        path, kind, None, None, name, tuple(header.cells), header.columns, header.row, hidden, header.titles
    )


def iter_sheet(info: ManifestInfo) -> Iterator[RawRow]:
    """The data rows of an ``.xls`` or ``.ods`` manifest opened by :func:`open_sheet`."""
    _, records, _ = _records(info.path, info.kind, info.sheet)
    yield from raw_rows(info, records[info.header_row :])  # (rows are new dicts: the cached lists stay as they are)
