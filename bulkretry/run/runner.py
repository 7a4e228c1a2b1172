"""One run, end to end: read and check the manifest, call, journal every row, write the reports.

The CLI drives this module and does the printing; everything here reports through return values,
exceptions and callbacks.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from bulkretry.errors import (
    EXIT_HALTED,
    EXIT_USAGE,
    ConfigError,
    JournalError,
    LoginRefused,
    ReportError,
    UnsavedResults,
)
from bulkretry.i18n import DEFAULT_LANG
from bulkretry.i18n.messages import EARLIER_SESSION, MAX_DURATION_REASON, say
from bulkretry.i18n.times import Locale
from bulkretry.manifest.annotate import AnnotatedWriter
from bulkretry.manifest.plan import RowPlan
from bulkretry.oms.auth import Authenticator
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.network import Network
from bulkretry.records import Outcome, RowResult, RunSummary
from bulkretry.report import BATCH_ROWS, FORMATS, write_reports
from bulkretry.run.adaptive import AdaptivePacer
from bulkretry.run.engine import Engine, EngineConfig, EngineStats, utc_now_iso
from bulkretry.run.halt import run_rules
from bulkretry.run.journal import JOURNAL_NAME, RowSet
from bulkretry.run.pacing import PacerPool
from bulkretry.run.policy import RetryPolicy
from bulkretry.run.prepare import PreparedRun
from bulkretry.run.resume import ChangedRows, changed_rows
from bulkretry.run.rundir import OpenRun, create_run, reopen_run, run_journal
from bulkretry.run.settings import ManifestSource, RunSettings, format_duration
from bulkretry.run.summary import summarize

__all__ = [
    "RunResult",
    "RunStart",
    "execute",
    "merged_timeline",
    "rebuild_reports",
    "report_details",
]


log = logging.getLogger(__name__)

#: Plans made at a time, ahead of the calls. Planning a batch in one go keeps the planner's code and data in
#: the CPU's caches; one plan made between two calls finds them evicted by aiohttp's (measured: the planner's
#: share of a run's CPU went from 7.9 % to 4.8 %). A few hundred plans of memory, next to the calls in flight.
PLAN_BATCH = 256


@dataclass(frozen=True)
class RunResult:
    summary: RunSummary
    out_dir: Path
    files: list[Path]
    #: Why the annotated manifest was not written (empty when it was, or was not asked for).
    note: str = ""
    #: Why the run halted (a systematic failure: rows not called are ``interrupted``, code ``halted``); empty
    #: when it did not.
    halted: str = ""
    #: A forced resume of a changed manifest: rows skipped as finished that now hold a group never called.
    changed: ChangedRows = field(default_factory=ChangedRows)
    #: The error code of the rows a halted run did not call: ``halted``, or ``max_duration`` (the time box).
    halt_code: str = ""


@dataclass(frozen=True)
class RunStart:
    """Handed to ``on_start`` before the first call: the engine (to stop it), the folder, and the rows
    already finished by an earlier session of a resumed run."""

    engine: Engine
    out_dir: Path
    rows: int
    done: int
    resumed: bool


def _open(prepared: PreparedRun) -> OpenRun:
    """A new run folder, or (``--resume``) the run's own, reopened after checking nothing that decides the calls
    changed."""
    s = prepared.settings
    params = {
        **s.public_params(),
        "target": prepared.action.target,
        "shard": s.work.shard_text,
        "manifest_sha256": prepared.manifest_sha256,
        "manifest_rows": prepared.rows,
        "extra_columns": prepared.extra_columns,
        "tz": s.output.zone,  # the zone of the times people read, for `report` and `rerun`
    }
    out_dir = s.output.out_dir
    if s.resume.resume:
        if out_dir is None:
            raise ConfigError("--resume needs --out DIR: the folder of the run to continue")
        return _reopen(out_dir, params, prepared.extra_columns, force=s.resume.force)
    name = s.manifest.path.stem + ("-rerun" if s.resume.selection else "")
    return create_run(out_dir, s.output.runs_root, name, {**params, "started_at": utc_now_iso(), "sessions": []})


def _reopen(out_dir: Path, params: dict[str, Any], extra_columns: list[str], *, force: bool) -> OpenRun:
    run = reopen_run(out_dir, params, force=force)
    if run.params.get("extra_columns") != extra_columns:
        # The reports are written with this session's columns (a newer bulkretry may add some, such as the
        # group columns of --check-status): `bulkretry report` rebuilds them with the same.
        try:
            run.journal.set_params({"extra_columns": extra_columns})
        except BaseException:
            run.close()
            raise
        run.params["extra_columns"] = extra_columns
    return run


async def execute(
    prepared: PreparedRun,
    auth: Authenticator | None,
    *,
    on_result: Callable[[RowResult], None] | None = None,
    on_start: Callable[[RunStart], None] | None = None,
    session: aiohttp.ClientSession | None = None,
    should_stop: Callable[[], bool] | None = None,
    network: Network | None = None,
) -> RunResult:
    """Call every row of *prepared* (a resume: every row not yet finished), journal each result, then
    write the reports from the journal.

    *on_start* receives a :class:`RunStart` before the first call (the CLI uses it to stop on a signal,
    and to size the progress bar). When the run is cancelled, rows not yet finished are recorded as
    ``interrupted`` and the reports are still written before the cancellation goes on. If the journal
    cannot be written (a full disk), no new call starts; results it could not keep are raised in
    :class:`UnsavedResults`, never dropped. When the first calls are all refused (401/403) or IAM gives no
    token, the run halts (``RunResult.halted``). When IAM refuses a login, no other call starts, the rows not
    called are not recorded, the reports are written, and :class:`LoginRefused` is raised (exit status 2, or 3
    when calls were made before it). *should_stop* is asked once more just before the first call (after
    *on_start*): yes stops the engine before it starts, every row ``interrupted``. *network* is the run's proxy
    and trust (:mod:`bulkretry.oms.network`; default: no proxy, the system's store), recorded in the summary.
    """
    run = _open(prepared)
    hooks = _Hooks(auth, network, on_result, on_start, should_stop)
    try:
        result = await _execute(prepared, run, hooks, session)
    except UnsavedResults:
        with suppress(JournalError):  # the results the journal refused are in the exception already
            run.close()
        raise
    except BaseException:
        _close(run)  # never lets a failed last commit hide the results it held
        raise
    _close(run)
    return result


def _close(run: OpenRun) -> None:
    """Close *run*; results its journal still holds and cannot commit become :class:`UnsavedResults`."""
    try:
        run.close()
    except JournalError as exc:
        raise _unsaved(exc, run) from None


def _unsaved(exc: JournalError, run: OpenRun) -> UnsavedResults:
    """The results *run*'s journal refused: the answers from the service, to be shown since they cannot be kept
    (rows not called, or decided here, are simply done again by ``--resume``)."""
    answers = [row for row in run.journal.unsaved() if row["attempts"]]
    return UnsavedResults(
        f"{exc}; {len(answers)} answers from the service could not be saved and are listed below, one JSON object "
        f"a line (keep them: they say which groups were restarted); free some space on that disk, then continue "
        f"with --out {run.out_dir} --resume",
        answers,
        run.out_dir,
    )


class _Session:
    """One session of a run, step by step: put it on record in the journal, build the client, pacers and
    engine, call the rows (each result recorded and flushed), record the rows never reached, then close the
    session in the journal and write the reports with the annotated copy."""

    def __init__(self, prepared: PreparedRun, run: OpenRun, hooks: _Hooks) -> None:
        self.prepared, self.settings, self.run, self.hooks = prepared, prepared.settings, run, hooks
        self.journal = run.journal
        self.started_at, self.t0 = utc_now_iso(), time.monotonic()
        self.journal_errors: list[JournalError] = []
        self.flush_due = False
        self.done = RowSet()
        self.changed = ChangedRows()
        #: Rows up to the earlier session's horizon that are not finished may have been called already.
        self.horizon_before = 0

    # -- before the first call

    def open(self) -> None:
        """Put this session on record before its first call (a JournalError now: nothing was called), so a
        session that cannot write its summary (a full disk, a kill) still counts; ``finish`` fills in its
        figures. A resume also learns the rows finished earlier and the calling horizon."""
        run, journal = self.run, self.journal
        journal.set_params({"sessions": [*run.params.get("sessions", []), self._session_record(None, 0.0, None, 0.0)]})
        if run.resumed:
            self.done = journal.finished()
            self.changed = self._changed_rows()
            self.horizon_before = journal.calling_horizon()
        journal.horizon_slack = 2 * self.settings.pacing.concurrency

    def _session_record(
        self, finished_at: str | None, duration_s: float, stats: EngineStats | None, span: float
    ) -> dict[str, Any]:
        """This session in the journal's list of sessions: its times and its calls (the action's, and the status
        reads apart; none yet when it is put on record)."""
        reads = stats.status_reads if stats is not None else 0
        return {
            "started_at": self.started_at,
            "finished_at": finished_at,
            "duration_s": duration_s,
            "calls": stats.calls - reads if stats is not None else 0,
            "status_reads": reads,
            "call_span_s": span,
            "resumed": self.run.resumed,
        }

    def _changed_rows(self) -> ChangedRows:
        """A forced resume of a changed manifest: the rows finished earlier that now hold other groups (logged)."""
        if not self.run.params.get("forced_changes"):
            return ChangedRows()
        changed = changed_rows(self.prepared.info, self.journal, self.settings.target.project_id or "")
        if changed.rows:
            log.warning(
                "%d rows finished earlier now hold other groups, which this resume does not call: %s",
                changed.rows,
                ", ".join(changed.first),
                extra={"event": "changed_rows", "fields": {"count": changed.rows, "first": list(changed.first)}},
            )
        return changed

    def build(self, session: aiohttp.ClientSession | None) -> None:
        """The client (none for a dry run; a session of its own unless given one), the pacers and the engine, on
        the running event loop."""
        s = self.settings
        self.loop = asyncio.get_running_loop()
        self.own_session = session is None and not s.checks.dry_run
        self.session = make_session(limit=s.pacing.concurrency) if self.own_session else session
        self.client = None if s.checks.dry_run else self._client()
        self.engine = _engine(self.prepared, self.client)

    def _client(self) -> OmsClient:
        target = self.settings.target
        return OmsClient(
            self.session,  # type: ignore[arg-type]
            self.hooks.auth,  # type: ignore[arg-type]
            endpoint=target.endpoint,
            region=target.region,
            timeout=self.settings.pacing.timeout,
            network=self.hooks.network if self.hooks.network is not None else Network(verify=target.verify_tls),
            region_endpoints=self.prepared.region_endpoints,
        )

    # -- each row

    def journal_failed(self, exc: JournalError) -> None:
        """The journal cannot be written: said once, and no new call starts."""
        if not self.journal_errors:
            log.error("%s; no new calls will start", exc, extra={"event": "journal_error", "fields": {}})
        self.journal_errors.append(exc)
        self.engine.stop()

    def flush(self) -> None:
        self.flush_due = False
        try:
            self.journal.flush()
        except JournalError as exc:
            self.journal_failed(exc)

    def record(self, result: RowResult) -> None:
        """Journal one row's result; an answer from the service is on disk within this loop turn."""
        if result.row <= self.horizon_before and result.outcome is Outcome.FAILED:
            result = result._replace(error_msg=say(EARLIER_SESSION, message=result.error_msg))
        try:
            self.journal.record(result)
        except JournalError as exc:
            self.journal_failed(exc)
        if result.attempts and not self.flush_due:
            self.flush_due = True
            self.loop.call_soon(self.flush)
        if log.isEnabledFor(logging.INFO):
            _log_row(result)
        if self.hooks.on_result is not None:
            self.hooks.on_result(result)

    def started(self, plan: RowPlan) -> None:
        """A row's first call starts: the journal's calling horizon moves."""
        try:
            self.journal.started(plan.row)
        except JournalError as exc:
            self.journal_failed(exc)

    # -- the calls

    async def call(self, plans: Iterator[RowPlan]) -> LoginRefused | None:
        """Run the engine over *plans* (within ``--max-duration``); the refused login that stopped it, if one did."""
        max_duration = self.settings.pacing.max_duration
        deadline = None
        if max_duration is not None:  # the time box: no call starts after it (calls in flight finish)
            deadline = self.loop.call_later(
                max_duration,
                self.engine.halt,
                say(MAX_DURATION_REASON, duration=format_duration(max_duration)),
                "max_duration",
            )
        try:
            await self.engine.run(plans, self.record, on_call=self.started)
        except LoginRefused as exc:
            return exc
        finally:
            if deadline is not None:
                deadline.cancel()
        return None

    def record_not_reached(self, plans: Iterator[RowPlan]) -> None:
        """Rows the engine never reached (a cancelled or halted run) are interrupted, and still reported; after
        a refused login they are simply not called (and not recorded)."""
        if self.engine.fatal is not None:
            return
        for plan in plans:
            code, msg = self.engine.not_called()
            now = utc_now_iso()
            self.record(
                RowResult(
                    plan.row,
                    plan.project_id,
                    plan.group_id,
                    Outcome.INTERRUPTED,
                    error_code=code,
                    error_msg=msg,
                    started_at=now,
                    finished_at=now,
                    extra=plan.extra,
                )
            )

    async def close_session(self) -> None:
        if self.own_session:
            with anyio.CancelScope(shield=True):
                await self.session.close()  # type: ignore[union-attr]

    # -- after the calls

    def finish(self) -> RunSummary:
        """Close this session in the journal and sum up the whole run (every session) from it."""
        try:
            self.journal.flush()
        except JournalError as exc:
            raise _unsaved(exc, self.run) from None
        stats = self.engine.stats
        span = (stats.last_call_at - stats.first_call_at) if stats.first_call_at and stats.last_call_at else 0.0
        finished_at = utc_now_iso()
        earlier = self.journal.sessions()[:-1]  # the last on record is this one, put there by open()
        sessions = [
            *earlier,
            self._session_record(finished_at, round(time.monotonic() - self.t0, 3), stats, round(span, 3)),
        ]
        summary = self._summarize(finished_at, sessions)
        self._store(finished_at, sessions, summary)
        log.info(
            "run %s finished: %s",
            self.run.run_id,
            summary.by_outcome,
            extra={"event": "finish", "fields": summary.as_dict()},
        )
        return summary

    def _summarize(self, finished_at: str, sessions: list[dict[str, Any]]) -> RunSummary:
        s, run, engine = self.settings, self.run, self.engine
        selection = s.resume.selection
        halted, halt_code = engine.halted
        auth, network = self.hooks.auth, self.hooks.network
        used = self.client.proxies_used if self.client is not None else ()
        return summarize(
            self.journal,
            run.params,
            run.out_dir,
            run_id=run.run_id,
            manifest=str(s.manifest.path),
            started_at=run.params.get("started_at", self.started_at),
            finished_at=finished_at,
            rows=self.prepared.rows,
            dry_run=s.checks.dry_run,
            source_run=selection.public() if selection else None,
            not_in_manifest=self.prepared.missing,
            credentials_source=getattr(auth, "source", "") if auth is not None else "",
            learned_rates=_learned_rates(s, engine),
            network=network.public(used) if network is not None else None,
            halted=halted,
            halt_code=halt_code,
            **_session_figures(sessions),
        )

    def _store(self, finished_at: str, sessions: list[dict[str, Any]], summary: RunSummary) -> None:
        """This session's figures, the summary and the timeline into the journal."""
        timeline = merged_timeline(self.run.params.get("timeline", []), self.engine.stats.timeline)
        try:
            self.journal.set_params(
                {
                    "finished_at": finished_at,
                    "sessions": sessions,
                    "summary": summary.as_dict(),
                    "timeline": [[second, *timeline[second]] for second in sorted(timeline)],
                }
            )
        except JournalError as exc:
            raise UnsavedResults(
                f"{exc}; every result is saved, but not this session's summary: free some space on "
                f"that disk, then run `bulkretry report {self.run.out_dir}`",
                [],
                self.run.out_dir,
            ) from None

    def write_files(self, summary: RunSummary) -> tuple[list[Path], str]:
        """The reports, and the user's own manifest with the outcomes added, fed from the same pass over the
        journal (the annotated copy is never fatal: the reason it could not be written comes back)."""
        s, out_dir, journal = self.settings, self.run.out_dir, self.journal
        annotating = AnnotatedWriter(self.prepared.info, out_dir)
        try:
            files = write_reports(
                out_dir,
                _tap(journal.results(), annotating),
                summary,
                formats=s.output.formats,
                extra_columns=self.prepared.extra_columns,
                details=report_details(journal.params()),
                locale=Locale(s.output.lang, s.output.zone),
            )
        except OSError as exc:
            annotating.discard()
            raise ReportError(
                f"the reports could not be written to {out_dir} ({exc.strerror or exc}); "
                f"every result is kept in {out_dir / JOURNAL_NAME}"
            ) from None
        except BaseException:
            annotating.discard()
            raise
        annotated = annotating.finish()
        if annotated.path is not None:
            files.append(annotated.path)
        return files, annotated.skipped_reason


