"""The records that flow through a run: one result per manifest row, and the run's summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from bulkretry.columns import GROUP, REPORT, names

__all__ = [
    "FAILING",
    "FINE",
    "GROUP_COLUMNS",
    "GROUP_NUMBER_COLUMNS",
    "NEEDS_FIX_PREFIX",
    "REPORT_COLUMNS",
    "SET_ASIDE",
    "Outcome",
    "RowResult",
    "RunSummary",
    "Tally",
]


class Outcome(str, Enum):
    """A row's outcome. A str whose str(), format() and JSON are its value, as ``enum.StrEnum`` (3.11+) does."""

    __str__ = str.__str__
    __format__ = str.__format__  # type: ignore[assignment]

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    DRY_RUN = "dry_run"
    INTERRUPTED = "interrupted"


#: Outcomes that leave a group still to do: a run with any of them exits 1; diff and history call them failing.
FAILING: tuple[str, ...] = (Outcome.FAILED.value, Outcome.INTERRUPTED.value, Outcome.INVALID.value)
#: Outcomes that leave a group fine.
FINE: tuple[str, ...] = (Outcome.SUCCEEDED.value, Outcome.SKIPPED.value)
#: Outcomes of rows the run chose not to call (a status the action does not accept; the same target earlier in
#: the manifest): never errors (not in ``by_error_code``, nor among the top errors), never in a success rate.
SET_ASIDE: tuple[str, ...] = (Outcome.SKIPPED.value, Outcome.DUPLICATE.value)
#: The error code of a row skipped for its group's own error, one no retry can fix: ``needs_fix:TRF.0058``.
NEEDS_FIX_PREFIX = "needs_fix:"

#: The report's first columns, in this order (the contract); the manifest's other columns follow.
REPORT_COLUMNS: tuple[str, ...] = names(REPORT)

#: With ``--check-status`` or ``--verify``: what the group's own GET answered (its error, task and object counts,
#: sizes in bytes, the failed-object list), after the status columns. Empty where no GET answered.
GROUP_COLUMNS: tuple[str, ...] = names(GROUP)
#: The group columns that hold a number (an ``int``, or '' when the service gave none).
GROUP_NUMBER_COLUMNS: frozenset[str] = frozenset(column.name for column in GROUP if column.number)


