"""``annotated.csv``: a CSV manifest copied record by record, each row's outcome in four columns after its own.

UTF-8 with a BOM, commas and CRLF like ``report.csv``, streamed in constant memory: the header and every record
in the original order (blank records stay, so record *n* is row *n* of the manifest), secrets hidden and access
keys masked, every text cell neutralised (``'=...``) as it is opened in Excel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bulkretry.errors import ManifestError
from bulkretry.i18n.messages import (
    CHANGED_ENDS,
    CHANGED_HEADER,
    CHANGED_NO_ROW,
    MANIFEST_NOT_READ_AGAIN,
    say,
)
from bulkretry.manifest.annotate_common import (
    ANNOTATION_COLUMNS,
    NO_ANNOTATION,
    Skip,
    annotation,
    annotation_slots,
    changed,
    header_of,
    holds_another_group,
)
from bulkretry.manifest.columns import ManifestInfo, is_blank
from bulkretry.manifest.csvfile import csv_records, open_text
from bulkretry.masking import ENV_PREFIXES, MASKED, MASKED_COLUMNS, SECRET_COLUMNS, mask
from bulkretry.records import RowResult, RunSummary
from bulkretry.report.common import close_quietly, csv_writer, neutralise, open_csv, plain_line, sync_close

__all__ = ["AnnotatedCsv"]


class AnnotatedCsv:
    """Writes ``annotated.csv`` to *path* (a ``Writer[RowResult]``, see ``report.common.Writer``): ``start``,
    ``write`` each result in row order (the manifest is copied up to its row, that row annotated), ``finish``
    (the rest of the manifest). A manifest that no longer matches the results, or that cannot be read again,
    is a :class:`Skip`; ``rows`` is how many rows got a result."""

    filename = "annotated.csv"

    def __init__(self, info: ManifestInfo, path: Path) -> None:
        assert info.encoding is not None and info.delimiter is not None
        self.info = info
        self.path = path
        self.rows = 0
        self._out: IO[str] | None = None
        self._source: IO[str] | None = None
        self._records: Iterator[tuple[int, list[str]]] = iter(())
        self._row = 0  # the last record copied
        self._layout: _Layout | None = None

    def __repr__(self) -> str:
        return f"<AnnotatedCsv {self.path} {'open' if self._out else 'closed'}>"

    def start(self, header: tuple[str, ...] = (), summary: RunSummary | None = None) -> None:
        """Open the copy and the manifest (*header* and *summary* are the reports'; the copy keeps the manifest's)."""
        info = self.info
        width = len(info.headers)
        slots, _ = annotation_slots(info.headers)
        total = max(width, max(slots) + 1)
        # The usual manifest: the four columns go right after the header's (not into columns of an earlier
        # annotation), so a row is its cells with the result's four values appended.
        appended = slots == list(range(width, width + len(ANNOTATION_COLUMNS)))
        # What masked_text does, with the column's kind looked up once: secrets hidden, access keys masked.
        secret_slots = [index for index, column in enumerate(info.columns) if column in SECRET_COLUMNS]
        key_slots = [index for index, column in enumerate(info.columns) if column in MASKED_COLUMNS]
        self._out = open_csv(self.path)  # closed by finish/discard
        try:
            assert info.encoding is not None and info.delimiter is not None  # a CSV's, found by open_manifest
            self._source = open_text(info.path, info.encoding)
            records = csv_records(self._source, info.delimiter, info.path, plain=info.plain_lines)
            self._records = enumerate(records, start=1)
        except ManifestError as exc:
            raise _unreadable(exc) from None
        self._layout = _Layout(
            csv_writer(self._out),
            self._out.write,
            width,
            info.columns.index("group_id"),
            slots,
            total,
            appended,
            secret_slots,
            key_slots,
        )

    def write(self, result: RowResult, /) -> None:
        """Copy the manifest up to *result*'s row, and that row with *result*'s outcome."""
        try:
            self._copy(result)
        except ManifestError as exc:
            raise _unreadable(exc) from None

    def finish(self) -> None:
        """Copy the rest of the manifest, then flush the copy to disk and close both."""
        try:
            self._copy(None)
        except ManifestError as exc:
            raise _unreadable(exc) from None
        source, self._source = self._source, None
        close_quietly(source)
        out, self._out = self._out, None
        assert out is not None
        sync_close(out)

    def discard(self) -> None:
        source, self._source = self._source, None
        close_quietly(source)
        out, self._out = self._out, None
        close_quietly(out)

    def _copy(self, result: RowResult | None) -> None:
        """Copy the records up to *result*'s row and that row annotated; every record left when it is None."""
        info, layout = self.info, self._layout
        assert layout is not None  # set by start
        for row, record in self._records:
            self._row = row
            if row < info.header_row:
                layout.writer.writerow(())  # the blank records above the header
            elif row == info.header_row:
                if header_of(record) != info.headers:
                    raise changed(info, say(CHANGED_HEADER))
                layout.write_header(record)
            elif result is not None and result.row <= row:
                cells = layout.cells(record)
                self._check(result, row, cells[layout.group])
                layout.write_row(cells, annotation(result))
                self.rows += 1
                return
            else:
                layout.write_row(layout.cells(record), None)
        if result is not None:
            raise changed(info, say(CHANGED_ENDS, row=self._row, wanted=result.row))

    def _check(self, result: RowResult, row: int, group: str) -> None:
        """The record at *row* (holding *group*), reached while looking for *result*'s row, must be that row,
        with its group."""
        if result.row < row:
            raise changed(self.info, say(CHANGED_NO_ROW, row=result.row))
        if group != result.group_id:
            raise holds_another_group(self.info, row, group, result)


