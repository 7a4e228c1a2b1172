"""The journal (a real SQLite file): durability, in-flight rows, full disk, schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bulkretry.errors import JournalError
from bulkretry.records import Outcome, RowResult
from bulkretry.run.journal import Journal, RowSet


def _result(row: int, outcome: Outcome = Outcome.SUCCEEDED, attempts: int = 1, code: str = "") -> RowResult:
    return RowResult(
        row,
        "p",
        f"g{row}",
        outcome,
        http_status=200 if attempts else None,
        error_code=code,
        attempts=attempts,
        started_at="t0",
        finished_at="t1",
        extra=(("note", f"n{row}"),),
    )


_CRASHING_WRITER = """
import os, signal, sys
from pathlib import Path
from bulkretry.run.journal import Journal
from bulkretry.records import Outcome, RowResult
journal = Journal(Path(sys.argv[1]), commit_every=int(sys.argv[2]), commit_interval_s=3600, horizon_slack=10)
for step in sys.argv[3].split(","):
    if step == "f":
        journal.flush()
    elif step[0] == "r":
        journal.record(RowResult(int(step[1:]), "p", "g", Outcome.SUCCEEDED, 200, attempts=1))
    elif step[0] == "s":
        journal.started(int(step[1:]))
os.kill(os.getpid(), signal.SIGKILL)
"""


def _after_kill_9(tmp_path: Path, steps: str, commit_every: int = 1000) -> tuple[list[int], int]:
    """Run *steps* on a journal in another process that then dies by SIGKILL: (rows on disk, horizon)."""
    path = tmp_path / "j.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(path), str(commit_every), steps],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    with closing(sqlite3.connect(path)) as db:
        rows = [row for (row,) in db.execute("SELECT row FROM rows ORDER BY row")]
        horizon = db.execute("SELECT value FROM run WHERE key = 'calling_horizon'").fetchone()
    path.unlink()
    return rows, int(horizon[0]) if horizon else 0


def test_rowset_holds_exactly_what_was_added() -> None:
    """A bitmap set: membership, length, no false positives beyond its end or below zero."""
    rows = RowSet([2, 9, 1_000_003, 9])
    assert len(rows) == 3
    assert all(r in rows for r in (2, 9, 1_000_003))
    assert not any(r in rows for r in (0, 1, 3, 8, 10, 1_000_002, 1_000_004, 5_000_000, -1, "2"))


def test_what_survives_kill_9(tmp_path: Path) -> None:
    """Results are batched until flush(), started() past the horizon (which raises it by the slack, with the
    pending results), or a full batch; everything committed survives SIGKILL, nothing else does."""
    assert _after_kill_9(tmp_path, "r2,r3") == ([], 0)
    assert _after_kill_9(tmp_path, "r2,r3,f,r4") == ([2, 3], 0)
    assert _after_kill_9(tmp_path, "r2,s4") == ([2], 14)
    assert _after_kill_9(tmp_path, "s4,r4,s14,r5") == ([], 14)  # 14 is within the horizon: no commit
    assert _after_kill_9(tmp_path, "s4,r4,s14,r5,s15") == ([4, 5], 25)
    assert _after_kill_9(tmp_path, "r2,r3,r4,r5", commit_every=3) == ([2, 3, 4], 0)


def test_a_resumed_journal_keeps_its_horizon(tmp_path: Path) -> None:
    """Reopened, the journal knows its horizon and does not commit again for rows below it."""
    path = tmp_path / "j.sqlite"
    with Journal(path, horizon_slack=10) as journal:
        journal.started(5)
    with Journal(path, horizon_slack=10) as journal:
        assert journal.calling_horizon() == 15
        journal.started(9)
        assert journal.calling_horizon() == 15
        journal.started(16)
        assert journal.calling_horizon() == 26


def test_interrupted_rows_are_not_finished_and_results_read_back_in_order(tmp_path: Path) -> None:
    """finished() excludes interrupted rows; results() returns rows in row order with their extra columns."""
    with Journal(tmp_path / "j.sqlite") as journal:
        for row, outcome in ((4, Outcome.INTERRUPTED), (2, Outcome.FAILED), (3, Outcome.SUCCEEDED)):
            journal.record(_result(row, outcome))
        assert [r.row for r in journal.results()] == [2, 3, 4]
        assert [r.row for r in journal.results(["failed", "interrupted"])] == [2, 4]
        assert next(journal.results()).extra == (("note", "n2"),)
        finished = journal.finished()
        assert 2 in finished and 3 in finished and 4 not in finished
        by_outcome, _ = journal.counts()
        assert by_outcome == {"interrupted": 1, "failed": 1, "succeeded": 1}


def test_a_full_disk_keeps_results_pending_and_hands_them_over(tmp_path: Path) -> None:
    """SQLITE_FULL (a real full database, via max_page_count): JournalError, nothing dropped, saved later."""
    journal = Journal(tmp_path / "j.sqlite")
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count = {pages}")
    big = RowResult(7, "p", "g", Outcome.FAILED, error_msg="x" * 20_000, attempts=1)
    journal.record(big)
    with pytest.raises(JournalError, match="full"):
        journal.flush()
    assert journal.pending == 1
    assert journal.unsaved()[0]["row"] == 7 and "extra" not in journal.unsaved()[0]
    journal._db.execute("PRAGMA max_page_count = 1000000")
    journal.flush()
    assert journal.pending == 0 and [r.row for r in journal.results()] == [7]
    journal.close()


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    """Garbage in place of journal.sqlite is a JournalError naming the file, not a sqlite traceback."""
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="not a bulkretry journal"):
        Journal.open_existing(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A journal written by a newer bulkretry is not misread."""
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE run SET value = '99' WHERE key = 'schema'")
        db.commit()
    with pytest.raises(JournalError, match="newer"):
        Journal.open_existing(path)


@pytest.mark.slow
def test_a_journal_open_elsewhere_is_named_as_such(tmp_path: Path) -> None:
    """Another program holding the database: a JournalError saying so, not 'not a journal'."""
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    with closing(sqlite3.connect(path)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(JournalError, match="open in another program"):
            Journal.open_existing(path)
