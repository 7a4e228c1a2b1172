"""Reading manifests as operators really have them: CSV in any common encoding and delimiter, or Excel.

Every cell comes back as text, as the spreadsheet shows it: an id such as ``0012345`` is never turned into
a number, a date or NaN. Rows stream (a chunk at a time for CSV, a row at a time for Excel), so memory does
not grow with the file, and each row carries the number a spreadsheet shows for it (header = 1, blank
rows counted). Anything that makes the file unusable raises :class:`~bulkretry.errors.ManifestError`
naming the file and, where known, the row and column.

pandas and openpyxl are imported only when a file of their kind is read, so ``bulkretry --help`` stays fast.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from bulkretry.errors import ManifestError

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
]

#: The columns bulkretry knows, in the contract's order. Only ``group_id`` is required.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "group_id", "project_id", "region", "src_ak", "src_sk", "dst_ak", "dst_sk", "json_auth_file",
    "source_cdn_authentication_key", "connection_string", "migrate_failed_object",
)

#: The other spellings accepted for each column (case, spaces, ``_`` and ``-`` are ignored when matching).
COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "group_id": ("task_group_id", "groupId", "任务组ID", "迁移任务组ID"),
    "project_id": ("projectId", "项目ID"),
    "region": ("区域",),
    "src_ak": ("源端AK",),
    "src_sk": ("源端SK",),
    "dst_ak": ("目的端AK",),
    "dst_sk": ("目的端SK",),
    "json_auth_file": (),
    "source_cdn_authentication_key": (),
    "connection_string": (),
    "migrate_failed_object": (),
})

CSV_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm")

_IGNORED_IN_NAMES = re.compile(r"[\s_\-]+")
_SCAN_CHUNK = 1 << 20  # bytes read at a time when checking the encoding
_SNIFF_CHARS = 64 * 1024  # text looked at to guess the delimiter
_SNIFF_RECORDS = 20
_SNIFFED_DELIMITERS = (",", ";", "\t")
_SNIFF_FILLER = " \t,;|"  # a line of only these is blank whatever the delimiter
_DELIMITER_NAMES = {
    ",": ",", "comma": ",", ";": ";", "semicolon": ";", "|": "|", "pipe": "|",
    "\t": "\t", "\\t": "\t", "tab": "\t",
}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARKER = "EncryptedPackage".encode("utf-16-le")  # a stream name inside an encrypted OOXML file
_ZERO_PADDED_FORMAT = re.compile(r"0+")
_TIME_TOKENS = re.compile(r"[hs]", re.IGNORECASE)
_QUOTED_OR_BRACKETED = re.compile(r'"[^"]*"|\[[^\]]*\]')


def _normalise(name: str) -> str:
    return _IGNORED_IN_NAMES.sub("", unicodedata.normalize("NFKC", name.replace("\ufeff", ""))).casefold()


_BY_NORMALISED: dict[str, str] = {
    _normalise(spelling): column
    for column in CANONICAL_COLUMNS
    for spelling in (column, *COLUMN_ALIASES[column])
}


def canonical_name(header: str) -> str | None:
    """The canonical column *header* means (``'任务组ID'`` → ``'group_id'``), or ``None`` for an unknown column.

    Matching ignores case, whitespace, ``_``, ``-``, a UTF-8 BOM and full-width letters.
    """
    return _BY_NORMALISED.get(_normalise(header))


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    """What :func:`open_manifest` found out about a manifest, enough for :func:`iter_rows` to read it.

    ``headers`` are the header cells as written (stripped; trailing empty cells dropped); ``columns`` gives,
    for each header, its canonical name, or the header itself for an unknown column (an empty header cell is
    named after its column letter, e.g. ``'column C'``; repeated unknown headers get `` (2)``, `` (3)``…).
    ``header_row`` is the header's row number as a spreadsheet shows it (1 unless blank rows come first).
    """

    path: str
    kind: str  # "csv" | "xlsx"
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    headers: tuple[str, ...]
    columns: tuple[str, ...]
    header_row: int = 1


class RawRow(NamedTuple):
    """One data row: its number as a spreadsheet shows it, and every cell as text keyed by column."""

    row: int
    values: dict[str, str]


# ---------------------------------------------------------------------------------------------- the file


def _column_letter(index: int) -> str:
    """Excel's letter for the 1-based column *index* (1 → A, 27 → AA)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


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


