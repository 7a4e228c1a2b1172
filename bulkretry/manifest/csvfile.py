"""CSV manifests as operators have them: UTF-8 (with or without a BOM), UTF-16 or GB18030, comma, semicolon,
tab or pipe; read by the csv module's C reader (no pandas: a CSV run never imports it).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, NamedTuple

from bulkretry.errors import ManifestError, Stopped
from bulkretry.manifest.columns import (
    MAX_TITLE_ROWS,
    SNIFFED_DELIMITERS,
    ManifestInfo,
    RawRow,
    check_extra_cells,
    columns_for,
    find_header,
    is_blank,
    raw_rows,
    trim,
)

__all__ = [
    "COUNT_BATCH",
    "CsvHeader",
    "count_csv",
    "csv_holds",
    "csv_records",
    "iter_csv",
    "open_csv",
    "open_text",
    "stopped_at",
]

_SCAN_CHUNK = 1 << 20  # bytes read at a time when checking the encoding
_SNIFF_CHARS = 64 * 1024  # text looked at to guess the delimiter
_SNIFF_RECORDS = 20
_SNIFF_FILLER = " \t,;|"  # a line of only these is blank whatever the delimiter
#: Codecs Python calls text encodings that are no file's character set: refused for --encoding.
_NOT_FILE_ENCODINGS = frozenset({"punycode", "idna", "undefined", "unicode-escape", "raw-unicode-escape"})
#: The codecs that need a byte-order mark to know the byte order: (the BOMs, the code unit's width).
_BOM_BYTE_ORDERS = {
    "utf-16": ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), 2),
    "utf-32": ((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), 4),
}
_BOM_HEAD = 256  # bytes looked at to guess the byte order of a file without a BOM
#: Records counted at a time. Fewer than the garbage collector's first threshold (700 new containers; each record
#: is a list): a batch freed before the next is read never starts a collection (10,000 at a time started 42 in a
#: 30k-row count, 9 ms).
COUNT_BATCH = 512
_UNCLOSED = 'a quote (") opened in this row is never closed'
#: Read after a CSV file's own lines: a line no delimiter or quote splits, from Unicode's private use area (a record
#: of exactly this line is ours; a last cell that ends with it held a quote never closed).
_END_LINE = "\ue000bulkretry: end of file\ue000"
_END_RECORD = [_END_LINE]
_DELIMITER_NAMES = {
    ",": ",",
    "comma": ",",
    ";": ";",
    "semicolon": ";",
    "|": "|",
    "pipe": "|",
    "\t": "\t",
    "\\t": "\t",
    "tab": "\t",
}


class _Scan(NamedTuple):
    """What decoding a whole file told: its first undecodable byte and first NUL byte (None: none), and whether
    its text is plain lines (:class:`_PlainLines`; False when decoding stopped early)."""

    bad: int | None
    nul: int | None
    plain: bool


class _PlainLines:
    """Fed a file's text chunk by chunk: whether the csv module reads each line as the line split at the delimiter
    (``ManifestInfo.plain_lines``): no quote character anywhere (so no cell spans lines or holds the delimiter) and
    no line longer than the module's field limit (a longer cell is its error)."""

    def __init__(self) -> None:
        self._limit = csv.field_size_limit()
        self._tail = ""  # the last line so far, which the next chunk continues
        self.plain = True

    def feed(self, text: str) -> None:
        if self.plain:
            *lines, self._tail = (self._tail + text).replace("\r", "\n").split("\n")
            longest = max([len(self._tail), *map(len, lines)])
            self.plain = '"' not in text and longest <= self._limit


def _scan(path: str, codec: str, *, find_nul: bool) -> _Scan:
    """Decode the whole file with *codec* a chunk at a time (see :class:`_Scan`).

    With *find_nul*, NUL bytes are looked for in the raw bytes (right for ASCII-compatible codecs) through
    the whole file; otherwise a NUL character in the decoded text is reported at the start of its chunk.
    """
    decoder = codecs.getincrementaldecoder(codec)("strict")
    lines = _PlainLines()
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
                except (UnicodeError, ValueError) as exc:  # a codec that reports no offset
                    raise _codec_error(path, codec, exc) from None
                else:
                    if not find_nul and nul is None and "\x00" in text:
                        nul = pos
                    lines.feed(text)
            pos += len(chunk)
            if bad is not None and (nul is not None or not find_nul):
                break
    if bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            bad = pos - len(exc.object) + exc.start
        except (UnicodeError, ValueError) as exc:
            raise _codec_error(path, codec, exc) from None
    return _Scan(bad, nul, bad is None and lines.plain)


