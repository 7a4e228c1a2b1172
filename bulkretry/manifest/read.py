"""Reading manifests as operators really have them: CSV in any common encoding and delimiter, Excel (``.xlsx``,
``.xlsm``, and ``.xls`` 97-2003) or OpenDocument (``.ods``); a file whose content is not what its name says is
named for what it is (:mod:`bulkretry.manifest.formats`).

Every cell comes back as text, as the spreadsheet shows it: an id such as ``0012345`` is never turned into
a number, a date or NaN. Rows stream (a row at a time, for CSV by the csv module's C reader), so memory does
not grow with the file, and each row carries the number a spreadsheet shows for it (header = 1, blank
rows counted). Anything that makes the file unusable raises :class:`~bulkretry.errors.ManifestError`
naming the file and, where known, the row and column.

pandas, openpyxl, xlrd and odfpy are imported only when a file of their kind is read, so ``bulkretry --help``
stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from bulkretry.errors import ManifestError
from bulkretry.manifest.columns import (
    CANONICAL_COLUMNS,
    COLUMN_ALIASES,
    ManifestInfo,
    RawRow,
    canonical_name,
    check_headers,
)
from bulkretry.manifest.csvfile import count_csv, csv_holds, iter_csv, open_csv, stopped_at
from bulkretry.manifest.excel import iter_xlsx, open_xlsx
from bulkretry.manifest.formats import CSV_SUFFIXES, EXCEL_SUFFIXES, SHEET_SUFFIXES, check_content, kind_for_suffix
from bulkretry.manifest.sheets import iter_sheet, open_sheet

__all__ = [
    "CANONICAL_COLUMNS",
    "COLUMN_ALIASES",
    "CSV_SUFFIXES",
    "EXCEL_SUFFIXES",
    "SHEET_SUFFIXES",
    "WORKBOOK_SUFFIXES",
    "ManifestInfo",
    "RawRow",
    "canonical_name",
    "check_headers",
    "count_rows",
    "iter_rows",
    "may_hold",
    "open_manifest",
    "read_manifest",
    "stopped_at",
]

#: Every workbook suffix bulkretry reads (``--sheet`` applies to them).
WORKBOOK_SUFFIXES: tuple[str, ...] = EXCEL_SUFFIXES + SHEET_SUFFIXES


def _kind_of(path: str) -> str:
    """Check that *path* is a readable, non-empty file of a supported kind whose content matches its name;
    return ``'csv'``, ``'xlsx'``, ``'xls'`` or ``'ods'``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ManifestError("no such file: check the path", path=path) from None
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    if Path(path).is_dir():
        raise ManifestError("is a directory, not a manifest file: name a .csv or .xlsx file", path=path)
    _check_not_lock_file(path)
    kind = kind_for_suffix(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    if st.st_size == 0 or not head:
        raise ManifestError("is empty (0 bytes): it needs a header row and at least one data row", path=path)
    check_content(path, kind, head)
    return kind


def _check_not_lock_file(path: str) -> None:
    """Refuse Office's lock file (``~$name.xlsx``, a few bytes of the owner's name, hidden beside a workbook that
    is open), naming the workbook it stands for."""
    name = Path(path).name
    if name.startswith("~$"):
        raise ManifestError(
            f"is the lock file Excel (or WPS) keeps beside the workbook {name[2:]!r} while it is open, not a "
            f"manifest: name the workbook itself (its name has no '~$'), and close it in Excel first if it is being "
            "edited",
            path=path,
        )


def open_manifest(
    path: str | os.PathLike[str], *, encoding: str | None = None, delimiter: str | None = None, sheet: str | None = None
) -> ManifestInfo:
    """Check a manifest and read its header: kind, encoding, delimiter, sheet and columns.

    *encoding* and *delimiter* (``','``, ``';'``, ``'\\t'``/``'tab'``, ``'|'``) force what is otherwise
    detected for CSV; *sheet* picks an Excel sheet by name (default: the first); giving one for the other kind
    of file is an error, never silently ignored. Reads the whole file once
    for a CSV (to be sure of its encoding) in constant memory. Raises :class:`ManifestError` for a file that
    cannot be used: missing, empty, binary, undecodable, encrypted, without a ``group_id`` column, with two
    columns meaning the same thing, or with a header but no rows.
    """
    name = os.fspath(path)
    kind = _kind_of(name)
    if kind != "csv":
        given = [option for option, value in (("--encoding", encoding), ("--delimiter", delimiter)) if value]
        if given:
            raise ManifestError(
                f"{' and '.join(given)} {'are' if len(given) > 1 else 'is'} for a CSV file and this "
                "is a workbook: leave it out (use --sheet to pick a sheet)",
                path=name,
            )
        return open_xlsx(name, sheet) if kind == "xlsx" else open_sheet(name, kind, sheet)
    if sheet:
        raise ManifestError(
            "--sheet is for an Excel workbook and this is a CSV file, which has no sheets: leave "
            "--sheet out (use --encoding or --delimiter for a CSV)",
            path=name,
        )
    return open_csv(name, encoding, delimiter)


def iter_rows(info: ManifestInfo, *, chunk_rows: int = 10_000) -> Iterator[RawRow]:
    """The manifest's data rows, streamed, every value a ``str`` (``''`` when empty).

    Fully blank rows are skipped but still counted, so ``RawRow.row`` is the row number a spreadsheet
    shows. A row with a value in a column that has no header raises :class:`ManifestError` for that row.
    *chunk_rows* (at least 1) is accepted for callers of earlier versions: every kind streams a row at a time.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if info.kind == "xlsx":
        return iter_xlsx(info)
    if info.kind != "csv":
        return iter_sheet(info)
    return iter_csv(info)


def count_rows(info: ManifestInfo, *, chunk_rows: int = 10_000, should_stop: Callable[[], bool] | None = None) -> int:
    """How many rows :func:`iter_rows` yields, with the same checks (a broken file raises the same
    :class:`ManifestError`), without making them: the quick first pass over a large CSV.

    *should_stop* is asked between rows (a CSV: between chunks of *chunk_rows*); when it says yes, the pass
    ends with :class:`~bulkretry.errors.Stopped` naming the row it got to.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    stop = should_stop or _never
    if info.kind != "csv":
        count = 0
        for raw in iter_rows(info):
            if stop():
                raise stopped_at(info, raw.row)
            count += 1
        return count
    return count_csv(info, chunk_rows, stop)


def may_hold(info: ManifestInfo, text: str) -> bool:
    """Whether a cell of the manifest may hold *text* (lower case) in any case: no only when a CSV's text does not
    hold it anywhere (a quick scan, where a pass over the rows makes every one); a workbook's cells are not scanned
    (yes)."""
    return info.kind != "csv" or csv_holds(info, text)


def _never() -> bool:
    return False


def read_manifest(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    chunk_rows: int = 10_000,
) -> tuple[ManifestInfo, Iterator[RawRow]]:
    """:func:`open_manifest` and :func:`iter_rows` in one call: ``info, rows = read_manifest('m.csv')``."""
    info = open_manifest(path, encoding=encoding, delimiter=delimiter, sheet=sheet)
    return info, iter_rows(info, chunk_rows=chunk_rows)