@dataclass(frozen=True)
class _Hooks:
    """What :func:`execute` is given besides the run: the credentials, the network and the callbacks."""

    auth: Authenticator | None
    network: Network | None
    on_result: Callable[[RowResult], None] | None
    on_start: Callable[[RunStart], None] | None
    should_stop: Callable[[], bool] | None


def _engine(prepared: PreparedRun, client: OmsClient | None) -> Engine:
    """The engine of the run: its action, and a fixed rate or (``--rate auto``) a pacer per project."""
    s = prepared.settings
    pacing, checks = s.pacing, s.checks
    pacers = None
    if pacing.rate_auto is not None:  # each project finds its own quota (quotas are per account and API)
        start, top = pacing.rate_auto
        pacers = PacerPool(lambda: AdaptivePacer(start, top), shared=False)
    return Engine(
        client,
        EngineConfig(
            rate=None if pacers else pacing.rate,
            pacers=pacers,
            concurrency=pacing.concurrency,
            dry_run=checks.dry_run,
            policy=RetryPolicy(max_attempts=pacing.max_attempts, base_s=pacing.backoff_base_s),
            check_status=checks.check_status,
            call_anyway=checks.call_anyway,
            verify_timeout=checks.verify_timeout,
            halt_rule=None if checks.dry_run else run_rules(pacing.halt_on_failure),
            action=prepared.action,
            batch_size=s.work.batch_size,
        ),
    )