def _codec_error(path: str, codec: str, exc: Exception) -> ManifestError:
    return ManifestError(
        f"cannot be decoded as {codec} text ({str(exc)[:80]}); check --encoding (or leave it "
        "out to detect UTF-8/UTF-16/GB18030)",
        path=path,
    )


def _nul_error(path: str, offset: int) -> ManifestError:
    return ManifestError(
        f"contains a NUL byte (at byte {offset}): it is a binary file, not CSV text; "
        "export the manifest as .csv or .xlsx",
        path=path,
    )


def _forced_codec(path: str, forced: str) -> str:
    """The codec named by ``--encoding``, if it reads a file's bytes as text (checked against the file's start)."""
    try:
        info = codecs.lookup(forced)
    except LookupError:
        raise ManifestError(f"unknown encoding {forced!r}: try utf-8, utf-8-sig, gb18030 or gbk", path=path) from None
    codec = info.name
    if not getattr(info, "_is_text_encoding", True) or codec in _NOT_FILE_ENCODINGS:
        raise ManifestError(
            f"--encoding {forced!r} is not a character encoding for text files (it is the {codec} "
            "codec); give the file's character set, e.g. --encoding utf-8, gb18030, utf-16-le or "
            "latin-1, or leave --encoding out to detect UTF-8/UTF-16/GB18030",
            path=path,
        )
    if codec in _BOM_BYTE_ORDERS:
        with open(path, "rb") as fh:
            head = fh.read(_BOM_HEAD)
        boms, width = _BOM_BYTE_ORDERS[codec]
        if not head.startswith(boms):
            # ASCII characters have their zero bytes last in little-endian, first in big-endian.
            units = [head[i : i + width] for i in range(0, len(head) - width + 1, width)]
            big = sum(1 for u in units if u[0] == 0 and u[-1] != 0) > sum(1 for u in units if u[-1] == 0)
            likely, other = (f"{codec}-be", f"{codec}-le") if big else (f"{codec}-le", f"{codec}-be")
            raise ManifestError(
                f"--encoding {forced!r} needs a byte-order mark (BOM) at the start of the file and "
                f"this file has none: name the byte order, --encoding {likely} (likely, from its "
                f"first bytes) or --encoding {other}",
                path=path,
            )
    return codec


def detect_encoding(path: str, forced: str | None) -> tuple[str, bool]:
    """The codec to read the CSV with: *forced* (checked), or UTF-8, UTF-16 (BOM) or GB18030 by content; and whether
    the file read with it is plain lines (``ManifestInfo.plain_lines``, found by the same pass)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    utf16_bom = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if forced is not None:
        codec = _forced_codec(path, forced)
        if codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        bad, nul, plain = _scan(path, codec, find_nul=not codec.startswith(("utf-16", "utf-32")))
        if bad is not None:
            raise ManifestError(
                f"is not valid {codec} text: the bytes at offset {bad} cannot be decoded; "
                "check --encoding (or leave it out to detect UTF-8/GB18030)",
                path=path,
            )
        if nul is not None:
            raise _nul_error(path, nul)
        return codec, plain
    if utf16_bom:  # Excel's "Unicode Text" export
        bad, nul, plain = _scan(path, "utf-16", find_nul=False)
        if bad is None and nul is None:
            return "utf-16", plain
    # (UTF-8 with a BOM is read as utf-8 here: the BOM's one character more on the first line is on the safe side)
    bad, nul, plain = _scan(path, "utf-8", find_nul=True)
    if nul is not None:
        raise _nul_error(path, nul)
    if bad is None:
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), plain
    bad_gb, _, plain = _scan(path, "gb18030", find_nul=False)
    if bad_gb is None:
        return "gb18030", plain
    raise ManifestError(
        f"is neither UTF-8 text (invalid byte at offset {bad}) nor GBK/GB18030 text "
        f"(invalid byte at offset {bad_gb}): pass --encoding with the file's encoding, "
        "e.g. --encoding latin-1, or save it as UTF-8",
        path=path,
    )


def resolve_delimiter(path: str, delimiter: str) -> str:
    found = _DELIMITER_NAMES.get(delimiter) or _DELIMITER_NAMES.get(delimiter.strip().lower())
    if found is None:
        raise ManifestError(
            f"unsupported delimiter {delimiter!r}: use ',', ';', tab ('\\t' or 'tab') or '|'", path=path
        )
    return found


def open_text(path: str, encoding: str) -> io.TextIOWrapper:
    return open(path, encoding=encoding, newline="")


def sniff_delimiter(path: str, encoding: str) -> str:
    """The candidate that splits the header into the most columns, consistently with the next few rows."""
    with open_text(path, encoding) as fh:
        sample = fh.read(_SNIFF_CHARS)
        if fh.read(1) and "\n" in sample:  # cut a longer file at a line end
            sample = sample[: sample.rindex("\n") + 1]
    prefer_tab = Path(path).suffix.lower() == ".tsv"
    best: tuple[Any, ...] = ()
    chosen = "\t" if prefer_tab else ","
    for rank, candidate in enumerate(SNIFFED_DELIMITERS):
        try:
            records = [
                r
                for r in csv.reader(io.StringIO(sample), delimiter=candidate)
                if not is_blank(cell.strip(_SNIFF_FILLER) for cell in r)
            ]
        except csv.Error:
            continue
        records = _past_titles(records)[: _SNIFF_RECORDS + 1]
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


def _past_titles(records: list[list[str]]) -> list[list[str]]:
    """*records* from the first that is no title (one filled cell: a caption above the header, as
    :func:`~bulkretry.manifest.columns.find_header` skips), when one follows: the header's width decides."""
    for start, record in enumerate(records[: MAX_TITLE_ROWS + 1]):
        if sum(1 for cell in record if cell.strip(_SNIFF_FILLER)) > 1:
            return records[start:]
    return records