# ---------------------------------------------------------------------------------------------- CSV: encoding


def _scan(path: str, codec: str, *, find_nul: bool) -> tuple[int | None, int | None]:
    """Decode the whole file with *codec* a chunk at a time: ``(first undecodable byte, first NUL byte)``.

    With *find_nul*, NUL bytes are looked for in the raw bytes (right for ASCII-compatible codecs) through
    the whole file; otherwise a NUL character in the decoded text is reported at the start of its chunk.
    """
    decoder = codecs.getincrementaldecoder(codec)("strict")
    bad = nul = None
    pos = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            if find_nul and nul is None and (at := chunk.find(b"\x00")) >= 0:
                nul = pos + at
            if bad is None:
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad = pos + exc.start - (len(exc.object) - len(chunk))
                else:
                    if not find_nul and nul is None and "\x00" in text:
                        nul = pos
            pos += len(chunk)
            if bad is not None and (nul is not None or not find_nul):
                break
    if bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            bad = pos - len(exc.object) + exc.start
    return bad, nul


def _nul_error(path: str, offset: int) -> ManifestError:
    return ManifestError(f"contains a NUL byte (at byte {offset}): it is a binary file, not CSV text; "
                         "export the manifest as .csv or .xlsx", path=path)


def _detect_encoding(path: str, forced: str | None) -> str:
    """The codec to read the CSV with: *forced* (checked), or UTF-8, UTF-16 (BOM) or GB18030 by content."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    utf16_bom = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if forced is not None:
        try:
            codec = codecs.lookup(forced).name
        except LookupError:
            raise ManifestError(f"unknown encoding {forced!r}: try utf-8, utf-8-sig, gb18030 or gbk",
                                path=path) from None
        if codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        bad, nul = _scan(path, codec, find_nul=not codec.startswith(("utf-16", "utf-32")))
        if bad is not None:
            raise ManifestError(f"is not valid {codec} text: the bytes at offset {bad} cannot be decoded; "
                                "check --encoding (or leave it out to detect UTF-8/GB18030)", path=path)
        if nul is not None:
            raise _nul_error(path, nul)
        return codec
    if utf16_bom:  # Excel's "Unicode Text" export
        bad, nul = _scan(path, "utf-16", find_nul=False)
        if bad is None and nul is None:
            return "utf-16"
    bad, nul = _scan(path, "utf-8", find_nul=True)
    if nul is not None:
        raise _nul_error(path, nul)
    if bad is None:
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    bad_gb, _ = _scan(path, "gb18030", find_nul=False)
    if bad_gb is None:
        return "gb18030"
    raise ManifestError(f"is neither UTF-8 text (invalid byte at offset {bad}) nor GBK/GB18030 text "
                        f"(invalid byte at offset {bad_gb}): pass --encoding with the file's encoding, "
                        "e.g. --encoding latin-1, or save it as UTF-8", path=path)


# ---------------------------------------------------------------------------------------------- CSV: layout


def _resolve_delimiter(path: str, delimiter: str) -> str:
    found = _DELIMITER_NAMES.get(delimiter) or _DELIMITER_NAMES.get(delimiter.strip().lower())
    if found is None:
        raise ManifestError(f"unsupported delimiter {delimiter!r}: use ',', ';', tab ('\\t' or 'tab') or '|'",
                            path=path)
    return found


def _is_blank(cells: Iterable[str]) -> bool:
    for cell in cells:  # noqa: SIM110 (a loop, not any(<generator>): the first cell usually decides)
        if cell and not cell.isspace():
            return False
    return True


def _open_text(path: str, encoding: str) -> io.TextIOWrapper:
    return open(path, encoding=encoding, newline="")


def _sniff_delimiter(path: str, encoding: str) -> str:
    """The candidate that splits the header into the most columns, consistently with the next few rows."""
    with _open_text(path, encoding) as fh:
        sample = fh.read(_SNIFF_CHARS)
        if fh.read(1) and "\n" in sample:  # cut a longer file at a line end
            sample = sample[: sample.rindex("\n") + 1]
    prefer_tab = Path(path).suffix.lower() == ".tsv"
    best: tuple[Any, ...] = ()
    chosen = "\t" if prefer_tab else ","
    for rank, candidate in enumerate(_SNIFFED_DELIMITERS):
        try:
            records = [r for r in csv.reader(io.StringIO(sample), delimiter=candidate)
                       if not _is_blank(cell.strip(_SNIFF_FILLER) for cell in r)]
        except csv.Error:
            continue
        records = records[: _SNIFF_RECORDS + 1]
        if not records:
            continue
        width = len(records[0])
        consistent = sum(1 for r in records[1:] if len(r) == width)
        preferred = candidate == "\t" if prefer_tab else -rank
        # A one-column header has no delimiter to be consistent with: the default wins, so a stray
        # "g2,oops" row is an error (more cells than headers) rather than a group id with a comma in it.
        score = (width > 1, consistent if width > 1 else 0, width, preferred)
        if score > best:
            best, chosen = score, candidate
    return chosen


def _csv_records(fh: io.TextIOWrapper, delimiter: str, path: str, *, strict: bool = False,
                 first_row: int = 1) -> Iterator[list[str]]:
    """``csv.reader`` over *fh*, turning its errors into a ManifestError with the row number.

    *strict* also rejects a quote that is never closed (the lenient reader silently swallows the rest
    of the file into that cell) and text after a closing quote.
    """
    reader = csv.reader(fh, delimiter=delimiter, strict=strict)
    row = first_row - 1
    while True:
        row += 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            what = ("a quote (\") opened in this row is never closed" if "end of data" in str(exc)
                    else f"cannot be parsed as CSV ({exc})")
            raise ManifestError(f"{what}; check the quotes in this row", path=path, row=row) from None
        yield record


def _read_csv_header(path: str, encoding: str, delimiter: str) -> tuple[int, list[str], bool]:
    """``(header row number, header cells, whether a non-blank data row follows)``."""
    with _open_text(path, encoding) as fh:
        records = _csv_records(fh, delimiter, path)
        for row, record in enumerate(records, start=1):
            if not _is_blank(record):
                has_rows = any(not _is_blank(r) for r in records)
                return row, record, has_rows
    raise ManifestError("has no header row: the first non-blank row must name the columns (e.g. group_id)",
                        path=path)


# ---------------------------------------------------------------------------------------------- headers


def _trim(cells: list[str]) -> list[str]:
    cells = [cell.replace("\ufeff", "").strip() for cell in cells]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _columns_for(path: str, headers: list[str], delimiter: str | None) -> tuple[str, ...]:
    """Each header's canonical name (or itself, made unique); raises for a clash or a missing group_id."""
    canonical = [canonical_name(h) if h else None for h in headers]
    first_seen: dict[str, int] = {}
    for index, name in enumerate(canonical):
        if name is None:
            continue
        if name in first_seen:
            other = first_seen[name]
            raise ManifestError(
                f"columns {headers[other]!r} ({_column_letter(other + 1)}) and {headers[index]!r} "
                f"({_column_letter(index + 1)}) both mean {name}: keep only one of them",
                path=path, column=headers[index])
        first_seen[name] = index
    if "group_id" not in first_seen:
        accepted = ", ".join(("group_id", *COLUMN_ALIASES["group_id"]))
        found = ", ".join(repr(h) for h in headers if h) or "none"
        hint = ""
        if delimiter is not None and len(headers) == 1:
            others = [d for d in (*_SNIFFED_DELIMITERS, "|") if d != delimiter and d in headers[0]]
            if others:
                hint = f" (the header was split on {delimiter!r}; if that is wrong, pass --delimiter)"
        raise ManifestError(f"has no group_id column: name one column {accepted} (case, spaces, '_' and '-' "
                            f"do not matter); the headers found are {found}{hint}", path=path)
    taken = set(CANONICAL_COLUMNS)
    columns: list[str] = []
    for index, (header, name) in enumerate(zip(headers, canonical, strict=True)):
        if name is None:
            base = header or f"column {_column_letter(index + 1)}"
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base} ({n})"
        taken.add(name)
        columns.append(name)
    return tuple(columns)


