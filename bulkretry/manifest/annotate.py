"""``annotated.xlsx`` / ``annotated.csv``: the operator's own manifest, each row's outcome beside it.

- **Excel** (``.xlsx``, ``.xlsm``): a copy of the user's workbook, every sheet kept, loaded and saved with
  openpyxl in its normal mode (so their styles, widths, formulas, filters and frozen panes stay; a
  ``.xlsm`` keeps its macros and is written as ``annotated.xlsm``). On the manifest sheet, the columns
  ``outcome``, ``error_code``, ``error_msg`` and ``request_id`` are added after the last header (bold
  headers, a legend in a comment on ``outcome``), or overwritten where the sheet already has them (a
  manifest that is itself an annotated file). Each row with a result is filled in and coloured by
  outcome: green succeeded, red failed, amber invalid or interrupted, grey duplicate, skipped or dry run.
- **CSV** (any encoding and delimiter bulkretry reads): ``annotated.csv``, UTF-8 with a BOM, commas and
  CRLF like ``report.csv``, streamed: the header and every record in the original order (blank records
  stay, so record *n* is row *n* of the manifest), the four columns after them, every text cell
  neutralised (``'=...``) as it is opened in Excel.

In both, the cells of secret columns (``src_sk``, ``dst_sk``, ``json_auth_file``, ...) become ``***``
and access keys are masked (``SRCA…0000``); ``env:NAME`` references are kept as they are, they are not
secrets. The text bulkretry adds is never a formula: it is neutralised with a leading ``'`` (as in
``report.xlsx``), characters XML cannot hold are dropped and it is cut to Excel's 32,767 characters.

Results are joined to rows by row number, checking that the row still holds the journal's group id: a
manifest edited since the run is not annotated (the reason says so) rather than annotated wrongly.

Limits: openpyxl's normal mode holds the whole workbook in memory and is slow (measured: 200,000 rows of
8 columns took 80 s and 1.2 GB), so a workbook of more than :data:`XLSX_MAX_ROWS` rows (all its sheets
together) is not annotated, and the reason says so (``report.csv``/``report.xlsx`` have every row); the
CSV path streams, in constant memory. What openpyxl cannot read back (shapes, form controls, pictures
without Pillow) is not in the copy, and formulas are saved without their last values (Excel computes them
when it opens the file). Only the manifest sheet is masked: a secret the user keeps on another sheet stays
there. The user's file is never modified.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Generator, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, NamedTuple

from bulkretry.errors import ManifestError
from bulkretry.manifest.columns import ManifestInfo
from bulkretry.manifest.csvfile import csv_records, open_text
from bulkretry.manifest.excel import cell_text
from bulkretry.masking import MASKED, MASKED_COLUMNS, SECRET_COLUMNS, mask, masked_text
from bulkretry.records import Outcome, RowResult
from bulkretry.report import neutralise
from bulkretry.report.common import may_start_formula, open_csv, sync_close
from bulkretry.report.xlsx_writer import ILLEGAL_XML_CHARS, MAX_TEXT

__all__ = [
    "ANNOTATION_COLUMNS", "OUTCOME_COLOURS", "XLSX_MAX_ROWS", "Annotated", "AnnotatedWriter",
    "write_annotated",
]

log = logging.getLogger(__name__)

#: The columns added to the manifest, in this order.
ANNOTATION_COLUMNS: tuple[str, ...] = ("outcome", "error_code", "error_msg", "request_id")
#: Rows (in all its sheets) above which a workbook is not annotated: openpyxl would take too long and too much
#: memory (about 6 kB and 0.4 ms a row of 8 columns).
XLSX_MAX_ROWS = 100_000
#: What a secret cell shows.

_GREEN, _RED, _AMBER, _GREY = "C6EFCE", "FFC7CE", "FFEB9C", "E7E6E6"
#: The light fill (RGB) of a row by its outcome.
OUTCOME_COLOURS: dict[Outcome, str] = {
    Outcome.SUCCEEDED: _GREEN, Outcome.FAILED: _RED, Outcome.INVALID: _AMBER, Outcome.INTERRUPTED: _AMBER,
    Outcome.DUPLICATE: _GREY, Outcome.SKIPPED: _GREY, Outcome.DRY_RUN: _GREY,
}
_LEGEND = ("bulkretry: rows are coloured by outcome. Green: succeeded. Red: failed. Amber: invalid, "
           "interrupted. Grey: duplicate, skipped, dry_run. Secret columns show ***, access keys are masked.")
_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")  # <row ...>, also with a prefix (<x:row>)
_SCAN_CHUNK = 1 << 20
_WIDTHS = {"outcome": 12, "error_code": 18, "error_msg": 60, "request_id": 38}


@dataclass(frozen=True, slots=True)
class Annotated:
    """What :func:`write_annotated` did: the file written, or ``path=None`` and a sentence saying why not."""

    path: Path | None
    skipped_reason: str = ""
    #: Rows that got a result.
    rows: int = 0


class _Skip(Exception):
    """The annotated file is not written, for the reason given (shown to the user)."""


def write_annotated(info: ManifestInfo, results: Iterable[RowResult | tuple[Any, ...]], out_dir: Path) -> Annotated:
    """Write ``annotated.xlsx`` (``.xlsm``) or ``annotated.csv`` into *out_dir*: the manifest with each row's outcome.

    *results* must come in row order (as ``Journal.results()`` gives them, or ``Journal.records()`` as plain
    tuples) and are read once, as they come. The file is written to ``NAME.tmp`` and renamed into place.
    It is not written, and ``Annotated(None, reason)`` returned, when the manifest cannot be read again,
    has changed since the run (a row no longer holds its result's group id), is a workbook (all its sheets) of more than
    :data:`XLSX_MAX_ROWS` rows, the file cannot be written (``OSError``: a full disk), or something unexpected
    fails (logged with its traceback); an annotated file of an earlier session is then removed, as it would be
    out of date. Results out of row order
    are a ``ValueError``. (:class:`AnnotatedWriter` does the same with the results handed to it one by one.)

    >>> annotated = write_annotated(prepared.info, iter(journal.results()), out_dir)  # doctest: +SKIP
    >>> annotated.path or annotated.skipped_reason  # doctest: +SKIP
    PosixPath('runs/manifest-20240501-080000/annotated.xlsx')
    """
    writer = AnnotatedWriter(info, out_dir)
    try:
        for result in results:
            writer.write(result)
    except BaseException:
        writer.discard()
        raise
    return writer.finish()


class AnnotatedWriter:
    """:func:`write_annotated` fed one result at a time: ``write()`` each, in row order, then ``finish()``.

    The run feeds it from the same pass over the journal that writes the reports, so the journal is read
    once. What stops it (the manifest changed, a full disk, a bug) is never raised: it is kept as the reason
    that ``finish()`` returns, and the results after it are ignored. A result out of row order is a
    ``ValueError`` (and the temporary file is removed); ``discard()`` removes it after any other failure.
    """

    def __init__(self, info: ManifestInfo, out_dir: Path) -> None:
        out_dir = Path(out_dir)
        macro = info.kind == "xlsx" and Path(info.path).suffix.lower() == ".xlsm"
        name = "annotated.xlsm" if macro else "annotated.xlsx" if info.kind == "xlsx" else "annotated.csv"
        self.final = out_dir / name
        self._temp = self.final.with_name(name + ".tmp")
        self._reason = ""
        self._last = 0
        self._steps: Generator[None, _Result | None, int] | None = None
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            steps = (_write_xlsx(info, self._temp, keep_vba=macro) if info.kind == "xlsx"
                     else _write_csv(info, self._temp))
            next(steps)  # open everything and go up to the first row that needs a result
            self._steps = steps
        except Exception as exc:
            self._stop(exc)
        except BaseException:
            self._remove_temp()
            raise

    def __repr__(self) -> str:
        state = "writing" if self._steps is not None else (self._reason or "done")
        return f"<AnnotatedWriter {self.final} {state}>"

    def write(self, result: RowResult | tuple[Any, ...]) -> None:
        """The next result (a ``RowResult`` or a ``Journal.records()`` tuple), rows in increasing order."""
        if result.__class__ is tuple:
            found = _Result._make(_RECORD_FIELDS(result))
        else:
            found = _Result(result.row, result.group_id, result.outcome.value,  # type: ignore[union-attr]
                            result.error_code, result.error_msg, result.request_id)  # type: ignore[union-attr]
        if found.row <= self._last:
            self.discard()
            raise ValueError(f"results must come in row order, one per row: row {found.row} came after row "
                             f"{self._last}")
        self._last = found.row
        steps = self._steps
        if steps is None:
            return
        try:
            steps.send(found)
        except Exception as exc:
            self._stop(exc)
        except BaseException:
            self.discard()
            raise

    def finish(self) -> Annotated:
        """Write the rest of the manifest and put the file in place; or say why there is none."""
        steps, self._steps = self._steps, None
        if steps is None:
            return Annotated(None, self._reason)
        try:
            steps.send(None)  # no more results: the generator writes the remaining rows and returns
            raise RuntimeError("the annotated writer did not finish")  # pragma: no cover (a bug)
        except StopIteration as done:
            rows = done.value
        except Exception as exc:
            self._stop(exc)
            return Annotated(None, self._reason)
        except BaseException:
            self._remove_temp()
            raise
        try:
            os.replace(self._temp, self.final)
        except OSError as exc:
            self._stop(exc)
            return Annotated(None, self._reason)
        return Annotated(self.final, "", rows)

    def discard(self) -> None:
        """Close and remove what was written so far (after a failure); never raises."""
        steps, self._steps = self._steps, None
        if steps is not None:
            with suppress(Exception):
                steps.close()
        self._remove_temp()

    def _stop(self, exc: Exception) -> None:
        """Give up: no file, and why as the reason (a skip says why itself; anything but a skip or an OSError
        is a bug or a library surprise, logged with its traceback; never a lost run)."""
        self.discard()
        if isinstance(exc, _Skip):
            why = str(exc)
        elif isinstance(exc, OSError):
            why = f"{exc.strerror or exc} ({exc.filename or self._temp})"
        else:
            log.error("the annotated manifest failed", exc_info=exc,
                      extra={"event": "internal_error", "fields": {}})
            why = f"an unexpected error ({type(exc).__name__}: {exc})"
        with suppress(OSError):
            if self.final.exists():
                self.final.unlink()
                why += f"; the {self.final.name} of an earlier session was removed"
        self._reason = f"{self.final.name} not written: {why}"

    def _remove_temp(self) -> None:
        with suppress(OSError):
            self._temp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- shared


class _Result(NamedTuple):
    """What the annotated manifest needs of a result; the last four are its ``ANNOTATION_COLUMNS``."""

    row: int
    group_id: str
    outcome: str
    error_code: str
    error_msg: str
    request_id: str


#: A ``Journal.records()`` tuple (``RowResult``'s field order) as a ``_Result``'s fields.
_RECORD_FIELDS = itemgetter(0, 2, 3, 5, 6, 8)


def _annotation_slots(headers: Sequence[str]) -> tuple[list[int], bool]:
    """The 0-based column of each of ``ANNOTATION_COLUMNS``: a header of that name, else one after the headers;
    and whether any already existed (an annotated manifest annotated again)."""
    folded = [header.strip().casefold() for header in headers]
    slots: list[int] = []
    found = False
    after = len(headers)
    for name in ANNOTATION_COLUMNS:
        if name in folded:
            slots.append(folded.index(name))
            found = True
        else:
            slots.append(after)
            after += 1
    return slots, found



def _changed(info: ManifestInfo, why: str) -> _Skip:
    return _Skip(f"{Path(info.path).name} {why}: it has changed since the run, so its rows no longer match "
                 "the journal (report.csv has every result)")


def _header_of(cells: Sequence[str]) -> tuple[str, ...]:
    trimmed = [cell.replace("\ufeff", "").strip() for cell in cells]
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    return tuple(trimmed)


# ---------------------------------------------------------------------------------------------- CSV


def _write_csv(info: ManifestInfo, temp: Path) -> Generator[None, _Result | None, int]:
    """Write annotated.csv to *temp*, taking each result as it is sent (``None``: no more); return the rows
    annotated. A generator, so that the results can come from a pass that also writes the reports."""
    assert info.encoding is not None and info.delimiter is not None
    width = len(info.headers)
    group = info.columns.index("group_id")
    slots, _ = _annotation_slots(info.headers)
    total = max(width, max(slots) + 1)
    # The usual manifest: the four columns go right after the header's (not into columns of an earlier
    # annotation), so a row is its cells with the result's four values appended.
    appended = slots == list(range(width, width + len(ANNOTATION_COLUMNS)))
    pad = [""] * (total - width)
    # What _masked_text does, with the column's kind looked up once: secrets hidden, access keys masked.
    secret_slots = [index for index, column in enumerate(info.columns) if column in SECRET_COLUMNS]
    key_slots = [index for index, column in enumerate(info.columns) if column in MASKED_COLUMNS]
    done = 0
    row = 0
    out: IO[str] = open_csv(temp)  # closed below
    try:
        pending = yield
        writer = csv.writer(out)  # the "excel" dialect: ',' and '\r\n', as report.csv
        with open_text(info.path, info.encoding) as source:
            for row, record in enumerate(csv_records(source, info.delimiter, info.path), start=1):
                if row < info.header_row:
                    writer.writerow(())  # the blank records above the header
                    continue
                if row == info.header_row:
                    if _header_of(record) != info.headers:
                        raise _changed(info, "has a different header")
                    cells = [cell.replace("\ufeff", "") for cell in record[:width]]
                    cells += [""] * (total - len(cells))
                    for slot, name in zip(slots, ANNOTATION_COLUMNS, strict=True):
                        cells[slot] = name
                    writer.writerow([neutralise(cell) for cell in cells])
                    continue
                # Cells past the header's width are blank (the manifest reader refuses anything else).
                cells = record if len(record) == width else record[:width] + [""] * (width - len(record))
                result = None
                if pending is not None and pending.row <= row:
                    if pending.row < row:
                        raise _changed(info, f"has no data row {pending.row}")
                    result, pending = pending, (yield)
                    if cells[group] != result.group_id:
                        raise _changed(info, f"row {row} holds group {cells[group][:60]!r}, not "
                                             f"{result.group_id[:60]!r}")
                elif not any(cell and not cell.isspace() for cell in cells):
                    writer.writerow(())  # a blank row stays a blank line
                    continue
                for index in secret_slots:
                    text = cells[index]
                    if text and not text.startswith("env:"):
                        cells[index] = MASKED
                for index in key_slots:
                    text = cells[index]
                    if text and not text.startswith("env:"):
                        cells[index] = mask(text)
                annotation = result[2:] if result is not None else _NO_ANNOTATION
                if appended:
                    cells += annotation
                else:
                    cells += pad
                    for slot, value in zip(slots, annotation, strict=True):
                        cells[slot] = value
                writer.writerow([neutralise(cell) if cell else cell for cell in cells]
                                if may_start_formula(cells) else cells)
                done += result is not None
        if pending is not None:
            raise _changed(info, f"ends at row {row}, before row {pending.row}")
    except ManifestError as exc:
        out.close()
        raise _Skip(f"the manifest cannot be read again ({exc})") from None
    except BaseException:
        out.close()
        raise
    sync_close(out)
    return done


_NO_ANNOTATION = ("",) * len(ANNOTATION_COLUMNS)


# ---------------------------------------------------------------------------------------------- Excel


def _write_xlsx(info: ManifestInfo, temp: Path, *, keep_vba: bool) -> Generator[None, _Result | None, int]:
    """Write annotated.xlsx (.xlsm) to *temp*, taking the results as :func:`_write_csv` does."""
    from openpyxl import load_workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    assert info.sheet is not None
    limit = XLSX_MAX_ROWS
    if _stored_rows(info.path, limit) > limit:
        raise _Skip(f"the workbook has more than {limit:,} rows, too many to copy it in memory "
                    "(report.csv and report.xlsx have every result)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about the features it does not keep
            book = load_workbook(info.path, keep_vba=keep_vba)
    except Exception as exc:  # openpyxl raises many kinds for what it cannot read
        raise _Skip(f"openpyxl cannot open the workbook to copy it ({type(exc).__name__}: {exc})") from None
    try:
        if info.sheet not in book.sheetnames:
            raise _changed(info, f"has no sheet {info.sheet!r}")
        ws = book[info.sheet]
        top = info.header_row
        width = len(info.headers)
        header = [cell_text(cell.value, cell.number_format)
                  for cell in next(ws.iter_rows(min_row=top, max_row=top, max_col=max(width, 1)))]
        if _header_of(header) != info.headers:
            raise _changed(info, "has a different header")
        slots, reannotating = _annotation_slots(info.headers)
        total = max(width, max(slots) + 1)
        for slot, name in zip(slots, ANNOTATION_COLUMNS, strict=True):
            if slot >= width:  # a new column (an existing one keeps its header and width)
                cell = ws.cell(row=top, column=slot + 1, value=name)
                cell.font = Font(bold=True)
                letter = get_column_letter(slot + 1)
                if letter not in ws.column_dimensions:
                    ws.column_dimensions[letter].width = _WIDTHS[name]
        legend = ws.cell(row=top, column=slots[0] + 1)
        legend.comment = Comment(_LEGEND, "bulkretry", height=110, width=320)
        if ws.freeze_panes is None:
            ws.freeze_panes = f"A{top + 1}"

        fills = {outcome: PatternFill(fill_type="solid", start_color=rgb, end_color=rgb)
                 for outcome, rgb in OUTCOME_COLOURS.items()}
        ours = set(OUTCOME_COLOURS.values())
        no_fill = PatternFill(fill_type=None)
        group = info.columns.index("group_id")
        guarded = [(index, column) for index, column in enumerate(info.columns)
                   if column in SECRET_COLUMNS or column in MASKED_COLUMNS]
        pending = yield
        done = 0
        last = ws.max_row
        if pending is not None and pending.row <= top:
            raise _changed(info, f"has no data row {pending.row}")
        for cells in ws.iter_rows(min_row=top + 1, max_row=max(last, top + 1), max_col=total):
            row = cells[0].row
            for index, column in guarded:
                _mask_cell(cells[index], column)
            if pending is not None and pending.row == row:
                result, pending = pending, (yield)
                cell = cells[group]
                if cell.data_type != "f" and cell_text(cell.value, cell.number_format) != result.group_id:
                    raise _changed(info, f"row {row} holds group {str(cell.value)[:60]!r}, not "
                                         f"{result.group_id[:60]!r}")
                for slot, value in zip(slots, result[2:], strict=True):
                    cells[slot].value = _xlsx_text(value) or None
                fill = fills[result.outcome]
                for cell in cells:
                    cell.fill = fill
                done += 1
            elif reannotating:  # clear what an earlier annotation left on a row this run has no result for
                for slot in slots:
                    cells[slot].value = None
                for cell in cells:
                    if cell.fill.fill_type == "solid" and str(cell.fill.fgColor.rgb)[-6:] in ours:
                        cell.fill = no_fill
        if pending is not None:
            raise _changed(info, f"ends at row {last}, before row {pending.row}")
        out = open(temp, "wb")  # noqa: SIM115 (closed below)
        try:
            book.save(out)
        except BaseException:
            out.close()
            raise
        sync_close(out)
        return done
    finally:
        book.close()


def _stored_rows(path: str, limit: int) -> int:
    """The rows stored in all the workbook's sheets (openpyxl loads them all), counted up to ``limit + 1``.

    The sheets' XML is scanned for ``<row`` tags as it is decompressed: well under a second for 200,000 rows,
    where parsing them (openpyxl read-only) takes half a minute.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            parts = []
            if "[Content_Types].xml" in names:
                types = ET.fromstring(archive.read("[Content_Types].xml"))
                parts = [override.get("PartName", "").lstrip("/") for override in types.iter(f"{_TYPES}Override")
                         if "worksheet" in override.get("ContentType", "")]
            parts = [part for part in parts if part in names] or sorted(
                name for name in names if name.startswith("xl/worksheets/") and name.endswith(".xml"))
            count = 0
            for part in parts:
                with archive.open(part) as xml:
                    tail = b""
                    while chunk := xml.read(_SCAN_CHUNK):
                        data = tail + chunk
                        cut = data.rfind(b"<")  # a tag may go on in the next chunk: keep it for then
                        count += len(_ROW_TAG.findall(data, 0, cut))
                        tail = data[cut:]
                        if count > limit:
                            return count
                    count += len(_ROW_TAG.findall(tail))
            return count
    except (zipfile.BadZipFile, ET.ParseError, KeyError, EOFError, zlib.error) as exc:
        raise _Skip(f"the workbook cannot be read again ({type(exc).__name__}: {exc})") from None


def _mask_cell(cell: Any, column: str) -> None:
    """Mask a secret or access-key cell in place (a formula there, whatever it computes, becomes ``***``)."""
    value = cell.value
    if value is None or value == "":
        return
    if cell.data_type == "f":
        cell.value = MASKED
    else:
        text = cell_text(value, cell.number_format)
        shown = masked_text(column, text)
        if shown == text:
            return  # an env: reference
        cell.value = _xlsx_text(shown)
    if cell.hyperlink is not None:
        cell.hyperlink = None


def _xlsx_text(value: str) -> str:
    """Text as report.xlsx writes it: no XML-illegal characters, neutralised, CR as LF, at most 32,767 units."""
    value = neutralise(ILLEGAL_XML_CHARS.sub("", value))
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if len(value) > MAX_TEXT // 2:
        units = value.encode("utf-16-le", "surrogatepass")
        if len(units) > 2 * MAX_TEXT:
            value = units[: 2 * MAX_TEXT].decode("utf-16-le", "ignore")  # "ignore": a pair cut in half
    return value