def csv_records(
    lines: Iterable[str],
    delimiter: str,
    path: str,
    *,
    strict: bool = False,
    first_row: int = 1,
    plain: bool = False,
) -> Iterator[list[str]]:
    """``csv.reader`` over *lines* (a file opened with ``open_text``), turning its errors into a ManifestError with
    the row number.

    *strict* also rejects a quote that is never closed (the lenient reader silently swallows the rest
    of the file into that cell) and text after a closing quote. *plain* says the file has lines the csv module
    would read as they are (``ManifestInfo.plain_lines``): each is then split at the delimiter, a third of the reader's
    cost (an empty line is ``['']``, where the reader gives ``[]``: a blank record either way).
    """
    if plain:
        return map(str.split, map(str.rstrip, lines, repeat("\r\n")), repeat(delimiter))
    return _read_csv(lines, delimiter, path, strict, first_row)


def _read_csv(lines: Iterable[str], delimiter: str, path: str, strict: bool, first_row: int) -> Iterator[list[str]]:
    row = first_row - 1
    try:
        for record in csv.reader(lines, delimiter=delimiter, strict=strict):
            row += 1
            yield record
    except csv.Error as exc:
        what = _UNCLOSED if "end of data" in str(exc) else f"cannot be parsed as CSV ({exc})"
        raise ManifestError(f"{what}; check the quotes in this row", path=path, row=row + 1) from None


class CsvHeader(NamedTuple):
    """A CSV's header: its row number, its cells, whether a non-blank row follows, the title rows above it."""

    row: int
    cells: list[str]
    has_rows: bool
    titles: tuple[int, ...]


def read_csv_header(path: str, encoding: str, delimiter: str) -> CsvHeader:
    """The header (:func:`~bulkretry.manifest.columns.find_header`: title rows above it skipped)."""
    with open_text(path, encoding) as fh:
        records = enumerate(csv_records(fh, delimiter, path), start=1)
        found = find_header(records)
        if found is not None:
            row, cells, titles = found
            return CsvHeader(row, cells, any(not is_blank(r) for _, r in records), titles)
    raise ManifestError("has no header row: the first non-blank row must name the columns (e.g. group_id)", path=path)


def open_csv(path: str, encoding: str | None, delimiter: str | None) -> ManifestInfo:
    """A CSV manifest's encoding (*encoding*, checked, or detected), delimiter (*delimiter* or guessed) and header."""
    codec, plain = detect_encoding(path, encoding)
    sep = resolve_delimiter(path, delimiter) if delimiter is not None else sniff_delimiter(path, codec)
    header = read_csv_header(path, codec, sep)
    headers = trim(header.cells)
    columns = columns_for(path, headers, sep)
    if not header.has_rows:
        raise ManifestError("has a header but no rows", path=path)
    return ManifestInfo(
        path,
        "csv",
        codec,
        sep,
        None,
        tuple(headers),
        columns,
        header.row,
        title_rows=header.titles,
        plain_lines=plain,
    )


