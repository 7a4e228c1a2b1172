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

An ``.xls`` or ``.ods`` manifest is not annotated: openpyxl cannot write those formats, and a copy in another
format would lose the workbook's other sheets and styles; the reason says so and points at ``report.xlsx``.

Limits: openpyxl's normal mode holds the whole workbook in memory and is slow (measured: 200,000 rows of
8 columns took 80 s and 1.2 GB), so a workbook of more than :data:`XLSX_MAX_ROWS` rows (all its sheets
together) is not annotated, and the reason says so (``report.csv``/``report.xlsx`` have every row); the
CSV path streams, in constant memory. What openpyxl cannot read back (shapes, form controls, pictures
without Pillow) is not in the copy, and formulas are saved without their last values (Excel computes them
when it opens the file). Only the manifest sheet is masked: a secret the user keeps on another sheet stays
there. The user's file is never modified.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkretry.i18n.messages import EARLIER_REMOVED, NOT_WRITTEN, UNEXPECTED_ERROR, say
from bulkretry.manifest.annotate_common import ANNOTATION_COLUMNS, OUTCOME_COLOURS, XLSX_MAX_ROWS, Skip
from bulkretry.manifest.annotate_csv import AnnotatedCsv
from bulkretry.manifest.columns import ManifestInfo
from bulkretry.records import RowResult, RunSummary

if TYPE_CHECKING:  # the workbook writer (and its XML) is imported by the runs that write one
    from bulkretry.manifest.annotate_xlsx import AnnotatedXlsx

__all__ = [
    "ANNOTATION_COLUMNS",
    "OUTCOME_COLOURS",
    "XLSX_MAX_ROWS",
    "Annotated",
    "AnnotatedWriter",
    "write_annotated",
]

log = logging.getLogger(__name__)


def _format_writer(info: ManifestInfo, temp: Path, macro: bool) -> AnnotatedCsv | AnnotatedXlsx | None:
    """The writer of *info*'s format into *temp* (None: a format that is not annotated)."""
    if info.kind == "xlsx":
        from bulkretry.manifest.annotate_xlsx import AnnotatedXlsx

        return AnnotatedXlsx(info, temp, keep_vba=macro)
    return AnnotatedCsv(info, temp) if info.kind == "csv" else None


@dataclass(frozen=True)
class Annotated:
    """What :func:`write_annotated` did: the file written, or ``path=None`` and a sentence saying why not."""

    path: Path | None
    skipped_reason: str = ""
    #: Rows that got a result.
    rows: int = 0


def write_annotated(info: ManifestInfo, results: Iterable[RowResult], out_dir: Path) -> Annotated:
    """Write ``annotated.xlsx`` (``.xlsm``) or ``annotated.csv`` into *out_dir*: the manifest with each row's outcome.

    *results* must come in row order (as ``Journal.results()`` gives them; ``extra=False`` will do) and are
    read once, as they come. The file is written to ``NAME.tmp`` and renamed into place.
    It is not written, and ``Annotated(None, reason)`` returned, when the manifest cannot be read again,
    has changed since the run (a row no longer holds its result's group id), is a workbook (all its sheets) of more than
    :data:`XLSX_MAX_ROWS` rows, the file cannot be written (``OSError``: a full disk), or something unexpected
    fails (logged with its traceback); an annotated file of an earlier session is then removed, as it would be
    out of date. Results out of row order
    are a ``ValueError``. (:class:`AnnotatedWriter` does the same with the results handed to it one by one.)

    >>> annotated = write_annotated(prepared.info, journal.results(extra=False), out_dir)  # doctest: +SKIP
    >>> annotated.path or annotated.skipped_reason  # doctest: +SKIP
    PosixPath('runs/manifest-20240501-080000/annotated.xlsx')
    """
    writer = AnnotatedWriter(info, out_dir)
    try:
        writer.start()
        for result in results:
            writer.write(result)
    except BaseException:
        writer.discard()
        raise
    return writer.finish()