# ---------------------------------------------------------------------------------------------- Excel


def _load_workbook(path: str) -> Any:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about features it drops; we only read values
            return load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, ValueError…) for damaged files
        raise ManifestError(f"is damaged or not an Excel workbook ({type(exc).__name__}: {exc}); open it in Excel "
                            "and save it again as .xlsx, or save it as .csv", path=path) from None


def _pick_sheet(path: str, workbook: Any, sheet: str | None) -> Any:
    names = list(workbook.sheetnames)
    if sheet is None:
        worksheets = workbook.worksheets
        if not worksheets:
            raise ManifestError("has no worksheet", path=path)
        return worksheets[0]
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


def _cell_text(value: Any, number_format: str | None) -> str:
    """A cell's value as the user sees it in Excel (ids as digits, dates as ISO 8601)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return _format_number(value, number_format)
    if isinstance(value, dt.datetime):
        shows_time = bool(_TIME_TOKENS.search(_QUOTED_OR_BRACKETED.sub("", number_format or "")))
        if value.time() == dt.time() and not shows_time:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)


def _sheet_rows(path: str, worksheet: Any, min_row: int = 1) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cell texts)`` for every row from *min_row*, blank ones included."""
    rows = iter(worksheet.iter_rows(min_row=min_row))
    row = min_row - 1
    while True:
        row += 1
        try:
            cells = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # the sheet's XML is parsed lazily; a damaged part fails here
            raise ManifestError(f"cannot be read ({type(exc).__name__}: {exc}); open it in Excel and save "
                                "it again", path=path, row=row) from None
        yield row, [_cell_text(cell.value, cell.number_format) for cell in cells]