def iter_csv(info: ManifestInfo) -> Iterator[RawRow]:
    """The data rows, streamed by the csv module's C reader (blank ones skipped but counted)."""
    _check_csv_header(info)
    return raw_rows(info, _data_records(info))


def count_csv(info: ManifestInfo, chunk_rows: int, should_stop: Callable[[], bool] | None = None) -> int:
    """What ``len(list(iter_csv(...)))`` would be, with the same checks, without making the rows: each batch of
    records (*chunk_rows*, at most :data:`COUNT_BATCH`) is counted at C speed. *should_stop* is asked before each
    batch: yes ends it with ``Stopped``."""
    _check_csv_header(info)
    records = _records(info)
    size = min(chunk_rows, COUNT_BATCH)
    row = info.header_row + 1  # the row number of the next record to count
    count = 0
    held: list[list[str]] = []  # the last record read, counted with the next batch: the file's end is not a row
    while batch := list(islice(records, size)):
        if should_stop is not None and should_stop():
            raise stopped_at(info, row)
        batch = held + batch
        held = [batch.pop()]
        count += _nonblank(info, batch, row)
        row += len(batch)
    if held != [_END_RECORD]:
        raise _unclosed(info, row)
    return count


def csv_holds(info: ManifestInfo, text: str) -> bool:
    """Whether the CSV's text holds *text* (lower case) in any case, read in chunks of :data:`_SCAN_CHUNK`
    characters (a few ms for 30,000 rows, where a pass over its rows takes a hundred)."""
    assert info.encoding is not None
    overlap = len(text) - 1
    with open(info.path, encoding=info.encoding, errors="replace", newline="") as fh:
        tail = ""
        while chunk := fh.read(_SCAN_CHUNK):
            if text in (tail + chunk).lower():
                return True
            tail = chunk[-overlap:] if overlap else ""
    return False


def _nonblank(info: ManifestInfo, records: list[list[str]], first_row: int) -> int:
    """How many of *records* (the first on row *first_row*) have a non-blank cell; a value in a cell past the
    header raises, as for the rows :func:`iter_csv` makes."""
    width = len(info.columns)
    if max(map(len, records), default=0) > width:
        for offset, cells in enumerate(records):
            if len(cells) > width:
                check_extra_cells(info, first_row + offset, cells, width)
    # A record is blank when its cells joined are only whitespace, as is_blank tells cell by cell.
    return sum(map(bool, map(str.strip, map("".join, records))))


def stopped_at(info: ManifestInfo, row: int) -> Stopped:
    """The :class:`Stopped` for a stop asked for while *info*'s manifest was read, at *row*."""
    return Stopped(f"while reading the manifest {info.path} (at row {row})")


def _check_csv_header(info: ManifestInfo) -> None:
    """Make sure the file still has the header it was opened with."""
    assert info.encoding is not None and info.delimiter is not None
    header = read_csv_header(info.path, info.encoding, info.delimiter)
    if header.row != info.header_row or tuple(trim(header.cells)) != info.headers:
        raise ManifestError("changed since it was opened (its header is different): start again", path=info.path)


def _data_records(info: ManifestInfo) -> Iterator[tuple[int, list[str]]]:
    """Every record after the header as ``(row number, cells)``, blank ones included (see :func:`_records`)."""
    row = info.header_row
    held: list[str] | None = None  # the last record read: yielded once the next shows it is not the file's end
    for record in _records(info):
        if held is not None:
            yield row, held
        row += 1
        held = record
    if held != _END_RECORD:
        raise _unclosed(info, row)


def _records(info: ManifestInfo) -> Iterator[list[str]]:
    """The records after the header, read by the csv module, then one more: :data:`_END_RECORD` when every quote
    was closed, or else the last record, whose last cell swallowed the rest of the file and the end line.

    The reader is the lenient one (text after a closing quote is kept, as a spreadsheet keeps it); a quote never
    closed is found with :data:`_END_LINE`, a line read after the file's own.
    """
    assert info.encoding is not None and info.delimiter is not None
    with open_text(info.path, info.encoding) as fh:
        records = csv_records(chain(fh, (_END_LINE,)), info.delimiter, info.path, plain=info.plain_lines)
        yield from islice(records, info.header_row, None)  # the header and the rows above it were read already


def _unclosed(info: ManifestInfo, row: int) -> ManifestError:
    return ManifestError(f"{_UNCLOSED}; check the quotes in this row", path=info.path, row=row)
