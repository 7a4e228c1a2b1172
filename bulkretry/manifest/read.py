"""Reading manifests as operators really have them: CSV in any common encoding and delimiter, or Excel.

Every cell comes back as text, as the spreadsheet shows it: an id such as ``0012345`` is never turned into
a number, a date or NaN. Rows stream (a chunk at a time for CSV, a row at a time for Excel), so memory does
not grow with the file, and each row carries the number a spreadsheet shows for it (header = 1, blank
rows counted). Anything that makes the file unusable raises :class:`~bulkretry.errors.ManifestError`
naming the file and, where known, the row and column.

pandas and openpyxl are imported only when a file of their kind is read, so ``bulkretry --help`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from bulkretry.errors import ManifestError
from bulkretry.manifest.columns import CANONICAL_COLUMNS, COLUMN_ALIASES, ManifestInfo, RawRow, canonical_name
from bulkretry.manifest.csvfile import count_csv, iter_csv, open_csv, stopped_at
from bulkretry.manifest.excel import iter_xlsx, open_xlsx

__all__ = [
    "CANONICAL_COLUMNS",
    "COLUMN_ALIASES",
    "CSV_SUFFIXES",
    "EXCEL_SUFFIXES",
    "ManifestInfo",
    "RawRow",
    "canonical_name",
    "count_rows",
    "iter_rows",
    "open_manifest",
    "read_manifest",
    "stopped_at",
]

CSV_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm")

_SCAN_CHUNK = 1 << 20  # bytes read at a time when looking inside a file
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARKER = "EncryptedPackage".encode("utf-16-le")  # a stream name inside an encrypted OOXML file


def _kind_of(path: str) -> str:
    """Check that *path* is a readable, non-empty file of a supported kind; return ``'csv'`` or ``'xlsx'``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ManifestError("no such file: check the path", path=path) from None
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    if Path(path).is_dir():
        raise ManifestError("is a directory, not a manifest file: name a .csv or .xlsx file", path=path)
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        kind = "csv"
    elif suffix in EXCEL_SUFFIXES:
        kind = "xlsx"
    else:
        hint = " (save an Excel 97-2003 .xls workbook as .xlsx)" if suffix == ".xls" else ""
        shown = f"'{suffix}'" if suffix else "no extension"
        raise ManifestError(
            f"unsupported file type ({shown}): a manifest is a {', '.join(CSV_SUFFIXES + EXCEL_SUFFIXES)} file"
            + hint, path=path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    if st.st_size == 0 or not head:
        raise ManifestError("is empty (0 bytes): it needs a header row and at least one data row", path=path)
    if kind == "xlsx":
        _check_workbook_magic(path, head, suffix)
    return kind


def _check_workbook_magic(path: str, head: bytes, suffix: str) -> None:
    if head.startswith(_ZIP_MAGIC):
        return
    if head.startswith(_OLE2_MAGIC):
        if _file_contains(path, _ENCRYPTED_MARKER):
            raise ManifestError(
                "is encrypted (password-protected): open it in Excel and save it without a password "
                "(File > Info > Protect Workbook > Encrypt with Password, clear the password), or save it as .csv",
                path=path)
        raise ManifestError(
            f"is not an Excel workbook ({suffix}): it is an OLE2 file, either a password-protected (encrypted) "
            "workbook or an Excel 97-2003 .xls file renamed; save it without a password as .xlsx or .csv",
            path=path)
    looks = "looks like text (a CSV renamed?)" if _looks_like_text(head) else "is not a zip archive"
    raise ManifestError(f"is not an Excel workbook ({suffix}): it {looks}; save it as .xlsx or .csv, "
                        "or give a text file a .csv name", path=path)


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head


def _file_contains(path: str, needle: bytes) -> bool:
    """Whether *needle* occurs in the file, reading it a chunk at a time."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            if needle in tail + chunk:
                return True
            tail = chunk[-(len(needle) - 1):]
    return False


def open_manifest(path: str | os.PathLike[str], *, encoding: str | None = None, delimiter: str | None = None,
                  sheet: str | None = None) -> ManifestInfo:
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
    if kind == "xlsx":
        given = [option for option, value in (("--encoding", encoding), ("--delimiter", delimiter)) if value]
        if given:
            raise ManifestError(f"{' and '.join(given)} {'are' if len(given) > 1 else 'is'} for a CSV file and this "
                                "is an Excel workbook: leave it out (use --sheet to pick a sheet)", path=name)
        return open_xlsx(name, sheet)
    if sheet:
        raise ManifestError("--sheet is for an Excel workbook and this is a CSV file, which has no sheets: leave "
                            "--sheet out (use --encoding or --delimiter for a CSV)", path=name)
    return open_csv(name, encoding, delimiter)


def iter_rows(info: ManifestInfo, *, chunk_rows: int = 10_000) -> Iterator[RawRow]:
    """The manifest's data rows, streamed, every value a ``str`` (``''`` when empty).

    Fully blank rows are skipped but still counted, so ``RawRow.row`` is the row number a spreadsheet
    shows. A row with a value in a column that has no header raises :class:`ManifestError` for that row.
    *chunk_rows* is how many CSV rows are parsed at a time.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if info.kind == "xlsx":
        return iter_xlsx(info)
    return iter_csv(info, chunk_rows)


def count_rows(info: ManifestInfo, *, chunk_rows: int = 10_000, should_stop: Callable[[], bool] | None = None) -> int:
    """How many rows :func:`iter_rows` yields, with the same checks (a broken file raises the same
    :class:`ManifestError`), without making them: the quick first pass over a large CSV.

    *should_stop* is asked between rows (a CSV: between chunks of *chunk_rows*); when it says yes, the pass
    ends with :class:`~bulkretry.errors.Stopped` naming the row it got to.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    stop = should_stop or _never
    if info.kind == "xlsx":
        count = 0
        for raw in iter_xlsx(info):
            if stop():
                raise stopped_at(info, raw.row)
            count += 1
        return count
    return count_csv(info, chunk_rows, stop)


def _never() -> bool:
    return False


def read_manifest(path: str | os.PathLike[str], *, encoding: str | None = None, delimiter: str | None = None,
                  sheet: str | None = None, chunk_rows: int = 10_000) -> tuple[ManifestInfo, Iterator[RawRow]]:
    """:func:`open_manifest` and :func:`iter_rows` in one call: ``info, rows = read_manifest('m.csv')``."""
    info = open_manifest(path, encoding=encoding, delimiter=delimiter, sheet=sheet)
    return info, iter_rows(info, chunk_rows=chunk_rows)