def _open_xlsx(path: str, sheet: str | None) -> ManifestInfo:
    workbook = _load_workbook(path)
    try:
        worksheet = _pick_sheet(path, workbook, sheet)
        worksheet.reset_dimensions()  # some writers store a wrong size; read what is really there
        rows = _sheet_rows(path, worksheet)
        for row, cells in rows:
            if not _is_blank(cells):
                header_row = row
                break
        else:
            raise ManifestError(f"sheet {worksheet.title!r} has no header row: the first non-blank row must "
                                "name the columns (e.g. group_id)", path=path)
        headers = _trim(cells)
        columns = _columns_for(path, headers, None)
        if not any(not _is_blank(cells) for _, cells in rows):
            raise ManifestError(f"sheet {worksheet.title!r} has a header but no rows", path=path)
        return ManifestInfo(path, "xlsx", None, None, worksheet.title, tuple(headers), columns, header_row)
    finally:
        workbook.close()


def _iter_xlsx(info: ManifestInfo) -> Iterator[RawRow]:
    workbook = _load_workbook(info.path)
    try:
        worksheet = _pick_sheet(info.path, workbook, info.sheet)
        worksheet.reset_dimensions()
        yield from _raw_rows(info, _sheet_rows(info.path, worksheet, info.header_row + 1))
    finally:
        workbook.close()


