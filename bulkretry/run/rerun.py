"""Which rows of an earlier run to run again: ``bulkretry rerun DIR [--only ...] [--error-code ...]``.

The earlier run's journal says which rows failed; their credentials are read again from the manifest,
since the journal holds none. Rows are matched by ``(project_id, group_id)``, so a manifest whose
credentials were fixed, or whose finished rows were deleted, still reruns the right groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkretry.records import Outcome
from bulkretry.run.rundir import run_journal

__all__ = ["DEFAULT_ONLY", "Selection", "load_selection", "parse_outcomes"]

DEFAULT_ONLY: tuple[str, ...] = (Outcome.FAILED.value, Outcome.INTERRUPTED.value)


@dataclass(frozen=True)
class Selection:
    """The groups of an earlier run to call again, and where they came from."""

    source_dir: Path
    source_run_id: str
    only: tuple[str, ...]
    error_codes: tuple[str, ...]
    targets: frozenset[tuple[str, str]]
    #: The earlier run's recorded parameters (manifest path, settings).
    source_params: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"Selection({self.source_run_id!r}, only={self.only}, codes={self.error_codes}, {len(self.targets)} groups)"
        )

    def keeps(self, project_id: str, group_id: str, duplicate: bool) -> bool:
        return (project_id, group_id) in self.targets and (not duplicate or Outcome.DUPLICATE.value in self.only)

    def public(self) -> dict[str, Any]:
        """What the new run records about its source (journal, summary.json)."""
        return {
            "run_id": self.source_run_id,
            "out_dir": str(self.source_dir),
            "only": list(self.only),
            "error_codes": list(self.error_codes),
            "groups": len(self.targets),
        }


def parse_outcomes(text: str) -> tuple[str, ...]:
    """``"failed, interrupted"`` -> ``("failed", "interrupted")``; ValueError naming an unknown outcome."""
    names = tuple(dict.fromkeys(name for part in text.split(",") if (name := part.strip().lower())))
    allowed = [o.value for o in Outcome]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ValueError(
            f"unknown outcome {', '.join(map(repr, unknown)) or repr(text)}; choose from {', '.join(allowed)}"
        )
    return names


def load_selection(source_dir: Path, only: Iterable[str] = DEFAULT_ONLY, error_codes: Iterable[str] = ()) -> Selection:
    """Read *source_dir*'s journal (under its lock, so never while it runs) for the rows to call again."""
    source_dir = Path(source_dir).absolute()
    only, codes = tuple(only), tuple(error_codes)
    with run_journal(source_dir, "; give the folder of an earlier run") as journal:
        params = journal.params()
        targets = frozenset(
            (r.project_id, r.group_id) for r in journal.results(only) if not codes or r.error_code in codes
        )
    return Selection(source_dir, str(params.get("run_id") or source_dir.name), only, codes, targets, params)
