"""The journal (a real SQLite file) and the run-folder lock: durability, in-flight rows, full disk, schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bulkretry.errors import ConfigError
from bulkretry.journal import Journal, JournalError, RowSet
from bulkretry.records import Outcome, RowResult
from bulkretry.runlock import RunLock


def _result(row: int, outcome: Outcome = Outcome.SUCCEEDED, attempts: int = 1, code: str = "") -> RowResult:
    return RowResult(row, "p", f"g{row}", outcome, http_status=200 if attempts else None, error_code=code,
                     attempts=attempts, started_at="t0", finished_at="t1", extra=(("note", f"n{row}"),))


def _rows_seen_by_another_connection(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row for (row,) in db.execute("SELECT row FROM rows ORDER BY row")]


def test_rowset_holds_exactly_what_was_added() -> None:
    """A bitmap set: membership, length, no false positives beyond its end or below zero."""
    rows = RowSet([2, 9, 1_000_003, 9])
    assert len(rows) == 3
    assert all(r in rows for r in (2, 9, 1_000_003))
    assert not any(r in rows for r in (0, 1, 3, 8, 10, 1_000_002, 1_000_004, 5_000_000, -1, "2"))


def test_a_call_result_is_committed_at_once(tmp_path: Path) -> None:
    """A result from a call is on disk (visible to another connection) as soon as record() returns."""
    journal = Journal(tmp_path / "j.sqlite", commit_every=1000, commit_interval_s=3600)
    journal.record(_result(5))
    assert _rows_seen_by_another_connection(tmp_path / "j.sqlite") == [5]
    journal.close()


def test_local_results_are_batched_until_a_call_result_or_a_flush(tmp_path: Path) -> None:
    """Invalid/duplicate rows wait for their batch; the next call result commits them with it."""
    path = tmp_path / "j.sqlite"
    journal = Journal(path, commit_every=1000, commit_interval_s=3600)
    journal.record(_result(2, Outcome.INVALID, attempts=0, code="invalid:x"))
    assert _rows_seen_by_another_connection(path) == []
    journal.record(_result(3))
    assert _rows_seen_by_another_connection(path) == [2, 3]
    journal.close()


def test_in_flight_rows_are_marked_and_cleared_by_their_result(tmp_path: Path) -> None:
    """started() marks a row durably; its result clears the mark; the rest stay in flight after a reopen."""
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    journal.started(2, "t")
    journal.started(3, "t")
    journal.record(_result(2))
    journal._db.close()  # as if the process died here: no close(), no flush
    reopened = Journal.open_existing(path)
    assert 3 in reopened.in_flight() and 2 not in reopened.in_flight()
    assert 2 in reopened.finished() and 3 not in reopened.finished()
    reopened.close()


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
    with pytest.raises(JournalError, match="full"):
        journal.record(big)
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
    with sqlite3.connect(path) as db:
        db.execute("UPDATE run SET value = '99' WHERE key = 'schema'")
    with pytest.raises(JournalError, match="newer"):
        Journal.open_existing(path)


def test_a_held_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    """Two holders of one folder: the second gets ConfigError naming the first's pid."""
    with RunLock(tmp_path), pytest.raises(ConfigError, match=r"in use by another bulkretry run \(pid \d+\)"):
        RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released: free again
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """The lock dies with its process (kill -9 included): the folder can be locked again at once."""
    code = ("import sys, os, signal; from pathlib import Path; from bulkretry.runlock import RunLock; "
            "RunLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == "locked" and proc.returncode == -9
    with RunLock(tmp_path):
        pass