def _log_row(result: RowResult) -> None:
    log.info(
        "row %d: %s %s",
        result.row,
        result.outcome.value,
        result.error_code,
        extra={
            "event": "row",
            "fields": {
                "row": result.row,
                "project_id": result.project_id,
                "group_id": result.group_id,
                "outcome": result.outcome.value,
                "http_status": result.http_status,
                "error_code": result.error_code,
                "error_msg": result.error_msg,
                "attempts": result.attempts,
                "request_id": result.request_id,
                "latency_ms": result.latency_ms,
            },
        },
    )


def _log_start(prepared: PreparedRun, run: OpenRun, done: int) -> None:
    public = prepared.settings.public_params()
    log.info(
        "%s run %s: %d rows, %d already finished",
        "resuming" if run.resumed else "starting",
        run.run_id,
        prepared.rows,
        done,
        extra={
            "event": "resume" if run.resumed else "start",
            "fields": {
                "run_id": run.run_id,
                "out_dir": str(run.out_dir),
                "rows": prepared.rows,
                "done": done,
                **{k: v for k, v in run.params.items() if k in public},
            },
        },
    )


async def _execute(
    prepared: PreparedRun, run: OpenRun, hooks: _Hooks, session: aiohttp.ClientSession | None
) -> RunResult:
    """The steps of one session, in order (see :class:`_Session`)."""
    steps = _Session(prepared, run, hooks)
    steps.open()
    steps.build(session)
    engine, done = steps.engine, steps.done
    _log_start(prepared, run, len(done))
    if hooks.on_start is not None:
        hooks.on_start(RunStart(engine, run.out_dir, prepared.rows, len(done), run.resumed))
    plans = _in_batches(
        (plan for plan in prepared.plans() if plan.row not in done) if done else prepared.plans(), PLAN_BATCH
    )
    if hooks.should_stop is not None and hooks.should_stop():
        engine.stop()
    refused: LoginRefused | None = None
    try:
        refused = await steps.call(plans)
    finally:
        steps.record_not_reached(plans)
        await steps.close_session()
        summary = steps.finish()
        files, note = steps.write_files(summary)
    if refused is not None:
        raise _after_refusal(refused, engine.stats.calls, run.out_dir)
    halted, halt_code = engine.halted
    return RunResult(summary, run.out_dir, files, note, halted, steps.changed, halt_code)


