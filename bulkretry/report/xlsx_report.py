"""``report.xlsx``: a ``Summary`` sheet, then the rows, streamed with :mod:`.xlsx_writer`.

- The workbook is streamed, one sheet after another, in the order the sheets appear: ``Summary`` is
  written whole first (the summary is known before the first row), then ``Rows``. Memory stays flat.
- A sheet's view and column widths come before its rows: the header is frozen and the widths set when
  the sheet is started. Its autofilter, over the header and the rows, is written when it is closed.
- Text is written as inline strings, so a cell is text whatever it looks like: never a formula, never an
  error value such as ``#N/A``. Still, text is cleaned as it always was: characters XML cannot hold
  (control characters; lone surrogates, U+FFFE and U+FFFF too) are dropped, then what remains is
  neutralised (``'=...``: a spreadsheet would run it as a formula once edited, and the csv has it so),
  and a CR made LF. Text is cut to Excel's 32,767 characters a cell.
- A sheet holds at most 1,048,576 rows: longer reports continue on ``Rows 2``, ``Rows 3``, ... A sheet
  whose XML nears 2 GiB (some 2 KB a row: long messages or many extra columns) continues there too: the
  workbook is written without ZIP64, which Excel is wary of (see :mod:`.xlsx_writer`).
"""

from __future__ import annotations

import unicodedata
from contextlib import suppress
from pathlib import Path
from typing import IO

from bulkretry.i18n import DEFAULT_LANG, N_, translation
from bulkretry.i18n.times import people_time
from bulkretry.records import RunSummary
from bulkretry.report.charts import outcome_word
from bulkretry.report.common import TRIGGER_STARTS, Value, finite, neutralise, sync_close
from bulkretry.report.labels import action_facts
from bulkretry.report.verdict import WHY_SET_ASIDE
from bulkretry.report.xlsx_writer import BOLD, ILLEGAL_XML_CHARS, MAX_SHEET_BYTES, StreamingWorkbook, Worksheet

__all__ = ["XlsxReport"]

# Widths (in characters) of the contract's columns; extra columns are sized from their header.
_WIDTHS = {
    "row": 7,
    "project_id": 34,
    "group_id": 38,
    "task_id": 12,
    "outcome": 12,
    "http_status": 12,
    "error_code": 18,
    "error_msg": 60,
    "attempts": 9,
    "request_id": 38,
    "latency_ms": 12,
    "started_at": 28,
    "finished_at": 28,
}

# The Summary sheet's fields, and their labels (in English the field's name; in Chinese words).
_SUMMARY_FIELDS = {
    "run_id": N_("run_id"),
    "manifest": N_("manifest"),
    "started_at": N_("started_at"),
    "finished_at": N_("finished_at"),
    "duration_s": N_("duration_s"),
    "rows": N_("rows"),
    "calls": N_("calls"),
    "status_reads": N_("status_reads"),
    "achieved_rate": N_("achieved_rate"),
    "sessions": N_("sessions"),
}

#: The Summary sheet's times, shown in the report's zone.
_TIMES = frozenset({"started_at", "finished_at"})


