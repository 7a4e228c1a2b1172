"""The run's journal: a SQLite database in the run folder holding the run's parameters, every finished
row, and the rows whose call is under way. Reports are built from it, in manifest order. It never holds
a secret.

Durability: the caller commits results that came back with ``flush()`` within the same event-loop turn.
Before a row's first call goes out, ``started()`` makes sure the *calling horizon* (a row number) is at
least that row, committed: raising it by a slack of rows at a time costs one commit per slack calls, not
one per call. WAL with ``synchronous=NORMAL`` makes every commit survive the process being killed
(``kill -9``); only a power cut may lose the last commits. Rows decided locally (invalid, duplicate, dry
run) are batched: recomputing them costs nothing. After a crash the journal therefore holds every answer
that was handled, and a row at or below ``calling_horizon()`` with no final outcome may have been called.
The database is opened in exclusive locking mode (the run folder's lock already keeps other writers
out), which halves the cost of a commit; other processes can read it once the run has ended.

Schema: the ``run`` table's ``schema`` is the version of the journal's layout and meaning. A journal of an
older schema is migrated when it is opened, one step per version (:data:`MIGRATIONS`), in one transaction, and
the step is logged (event ``journal_migrated``); a journal opened read-only (``report`` on an archive) is
migrated in memory only, its file never written. A newer schema than this bulkretry knows is refused. Schema 2
records the run's action (``action``, ``target``, ``priority``, ``batch_size``); a schema-1 journal was a
``retry`` of task groups.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkretry.defaults import DEFAULT_BATCH_SIZE
from bulkretry.errors import JournalError
from bulkretry.jsontext import encoder
from bulkretry.oms.actions import DEFAULT_ACTION, GROUPS
from bulkretry.records import SET_ASIDE, Outcome, RowResult

__all__ = [
    "JOURNAL_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Journal",
    "JournalError",
    "RowSet",
    "check_journal",
    "journal_damage",
    "read_only_uri",
    "snapshot",
]

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.sqlite"
SCHEMA_VERSION = 2

#: Schema N -> the run parameters that schema N + 1 has and a journal of schema N lacks, with the values they
#: had then (each written only where the journal does not hold it already). Schema 1 knew one call: ``retry``.
MIGRATIONS: dict[int, dict[str, Any]] = {
    1: {"action": DEFAULT_ACTION, "target": GROUPS, "priority": None, "batch_size": DEFAULT_BATCH_SIZE},
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    error_code TEXT NOT NULL,
    error_msg TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    latency_ms REAL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    extra TEXT NOT NULL
);
"""
#: The ``rows`` table's columns: a ``RowResult``'s fields, by name and in their order.
_COLUMNS = RowResult._fields
#: Where the two fields stored in another form (the outcome's value, the extra pairs as JSON) sit in a ``RowResult``
#: and in a record of ``_SELECT`` (which lists ``_COLUMNS`` by name): found by name, so they follow any change of
#: the fields. The per-row paths slice around them, as a ``sqlite3.Row`` read by name costs a third more.
_OUTCOME_AT = _COLUMNS.index("outcome")
_EXTRA_AT = _COLUMNS.index("extra")
_INSERT = f"INSERT OR REPLACE INTO rows ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM rows"
_SELECT_NO_EXTRA = f"SELECT {', '.join(_COLUMNS[:-1])}, '[]' FROM rows"  # every column, extra left empty
_DECODER = json.JSONDecoder()
#: An outcome's text in the ``rows`` table -> the ``Outcome``.
_OUTCOMES: dict[str, Outcome] = {outcome.value: outcome for outcome in Outcome}


#: ``[["column", "value"], ...]`` as ``JSONEncoder(ensure_ascii=False)`` writes it, in one C call.
_encode_pairs = encoder(separators=(", ", ": "))


def _values(result: RowResult) -> tuple[Any, ...]:
    """*result* as a ``rows`` row, in ``_COLUMNS`` order: its fields as they are, but the extra pairs as JSON (an
    ``Outcome`` is a ``str``, which sqlite3 binds as its text, the outcome's value)."""
    return (*result[:_EXTRA_AT], _encode_pairs(result.extra) if result.extra else "[]")