class RowResult(NamedTuple):
    """What became of one manifest row. ``extra`` holds the manifest's other non-secret columns
    (access keys already masked) as ``(column, value)`` pairs in manifest order, after the status and
    :data:`GROUP_COLUMNS` pairs of ``--check-status``/``--verify`` (the group's counts and sizes are ints).

    A named tuple: immutable, and made at a quarter of a frozen dataclass's cost (one per row, per run).
    """

    row: int
    project_id: str
    group_id: str
    outcome: Outcome
    http_status: int | None = None
    error_code: str = ""
    error_msg: str = ""
    attempts: int = 0
    request_id: str = ""
    latency_ms: float | None = None
    started_at: str = ""
    finished_at: str = ""
    extra: tuple[tuple[str, str | int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The report row: the contract's columns first, then the extra columns."""
        out: dict[str, Any] = {
            "row": self.row,
            "project_id": self.project_id,
            "group_id": self.group_id,
            "outcome": self.outcome.value,
            "http_status": self.http_status,
            "error_code": self.error_code,
            "error_msg": self.error_msg,
            "attempts": self.attempts,
            "request_id": self.request_id,
            "latency_ms": self.latency_ms,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        for name, value in self.extra:
            out.setdefault(name, value)
        return out


@dataclass(frozen=True)
class RunSummary:
    """``summary.json``: what the contract lists, plus where the run's files are."""

    run_id: str
    manifest: str
    started_at: str
    finished_at: str
    duration_s: float
    rows: int
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_error_code: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    achieved_rate: float = 0.0
    out_dir: str = ""
    dry_run: bool = False
    #: How many times the run was started: 1, plus one per ``--resume``.
    sessions: int = 1
    #: The run's ``--action`` (``retry``, ``start``, ...) and its target (``groups`` or ``tasks``), as its journal
    #: records them; empty in a summary made without a journal.
    action: str = ""
    target: str = ""
    #: A rerun's source: ``{"run_id", "out_dir", "only", "error_codes", "groups"}``; None for a first run.
    source_run: dict[str, Any] | None = None
    #: A rerun's groups that the manifest no longer holds (so they were not called).
    not_in_manifest: int = 0
    #: ``--rate auto``: the rate each project's pacer had reached at the end, calls/s.
    learned_rates: dict[str, float] | None = None
    #: The network of the last session: ``{"proxy": "host:port" or None, "ca": source[, "ca_file": path]}``.
    network: dict[str, Any] | None = None
    #: Where the last session's credentials came from (``KooCLI profile 'default'``; never a secret); empty for a
    #: dry run.
    credentials_source: str = ""
    #: Why the last session halted (a systematic failure, or the time box); empty if it did not.
    halted: str = ""
    #: The error code of the rows the halted session did not call: ``halted`` or ``max_duration``.
    halt_code: str = ""
    #: The GETs of ``--check-status`` and ``--verify`` (status reads), counted apart from ``calls``, the action's.
    status_reads: int = 0
    #: ``--shard I/N``: the share of the manifest the run took (``I/N``); empty for a run of every row, or a merge.
    shard: str = ""

    def tally(self) -> Tally:
        """The run's story in figures (see :class:`Tally`), the one every report, line and notification tells."""
        return Tally.of(self.rows, self.by_outcome, self.by_error_code)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """The summary back from ``as_dict()`` (unknown keys ignored)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def as_dict(self) -> dict[str, Any]:
        data = {
            "run_id": self.run_id,
            "manifest": self.manifest,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "rows": self.rows,
            "by_outcome": dict(self.by_outcome),
            "by_error_code": dict(self.by_error_code),
            "calls": self.calls,
            "status_reads": self.status_reads,
            "achieved_rate": self.achieved_rate,
            "out_dir": self.out_dir,
            "dry_run": self.dry_run,
            "sessions": self.sessions,
        }
        if self.action:
            data["action"] = self.action
            data["target"] = self.target
        if self.source_run is not None:
            data["source_run"] = dict(self.source_run)
            data["not_in_manifest"] = self.not_in_manifest
        if self.learned_rates is not None:
            data["learned_rates"] = dict(self.learned_rates)
        if self.network is not None:
            data["network"] = dict(self.network)
        if self.credentials_source:
            data["credentials_source"] = self.credentials_source
        if self.halted:
            data["halted"] = self.halted
            data["halt_code"] = self.halt_code
        if self.shard:
            data["shard"] = self.shard
        return data


@dataclass(frozen=True)
class Tally:
    """A run's story in figures, worked out once: what it called and how that went, and what it set aside.

    ``called`` is the rows whose calls came to an end (succeeded or failed): the success rate is over them.
    Interrupted rows (never finished) and invalid rows (never sent) are told apart; skipped and duplicate rows
    (:data:`SET_ASIDE`) are neither errors nor in the rate. ``top_errors`` holds the failing rows' codes only.
    """

    rows: int
    succeeded: int = 0
    failed: int = 0
    invalid: int = 0
    interrupted: int = 0
    skipped: int = 0
    duplicate: int = 0
    dry_run: int = 0
    #: The error codes of the rows that did not succeed and were not set aside, in ``by_error_code``'s order (most
    #: rows first).
    errors: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, rows: int, by_outcome: Mapping[str, int], by_error_code: Mapping[str, int]) -> Tally:
        """The tally of *rows* counted *by_outcome* and *by_error_code* (a code only set-aside rows carry, as in
        a summary written before they were told apart, is left out)."""
        counts = {outcome.value: int(by_outcome.get(outcome.value, 0)) for outcome in Outcome}
        errors = tuple((code, int(n)) for code, n in by_error_code.items() if n and not _set_aside_code(code))
        return cls(rows, errors=errors, **counts)

    @property
    def called(self) -> int:
        """The rows whose calls came to an end: succeeded or failed."""
        return self.succeeded + self.failed

    @property
    def set_aside(self) -> int:
        """The rows the run chose not to call: skipped and duplicate."""
        return self.skipped + self.duplicate

    @property
    def not_done(self) -> int:
        """The rows that failed or were invalid."""
        return self.failed + self.invalid

    @property
    def success_rate(self) -> float | None:
        """The share of the rows called that succeeded (None when no row was called)."""
        return self.succeeded / self.called if self.called else None

    @property
    def rate_told(self) -> bool:
        """Whether the short surfaces (the summary line, the notification) tell the success rate: when rows were
        set aside and some called, so the counts alone do not say it."""
        return bool(self.set_aside and self.called)

    def top_errors(self, n: int = 3) -> tuple[tuple[str, int], ...]:
        """The *n* error codes of the most rows that did not succeed (never a skipped or duplicate row's)."""
        return self.errors[:n]


def _set_aside_code(code: str) -> bool:
    """Whether *code* is one that only a set-aside row carries: ``duplicate``, ``status:N`` (skipped; a status
    that is not known, ``status:unknown``, fails its row) or ``needs_fix:TRF.xxxx`` (skipped)."""
    if code == Outcome.DUPLICATE.value or code.startswith(NEEDS_FIX_PREFIX):
        return True
    return code.startswith("status:") and code[len("status:") :].isdigit()