@dataclass(frozen=True)
class _Layout:
    """Where things go in a row of the copy: the manifest's *width* and its group_id column, the annotation's
    *slots* among *total* cells (*appended*: right after the header's), and the secret and access-key columns
    (looked up once: what ``masked_text`` does, per column)."""

    writer: Any
    #: Writes a line as it is (a plain line: :func:`~bulkretry.report.common.plain_line`).
    write_line: Callable[[str], Any]
    width: int
    group: int
    slots: list[int]
    total: int
    appended: bool
    secret_slots: list[int]
    key_slots: list[int]

    def cells(self, record: list[str]) -> list[str]:
        """A data record at the header's width (cells past it are blank: the manifest reader refuses others)."""
        width = self.width
        return record if len(record) == width else record[:width] + [""] * (width - len(record))

    def write_header(self, record: list[str]) -> None:
        """The header row, the annotation's names in their slots."""
        cells = [cell.replace("\ufeff", "") for cell in record[: self.width]]
        cells += [""] * (self.total - len(cells))
        for slot, name in zip(self.slots, ANNOTATION_COLUMNS):
            cells[slot] = name
        self.writer.writerow([neutralise(cell) for cell in cells])

    def write_row(self, cells: list[str], values: Sequence[str] | None) -> None:
        """A data row, its secrets hidden and its keys masked, with *values* (None: a row with no result, which
        stays a blank line if it is blank)."""
        if values is None:
            if is_blank(cells):
                self.writer.writerow(())
                return
            values = NO_ANNOTATION
        for index in self.secret_slots:
            text = cells[index]
            if text and text[:4] not in ENV_PREFIXES:
                cells[index] = MASKED
        for index in self.key_slots:
            text = cells[index]
            if text and text[:4] not in ENV_PREFIXES:
                cells[index] = mask(text)
        if self.appended:
            cells += values
        else:
            cells += [""] * (self.total - self.width)
            for slot, value in zip(self.slots, values):
                cells[slot] = value
        line = plain_line(cells)
        if line is None:
            self.writer.writerow([neutralise(cell) if cell else cell for cell in cells])
        else:
            self.write_line(line)


def _unreadable(exc: ManifestError) -> Skip:
    return Skip(say(MANIFEST_NOT_READ_AGAIN, error=exc))