def _row_values(info: ManifestInfo, row: int, cells: list[str] | tuple[str, ...], width: int) -> dict[str, str]:
    if len(cells) > width:
        for index in range(width, len(cells)):
            if cells[index].strip():
                raise ManifestError(
                    f"has {len(cells)} cells but the header has {width} columns: cell {_column_letter(index + 1)}"
                    f"{row} ({cells[index][:40]!r}) has no header; give the column a header, remove the stray "
                    "value, or quote a value that contains the delimiter",
                    path=info.path, row=row, column=_column_letter(index + 1))
    values = dict(zip(info.columns, cells, strict=False))
    for column in info.columns[len(cells):]:
        values[column] = ""
    return values


# ---------------------------------------------------------------------------------------------- CSV: rows


def _iter_csv(info: ManifestInfo, chunk_rows: int) -> Iterator[RawRow]:
    yield from _raw_rows(info, _pandas_rows(info, _check_csv_header(info), chunk_rows))


def _raw_rows(info: ManifestInfo, records: Iterable[tuple[int, Sequence[str]]]) -> Iterator[RawRow]:
    """The non-blank records as rows (a value in a column with no header raises)."""
    width = len(info.columns)
    for row, cells in records:
        if not _is_blank(cells):
            yield RawRow(row, _row_values(info, row, cells, width))


def _count_csv(info: ManifestInfo, chunk_rows: int) -> int:
    """What ``len(list(_iter_csv(...)))`` would be, without making the rows: blank rows are found a column
    at a time, in pandas (usually the first column already shows every row is not blank)."""
    width = _check_csv_header(info)
    count = 0
    for first, chunk in _pandas_chunks(info, width, chunk_rows):
        if chunk is None:  # the rest through the csv module, row by row, with its checks
            return count + sum(1 for _ in _raw_rows(info, _csv_module_rows(info, first - info.header_row - 1)))
        undecided = None  # rows not yet seen to hold a non-blank cell (None: all of them)
        for column in chunk.columns:
            cells = chunk[column] if undecided is None else chunk[column].loc[undecided]
            nonblank = ((cells != "") & ~cells.str.isspace()).to_numpy(dtype=bool)
            count += int(nonblank.sum())
            undecided = cells.index[~nonblank]
            if not len(undecided):
                break
    return count


def _check_csv_header(info: ManifestInfo) -> int:
    """The header's width, after making sure the file still has the header it was opened with."""
    assert info.encoding is not None and info.delimiter is not None
    header_row, raw_header, _ = _read_csv_header(info.path, info.encoding, info.delimiter)
    if header_row != info.header_row or tuple(_trim(raw_header)) != info.headers:
        raise ManifestError("changed since it was opened (its header is different): start again", path=info.path)
    return len(raw_header)


