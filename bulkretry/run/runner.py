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

from bulkretry.errors import EXIT_FAILED, ConfigError, JournalError, LoginRefused, ReportError, UnsavedResults
from bulkretry.i18n import DEFAULT_LANG
from bulkretry.manifest.annotate import AnnotatedWriter
from bulkretry.manifest.plan import RowPlan
from bulkretry.oms.auth import Authenticator
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.network import Network
from bulkretry.records import Outcome, RowResult, RunSummary
from bulkretry.report import BATCH_ROWS, FORMATS, write_reports
from bulkretry.run.adaptive import AdaptivePacer
from bulkretry.run.engine import Engine, EngineConfig, utc_now_iso
from bulkretry.run.halt import run_rules
from bulkretry.run.journal import JOURNAL_NAME, RowSet
from bulkretry.run.pacing import PacerPool
from bulkretry.run.policy import RetryPolicy
from bulkretry.run.prepare import PreparedRun
from bulkretry.run.resume import ChangedRows, changed_rows
from bulkretry.run.rundir import OpenRun, create_run, reopen_run, run_journal
from bulkretry.run.settings import RunSettings, format_duration
from bulkretry.run.summary import summarize

__all__ = [
    "RunResult",
    "RunStart",
    "execute",
    "rebuild_reports",
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
    halt_code: str = "halted"


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
    s = prepared.settings
    params = {
        **s.public_params(),
        "manifest_sha256": prepared.manifest_sha256,
        "manifest_rows": prepared.rows,
        "extra_columns": prepared.extra_columns,
    }
    if s.resume:
        if s.out_dir is None:
            raise ConfigError("--resume needs --out DIR: the folder of the run to continue")
        run = reopen_run(s.out_dir, params, force=s.force)
        if run.params.get("extra_columns") != prepared.extra_columns:
            # The reports are written with this session's columns (a newer bulkretry may add some, such as the
            # group columns of --check-status): `bulkretry report` rebuilds them with the same.
            try:
                run.journal.set_params({"extra_columns": prepared.extra_columns})
            except BaseException:
                run.close()
                raise
            run.params["extra_columns"] = prepared.extra_columns
        return run
    name = s.manifest.stem + ("-rerun" if s.selection else "")
    return create_run(s.out_dir, s.runs_root, name, {**params, "started_at": utc_now_iso(), "sessions": []})


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
    called are not recorded, the reports are written, and :class:`LoginRefused` is raised (exit status 2, or 1
    when calls were made before it). *should_stop* is asked once more just before the first call (after
    *on_start*): yes stops the engine before it starts, every row ``interrupted``. *network* is the run's proxy
    and trust (:mod:`bulkretry.oms.network`; default: no proxy, the system's store), recorded in the summary.
    """
    run = _open(prepared)
    try:
        result = await _execute(prepared, run, auth, on_result, on_start, session, should_stop, network)
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


async def _execute(
    prepared: PreparedRun,
    run: OpenRun,
    auth: Authenticator | None,
    on_result: Callable[[RowResult], None] | None,
    on_start: Callable[[RunStart], None] | None,
    session: aiohttp.ClientSession | None,
    should_stop: Callable[[], bool] | None,
    network: Network | None,
) -> RunResult:
    s = prepared.settings
    journal, out_dir = run.journal, run.out_dir
    session_started, t0 = utc_now_iso(), time.monotonic()
    # This session is on record before its first call (a JournalError now: nothing was called), so a session
    # that cannot write its summary (a full disk, a kill) still counts; _finish fills in its figures.
    journal.set_params(
        {
            "sessions": [
                *run.params.get("sessions", []),
                {
                    "started_at": session_started,
                    "finished_at": None,
                    "duration_s": 0.0,
                    "calls": 0,
                    "call_span_s": 0.0,
                    "resumed": run.resumed,
                },
            ]
        }
    )
    done = journal.finished() if run.resumed else RowSet()
    changed = ChangedRows()
    if run.resumed and run.params.get("forced_changes"):
        changed = changed_rows(prepared.info, journal, s.project_id or "")
        if changed.rows:
            log.warning(
                "%d rows finished earlier now hold other groups, which this resume does not call: %s",
                changed.rows,
                ", ".join(changed.first),
                extra={"event": "changed_rows", "fields": {"count": changed.rows, "first": list(changed.first)}},
            )
    # Rows up to the earlier session's horizon that are not finished may have been called already.
    horizon_before = journal.calling_horizon() if run.resumed else 0
    journal.horizon_slack = 2 * s.concurrency
    journal_errors: list[JournalError] = []

    own_session = session is None and not s.dry_run
    if own_session:
        session = make_session(limit=s.concurrency)
    client = (
        None
        if s.dry_run
        else OmsClient(
            session,  # type: ignore[arg-type]
            auth,  # type: ignore[arg-type]
            endpoint=s.endpoint,
            region=s.region,
            timeout=s.timeout,
            network=network if network is not None else Network(verify=s.verify_tls),
            region_endpoints=prepared.region_endpoints,
        )
    )
    pacers = None
    if s.rate_auto is not None:  # each project finds its own quota (quotas are per account and API)
        start, top = s.rate_auto
        pacers = PacerPool(lambda: AdaptivePacer(start, top), shared=False)
    engine = Engine(
        client,
        EngineConfig(
            rate=None if pacers else s.rate,
            pacers=pacers,
            concurrency=s.concurrency,
            dry_run=s.dry_run,
            policy=RetryPolicy(max_attempts=s.max_attempts, base_s=s.backoff_base_s),
            check_status=s.check_status,
            verify_timeout=s.verify_timeout,
            halt_rule=None if s.dry_run else run_rules(s.halt_on_failure),
        ),
    )

    def journal_failed(exc: JournalError) -> None:
        if not journal_errors:
            log.error("%s; no new calls will start", exc, extra={"event": "journal_error", "fields": {}})
        journal_errors.append(exc)
        engine.stop()

    loop = asyncio.get_running_loop()
    flush_due = False

    def flush() -> None:
        nonlocal flush_due
        flush_due = False
        try:
            journal.flush()
        except JournalError as exc:
            journal_failed(exc)

    def record(result: RowResult) -> None:
        nonlocal flush_due
        if result.row <= horizon_before and result.outcome is Outcome.FAILED:
            result = result._replace(
                error_msg=f"{result.error_msg} (the earlier session may have called this "
                "row before it stopped: that call may have restarted the group)"
            )
        try:
            journal.record(result)
        except JournalError as exc:
            journal_failed(exc)
        if result.attempts and not flush_due:  # an answer from the service: on disk within this loop turn
            flush_due = True
            loop.call_soon(flush)
        if log.isEnabledFor(logging.INFO):
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
        if on_result is not None:
            on_result(result)

    def started(plan: RowPlan) -> None:
        try:
            journal.started(plan.row)
        except JournalError as exc:
            journal_failed(exc)

    log.info(
        "%s run %s: %d rows, %d already finished",
        "resuming" if run.resumed else "starting",
        run.run_id,
        prepared.rows,
        len(done),
        extra={
            "event": "resume" if run.resumed else "start",
            "fields": {
                "run_id": run.run_id,
                "out_dir": str(out_dir),
                "rows": prepared.rows,
                "done": len(done),
                **{k: v for k, v in run.params.items() if k in s.public_params()},
            },
        },
    )
    if on_start is not None:
        on_start(RunStart(engine, out_dir, prepared.rows, len(done), run.resumed))
    plans = _in_batches(
        (plan for plan in prepared.plans() if plan.row not in done) if done else prepared.plans(), PLAN_BATCH
    )
    refused: LoginRefused | None = None
    if should_stop is not None and should_stop():
        engine.stop()
    deadline = None
    if s.max_duration is not None:  # the time box: no call starts after it (calls in flight finish)
        deadline = loop.call_later(
            s.max_duration,
            engine.halt,
            f"the run reached --max-duration {format_duration(s.max_duration)}; continue it with --resume",
            "max_duration",
        )
    try:
        await engine.run(plans, record, on_call=started)
    except LoginRefused as exc:
        refused = exc
    finally:
        if deadline is not None:
            deadline.cancel()
        # Rows the engine never reached (a cancelled run) are interrupted, and still reported; after a refused
        # login they are simply not called (and not recorded).
        code, msg = engine.not_called()
        for plan in () if engine.fatal is not None else plans:
            now = utc_now_iso()
            record(
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
        if own_session:
            with anyio.CancelScope(shield=True):
                await session.close()  # type: ignore[union-attr]
        used = client.proxies_used if client is not None else ()
        summary = _finish(
            prepared,
            run,
            engine,
            session_started,
            time.monotonic() - t0,
            network.public(used) if network is not None else None,
            getattr(auth, "source", "") if auth is not None else "",
        )
        # The user's own manifest with the outcomes added, fed from the same pass over the journal as the
        # reports (never fatal: it says why when it cannot be written).
        annotating = AnnotatedWriter(prepared.info, out_dir)
        try:
            files = write_reports(
                out_dir,
                _tap(journal.results(), annotating),
                summary,
                formats=s.formats,
                extra_columns=prepared.extra_columns,
                details=_report_details(journal.params()),
                lang=s.lang,
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
    if refused is not None:
        raise _after_refusal(refused, engine.stats.calls, out_dir)
    return RunResult(summary, out_dir, files, annotated.skipped_reason, engine.halt_reason, changed, engine.halt_code)


def _after_refusal(error: LoginRefused, calls: int, out_dir: Path) -> LoginRefused:
    """*error* with what the run did before it: exit status 2 when nothing was called, else 1."""
    resume = f"continue the run with --out {out_dir} --resume once the login is fixed"
    if not calls:
        return LoginRefused(
            f"{error}; nothing was called ({resume})",
            status=error.status,
            error_code=error.error_code,
            project_id=error.project_id,
            request_id=error.request_id,
        )
    return LoginRefused(
        f"{error}; {calls} calls were made before it (their rows are in the reports in {out_dir}): {resume}",
        status=error.status,
        error_code=error.error_code,
        project_id=error.project_id,
        request_id=error.request_id,
        exit_status=EXIT_FAILED,
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
    write = annotating.write
    while batch := list(islice(results, BATCH_ROWS)):
        for result in batch:
            write(result)
        yield from batch


def _finish(
    prepared: PreparedRun,
    run: OpenRun,
    engine: Engine,
    started_at: str,
    duration_s: float,
    network: dict[str, Any] | None,
    credentials_source: str,
) -> RunSummary:
    """Close this session in the journal and sum up the whole run (every session) from it."""
    s, journal, stats = prepared.settings, run.journal, engine.stats
    try:
        journal.flush()
    except JournalError as exc:
        raise _unsaved(exc, run) from None
    span = (stats.last_call_at - stats.first_call_at) if stats.first_call_at and stats.last_call_at else 0.0
    finished_at = utc_now_iso()
    sessions = [
        *run.params.get("sessions", []),
        {
            "started_at": started_at,
            "finished_at": finished_at,
            "duration_s": round(duration_s, 3),
            "calls": stats.calls,
            "call_span_s": round(span, 3),
            "resumed": run.resumed,
        },
    ]
    calls = sum(x["calls"] for x in sessions)
    spans = sum(x["call_span_s"] for x in sessions)
    summary = summarize(
        journal,
        run.params,
        run.out_dir,
        run_id=run.run_id,
        manifest=str(s.manifest),
        started_at=run.params.get("started_at", started_at),
        finished_at=finished_at,
        duration_s=round(sum(x["duration_s"] for x in sessions), 3),
        rows=prepared.rows,
        calls=calls,
        achieved_rate=round(sum(max(x["calls"] - 1, 0) for x in sessions) / spans, 3) if spans > 0 else 0.0,
        dry_run=s.dry_run,
        sessions=len(sessions),
        source_run=s.selection.public() if s.selection else None,
        not_in_manifest=prepared.missing,
        credentials_source=credentials_source,
        learned_rates=(
            {k: round(v, 2) for k, v in engine.pacers.rates.items()}
            if s.rate_auto is not None and engine.pacers is not None
            else None
        ),
        network=network,
        halted=engine.halt_reason,
        halt_code=engine.halt_code if engine.halt_reason else "",
    )
    timeline = {int(second): counts for second, *counts in run.params.get("timeline", [])}
    for second, counts in stats.timeline.items():
        timeline[second] = [a + b for a, b in zip(timeline.get(second, [0, 0, 0]), counts)]
    try:
        journal.set_params(
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
            f"that disk, then run `bulkretry report {run.out_dir}`",
            [],
            run.out_dir,
        ) from None
    log.info(
        "run %s finished: %s", run.run_id, summary.by_outcome, extra={"event": "finish", "fields": summary.as_dict()}
    )
    return summary


def _report_details(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the HTML report shows besides the rows: the run's public parameters and its timeline."""
    public = RunSettings(manifest=Path()).public_params()
    return {"params": {k: params[k] for k in public if k in params}, "timeline": params.get("timeline", [])}


def rebuild_reports(out_dir: Path, formats: tuple[str, ...] | None = None, lang: str = DEFAULT_LANG) -> RunResult:
    """Write the reports of the run in *out_dir* again from its journal (under its lock); no call is made.

    *formats* default to the run's own; *lang* is the reports' language (see ``write_reports``). A run that
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
                details=_report_details(params),
                lang=lang,
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