def _after_refusal(error: LoginRefused, calls: int, out_dir: Path) -> LoginRefused:
    """*error* with what the run did before it: exit status 2 when nothing was called, else 3 (stopped early)."""
    resume = f"continue the run with --out {out_dir} --resume once the login is fixed"
    if calls:
        done = f"{calls} calls were made before it (their rows are in the reports in {out_dir}): {resume}"
    else:
        done = f"nothing was called ({resume})"
    return LoginRefused(
        f"{error}; {done}",
        status=error.status,
        error_code=error.error_code,
        project_id=error.project_id,
        request_id=error.request_id,
        exit_status=EXIT_HALTED if calls else EXIT_USAGE,
    )


def _in_batches(plans: Iterator[RowPlan], size: int) -> Iterator[RowPlan]:
    """*plans* as they are, made *size* at a time (see :data:`PLAN_BATCH`). The batch is kept here, so whoever
    reads on after the engine (the rows a cancelled run never reached) gets the rest of it first; the plans
    made before a manifest error come out before the error does."""
    while True:
        batch: list[RowPlan] = []
        try:
            for plan in islice(plans, size):
                batch.append(plan)
        except Exception:
            yield from batch
            raise
        if not batch:
            return
        yield from batch


def _tap(results: Iterator[RowResult], annotating: AnnotatedWriter) -> Iterator[RowResult]:
    """*results* as they are, each also handed to *annotating* (started first; it never raises for what stops
    it), a batch at a time, as ``write_reports`` reads them (see ``BATCH_ROWS``)."""
    annotating.start()
    while batch := list(islice(results, BATCH_ROWS)):
        annotating.write_all(batch)
        yield from batch


