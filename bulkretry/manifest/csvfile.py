"""CSV manifests as operators have them: UTF-8 (with or without a BOM), UTF-16 or GB18030, comma, semicolon,
tab or pipe; read in chunks by pandas' C parser, and by the csv module from a row pandas cannot carry on past.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bulkretry.errors import ManifestError, Stopped
from bulkretry.manifest.columns import (
    SNIFFED_DELIMITERS,
    ManifestInfo,
    RawRow,
    columns_for,
    is_blank,
    raw_rows,
    trim,
)

__all__ = ["count_csv", "csv_records", "iter_csv", "open_csv", "open_text", "stopped_at"]

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
                except (UnicodeError, ValueError) as exc:  # a codec that reports no offset
                    raise _codec_error(path, codec, exc) from None
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
        except (UnicodeError, ValueError) as exc:
            raise _codec_error(path, codec, exc) from None
    return bad, nul


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


def detect_encoding(path: str, forced: str | None) -> str:
    """The codec to read the CSV with: *forced* (checked), or UTF-8, UTF-16 (BOM) or GB18030 by content."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    utf16_bom = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if forced is not None:
        codec = _forced_codec(path, forced)
        if codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        bad, nul = _scan(path, codec, find_nul=not codec.startswith(("utf-16", "utf-32")))
        if bad is not None:
            raise ManifestError(
                f"is not valid {codec} text: the bytes at offset {bad} cannot be decoded; "
                "check --encoding (or leave it out to detect UTF-8/GB18030)",
                path=path,
            )
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


def csv_records(
    fh: io.TextIOWrapper, delimiter: str, path: str, *, strict: bool = False, first_row: int = 1
) -> Iterator[list[str]]:
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
            what = (
                'a quote (") opened in this row is never closed'
                if "end of data" in str(exc)
                else f"cannot be parsed as CSV ({exc})"
            )
            raise ManifestError(f"{what}; check the quotes in this row", path=path, row=row) from None
        yield record


def read_csv_header(path: str, encoding: str, delimiter: str) -> tuple[int, list[str], bool]:
    """``(header row number, header cells, whether a non-blank data row follows)``."""
    with open_text(path, encoding) as fh:
        records = csv_records(fh, delimiter, path)
        for row, record in enumerate(records, start=1):
            if not is_blank(record):
                has_rows = any(not is_blank(r) for r in records)
                return row, record, has_rows
    raise ManifestError("has no header row: the first non-blank row must name the columns (e.g. group_id)", path=path)


def open_csv(path: str, encoding: str | None, delimiter: str | None) -> ManifestInfo:
    """A CSV manifest's encoding (*encoding*, checked, or detected), delimiter (*delimiter* or guessed) and header."""
    codec = detect_encoding(path, encoding)
    sep = resolve_delimiter(path, delimiter) if delimiter is not None else sniff_delimiter(path, codec)
    header_row, raw_header, has_rows = read_csv_header(path, codec, sep)
    headers = trim(raw_header)
    columns = columns_for(path, headers, sep)
    if not has_rows:
        raise ManifestError("has a header but no rows", path=path)
    return ManifestInfo(path, "csv", codec, sep, None, tuple(headers), columns, header_row)


def iter_csv(info: ManifestInfo, chunk_rows: int) -> Iterator[RawRow]:
    yield from raw_rows(info, _pandas_rows(info, _check_csv_header(info), chunk_rows))


def count_csv(info: ManifestInfo, chunk_rows: int, should_stop: Callable[[], bool] | None = None) -> int:
    """What ``len(list(iter_csv(...)))`` would be, without making the rows: blank rows are found a column
    at a time, in pandas (usually the first column already shows every row is not blank). *should_stop*
    is asked before each chunk (and each row read by the csv module): yes ends it with ``Stopped``."""
    width = _check_csv_header(info)
    count = 0
    for first, chunk in _pandas_chunks(info, width, chunk_rows):
        if should_stop is not None and should_stop():
            raise stopped_at(info, first)
        if chunk is None:  # the rest through the csv module, row by row, with its checks
            for raw in raw_rows(info, _csv_module_rows(info, first - info.header_row - 1)):
                if should_stop is not None and should_stop():
                    raise stopped_at(info, raw.row)
                count += 1
            return count
        undecided = None  # rows not yet seen to hold a non-blank cell (None: all of them)
        for column in chunk.columns:
            cells = chunk[column] if undecided is None else chunk[column].loc[undecided]
            nonblank = ((cells != "") & ~cells.str.isspace()).to_numpy(dtype=bool)
            count += int(nonblank.sum())
            undecided = cells.index[~nonblank]
            if not len(undecided):
                break
    return count


def stopped_at(info: ManifestInfo, row: int) -> Stopped:
    """The :class:`Stopped` for a stop asked for while *info*'s manifest was read, at *row*."""
    return Stopped(f"while reading the manifest {info.path} (at row {row})")


def _check_csv_header(info: ManifestInfo) -> int:
    """The header's width, after making sure the file still has the header it was opened with."""
    assert info.encoding is not None and info.delimiter is not None
    header_row, raw_header, _ = read_csv_header(info.path, info.encoding, info.delimiter)
    if header_row != info.header_row or tuple(trim(raw_header)) != info.headers:
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
                info.path,
                sep=info.delimiter,
                encoding=info.encoding,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                chunksize=chunk_rows,
                header=0,
                engine="c",
                names=list(range(width)),
                index_col=False,
                skiprows=info.header_row - 1,
                quotechar='"',
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
    with open_text(info.path, info.encoding) as fh:
        for index, record in enumerate(csv_records(fh, info.delimiter, info.path, strict=True)):
            data_index = index - info.header_row
            if data_index >= skip:
                yield info.header_row + 1 + data_index, tuple(record)
