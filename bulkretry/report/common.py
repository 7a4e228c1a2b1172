"""What every report format shares: the formats, the columns, one row's values, the writer protocol, and formula
neutralisation."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from contextlib import suppress
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar, Union

from bulkretry.oms.actions import ACTIONS, DEFAULT_ACTION, GROUPS, Action
from bulkretry.records import REPORT_COLUMNS, Outcome, RowResult, RunSummary

__all__ = [
    "FORMATS",
    "ID_AT",
    "OUTCOME_TEXT",
    "TRIGGER_STARTS",
    "TextFileReport",
    "Value",
    "Writer",
    "action_of",
    "close_quietly",
    "csv_writer",
    "finite",
    "neutralise",
    "open_csv",
    "plain_line",
    "report_header",
    "row_values",
    "run_action",
    "sync_close",
]

#: The report formats, in the order they are written by default.
FORMATS: tuple[str, ...] = ("csv", "xlsx", "json", "html")

#: One report cell before a format renders it: text, a number (``row``, ``http_status``, ``attempts``,
#: ``latency_ms``; never neutralised), or empty.
Value = Union[str, int, float, None]

# OWASP "CSV injection": a spreadsheet may run a cell that starts with one of these as a formula.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: The same, as a set of first characters: ``text[0] in TRIGGER_STARTS`` is the quick test of a row's cells.
TRIGGER_STARTS = frozenset(_FORMULA_TRIGGERS)


def neutralise(value: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR).

    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("-abc"), neutralise("abc")
    ('\\'=HYPERLINK("http://x")', "'-abc", 'abc')
    """
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


#: A cell that starts like a formula, seen in a line of cells joined by commas (after the comma before it).
_CELL_TRIGGER = re.compile("," + "[" + re.escape("".join(_FORMULA_TRIGGERS)) + "]")


def plain_line(texts: Sequence[str]) -> str | None:
    """The CSV line of *texts* (the excel dialect: commas, CRLF) when it is plain, the usual row: no cell needs
    quoting (none holds a comma, a quote, CR or LF) and none starts like a formula (:func:`neutralise`). Then it
    is the line ``csv.writer`` writes, made in a third of its time (the csv module looks at every character of
    every cell twice). None otherwise, and then the row goes through the csv module, neutralised cell by cell.

    >>> plain_line(["abc", "", "a-b", "1"]), plain_line(["abc", "-1"]), plain_line(["a,b", "c"]), plain_line([""])
    ('abc,,a-b,1\\r\\n', None, None, None)
    """
    line = ",".join(texts)
    if (
        not line  # (one empty cell: the csv module writes "")
        or line.count(",") != len(texts) - 1
        or '"' in line
        or "\n" in line
        or "\r" in line
        or line[0] in TRIGGER_STARTS
        or _CELL_TRIGGER.search(line) is not None
    ):
        return None
    return line + "\r\n"


#: Where the target's id (``group_id``, or ``task_id`` in a task run) sits in a report's header and row values.
ID_AT = REPORT_COLUMNS.index("group_id")


def action_of(name: object, target: object) -> Action:
    """The action a run records as *name* and *target* (none, or one this bulkretry does not know: the default, a
    retry of task groups, which is what a run before actions made)."""
    found = ACTIONS.get((name, target)) if isinstance(name, str) and isinstance(target, str) else None
    return found or ACTIONS[(DEFAULT_ACTION, GROUPS)]


def run_action(summary: RunSummary) -> Action:
    """The action of the run *summary* sums up (see :func:`action_of`)."""
    return action_of(summary.action, summary.target)


