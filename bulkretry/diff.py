"""Compare two runs of the same manifest: which groups were fixed, which still fail, which newly fail.

Groups are matched by ``(project_id, group_id)`` (a rerun covers only some rows, and row numbers may
move when a manifest is edited). *Failing* means ``failed``, ``interrupted`` or ``invalid``; *fine*
means ``succeeded`` or ``skipped``; duplicate rows follow their first row and are left out. The join
runs inside SQLite (both journals attached, an index on a temporary copy of the old side), so two
million-row runs are compared in bounded memory; neither journal is modified. The result names each run's
action.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkretry.errors import ConfigError, JournalError
from bulkretry.records import FAILING, FINE
from bulkretry.report import neutralise
from bulkretry.report.common import action_of, csv_writer, open_csv
from bulkretry.report.labels import action_words
from bulkretry.run.journal import check_journal, read_only_uri
from bulkretry.run.rundir import require_run
from bulkretry.run.runlock import RunLock

__all__ = ["CHANGES", "DIFF_COLUMNS", "DiffResult", "diff_runs"]

#: The kinds of change, in the order they are printed.
CHANGES = ("fixed", "still failing", "newly failing")
#: diff.csv's columns: the change, then the query's columns by these names.
DIFF_COLUMNS = (
    "change",
    "project_id",
    "group_id",
    "old_row",
    "old_outcome",
    "old_error_code",
    "new_row",
    "new_outcome",
    "new_error_code",
    "new_error_msg",
)
#: The columns that hold text from a journal (a manifest's ids, the server's codes and messages): neutralised.
_TEXT_COLUMNS = frozenset({"project_id", "group_id", "old_error_code", "new_error_code", "new_error_msg"})

_QUERY = f"""
SELECT n.project_id AS project_id, n.group_id AS group_id, o.row AS old_row, o.outcome AS old_outcome,
  o.error_code AS old_error_code, n.row AS new_row, n.outcome AS new_outcome, n.error_code AS new_error_code,
  n.error_msg AS new_error_msg
FROM main.rows AS n JOIN temp.old_rows AS o ON o.project_id = n.project_id AND o.group_id = n.group_id
WHERE n.outcome != 'duplicate'
  AND (o.outcome IN ({", ".join(f"'{x}'" for x in FAILING)}) OR n.outcome IN ({", ".join(f"'{x}'" for x in FAILING)}))
ORDER BY n.row
"""


@dataclass(frozen=True)
class DiffResult:
    counts: dict[str, int]
    #: Groups found in both runs, and in only one of them (duplicate rows left out).
    in_both: int
    only_old: int
    only_new: int
    path: Path
    #: Each run's action as the options name it (``retry (groups)``; a run before actions was one).
    old_action: str = ""
    new_action: str = ""


def _change(old: str, new: str) -> str | None:
    if old in FAILING and new in FINE:
        return "fixed"
    if old in FAILING and new in FAILING:
        return "still failing"
    if old in FINE and new in FAILING:
        return "newly failing"
    return None


def diff_runs(old_dir: Path, new_dir: Path, out: Path | None = None) -> DiffResult:
    """Compare the runs in *old_dir* and *new_dir*; write ``diff.csv`` (default: in *new_dir*)."""
    old_journal, new_journal = require_run(old_dir), require_run(new_dir)
    if old_dir.resolve() == new_dir.resolve():
        raise ConfigError(f"{old_dir} is given twice: compare two different runs")
    out = out or new_dir / "diff.csv"
    with ExitStack() as stack:
        stack.enter_context(RunLock(old_dir, shared=True))
        stack.enter_context(RunLock(new_dir, shared=True))
        try:
            # Both journals read as they are, neither written (a read-only archive is fine).
            old_uri, new_uri = read_only_uri(old_journal, stack), read_only_uri(new_journal, stack)
            with closing(sqlite3.connect(old_uri, uri=True)) as probe:
                check_journal(probe, old_journal)
                old_action = _action(probe)
            db = stack.enter_context(closing(sqlite3.connect(new_uri, uri=True)))
            check_journal(db, new_journal)
            new_action = _action(db)
            db.row_factory = sqlite3.Row
            db.execute("ATTACH DATABASE ? AS old", (old_uri,))
            db.execute(
                "CREATE TEMP TABLE old_rows AS SELECT project_id, group_id, row, outcome, error_code "
                "FROM old.rows WHERE outcome != 'duplicate'"
            )
            db.execute("CREATE INDEX temp.old_rows_key ON old_rows (project_id, group_id)")
            matched = db.execute(
                "SELECT COUNT(o.row) AS in_both, SUM(o.row IS NULL) AS only_new FROM main.rows AS n "
                "LEFT JOIN temp.old_rows AS o ON o.project_id = n.project_id AND o.group_id = n.group_id "
                "WHERE n.outcome != 'duplicate'"
            ).fetchone()
            old_total = db.execute("SELECT COUNT(*) AS n FROM temp.old_rows").fetchone()["n"]
            in_both, only_new = matched["in_both"], matched["only_new"]
            counts = _write(out, db.execute(_QUERY))
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot compare {old_dir} and {new_dir}: {exc}") from None
        except JournalError as exc:
            raise ConfigError(str(exc)) from None
    return DiffResult(counts, in_both or 0, old_total - (in_both or 0), only_new or 0, out, old_action, new_action)


def _action(db: sqlite3.Connection) -> str:
    """The action of the journal *db* as the options name it (a journal before actions: a retry of groups)."""
    recorded = dict(db.execute("SELECT key, value FROM run WHERE key IN ('action', 'target')"))
    return action_words(action_of(*(json.loads(recorded.get(key, "null")) for key in ("action", "target"))))


def _cell(record: sqlite3.Row, name: str) -> Any:
    """A diff.csv cell: the query's column *name*, neutralised if it is text from a journal."""
    value = record[name]
    return neutralise(value) if name in _TEXT_COLUMNS else value


def _write(out: Path, rows: Iterator[sqlite3.Row]) -> dict[str, int]:
    counts: Counter[str] = Counter({change: 0 for change in CHANGES})
    temp = out.with_name(out.name + ".tmp")
    try:
        with open_csv(temp) as fh:
            writer = csv_writer(fh)
            writer.writerow(DIFF_COLUMNS)
            for record in rows:
                change = _change(record["old_outcome"], record["new_outcome"])
                if change is None:
                    continue
                counts[change] += 1
                writer.writerow([change, *(_cell(record, name) for name in DIFF_COLUMNS[1:])])
        temp.replace(out)
    except OSError as exc:
        with suppress(OSError):  # on a read-only folder even removing the temporary file fails
            temp.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write {out}: {exc.strerror or exc}; give --out FILE in a folder you can write to"
        ) from None
    return dict(counts)
