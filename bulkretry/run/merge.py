"""``bulkretry merge``: one report from the shards of one manifest (runs with ``--shard I/N``), each shard's
journal read only, under its folder's shared lock, as ``bulkretry report`` reads one run.

The shards are checked before anything is written: every folder a finished shard (a live run's lock says it is
still running), all of one manifest (its sha256), one action on one target, one split (the same N), and every
shard from 0 to N-1 given once. The rows are then read from the journals side by side in manifest order (each
journal gives its rows in order; a row is in one shard only) and written by the one report writer.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from bulkretry.errors import ConfigError, JournalError, ReportError, UsageError
from bulkretry.i18n.times import Locale
from bulkretry.manifest.shard import Shard, parse_shard
from bulkretry.records import RunSummary
from bulkretry.report import FORMATS, write_reports
from bulkretry.run.journal import JOURNAL_NAME, Journal
from bulkretry.run.rundir import require_run
from bulkretry.run.runlock import RunLock
from bulkretry.run.runner import merged_timeline, report_details
from bulkretry.run.summary import ended_status, summarize

__all__ = ["MergeResult", "ShardRun", "merge_runs", "merged_summary"]

#: What the shards of one job share, each with how a refusal names it.
SAME_JOB = (("manifest_sha256", "manifest"), ("action", "action"), ("target", "target"))


@dataclass(frozen=True)
class ShardRun:
    """One shard's run folder, as its journal records it."""

    folder: Path
    shard: Shard
    params: Mapping[str, Any]
    summary: RunSummary


@dataclass(frozen=True)
class MergeResult:
    """The merged report: its summary, folder and files, the shards it was made of, and the exit status a run of
    the whole manifest would have had."""

    summary: RunSummary
    out_dir: Path
    files: list[Path]
    shards: tuple[ShardRun, ...]
    exit_status: int


def merge_runs(
    folders: Sequence[Path], out_dir: Path, formats: Sequence[str] | None = None, locale: Locale | None = None
) -> MergeResult:
    """Write one report (in *formats*, else the first shard's; in *locale*'s language and zone, else English and the
    machine's zone) and one ``summary.json`` into *out_dir* from the shard folders *folders*; ConfigError (nothing
    written) when they are not every shard of one finished job."""
    folders = [Path(folder) for folder in folders]
    _check_out(Path(out_dir), folders)
    with ExitStack() as stack:
        journals = [stack.enter_context(_shard_journal(folder)) for folder in folders]
        shards = [_shard_run(folder, journal) for folder, journal in zip(folders, journals)]
        _check_one_job(shards)
        _check_every_shard(shards)
        stack.enter_context(_out_lock(Path(out_dir)))
        summary = merged_summary(shards, Path(out_dir))
        rows = heapq.merge(*(journal.results() for journal in journals), key=attrgetter("row"))
        try:
            files = write_reports(
                out_dir,
                rows,
                summary,
                formats=formats or tuple(shards[0].params.get("formats") or FORMATS),
                extra_columns=_extra_columns(shards),
                details=_details(shards),
                locale=locale or Locale(),
            )
        except OSError as exc:
            raise ReportError(f"the merged reports could not be written to {out_dir} ({exc.strerror or exc})") from None
    halted = summary.halt_code == "halted"
    return MergeResult(summary, Path(out_dir), files, tuple(shards), ended_status(summary, halted=halted))


def _check_out(out_dir: Path, folders: Sequence[Path]) -> None:
    """The merged report goes into a folder of its own: never a shard's, never a run's."""
    if not folders:
        raise UsageError("no shard folder given: give the folder of every shard of the run")
    if out_dir.resolve() in {folder.resolve() for folder in folders}:
        raise UsageError(f"--out {out_dir} is one of the shards: merge into a folder of its own")
    if (out_dir / JOURNAL_NAME).exists():
        raise UsageError(f"--out {out_dir} holds a run ({JOURNAL_NAME}): merge into a folder of its own")


def _out_lock(out_dir: Path) -> RunLock:
    """*out_dir*'s lock, so that two merges into one folder (the shards of a CronJob each trying it as they end)
    never write it at once: the second is refused."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out_dir}: {exc.strerror or exc}; choose another --out") from None
    return RunLock(out_dir)


@contextmanager
def _shard_journal(folder: Path) -> Iterator[Journal]:
    """*folder*'s journal, open read-only under its shared lock; ConfigError when it holds no run or a live one."""
    path = require_run(folder, ": give the folder of each shard's run (its --out)")
    lock = RunLock(folder, shared=True)
    try:
        lock.acquire()
    except ConfigError as exc:
        raise ConfigError(f"cannot merge yet: {exc} (a shard still running)") from None
    try:
        with Journal.open_existing(path, read_only=True) as journal:
            yield journal
    except JournalError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        lock.release()


