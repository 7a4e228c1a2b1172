"""Retention of run folders (``bulkretry prune``): which runs of a runs root to remove, by count (``--keep N``,
the newest kept) or by age (``--older-than 30d``), and their removal. A folder whose run is going on (its lock
held) is never removed, nor one reached through a symlink; each is removed under its own lock, so no run can
start in it meanwhile."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bulkretry.errors import ConfigError, UsageError
from bulkretry.run.journal import JOURNAL_NAME
from bulkretry.run.rundir import read_params
from bulkretry.run.runlock import RunLock, live_runs

__all__ = ["PrunePlan", "RunFolder", "parse_age", "plan_prune", "remove_runs"]

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> timedelta:
    """``--older-than``: ``30d``, ``12h``, ``2w`` (s, m, h, d or w after a whole number) as a timedelta;
    ValueError saying the forms otherwise."""
    value = text.strip().lower()
    unit = _AGE_UNITS.get(value[-1:])
    if unit is None or not value[:-1].isdigit() or int(value[:-1]) == 0:
        raise ValueError(f"invalid age {text!r}: expected a whole number with s, m, h, d or w, e.g. 30d or 12h")
    return timedelta(seconds=int(value[:-1]) * unit)


@dataclass(frozen=True)
class RunFolder:
    """A run folder of a runs root, with when its run started (its journal's ``started_at``)."""

    path: Path
    started_at: datetime


@dataclass(frozen=True)
class PrunePlan:
    """What ``prune`` removes (oldest first), and what it leaves: the runs going on (with why), and the number of
    runs kept."""

    remove: tuple[RunFolder, ...]
    live: tuple[tuple[Path, str], ...]
    kept: int


def _started(folder: Path) -> datetime:
    """When the run in *folder* started, else (a journal that does not say) its journal's modification time."""
    started = str(read_params(folder).get("started_at") or "")
    try:
        return datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp((folder / JOURNAL_NAME).stat().st_mtime, timezone.utc)


def plan_prune(
    root: Path, *, keep: int | None = None, older_than: timedelta | None = None, now: datetime | None = None
) -> PrunePlan:
    """The runs of *root* beyond the *keep* newest, or started over *older_than* before *now*; never one going on."""
    if (keep is None) == (older_than is None):
        raise UsageError("give one of --keep N or --older-than AGE")
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; give the folder that holds the run folders (e.g. bulkretry-runs)")
    subs = [sub for sub in root.iterdir() if not sub.is_symlink() and (sub / JOURNAL_NAME).is_file()]
    live = tuple(live_runs(subs))
    busy = {path for path, _ in live}
    runs = sorted((RunFolder(sub, _started(sub)) for sub in subs if sub not in busy), key=lambda r: r.started_at)
    if keep is not None:
        chosen = runs[: max(len(runs) - keep, 0)]
    else:
        cutoff = (now or datetime.now(timezone.utc)) - (older_than or timedelta())
        chosen = [run for run in runs if run.started_at < cutoff]
    return PrunePlan(tuple(chosen), live, len(runs) - len(chosen))


def remove_runs(plan: PrunePlan) -> list[Path]:
    """Remove the folders of *plan*, each under its lock; one that a run took meanwhile is left (not in the list)."""
    removed = []
    for run in plan.remove:
        try:
            lock = RunLock(run.path)
            lock.acquire()
        except ConfigError:
            continue
        try:
            shutil.rmtree(run.path)
        finally:
            lock.release()
        removed.append(run.path)
    return removed
