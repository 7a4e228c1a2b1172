"""Excel 97-2003 (``.xls``, with xlrd) and OpenDocument (``.ods``, with odfpy) manifests, read through pandas.

Each cell as the user sees it, as for ``.xlsx`` (:func:`bulkretry.manifest.excel.cell_text`): ids as digits, dates
as ISO 8601, ``TRUE``/``FALSE``; Chinese text as it is. Blank rows are kept, so a row's number is the one the
spreadsheet shows. Unlike ``.xlsx`` these are read whole, a sheet at a time (an ``.xls`` sheet holds at most
65,536 rows), and sheets are not told apart by visibility: the first sheet is read unless ``--sheet`` names one.
A number format's zero padding is not known here: a padded id must be a text cell (as ids usually are).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any, Literal

from bulkretry.errors import ManifestError
from bulkretry.manifest.columns import ManifestInfo, RawRow, raw_rows, sheet_header
from bulkretry.manifest.excel import cell_text, damaged

__all__ = ["ENGINES", "iter_sheet", "open_sheet"]

#: The pandas engine (and the package it needs) of each kind.
ENGINES: dict[str, tuple[Literal["xlrd", "odf"], str]] = {"xls": ("xlrd", "xlrd"), "ods": ("odf", "odfpy")}
_NAMES = {"xls": "Excel 97-2003 workbook", "ods": "OpenDocument spreadsheet"}


def _book(path: str, kind: str) -> Any:
    import pandas as pd

    engine, package = ENGINES[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas 3 marks the xlrd engine deprecated; it still reads .xls
            return pd.ExcelFile(path, engine=engine)
    except ImportError:
        raise ManifestError(
            f"is an {_NAMES[kind]} and reading one needs the Python package {package}, which is "
            f"not installed: pip install {package}, or save the file as .xlsx or .csv",
            path=path,
        ) from None
    except Exception as exc:  # xlrd and odfpy raise many kinds for a damaged file
        raise damaged(
            path, f"an {_NAMES[kind]}", exc, "open it and save it again, or save it as .xlsx or .csv"
        ) from None


def _sheet_name(path: str, book: Any, sheet: str | None) -> str:
    names = [str(name) for name in book.sheet_names]
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


#: The last sheet read, by ``(path, kind, sheet, size, mtime)``: a run reads its manifest three times (the header,
#: the count, the rows), and odfpy takes about 0.3 s per 1,000 rows; one entry, so memory holds one sheet at most.
_last: dict[tuple[Any, ...], tuple[str, list[tuple[int, list[str]]]]] = {}


def _records(path: str, kind: str, sheet: str | None) -> tuple[str, list[tuple[int, list[str]]]]:
    """The sheet's name and every row (blank ones too) as ``(row number, cell texts)``."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    key = (os.path.abspath(path), kind, sheet, st.st_size, st.st_mtime_ns)
    cached = _last.get(key)
    if cached is None:
        cached = _read_records(path, kind, sheet)
        _last.clear()
        _last[key] = cached
    return cached


def _read_records(path: str, kind: str, sheet: str | None) -> tuple[str, list[tuple[int, list[str]]]]:
    book = _book(path, kind)
    try:
        name = _sheet_name(path, book, sheet)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = book.parse(name, header=None, dtype=object, na_filter=False)
        except Exception as exc:
            raise ManifestError(
                f"sheet {name!r} cannot be read ({type(exc).__name__}: {exc}); open the file and "
                "save it again, or save it as .xlsx or .csv",
                path=path,
            ) from None
    finally:
        book.close()
    rows = [[cell_text(value, None) for value in values] for values in frame.itertuples(index=False, name=None)]
    return name, list(enumerate(rows, start=1))


def open_sheet(path: str, kind: str, sheet: str | None) -> ManifestInfo:
    """Check an ``.xls`` or ``.ods`` manifest (*kind*) and read its header, as ``open_xlsx`` does."""
    name, records = _records(path, kind, sheet)
    header = sheet_header(path, name, iter(records))
    return ManifestInfo(
        path, kind, None, None, name, tuple(header.cells), header.columns, header.row, title_rows=header.titles
    )


def iter_sheet(info: ManifestInfo) -> Iterator[RawRow]:
    """The data rows of an ``.xls`` or ``.ods`` manifest opened by :func:`open_sheet`."""
    _, records = _records(info.path, info.kind, info.sheet)
    yield from raw_rows(info, records[info.header_row :])  # (rows are new dicts: the cached lists stay as they are)