def _pandas_rows(info: ManifestInfo, width: int, chunk_rows: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Every data record as ``(row number, cells)``, blank ones included, a chunk at a time."""
    for first, chunk in _pandas_chunks(info, width, chunk_rows):
        if chunk is None:
            yield from _csv_module_rows(info, first - info.header_row - 1)
            return
        # One C-level conversion per chunk, then plain tuples.
        for offset, cells in enumerate(chunk.to_numpy(dtype=object).tolist()):
            yield first + offset, tuple(cells)


def _pandas_chunks(info: ManifestInfo, width: int, chunk_rows: int) -> Iterator[tuple[int, Any]]:
    """The data records read by pandas a chunk at a time: ``(row number of the chunk's first record,
    DataFrame of str cells, missing trailing cells filled with '')``.

    pandas' C parser cannot carry on past a row with more cells than the header (it fails, or silently
    truncates the first row), so from the chunk where that happens the last item is ``(row number,
    None)``: the rest, from that row on, must be read with :mod:`csv` (``_csv_module_rows``), which
    reports the row or accepts the extra cells when they are empty.
    """
    import pandas as pd

    first = info.header_row + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            reader = pd.read_csv(
                info.path, sep=info.delimiter, encoding=info.encoding, dtype=str, keep_default_na=False,
                na_filter=False, skip_blank_lines=False, chunksize=chunk_rows, header=0, engine="c",
                names=list(range(width)), index_col=False, skiprows=info.header_row - 1, quotechar='"',
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        yield first, None
        return
    with reader:
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    chunk = reader.get_chunk()
            except StopIteration:
                return
            except (pd.errors.ParserError, pd.errors.ParserWarning):
                break
            yield first, chunk.fillna("")  # missing trailing cells come back as NaN
            first += len(chunk)
    yield first, None


def _csv_module_rows(info: ManifestInfo, skip: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    assert info.encoding is not None and info.delimiter is not None
    with _open_text(info.path, info.encoding) as fh:
        for index, record in enumerate(_csv_records(fh, info.delimiter, info.path, strict=True)):
            data_index = index - info.header_row
            if data_index >= skip:
                yield info.header_row + 1 + data_index, tuple(record)


# ---------------------------------------------------------------------------------------------- public


def open_manifest(path: str | os.PathLike[str], *, encoding: str | None = None, delimiter: str | None = None,
                  sheet: str | None = None) -> ManifestInfo:
    """Check a manifest and read its header: kind, encoding, delimiter, sheet and columns.

    *encoding* and *delimiter* (``','``, ``';'``, ``'\\t'``/``'tab'``, ``'|'``) force what is otherwise
    detected for CSV; *sheet* picks an Excel sheet by name (default: the first). Reads the whole file once
    for a CSV (to be sure of its encoding) in constant memory. Raises :class:`ManifestError` for a file that
    cannot be used: missing, empty, binary, undecodable, encrypted, without a ``group_id`` column, with two
    columns meaning the same thing, or with a header but no rows.
    """
    name = os.fspath(path)
    kind = _kind_of(name)
    if kind == "xlsx":
        return _open_xlsx(name, sheet)
    codec = _detect_encoding(name, encoding)
    sep = _resolve_delimiter(name, delimiter) if delimiter is not None else _sniff_delimiter(name, codec)
    header_row, raw_header, has_rows = _read_csv_header(name, codec, sep)
    headers = _trim(raw_header)
    columns = _columns_for(name, headers, sep)
    if not has_rows:
        raise ManifestError("has a header but no rows", path=name)
    return ManifestInfo(name, "csv", codec, sep, None, tuple(headers), columns, header_row)


def iter_rows(info: ManifestInfo, *, chunk_rows: int = 10_000) -> Iterator[RawRow]:
    """The manifest's data rows, streamed, every value a ``str`` (``''`` when empty).

    Fully blank rows are skipped but still counted, so ``RawRow.row`` is the row number a spreadsheet
    shows. A row with a value in a column that has no header raises :class:`ManifestError` for that row.
    *chunk_rows* is how many CSV rows are parsed at a time.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if info.kind == "xlsx":
        return _iter_xlsx(info)
    return _iter_csv(info, chunk_rows)


def count_rows(info: ManifestInfo, *, chunk_rows: int = 10_000) -> int:
    """How many rows :func:`iter_rows` yields, with the same checks (a broken file raises the same
    :class:`ManifestError`), without making them: the quick first pass over a large CSV."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if info.kind == "xlsx":
        return sum(1 for _ in _iter_xlsx(info))
    return _count_csv(info, chunk_rows)


def read_manifest(path: str | os.PathLike[str], *, encoding: str | None = None, delimiter: str | None = None,
                  sheet: str | None = None, chunk_rows: int = 10_000) -> tuple[ManifestInfo, Iterator[RawRow]]:
    """:func:`open_manifest` and :func:`iter_rows` in one call: ``info, rows = read_manifest('m.csv')``."""
    info = open_manifest(path, encoding=encoding, delimiter=delimiter, sheet=sheet)
    return info, iter_rows(info, chunk_rows=chunk_rows)