def report_header(
    extra_columns: Sequence[str] = (), id_column: str = "group_id"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The report's column names and the manifest columns that feed the extra ones.

    Returns ``(header, extras)``: ``header`` is ``REPORT_COLUMNS``, the target's id named *id_column*
    (``task_id`` in a task run), then one name per distinct extra column; ``extras`` the manifest names to
    look values up by. An extra column whose name is already taken (a manifest that is itself an earlier
    report has ``outcome``, ``row``, ...) is shown as ``manifest.NAME`` so that no two columns, nor two JSON
    keys, share a name.
    """
    extras = tuple(dict.fromkeys(extra_columns))
    taken = set(extras)
    names = list(REPORT_COLUMNS)
    names[ID_AT] = id_column
    for name in extras:
        shown = name
        while shown in names or (shown != name and shown in taken):
            shown = f"manifest.{shown}"
        names.append(shown)
    return tuple(names), extras


def row_values(result: RowResult, extras: tuple[str, ...]) -> tuple[Value, ...]:
    """One result as the header's values (``REPORT_COLUMNS``, then *extras*), its fields read by name: the
    outcome as its text, numbers stay numbers (a NaN or infinite latency is empty), ``None`` is empty, and
    each extra is the first value of that name in ``result.extra`` ('' when there is none)."""
    pairs = result.extra
    values = (
        result.row,
        result.project_id,
        result.group_id,
        OUTCOME_TEXT[result.outcome],
        result.http_status,
        result.error_code,
        result.error_msg,
        result.attempts,
        result.request_id,
        finite(result.latency_ms),
        result.started_at,
        result.finished_at,
    )
    if not extras:
        return values
    if tuple(map(_NAME, pairs)) == extras:  # the usual row: the extra columns, in order, once each
        return values + tuple(map(_VALUE, pairs))
    given = dict(reversed(pairs))  # the first of a repeated name wins, as in RowResult.as_dict
    return values + tuple([given.get(name, "") for name in extras])


#: An outcome -> its text, as the reports write it (a dict lookup: cheaper than ``Outcome.value``).
OUTCOME_TEXT: dict[str, str] = {outcome: outcome.value for outcome in Outcome}
_NAME, _VALUE = itemgetter(0), itemgetter(1)


def finite(number: float | None) -> float | None:
    # NaN and infinities are neither valid JSON nor a spreadsheet number: report them as empty.
    return number if number is None or math.isfinite(number) else None


def open_csv(path: Path) -> IO[str]:
    """*path* opened to write a CSV as Excel reads it: UTF-8 with a BOM, and ``newline=""`` for the csv module.

    The BOM is written here and the text encoded as plain UTF-8: the bytes are those of ``utf-8-sig``,
    whose encoder is Python code called on every write (a third of a report row's cost).
    """
    fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 (the caller closes it)
    try:
        fh.write("\ufeff")
    except BaseException:
        fh.close()
        raise
    return fh


if sys.version_info >= (3, 11):
    csv_writer = csv.writer
else:

    def csv_writer(fh: IO[str]) -> Any:
        """``csv.writer(fh)`` writing the bytes Python 3.11+ writes: a NUL in a cell as it is, unquoted (3.9
        quotes the cell, 3.10 refuses it)."""
        return _NulWriter(fh)

    class _NulWriter:
        def __init__(self, fh: IO[str]) -> None:
            self._fh, self._csv = fh, csv.writer(fh)

        def writerow(self, row: Iterable[Any]) -> Any:
            row = list(row)
            if not any(isinstance(v, str) and "\x00" in v for v in row):
                return self._csv.writerow(row)
            # A stand-in that is not in the row and that the writer does not quote for: NUL as 3.11 treats it.
            text = "".join(v for v in row if isinstance(v, str))
            stand_in = next(c for c in map(chr, range(0xE000, 0x110000)) if c not in text)
            buffer = io.StringIO()
            csv.writer(buffer).writerow([v.replace("\x00", stand_in) if isinstance(v, str) else v for v in row])
            return self._fh.write(buffer.getvalue().replace(stand_in, "\x00"))


def close_quietly(fh: IO[Any] | None) -> None:
    """Close *fh* (if any) after a failure, ignoring an OSError such as flushing its buffer again on a full disk."""
    if fh is not None:
        with suppress(OSError):
            fh.close()


def sync_close(fh: IO[Any]) -> None:
    """Flush ``fh`` to the disk and close it, so a later ``os.replace`` never exposes a short file."""
    try:
        fh.flush()
        os.fsync(fh.fileno())
    finally:
        fh.close()


class TextFileReport:
    """What a report written to one text file shares: its ``path``, the file while it is open (``None`` before
    ``start`` and after ``finish`` or ``discard``), closing it at the end, and ``discard``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def close_with(self, last: str) -> None:
        """Write *last* (the file's end; may be empty), then flush the file to the disk and close it; it is
        closed too if that write fails."""
        assert self._fh is not None
        fh, self._fh = self._fh, None
        try:
            fh.write(last)
        except BaseException:
            close_quietly(fh)
            raise
        sync_close(fh)

    def discard(self) -> None:
        """Close the file as it is (after a failure); never raises."""
        fh, self._fh = self._fh, None
        close_quietly(fh)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} {'open' if self._fh else 'closed'}>"


RowT_contra = TypeVar("RowT_contra", contravariant=True)


class Writer(Protocol[RowT_contra]):
    """A file written to a temporary path in one pass over the results: ``start``, ``write`` each row in
    manifest order, then ``finish``; or ``discard`` after a failure (the caller removes the file).

    Two kinds follow it, which differ only in what a row is:

    - the reports (``Writer[tuple[Value, ...]]``: csv, xlsx, json, html) take each row's values, in header
      order (:func:`row_values`);
    - the annotated manifest (``Writer[RowResult]``: ``manifest.annotate_csv.AnnotatedCsv`` and
      ``manifest.annotate_xlsx.AnnotatedXlsx``) takes the ``RowResult`` itself, as it copies the manifest's
      own columns and header and adds the outcome beside them: it ignores ``header`` and ``summary`` (which it
      takes as optional), and the ``AnnotatedWriter`` that picks one of them returns what it did from ``finish``.
    """

    #: The file's name in the run folder, e.g. ``report.csv``.
    filename: str

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        """Open the file and write what comes before the rows."""

    def write(self, row: RowT_contra, /) -> None:
        """Write one row."""

    def finish(self) -> None:
        """Write what comes after the rows, flush to disk and close."""

    def discard(self) -> None:
        """Close and free whatever is open after a failure; never raises. The caller removes the file."""
