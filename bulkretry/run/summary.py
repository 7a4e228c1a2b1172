"""The run's summary (``summary.json``, the reports' first lines), the same for ``run`` and ``report``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bulkretry.errors import EXIT_FAILED, EXIT_HALTED, EXIT_OK
from bulkretry.records import FAILING, RunSummary
from bulkretry.run.journal import Journal

__all__ = ["ended_status", "report_file", "summarize"]

#: The run's parameters that name its action, which a summary repeats.
_ACTION_KEYS = ("action", "target")


def summarize(journal: Journal, params: Mapping[str, Any], out_dir: Path, **fields: Any) -> RunSummary:
    """The summary of the run in *out_dir*: its counts by outcome and by error code from *journal* (every row,
    every session), its other fields from *fields*.

    A field not in *fields* is the one the last finished session stored in the journal (``params["summary"]``),
    else the run's parameter of that name (``run_id``, ``manifest``, ``started_at``, ``finished_at``; ``action``
    and ``target`` the run's parameters whenever it has them, ``shard`` always);
    ``rows``, when not given, is at least the rows the journal holds, and ``duration_s`` 0 when none was
    stored (a run killed before its first summary), and ``sessions`` every session the journal records (each
    is recorded before its first call, so one killed or stopped by a full disk counts too). A session that
    finishes the run gives every field (``run``); ``report`` gives none.
    """
    by_outcome, by_code = journal.counts()
    stored = params.get("summary") or {}
    data = {
        "run_id": params.get("run_id", out_dir.name),
        "manifest": params.get("manifest", ""),
        "started_at": params.get("started_at", ""),
        "finished_at": params.get("finished_at", ""),
        "duration_s": 0.0,
        **stored,
        # The journal's own parameters (a schema-1 journal's from its migration), over a stored summary's.
        **{key: params[key] for key in _ACTION_KEYS if key in params},
        "shard": params.get("shard") or "",
        **fields,
    }
    if "sessions" not in fields and params.get("sessions"):  # every session on record, finished or not
        data["sessions"] = len(params["sessions"])
    if "rows" not in fields:
        data["rows"] = max(int(stored.get("rows") or 0), sum(by_outcome.values()))
    return RunSummary.from_dict(
        {
            **data,
            "by_outcome": dict(by_outcome.most_common()),
            "by_error_code": dict(by_code.most_common()),
            "out_dir": str(out_dir),
        }
    )


def report_file(summary: RunSummary, files: Sequence[Path]) -> Path | str:
    """The report to open: report.html, else report.xlsx, else the first file written, else the run's folder."""
    shown = {f.name: f for f in files}
    return shown.get("report.html") or shown.get("report.xlsx") or (files[0] if files else summary.out_dir)


def ended_status(summary: RunSummary, *, halted: bool) -> int:
    """The contract's exit status of a run (or of shards merged) that ended with *summary*, no signal: 3 when a
    systematic failure *halted* it (not the ``--max-duration`` time box); 1 when a row failed, was invalid or was
    interrupted; else 0."""
    if halted:
        return EXIT_HALTED
    return EXIT_FAILED if any(summary.by_outcome.get(k) for k in FAILING) else EXIT_OK