class XlsxReport:
    """Streams rows to ``report.xlsx``: a ``Summary`` sheet, then ``Rows`` with a frozen bold header and a filter."""

    filename = "report.xlsx"
    #: ``write_reports`` passes the report's language: the Summary sheet is in it (the Rows sheets never are).
    accepts_lang = True
    #: Data rows per sheet: Excel's 1,048,576 rows less the header.
    rows_per_sheet = 1_048_575
    #: Bytes of XML after which the rows continue on the next sheet: what a sheet may hold, less room for
    #: what is still buffered and for the next row.
    bytes_per_sheet = MAX_SHEET_BYTES - 64 * 1024 * 1024

    def __init__(self, path: Path, lang: str = DEFAULT_LANG, tz: str | None = None) -> None:
        self.path = path
        self.lang = lang
        #: The zone of the Summary sheet's times (the Rows sheets keep ISO 8601 UTC, as the csv).
        self.tz = tz
        self._fh: IO[bytes] | None = None
        self._book: StreamingWorkbook | None = None
        self._ws: Worksheet | None = None
        self._header: tuple[str, ...] = ()
        self._widths: tuple[int, ...] = ()
        self._sheets = 0
        self._rows = 0  # data rows on the current sheet

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        self._fh = open(self.path, "wb")  # noqa: SIM115 (closed by finish/discard)
        self._book = StreamingWorkbook(self._fh, spool_dir=self.path.parent)
        self._header = tuple(_text(name) for name in header)
        self._widths = tuple(_WIDTHS.get(name) or _width(name) for name in header)
        _write_summary(self._book, summary, self.lang, self.tz)
        self._new_rows_sheet()

    def write(self, values: tuple[Value, ...]) -> None:
        ws = self._ws
        assert ws is not None
        if self._rows == self.rows_per_sheet or ws.size >= self.bytes_per_sheet:
            ws = self._new_rows_sheet()
        self._rows += 1
        # Most rows need no cleaning: their text is printable (no control character, CR, tab nor LF) and
        # starts unlike a formula, the rest are ints, floats (the writer leaves NaN out) and None.
        for value in values:
            cls = value.__class__
            if cls is str:  # (mypy does not narrow *value* through cls: hence the ignore below)
                if value and (value[0] in TRIGGER_STARTS or not value.isprintable()):  # type: ignore[index,union-attr]
                    break
            elif value is not None and cls is not int and cls is not float:
                break
        else:
            ws.write_row(values)
            return
        ws.write_row([_cell(value) for value in values])

    def finish(self) -> None:
        assert self._book is not None and self._fh is not None
        book, fh = self._book, self._fh
        book.close()
        self._book = self._fh = self._ws = None
        sync_close(fh)

    def discard(self) -> None:
        """Close the workbook and the file after a failure; never raises (the caller removes the file)."""
        book, fh = self._book, self._fh
        self._book = self._fh = self._ws = None
        if book is not None:
            book.abort()
        if fh is not None:
            with suppress(Exception):  # e.g. flushing the buffer again on a full disk
                fh.close()

    def __repr__(self) -> str:
        return f"<XlsxReport {self.path} sheets={self._sheets} rows_on_sheet={self._rows}>"

    def _new_rows_sheet(self) -> Worksheet:
        assert self._book is not None
        self._sheets += 1
        ws = self._book.add_sheet(
            "Rows" if self._sheets == 1 else f"Rows {self._sheets}", widths=self._widths, freeze_rows=1, autofilter=True
        )
        ws.write_row(self._header, style=BOLD)
        self._ws, self._rows = ws, 0
        return ws


def _write_summary(book: StreamingWorkbook, summary: RunSummary, lang: str, tz: str | None) -> None:
    """The Summary sheet, in *lang*: its labels, headings and outcome words are words; the values and codes are
    data; its times in *tz*."""
    _ = translation(lang).gettext
    ws = book.add_sheet(_("Summary"), widths=(24, 48))
    data = summary.as_dict()
    ws.write_row((_("run"), _("value")), style=BOLD)
    for key, label in _SUMMARY_FIELDS.items():
        value = people_time(data[key], tz) if key in _TIMES else data[key]
        ws.write_row((_(label), _cell(value)))
    tally = summary.tally()
    ws.write_row((_("rows_called"), tally.called))  # the rows whose calls ended: the success rate is over them
    rate = tally.success_rate
    ws.write_row((_("success_rate"), _cell(None if rate is None else f"{rate:.1%}")))
    for label, value in action_facts(summary, None, _):  # said only when the action is not a retry
        ws.write_row((label, _cell(str(value))))
    if summary.source_run is not None:  # a rerun says which run it came from
        source = summary.source_run
        ws.write_row((_("rerun of"), _cell(f"{source['run_id']} ({source['out_dir']})")))
        codes = (
            _("; error code {codes}").format(codes=", ".join(source["error_codes"])) if source["error_codes"] else ""
        )
        ws.write_row(
            (
                _("rerun rows"),
                _cell(
                    _("outcome {outcomes}").format(outcomes=", ".join(outcome_word(o, lang) for o in source["only"]))
                    + codes
                ),
            )
        )
    _write_counts(ws, summary, lang)


def _write_counts(ws: Worksheet, summary: RunSummary, lang: str) -> None:
    """The rows by outcome in *lang*'s words (a row set aside says why it was not called), then the failing rows by
    error code."""
    _ = translation(lang).gettext
    ws.write_row(())
    ws.write_row((_("outcome"), _("rows")), style=BOLD)
    for outcome, count in summary.by_outcome.items():
        why = WHY_SET_ASIDE.get(outcome)
        ws.write_row((_cell(outcome_word(outcome, lang)), count, *((_(why).strip(),) if why else ())))
    ws.write_row(())
    ws.write_row((_("error_code"), _("rows")), style=BOLD)
    for code, count in summary.tally().errors:
        ws.write_row((_cell(code), count))


def _cell(value: Value) -> Value:
    if value is None or isinstance(value, (int, float)):
        return finite(value)
    return _text(str(value))


def _text(value: str) -> str:
    # Characters XML cannot hold (control characters) are dropped, then what remains neutralised. XML
    # readers turn a raw CR into LF: do it here (after neutralising, which looks for a leading CR), so the
    # file holds what is read back.
    value = neutralise(ILLEGAL_XML_CHARS.sub("", value))
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def _width(name: str) -> int:
    # East Asian wide characters (a Chinese header) take two columns.
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in name)
    return min(max(shown + 4, 12), 60)