def _session_figures(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's duration, calls, status reads and achieved rate over every session (each session's rate over its
    own span, of every call that went out: the action's and the status reads, as ``--rate`` spaces them)."""
    spans = sum(x["call_span_s"] for x in sessions)
    calls_after_first = sum(max(x["calls"] + x.get("status_reads", 0) - 1, 0) for x in sessions)
    return {
        "duration_s": round(sum(x["duration_s"] for x in sessions), 3),
        "calls": sum(x["calls"] for x in sessions),
        "status_reads": sum(x.get("status_reads", 0) for x in sessions),
        "achieved_rate": round(calls_after_first / spans, 3) if spans > 0 else 0.0,
        "sessions": len(sessions),
    }


def _learned_rates(s: RunSettings, engine: Engine) -> dict[str, float] | None:
    """``--rate auto``: the rate each project's pacer learned."""
    if s.pacing.rate_auto is None or engine.pacers is None:
        return None
    return {k: round(v, 2) for k, v in engine.pacers.rates.items()}


def merged_timeline(stored: list[list[int]], this_session: Mapping[int, list[int]]) -> dict[int, list[int]]:
    """The calls per second of the earlier sessions (as stored) plus this session's."""
    timeline = {int(second): counts for second, *counts in stored}
    for second, counts in this_session.items():
        timeline[second] = [a + b for a, b in zip(timeline.get(second, [0, 0, 0]), counts)]
    return timeline


def report_details(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the HTML report shows besides the rows: the run's public parameters and its timeline."""
    public = RunSettings(ManifestSource(Path())).public_params()
    return {"params": {k: params[k] for k in public if k in params}, "timeline": params.get("timeline", [])}


def rebuild_reports(
    out_dir: Path, formats: tuple[str, ...] | None = None, lang: str = DEFAULT_LANG, tz: str | None = None
) -> RunResult:
    """Write the reports of the run in *out_dir* again from its journal (under its lock); no call is made.

    *formats* default to the run's own; *lang* is the reports' language and *tz* their zone (default: the run's,
    else the machine's; see ``write_reports``). A run that
    never finished (killed) is reported as its journal stands: rows it never reached are simply absent, and
    ``--resume`` is the way to complete it.
    """
    with run_journal(out_dir) as journal:
        params = journal.params()
        summary = summarize(journal, params, out_dir)
        chosen = formats or tuple(params.get("formats") or FORMATS)
        extra_columns = params.get("extra_columns")
        if extra_columns is None:  # a journal from before extra_columns was kept: take the first row's
            first = next(journal.results(), None)
            extra_columns = [name for name, _ in first.extra] if first else []
        try:
            files = write_reports(
                out_dir,
                journal.results(),
                summary,
                formats=chosen,
                extra_columns=extra_columns,
                details=report_details(params),
                locale=Locale(lang, tz or params.get("tz")),
            )
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):  # an archive: nothing was called, nothing lost
                raise ConfigError(
                    f"cannot write the reports in {out_dir} ({exc.strerror or exc}); its journal was "
                    f"read but the folder cannot be written: copy the folder somewhere writable "
                    f"(cp -r {out_dir} NEW_DIR) and run `bulkretry report NEW_DIR`"
                ) from None
            raise ReportError(f"the reports could not be written to {out_dir} ({exc.strerror or exc})") from None
    return RunResult(summary, out_dir, files)
