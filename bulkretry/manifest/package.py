"""What a zipped workbook (``.xlsx``, ``.xlsm``, ``.ods``) declares about its size, read before any of it is
expanded: the uncompressed sizes its zip directory gives, and how many texts its shared-string table holds.

A reader loads some parts whole (openpyxl keeps every shared string in memory, about 300 bytes each), so a file
of a few MB could take gigabytes: each bound here is checked from the zip directory or a byte scan of the part
as it is inflated, in constant memory, and refuses the file with exit 2 naming the limit.
"""

from __future__ import annotations

import re
import zipfile
from typing import IO
from xml.etree.ElementTree import iterparse

from bulkretry.errors import ManifestError
from bulkretry.manifest.columns import quoted

__all__ = [
    "MAX_PACKAGE_BYTES",
    "MAX_PART_RATIO",
    "MAX_SHARED_STRINGS",
    "ROW_TAG",
    "check_package",
    "count_tags",
    "damaged",
    "not_a_workbook",
    "parts_of_type",
]

#: The most a workbook's parts may inflate to, all together (what their zip entries declare): a bigger
#: workbook, or a "zip bomb" of a few MB that inflates to gigabytes, is refused before anything is read.
MAX_PACKAGE_BYTES = 512 * 1024 * 1024
#: The most a part larger than ``_RATIO_FROM`` bytes may inflate per compressed byte: real sheet XML
#: compresses 5-50 times, runs of one byte (a bomb's filler) about 1000 times.
MAX_PART_RATIO = 250
_RATIO_FROM = 8 * 1024 * 1024
#: The most different texts a workbook's shared-string table may hold: openpyxl keeps each in memory (about 300
#: bytes), so a million take about 300 MB. A manifest of 100,000 rows with six columns of distinct texts (ids,
#: keys) holds 600,000; a bigger one is a ``.csv`` (read in constant memory).
MAX_SHARED_STRINGS = 1_000_000

_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SCAN_CHUNK = 1 << 20
#: An element's start tag, also with a namespace prefix (``<x:row>``): ``<row``, ``<si``.
ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")


def damaged(path: str, kind: str, exc: Exception, fix: str) -> ManifestError:
    """The error for the file at *path* that its reader could not open as *kind* (an Excel workbook, ...):
    the reader's own reason (*exc*), then *fix*."""
    return ManifestError(f"is damaged or not {kind} ({type(exc).__name__}: {exc}); {fix}", path=path)


def not_a_workbook(path: str, exc: Exception) -> ManifestError:
    """The error for a file openpyxl (or the zip reader) cannot open as a workbook, for the reason *exc*."""
    return damaged(path, "an Excel workbook", exc, "open it in Excel and save it again as .xlsx, or save it as .csv")


def check_package(path: str) -> None:
    """Refuse a workbook whose zip entries declare more than :data:`MAX_PACKAGE_BYTES` in all, a large part
    inflating more than :data:`MAX_PART_RATIO` times (both read from the zip's directory, nothing inflated), or a
    shared-string table of more than :data:`MAX_SHARED_STRINGS` texts (counted as it is inflated, stopped at the
    limit). Python's zip reader never gives more than an entry declares, so the declared sizes bound the reading."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_sizes(path, archive.infolist())
            for part in parts_of_type(archive, _SHARED_STRINGS_TYPE):
                _check_shared_strings(path, archive, part)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, SyntaxError) as exc:  # ParseError is a SyntaxError
        raise not_a_workbook(path, exc) from None


def _check_sizes(path: str, entries: list[zipfile.ZipInfo]) -> None:
    total = sum(entry.file_size for entry in entries)
    if total > MAX_PACKAGE_BYTES:
        raise ManifestError(
            f"inflates to {total:,} bytes of XML, over the limit of {MAX_PACKAGE_BYTES // 2**20} MB for a workbook: "
            "save the manifest as .csv (read in constant memory), or split it into smaller workbooks",
            path=path,
        )
    for entry in entries:
        if entry.file_size > _RATIO_FROM and entry.file_size > MAX_PART_RATIO * max(entry.compress_size, 1):
            raise ManifestError(
                f"part {quoted(entry.filename)} would inflate from {entry.compress_size:,} to {entry.file_size:,} "
                f"bytes, more than {MAX_PART_RATIO} times: a workbook that is mostly one repeated byte (a zip "
                "bomb?) is refused; open it in Excel and save it again, or save the manifest as .csv",
                path=path,
            )


def _check_shared_strings(path: str, archive: zipfile.ZipFile, part: str) -> None:
    count = count_tags(archive, part, _STRING_TAG, MAX_SHARED_STRINGS)
    if count > MAX_SHARED_STRINGS:
        raise ManifestError(
            f"holds more than {MAX_SHARED_STRINGS:,} different texts (its shared strings), over the limit for a "
            "workbook (each is kept in memory while it is read): save the manifest as .csv (read in constant "
            "memory), or split it into smaller workbooks",
            path=path,
        )


def parts_of_type(archive: zipfile.ZipFile, content_type: str) -> list[str]:
    """The names of the package's parts of *content_type*, as its ``[Content_Types].xml`` declares them (the way
    openpyxl finds them; streamed, so a huge declaration costs no memory) and the zip holds them."""
    names = set(archive.namelist())
    if "[Content_Types].xml" not in names:
        return []
    with archive.open("[Content_Types].xml") as types:
        return [part for part in _overrides(types, content_type) if part in names]


def _overrides(types: IO[bytes], content_type: str) -> list[str]:
    parts = []
    for _, element in iterparse(types):
        if element.tag == f"{_TYPES}Override" and element.get("ContentType") == content_type:
            parts.append(element.get("PartName", "").lstrip("/"))
        element.clear()
    return parts


def count_tags(archive: zipfile.ZipFile, part: str, tag: re.Pattern[bytes], limit: int) -> int:
    """How many start tags matching *tag* the *part* holds, counted by a byte scan as it is inflated (well under a
    second for a million, where parsing them takes half a minute), up to the first count over *limit*."""
    count = 0
    with archive.open(part) as xml:
        tail = b""
        while chunk := xml.read(_SCAN_CHUNK):
            data = tail + chunk
            cut = data.rfind(b"<")  # a tag may go on in the next chunk: keep it for then
            if cut < 0:
                cut = len(data)
            count += len(tag.findall(data, 0, cut))
            tail = data[cut:]
            if count > limit:
                return count
        return count + len(tag.findall(tail))
