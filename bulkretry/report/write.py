"""Choose the formats and write them all in one pass over the results, each file atomically."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from itertools import islice
from pathlib import Path
from typing import Any

from bulkretry.i18n.times import Locale
from bulkretry.records import RowResult, RunSummary
from bulkretry.report.common import FORMATS, Value, Writer, report_header, row_values, run_action
from bulkretry.report.json_report import write_summary

__all__ = ["BATCH_ROWS", "SUMMARY_FILE", "parse_formats", "write_reports"]

SUMMARY_FILE = "summary.json"
#: Rows read from the results at a time, then written by each format in turn: one format's code runs over
#: a batch while it is still in the CPU's caches, where one row through every format in turn finds it
#: evicted by the others (measured: a quarter less CPU for the reports). A few hundred rows of memory.
BATCH_ROWS = 512

_ALLOWED = ", ".join(FORMATS)
#: ``write_reports``'s default locale: English, the machine's zone.
ENGLISH_HERE = Locale()

#: Each format's writer, as ``(module, class)`` in this package: imported when a run asks for its format (a run
#: that writes report.csv alone does not import report.html's and report.xlsx's code, some 20 ms a run).
_WRITERS: dict[str, tuple[str, str]] = {
    "csv": ("csv_report", "CsvReport"),
    "xlsx": ("xlsx_report", "XlsxReport"),
    "json": ("json_report", "JsonReport"),
    "html": ("html_report", "HtmlReport"),
}


def parse_formats(text: str) -> tuple[str, ...]:
    """Read a comma list of report formats: ``"csv, xlsx"`` -> ``("csv", "xlsx")``.

    Spaces and case are ignored and repeats dropped; an unknown or missing format is a ``ValueError``.
    """
    names = [name for part in text.split(",") if (name := part.strip().lower())]
    if not names:
        raise ValueError(f"no report format given; choose one or more of {_ALLOWED}, comma-separated (e.g. 'csv,xlsx')")
    return _check_formats(names, given=text)


def write_reports(
    out_dir: Path,
    results: Iterable[RowResult],
    summary: RunSummary,
    *,
    formats: Sequence[str] = FORMATS,
    extra_columns: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
    locale: Locale = ENGLISH_HERE,
) -> list[Path]:
    """Write ``report.<format>`` for each of ``formats``, then ``summary.json``, into ``out_dir``.

    ``results`` (``RowResult`` s in manifest order, as ``Journal.results()`` gives them) is read once,
    :data:`BATCH_ROWS` at a time, each turned into its values by ``row_values``: every format is fed from the
    same pass, so a generator over millions of rows is never held in memory. It is read to the end even when
    ``formats`` is empty (then only ``summary.json`` is written). Columns are ``REPORT_COLUMNS`` then
    ``extra_columns``, whose values come from each result's ``extra`` ('' where missing), the target's id
    named by the summary's action (``group_id``, or ``task_id`` in a task run); see
    ``report_header`` for an extra column named like a report column. ``formats`` may also be the
    text ``parse_formats`` reads.

    ``details`` are the run's details for the writers that show them (``report.html``):
    ``{"params": {public run parameters}, "timeline": [[unix_second, calls, throttled, failed], ...]}``.
    Without them those parts of the page say "not recorded".

    ``locale`` is the language (``en``, ``zh-CN``) of what people read, report.html and the Summary sheet of
    report.xlsx, and the zone of the times they show (an IANA name; None: the machine's). The csv, the json, the
    Rows sheet and summary.json are the same in every language, their times ISO 8601 UTC.

    Each file is written to ``NAME.tmp`` and renamed into place once all are complete. On any error
    (from ``results`` too) the temporary files are removed and the error re-raised as it is (an
    ``OSError`` such as a full disk included); files of an earlier write are left untouched.

    Returns the paths written: the reports in ``formats`` order, then ``summary.json``.
    """
    chosen = parse_formats(formats) if isinstance(formats, str) else _check_formats(formats, given=",".join(formats))
    header, extras = report_header(extra_columns, run_action(summary).id_column)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    writers = [_writer(name, out_dir, details, locale) for name in chosen]
    finals = [out_dir / writer.filename for writer in writers] + [out_dir / SUMMARY_FILE]
    temps = [final.with_name(final.name + ".tmp") for final in finals]
    try:
        for writer in writers:
            writer.start(header, summary)
        _feed(writers, results, extras)
        for writer in writers:
            writer.finish()
        write_summary(temps[-1], summary)
        for temp, final in zip(temps, finals):
            os.replace(temp, final)
    except BaseException:
        _discard(writers, temps)
        raise
    return finals


def _feed(writers: Sequence[Writer[tuple[Value, ...]]], results: Iterable[RowResult], extras: tuple[str, ...]) -> None:
    """Every result to every writer, :data:`BATCH_ROWS` at a time (each result's values made once)."""
    rows = iter(results)
    while batch := list(islice(rows, BATCH_ROWS)):
        values = [row_values(result, extras) for result in batch]
        for writer in writers:
            write = writer.write
            for row in values:
                write(row)


def _discard(writers: Sequence[Writer[tuple[Value, ...]]], temps: Sequence[Path]) -> None:
    """After a failure: every writer discarded and every temporary file removed (never raises)."""
    for writer in writers:
        writer.discard()
    for temp in temps:
        with suppress(OSError):
            temp.unlink(missing_ok=True)


def _writer(name: str, out_dir: Path, details: Mapping[str, Any] | None, locale: Locale) -> Writer[tuple[Value, ...]]:
    module, class_name = _WRITERS[name]
    kind: type[Writer[tuple[Value, ...]]] = getattr(importlib.import_module(f"{__package__}.{module}"), class_name)
    path = out_dir / f"{kind.filename}.tmp"
    options: dict[str, Any] = {}
    if getattr(kind, "accepts_details", False):
        options["details"] = details
    if getattr(kind, "accepts_lang", False):  # the writers whose words and times people read
        options["lang"], options["tz"] = locale.lang, locale.tz
    return kind(path, **options)  # type: ignore[call-arg]


def _check_formats(names: Sequence[str], *, given: str) -> tuple[str, ...]:
    unknown = [name for name in dict.fromkeys(names) if name not in FORMATS]
    if unknown:
        raise ValueError(
            f"unknown report format {', '.join(map(repr, unknown))} in {given!r}; "
            f"choose one or more of {_ALLOWED}, comma-separated (e.g. 'csv,xlsx')"
        )
    return tuple(dict.fromkeys(names))