class RowSet:
    """A set of row numbers as a bitmap: a million rows take 125 kB, not the ~60 MB of a ``set``."""

    __slots__ = ("_bits", "_count")

    def __init__(self, rows: Collection[int] | Iterator[int] = ()) -> None:
        self._bits = bytearray()
        self._count = 0
        for row in rows:
            self.add(row)

    def add(self, row: int) -> None:
        index, bit = divmod(row, 8)
        if index >= len(self._bits):
            self._bits.extend(bytes(index - len(self._bits) + 1 + len(self._bits) // 2))
        if not self._bits[index] >> bit & 1:
            self._bits[index] |= 1 << bit
            self._count += 1

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, int) or row < 0:
            return False
        index, bit = divmod(row, 8)
        return index < len(self._bits) and bool(self._bits[index] >> bit & 1)

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"RowSet({self._count} rows)"


class Journal:
    """Durable record of a run: parameters, finished rows, rows in flight.

    ``Journal(path)`` creates the database (or opens an existing one, for a resume). Results are
    committed by ``flush()`` or ``started()``, or every ``commit_every`` rows or ``commit_interval_s``
    seconds, whichever comes first. ``horizon_slack`` is how far ``started()`` raises the horizon.
    """

    def __init__(
        self,
        path: Path,
        *,
        commit_every: int = 500,
        commit_interval_s: float = 0.5,
        horizon_slack: int = 64,
        clock: Callable[[], float] = time.monotonic,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self._cleanup = ExitStack()
        #: A read-only journal of an older schema: the parameters its migration adds, kept in memory only.
        self._migrated: dict[str, Any] = {}
        if read_only:
            self._db, migration = _open_read_only(self.path, self._cleanup)
            if migration.needed:
                self._migrated = migration.params
                migration.log(written=False)
        else:
            self._open_for_writing()
        # Results in memory until their commit, turned into rows only then: a batch at a time is cheaper
        # than one row between two calls.
        self._pending: list[RowResult] = []
        self._horizon = self.calling_horizon()
        self.horizon_slack = max(1, horizon_slack)
        self._commit_every = commit_every
        self._commit_interval_s = commit_interval_s
        self._clock = clock
        self._last_commit = clock()

    def _open_for_writing(self) -> None:
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            if _run_value(self._db, "schema") is None:
                self._db.execute("INSERT INTO run (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            else:
                self._migrate()
        except JournalError:  # a newer schema, or a migration that could not be written: let the file go
            self._db.close()
            raise
        except sqlite3.OperationalError as exc:
            what = "is open in another program; close it there" if "locked" in str(exc) else "cannot be opened"
            raise JournalError(f"{self.path} {what} ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise _not_a_journal(self.path, str(exc)) from None

    def _migrate(self) -> None:
        """Bring the journal to :data:`SCHEMA_VERSION`, in one transaction, and log it (a newer schema: refused)."""
        migration = _Migration.of(self.path, self._db)
        if migration.needed:
            self.set_params(migration.params)
            migration.log(written=True)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, pending={len(self._pending)})"

    @classmethod
    def open_existing(cls, path: Path, *, read_only: bool = False) -> Journal:
        """Open the journal of an earlier run; a :class:`JournalError` if there is none. *read_only* (``report``,
        ``diff``, ``rerun``'s source): the file and its folder are never written, see :func:`read_only_uri`."""
        if not Path(path).is_file():
            raise JournalError(f"{path} does not exist")
        return cls(path, read_only=read_only)

    # -- run parameters ----------------------------------------------------------------------------

    def set_params(self, params: Mapping[str, Any]) -> None:
        self._write(
            lambda db: db.executemany(
                "INSERT OR REPLACE INTO run (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in params.items()],
            )
        )

    def params(self) -> dict[str, Any]:
        """The run's parameters (those of a read-only journal's migration included)."""
        return {**{k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM run")}, **self._migrated}

    # -- rows --------------------------------------------------------------------------------------

    def started(self, row: int) -> None:
        """Before *row*'s first call: make sure the committed calling horizon covers it (and commit pending
        results with it)."""
        if row <= self._horizon:
            return
        horizon = row + self.horizon_slack
        pending = self._pending

        def write(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR REPLACE INTO run (key, value) VALUES ('calling_horizon', ?)", (str(horizon),))
            db.executemany(_INSERT, map(_values, pending))

        self._write(write)
        self._pending = []
        self._horizon = horizon

    def calling_horizon(self) -> int:
        """Every row whose call may have gone out is at most this row number (0: none yet)."""
        found = _run_value(self._db, "calling_horizon")
        return int(json.loads(found)) if found else 0

    def record(self, result: RowResult) -> None:
        """Keep *result*: committed with the next ``started()``/``flush()``, or when its batch is full."""
        self._pending.append(result)
        if len(self._pending) >= self._commit_every or self._clock() - self._last_commit >= self._commit_interval_s:
            self.flush()

    def flush(self) -> None:
        """Commit every pending row now (they stay pending, to try again, if the commit fails)."""
        if self._pending:
            pending = self._pending
            self._write(lambda db: db.executemany(_INSERT, map(_values, pending)))
            self._pending = []
        self._last_commit = self._clock()

    @property
    def pending(self) -> int:
        """Results kept in memory only (after a failed commit, or until their batch is committed)."""
        return len(self._pending)

    def unsaved(self) -> list[dict[str, Any]]:
        """The pending results as report rows: the last resort when the disk refuses them."""
        return [dict(zip(_COLUMNS[:-1], _values(result)[:-1])) for result in self._pending]

    def _write(self, action: Callable[[sqlite3.Connection], object]) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            action(db)
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from None
            raise

    # -- reading -----------------------------------------------------------------------------------

    def results(self, outcomes: Collection[str] | None = None, *, extra: bool = True) -> Iterator[RowResult]:
        """Every recorded row (or those with one of *outcomes*) as a ``RowResult``, in manifest order (streamed).

        The one way rows leave the journal: the reports, the annotated manifest and a rerun's selection all
        read them by field name. ``extra=False`` leaves each result's ``extra`` empty, for readers that do
        not need it (the annotated manifest): it skips decoding a JSON cell per row.
        """
        self.flush()
        columns = _SELECT if extra else _SELECT_NO_EXTRA
        if outcomes is None:
            cursor = self._db.execute(f"{columns} ORDER BY row")
        else:
            marks = ", ".join("?" * len(outcomes))
            cursor = self._db.execute(f"{columns} WHERE outcome IN ({marks}) ORDER BY row", tuple(outcomes))
        # The tuple is made as RowResult; tuple.__new__ skips the named tuple's Python __new__, and the outcome's
        # text becomes its Outcome by a dict lookup: together a fraction of a microsecond a row.
        new, outcome_of, outcome_at, extra_at = tuple.__new__, _OUTCOMES, _OUTCOME_AT, _EXTRA_AT
        decode = _DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner without json.loads' checks: the journal wrote this JSON
        for record in cursor:
            pairs = record[extra_at]
            yield new(
                RowResult,
                (
                    *record[:outcome_at],
                    outcome_of[record[outcome_at]],
                    *record[outcome_at + 1 : extra_at],
                    tuple(map(tuple, decode(pairs, 0)[0])) if pairs != "[]" else (),
                ),
            )

    def finished(self) -> RowSet:
        """The rows with a final outcome: everything recorded except ``interrupted``."""
        self.flush()
        return RowSet(
            row for (row,) in self._db.execute("SELECT row FROM rows WHERE outcome != ?", (Outcome.INTERRUPTED.value,))
        )

    def counts(self) -> tuple[Counter[str], Counter[str]]:
        """``(by_outcome, by_error_code)`` over every recorded row; the error codes are those of the rows that
        are not set aside (skipped and duplicate rows are not errors: :data:`~bulkretry.records.SET_ASIDE`)."""
        self.flush()
        by_outcome = Counter(dict(self._db.execute("SELECT outcome, COUNT(*) FROM rows GROUP BY outcome")))
        by_code = Counter(
            dict(
                self._db.execute(
                    "SELECT error_code, COUNT(*) FROM rows WHERE error_code != '' AND outcome NOT IN "
                    f"({', '.join('?' * len(SET_ASIDE))}) GROUP BY error_code",
                    SET_ASIDE,
                )
            )
        )
        return by_outcome, by_code

    def sessions(self) -> list[dict[str, Any]]:
        """The sessions on record, each that never finished (killed) with its calls counted from its rows: the
        attempts of the rows it started, up to the next session's start (a row called again since counts there)."""
        sessions = [dict(session) for session in self.params().get("sessions") or []]
        for index, session in enumerate(sessions):
            if session.get("finished_at") is None:
                end = sessions[index + 1]["started_at"] if index + 1 < len(sessions) else None
                session["calls"] = max(
                    int(session.get("calls") or 0), self.attempts_between(session["started_at"], end)
                )
        return sessions

    def attempts_between(self, start: str, end: str | None = None) -> int:
        """The calls made for the rows started at or after *start* (and before *end*), as their ``attempts`` say."""
        self.flush()
        query = "SELECT COALESCE(SUM(attempts), 0) FROM rows WHERE started_at >= ?"
        found = self._db.execute(*((query, (start,)) if end is None else (query + " AND started_at < ?", (start, end))))
        return int(found.fetchone()[0])

    def count(self) -> int:
        self.flush()
        count: int = self._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
        return count

    def close(self) -> None:
        """Commit what is pending and close; the database is closed even when that commit fails (a
        :class:`JournalError`, the results still in ``unsaved()``)."""
        try:
            self.flush()
        finally:
            self._db.close()
            self._cleanup.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_value(db: sqlite3.Connection, key: str) -> str | None:
    """The ``run`` table's text for *key* (JSON), or None when there is none."""
    for (value,) in db.execute("SELECT value FROM run WHERE key = ?", (key,)):
        return str(value)
    return None


@dataclass(frozen=True)
class _Migration:
    """What brings the journal *path* from its schema (*found*) to :data:`SCHEMA_VERSION`: the run parameters to
    add, ``schema`` among them (none when it is there already)."""

    path: Path
    found: int
    params: dict[str, Any]

    @classmethod
    def of(cls, path: Path, db: sqlite3.Connection) -> _Migration:
        """The migration of the journal *db*; a :class:`JournalError` if its schema is newer than this bulkretry
        reads. A journal that records no schema is taken as it is."""
        version = _run_value(db, "schema")
        found = SCHEMA_VERSION if version is None else json.loads(version)
        if found > SCHEMA_VERSION:
            raise JournalError(f"{path} was written by a newer bulkretry (journal schema {version}); use that version")
        have = {key for (key,) in db.execute("SELECT key FROM run")}
        params: dict[str, Any] = {}
        for step in range(found, SCHEMA_VERSION):
            params.update((key, value) for key, value in MIGRATIONS[step].items() if key not in have)
        return cls(path, found, {**params, "schema": SCHEMA_VERSION} if found < SCHEMA_VERSION else {})

    @property
    def needed(self) -> bool:
        return self.found < SCHEMA_VERSION

    def log(self, *, written: bool) -> None:
        log.info(
            "journal %s migrated from schema %d to %d%s",
            self.path,
            self.found,
            SCHEMA_VERSION,
            "" if written else " (in memory: the file is not written)",
            extra={
                "event": "journal_migrated",
                "fields": {
                    "journal": str(self.path),
                    "from_schema": self.found,
                    "to_schema": SCHEMA_VERSION,
                    "added": sorted(self.params),
                    "written": written,
                },
            },
        )


def _not_a_journal(path: Path, why: str) -> JournalError:
    return JournalError(
        f"{path.parent} is not a run: its {path.name} is not a bulkretry journal ({why}); "
        "give the folder of a bulkretry run"
    )


def read_only_uri(path: Path, cleanup: ExitStack) -> str:
    """A URI by which SQLite reads the journal *path* without writing the file or its folder (no -wal or -shm
    left behind, a read-only mount is fine): ``immutable=1`` when its WAL holds nothing (the readers hold the
    folder's lock, so no writer changes it meanwhile); else (a run killed before its last checkpoint) a copy
    of the file and its WAL in a temporary folder that *cleanup* removes."""
    path = Path(path).absolute()
    wal = path.with_name(path.name + "-wal")
    try:
        if not wal.is_file() or wal.stat().st_size == 0:
            return path.as_uri() + "?immutable=1"
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bulkretry-journal-")))
        shutil.copyfile(path, folder / path.name)
        shutil.copyfile(wal, folder / wal.name)
    except OSError as exc:
        raise JournalError(f"cannot read {path}: {exc.strerror or exc}") from None
    return (folder / path.name).as_uri()


def check_journal(db: sqlite3.Connection, path: Path) -> None:
    """A :class:`JournalError` saying *path*'s folder is not a run unless *db* (opened on *path*) is a journal."""
    why = _not_journal_tables(db)
    if why:
        raise _not_a_journal(path, why)


def _not_journal_tables(db: sqlite3.Connection) -> str:
    """Why *db* is not a journal by its tables ('' when it has a journal's ``run`` and ``rows`` tables)."""
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if not {"run", "rows"} <= tables:
        return "it is empty" if not tables else "it has no run and rows tables"
    return ""


def snapshot(path: Path, folder: Path, *, tries: int = 5) -> Path:
    """A copy in *folder* of the journal *path* of a run that is going on, its WAL applied, read without any lock
    so the run is never held up (its exclusive locking mode keeps other connections out). The files are copied
    again while either changed during the copy (a checkpoint); a frame cut short at the WAL's end is left out by
    SQLite's own recovery."""
    path = Path(path)
    wal = path.with_name(path.name + "-wal")
    copy = folder / path.name
    for _ in range(tries):
        before = _stamps(path, wal)
        try:
            shutil.copyfile(path, copy)
            if wal.is_file():
                shutil.copyfile(wal, folder / wal.name)
        except OSError as exc:
            raise JournalError(f"cannot read {path}: {exc.strerror or exc}") from None
        if _stamps(path, wal) == before:
            break
    with closing(sqlite3.connect(copy)) as db:  # the copy is ours: its WAL is folded in, read-only from here on
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return copy


def _stamps(*paths: Path) -> list[tuple[int, int]]:
    """Each file's size and modification time (0, 0 when there is none)."""
    stamps = []
    for path in paths:
        try:
            found = path.stat()
        except OSError:
            stamps.append((0, 0))
        else:
            stamps.append((found.st_size, found.st_mtime_ns))
    return stamps


def journal_damage(path: Path) -> str:
    """Why the journal *path* cannot be read as a whole ('' when it can): not a database (zeroed, overwritten),
    a truncated or damaged file, no journal's tables. Read-only, as :func:`read_only_uri` reads; every page is
    checked (``PRAGMA quick_check``), so a resume never starts on a journal that fails halfway."""
    with ExitStack() as cleanup, closing(sqlite3.connect(read_only_uri(path, cleanup), uri=True)) as db:
        why = _not_journal_tables(db)
        if why:
            return why
        try:
            verdict = [str(line) for (line,) in db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            return str(exc)
    return "" if verdict == ["ok"] else verdict[0]


def _open_read_only(path: Path, cleanup: ExitStack) -> tuple[sqlite3.Connection, _Migration]:
    """The journal *path* open read-only, and what would bring it to this schema (applied in memory only)."""
    db = sqlite3.connect(read_only_uri(path, cleanup), uri=True, isolation_level=None, check_same_thread=False)
    try:
        check_journal(db, path)
        migration = _Migration.of(path, db)
    except BaseException:
        db.close()
        cleanup.close()
        raise
    return db, migration
