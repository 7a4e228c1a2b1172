"""Where a run stands, read from its folder without disturbing it (``bulkretry status DIR``): rows by outcome so
far, calls, rate, elapsed time, an estimate of the time left, and its state.

A run going on (its folder's lock held, :func:`~bulkretry.run.runlock.lock_holder`) is read from a copy of its
journal (:func:`~bulkretry.run.journal.snapshot`): the run is never held up. Another is read under the folder's
shared lock, as ``report`` reads it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bulkretry.errors import ConfigError, JournalError
from bulkretry.i18n import N_
from bulkretry.records import Outcome, RunSummary
from bulkretry.run.journal import Journal, snapshot
from bulkretry.run.rundir import require_run, run_journal
from bulkretry.run.runlock import lock_holder
from bulkretry.run.summary import summarize

__all__ = ["FINISHED", "INTERRUPTED", "RUNNING", "RunStatus", "run_status"]

RUNNING, FINISHED, INTERRUPTED = N_("running"), N_("finished"), N_("interrupted")


@dataclass(frozen=True)
class RunStatus:
    """A run as it stands: its summary so far (``summary.json``'s shape), its state, the manifest's rows, the
    time since its current session started (a run going on) or its duration, and the seconds left at its rate
    (None: not going on, or no rate yet)."""

    summary: RunSummary
    state: str
    total: int
    elapsed_s: float
    eta_s: float | None = None

    @property
    def done(self) -> int:
        """The rows with a final outcome."""
        return _final(self.summary)

    def as_dict(self) -> dict[str, Any]:
        """``summary.json``'s keys, then ``state``, ``manifest_rows``, ``elapsed_s`` and ``eta_s``."""
        return {
            **self.summary.as_dict(),
            "state": self.state,
            "manifest_rows": self.total,
            "elapsed_s": self.elapsed_s,
            "eta_s": self.eta_s,
        }


def run_status(folder: Path, now: datetime | None = None) -> RunStatus:
    """Where the run in *folder* stands at *now* (default: now); a ConfigError when the folder holds no run."""
    require_run(folder, "; give the folder of a bulkretry run")
    live = lock_holder(folder) is not None
    with _journal(folder, live) as journal:
        params = journal.params()
        sessions = journal.sessions()
        summary = summarize(journal, params, folder, **_figures(sessions, now or datetime.now(timezone.utc), live))
    total = int(params.get("manifest_rows") or summary.rows)
    state = _state(summary, sessions, total, live)
    return RunStatus(summary, state, total, summary.duration_s, _eta(summary, total) if live else None)


def _eta(summary: RunSummary, total: int) -> float | None:
    """The seconds the rows left take at the current session's rate (a call a row), or None without a rate."""
    if summary.achieved_rate <= 0:
        return None
    return round(max(total - _final(summary), 0) / summary.achieved_rate, 1)


@contextmanager
def _journal(folder: Path, live: bool) -> Iterator[Journal]:
    """The run's journal, read-only: a copy when the run is going on, else the file under the shared lock."""
    if not live:
        with run_journal(folder) as journal:
            yield journal
        return
    with tempfile.TemporaryDirectory(prefix="bulkretry-status-") as temp:
        try:
            copy = snapshot(require_run(folder), Path(temp))
            with Journal.open_existing(copy, read_only=True) as journal:
                yield journal
        except JournalError as exc:
            raise ConfigError(str(exc)) from None


def _figures(sessions: Sequence[Mapping[str, Any]], now: datetime, live: bool) -> dict[str, Any]:
    """The calls of every session (a killed one's counted from its rows), and for a run going on its current
    session's time so far and rate."""
    calls = sum(int(session.get("calls") or 0) for session in sessions)
    if not live or not sessions:
        return {"calls": calls, "sessions": len(sessions)}
    current = sessions[-1]
    started = datetime.fromisoformat(str(current["started_at"]).replace("Z", "+00:00"))
    elapsed = max((now - started).total_seconds(), 0.0)
    rate = round(int(current.get("calls") or 0) / elapsed, 3) if elapsed > 0 else 0.0
    return {"calls": calls, "sessions": len(sessions), "duration_s": round(elapsed, 3), "achieved_rate": rate}


def _state(summary: RunSummary, sessions: Sequence[Mapping[str, Any]], total: int, live: bool) -> str:
    """``running`` while its lock is held; ``finished`` when its last session ended with every row final;
    ``interrupted`` otherwise (killed, stopped, halted, time-boxed: ``--resume`` goes on)."""
    if live:
        return RUNNING
    ended = bool(sessions) and sessions[-1].get("finished_at") is not None
    return FINISHED if ended and _final(summary) >= total else INTERRUPTED


def _final(summary: RunSummary) -> int:
    """The rows of *summary* with a final outcome (every one but ``interrupted``)."""
    return sum(n for outcome, n in summary.by_outcome.items() if outcome != Outcome.INTERRUPTED.value)
