"""The run's journal: a SQLite database in the run folder holding every finished row, and the run's
parameters. Reports are built from it, in manifest order. It never holds a secret.

Writes are batched (every ``commit_every`` rows or ``commit_interval_s`` seconds) in WAL mode, so a
crash loses at most the last batch of rows.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .records import Outcome, RowResult

__all__ = ["JOURNAL_NAME", "Journal"]

JOURNAL_NAME = "journal.sqlite"

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
_COLUMNS = ("row", "project_id", "group_id", "outcome", "http_status", "error_code", "error_msg", "attempts",
            "request_id", "latency_ms", "started_at", "finished_at", "extra")
_INSERT = f"INSERT OR REPLACE INTO rows ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


class Journal:
    """Durable record of a run's finished rows."""

    def __init__(self, path: Path, *, commit_every: int = 500, commit_interval_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._pending: list[tuple[Any, ...]] = []
        self._commit_every = commit_every
        self._commit_interval_s = commit_interval_s
        self._clock = clock
        self._last_commit = clock()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, pending={len(self._pending)})"

    # -- run parameters ----------------------------------------------------------------------------

    def set_params(self, params: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO run (key, value) VALUES (?, ?)",
                                 [(k, json.dumps(v, ensure_ascii=False)) for k, v in params.items()])

    def params(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM run")}

    # -- rows --------------------------------------------------------------------------------------

    def record(self, result: RowResult) -> None:
        """Keep *result*; committed with its batch."""
        self._pending.append((
            result.row, result.project_id, result.group_id, result.outcome.value, result.http_status,
            result.error_code, result.error_msg, result.attempts, result.request_id, result.latency_ms,
            result.started_at, result.finished_at, json.dumps(result.extra, ensure_ascii=False),
        ))
        if len(self._pending) >= self._commit_every or self._clock() - self._last_commit >= self._commit_interval_s:
            self.flush()

    def flush(self) -> None:
        """Commit every pending row now."""
        if self._pending:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_INSERT, self._pending)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._pending.clear()
        self._last_commit = self._clock()

    def results(self) -> Iterator[RowResult]:
        """Every recorded row, in manifest order (streamed)."""
        self.flush()
        cursor = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM rows ORDER BY row")
        for values in cursor:
            record = dict(zip(_COLUMNS, values, strict=True))
            record["outcome"] = Outcome(record["outcome"])
            record["extra"] = tuple(tuple(pair) for pair in json.loads(record["extra"]))
            yield RowResult(**record)

    def count(self) -> int:
        self.flush()
        return self._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