class AnnotatedWriter:
    """:func:`write_annotated` fed one result at a time, by the ``report.common.Writer`` protocol: ``start()``,
    ``write()`` each result in row order, then ``finish()``, which returns what it did (an :class:`Annotated`).

    It picks the format's writer (:class:`AnnotatedCsv`, :class:`AnnotatedXlsx`), writes to a temporary file
    and puts it in place at the end. The run feeds it from the same pass over the journal that writes the
    reports, so the journal is read once. What stops it (the manifest changed, a full disk, a bug) is never
    raised: it is kept as the reason that ``finish()`` returns, and the results after it are ignored. A result
    out of row order is a ``ValueError`` (and the temporary file is removed); ``discard()`` removes it after
    any other failure.
    """

    def __init__(self, info: ManifestInfo, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        macro = info.kind == "xlsx" and Path(info.path).suffix.lower() == ".xlsm"
        name = "annotated.xlsm" if macro else "annotated.xlsx" if info.kind == "xlsx" else "annotated.csv"
        self.final = self.out_dir / name
        self._temp = self.final.with_name(name + ".tmp")
        self._format = _format_writer(info, self._temp, macro)
        self._started = False
        self._reason = (
            ""
            if self._format is not None
            else (
                f"an .{info.kind} manifest is not annotated (bulkretry writes its outcomes into .xlsx, .xlsm and CSV "
                "manifests only); report.xlsx and report.csv have every row with its manifest columns, or save the "
                "manifest as .xlsx to get an annotated copy next time"
            )
        )
        self._last = 0

    def __repr__(self) -> str:
        state = "writing" if self._format is not None else (self._reason or "done")
        return f"<AnnotatedWriter {self.final} {state}>"

    def start(self, header: tuple[str, ...] = (), summary: RunSummary | None = None) -> None:
        """Open the manifest and the copy, up to the first row (*header* and *summary*, the reports', are unused)."""
        if self._started:
            return
        self._started = True
        writer = self._format
        if writer is not None:
            self._guarded(self._open, writer)

    def write(self, result: RowResult, /) -> None:
        """The next result, rows in increasing order."""
        self.write_all((result,))

    def write_all(self, results: Sequence[RowResult], /) -> None:
        """The next results, rows in increasing order (a batch: one guard for them all)."""
        last = self._last
        for result in results:
            if result.row <= last:
                self.discard()
                raise ValueError(f"results must come in row order, one per row: row {result.row} came after row {last}")
            last = result.row
        self._last = last
        if not self._started:
            self.start()
        writer = self._format
        if writer is not None:
            self._guarded(partial(_write_each, writer), results)

    def _open(self, writer: AnnotatedCsv | AnnotatedXlsx) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        writer.start()

    def _guarded(self, action: Callable[[Any], None], argument: Any) -> None:
        """``action(argument)`` on the format's writer: what it raises stops the copy (kept as the reason),
        but a cancellation or Ctrl-C removes what was written and goes on up."""
        try:
            action(argument)
        except Exception as exc:
            self._stop(exc)
        except BaseException:
            self.discard()
            raise

    def finish(self) -> Annotated:
        """Write the rest of the manifest and put the file in place; or say why there is none."""
        self.start()
        writer, self._format = self._format, None
        if writer is None:
            return Annotated(None, self._reason)
        try:
            writer.finish()
            os.replace(self._temp, self.final)
        except Exception as exc:
            self._format = writer
            self._stop(exc)
            return Annotated(None, self._reason)
        except BaseException:
            writer.discard()
            self._remove_temp()
            raise
        return Annotated(self.final, "", writer.rows)

    def discard(self) -> None:
        """Close and remove what was written so far (after a failure); never raises."""
        writer, self._format = self._format, None
        if writer is not None:
            with suppress(Exception):
                writer.discard()
        self._remove_temp()

    def _stop(self, exc: Exception) -> None:
        """Give up: no file, and why as the reason (a skip says why itself; anything but a skip or an OSError
        is a bug or a library surprise, logged with its traceback; never a lost run)."""
        self.discard()
        if isinstance(exc, Skip):
            why = str(exc)
        elif isinstance(exc, OSError):
            why = f"{exc.strerror or exc} ({exc.filename or self._temp})"
        else:
            log.error("the annotated manifest failed", exc_info=exc, extra={"event": "internal_error", "fields": {}})
            why = say(UNEXPECTED_ERROR, error=f"{type(exc).__name__}: {exc}")
        with suppress(OSError):
            if self.final.exists():
                self.final.unlink()
                why = say(EARLIER_REMOVED, why=why, file=self.final.name)
        self._reason = say(NOT_WRITTEN, file=self.final.name, why=why)

    def _remove_temp(self) -> None:
        with suppress(OSError):
            self._temp.unlink(missing_ok=True)


def _write_each(writer: AnnotatedCsv | AnnotatedXlsx, results: Sequence[RowResult]) -> None:
    """*results* written by *writer*, one after the other."""
    write = writer.write
    for result in results:
        write(result)