def _shard_run(folder: Path, journal: Journal) -> ShardRun:
    """The shard in *folder*; ConfigError when its run was not a shard, or stopped before every row had a result."""
    params = journal.params()
    text = params.get("shard")
    if not text:
        raise ConfigError(f"{folder} is not a shard: its run took every row of its manifest (no --shard I/N)")
    shard = parse_shard(str(text))
    recorded, expected = journal.count(), int(params.get("manifest_rows") or 0)
    if recorded < expected:
        raise ConfigError(
            f"shard {shard} in {folder} is unfinished: {recorded} of its {expected} rows have a result; continue it "
            f"with `bulkretry run MANIFEST --shard {shard} --out {folder} --resume`, then merge"
        )
    return ShardRun(folder, shard, params, summarize(journal, params, folder))


def _check_one_job(shards: Sequence[ShardRun]) -> None:
    """Every shard of one manifest, one action on one target, one split into N."""
    first = shards[0]
    for other in shards[1:]:
        for key, what in SAME_JOB:
            if other.params.get(key) != first.params.get(key):
                raise ConfigError(
                    f"{other.folder} and {first.folder} are not shards of one run: their {what} differs "
                    f"({_shown(other, key)}, {_shown(first, key)}); merge the shards of one manifest and action"
                )
        if other.shard.count != first.shard.count:
            raise ConfigError(
                f"{other.folder} is shard {other.shard}, {first.folder} shard {first.shard}: the shards of one run "
                "split the manifest into one number of shards"
            )


def _shown(shard: ShardRun, key: str) -> str:
    value = shard.params.get(key)
    if key == "manifest_sha256":
        return f"{shard.params.get('manifest', '?')}, sha256 {str(value)[:12]}…"
    return str(value)


def _check_every_shard(shards: Sequence[ShardRun]) -> None:
    """Each shard from 0 to N-1 given once; the refusal names the shards missing."""
    seen: dict[int, Path] = {}
    for shard in shards:
        if shard.shard.index in seen:
            raise ConfigError(f"shard {shard.shard} is given twice: {seen[shard.shard.index]} and {shard.folder}")
        seen[shard.shard.index] = shard.folder
    count = shards[0].shard.count
    missing = [str(Shard(index, count)) for index in range(count) if index not in seen]
    if missing:
        raise ConfigError(
            f"shard {', '.join(missing)} missing: give the folder of every shard from 0/{count} to "
            f"{count - 1}/{count} (a shard whose run never started has no folder: run it, then merge)"
        )


def merged_summary(shards: Sequence[ShardRun], out_dir: Path) -> RunSummary:
    """One summary of the shards: rows, outcomes, codes, calls and sessions added up; the span from the first
    start to the last finish, the longest shard's duration (they ran side by side) and the rates added; a halt (a
    systematic one first) named with its shard."""
    by_outcome: Counter[str] = Counter()
    by_code: Counter[str] = Counter()
    for shard in shards:
        by_outcome.update(shard.summary.by_outcome)
        by_code.update(shard.summary.by_error_code)
    summaries = [shard.summary for shard in shards]
    halts = sorted((s for s in shards if s.summary.halted), key=lambda s: (s.summary.halt_code != "halted", s.shard))
    return RunSummary(
        run_id=out_dir.name,
        manifest=summaries[0].manifest,
        started_at=min((s.started_at for s in summaries if s.started_at), default=""),
        finished_at=max((s.finished_at for s in summaries), default=""),
        duration_s=max(s.duration_s for s in summaries),
        rows=sum(s.rows for s in summaries),
        by_outcome=dict(by_outcome.most_common()),
        by_error_code=dict(by_code.most_common()),
        calls=sum(s.calls for s in summaries),
        status_reads=sum(s.status_reads for s in summaries),
        achieved_rate=round(sum(s.achieved_rate for s in summaries), 3),
        out_dir=str(out_dir),
        dry_run=any(s.dry_run for s in summaries),
        sessions=sum(s.sessions for s in summaries),
        action=summaries[0].action,
        target=summaries[0].target,
        halted=f"shard {halts[0].shard}: {halts[0].summary.halted}" if halts else "",
        halt_code=halts[0].summary.halt_code if halts else "",
    )


def _extra_columns(shards: Sequence[ShardRun]) -> list[str]:
    """The report's extra columns: every shard's, in order, each once (a shard with ``--check-status`` has more)."""
    columns: dict[str, None] = {}
    for shard in shards:
        columns.update(dict.fromkeys(shard.params.get("extra_columns") or ()))
    return list(columns)


def _details(shards: Sequence[ShardRun]) -> dict[str, Any]:
    """report.html's details: the first shard's parameters, the calls per second of all shards."""
    params = report_details(shards[0].params)["params"]
    timeline: dict[int, list[int]] = {}
    for shard in shards:
        timeline = merged_timeline(shard.params.get("timeline", []), timeline)
    return {"params": params, "timeline": [[second, *timeline[second]] for second in sorted(timeline)]}
