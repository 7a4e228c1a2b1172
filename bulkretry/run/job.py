"""One ``bulkretry run`` or ``rerun`` from a prepared manifest to its ending (:func:`run_job`): the credentials
become an authenticator, the secrets of the manifest's ``csms:`` cells are fetched, a stop signal is honoured
before the first call, the garbage collector is tuned, the rows are called (a stop signal stops the engine, a
second one abandons the calls in flight), and the ending is summed up with its exit status.

The library never prints: what happens comes out through a :class:`JobObserver` (the CLI's progress bar, its
lines and its notifications), and the stop signals come in through a :class:`StopSource`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import anyio

from bulkretry.errors import BulkRetryError, Stopped, signal_exit_status
from bulkretry.oms.auth import Authenticator, authenticator_for
from bulkretry.oms.credentials import Credentials
from bulkretry.oms.network import Network
from bulkretry.records import RowResult, RunSummary
from bulkretry.run.engine import Engine
from bulkretry.run.prepare import PreparedRun, with_secrets
from bulkretry.run.resume import ChangedRows
from bulkretry.run.runner import RunResult, RunStart, execute
from bulkretry.run.summary import ended_status, report_file

__all__ = ["GRACE_S", "JobEnding", "JobObserver", "JobRequest", "StopSource", "run_job"]

#: How long calls in flight may take to finish after the first stop signal.
GRACE_S = 10.0


class StopSource(Protocol):
    """Where stop signals come from (the CLI's ``StopSignals``): the first one's name, and a hook called with the
    count of signals so far, from the signal handler."""

    name: str | None
    on_signal: Callable[[int], None] | None

    def requested(self) -> bool: ...


@dataclass(frozen=True)
class JobEnding:
    """How a run ended: what the CLI prints, the notification says and the exit status is."""

    exit_status: int
    #: The run's id: its summary's, else its folder's name, else its manifest's.
    run_id: str
    #: None when the run ended before it had one (a signal before the first call, a refused login, an error).
    summary: RunSummary | None = None
    files: tuple[Path, ...] = ()
    out_dir: Path | None = None
    #: The report to open (``report.html``, else the first file written), or the run's folder.
    report: str = ""
    #: Why the annotated manifest was not written (empty when it was, or was not asked for).
    note: str = ""
    #: Why the run halted (a systematic failure or the time box), and the error code of the rows not called.
    halted: str = ""
    halt_code: str = ""
    #: A forced resume of a changed manifest: rows skipped as finished that now hold a group never called.
    changed: ChangedRows = field(default_factory=ChangedRows)
    #: ``SIGINT`` or ``SIGTERM`` when a signal stopped the run.
    signal: str | None = None
    #: The one-line message of an error that ended the run (no secret: errors.py's messages hold none).
    error: str = ""
    #: The run's authenticator (an ``smn://`` notification is signed with it); None for a dry run.
    auth: Authenticator | None = field(default=None, repr=False, compare=False)

    @property
    def halt_shown(self) -> str:
        """Why the run halted, unless a signal stopped it (the signal is what people are told then)."""
        return self.halted if self.signal is None else ""


class JobObserver(Protocol):
    """What a run tells its caller, in this order: ``calling`` around the calls and the reports (the CLI: its
    progress bar and log file), ``started`` before the first call, ``row`` per finished row, ``ended`` once a
    run ended normally, and ``notify`` once, however it ended (an error or a second signal too, raised after)."""

    def calling(self) -> AbstractContextManager[None]: ...

    def started(self, start: RunStart) -> None: ...

    def row(self, result: RowResult) -> None: ...

    def ended(self, ending: JobEnding) -> None: ...

    def notify(self, ending: JobEnding) -> None: ...


@dataclass(frozen=True)
class JobRequest:
    """A run to do: the prepared manifest, the credentials (asked for once the manifest is read), the network
    and where stop signals come from."""

    prepared: PreparedRun
    credentials: Callable[[], Credentials] = field(repr=False)
    network: Network
    stops: StopSource
    #: An ``smn://`` target needs the credentials even for a dry run.
    needs_auth: bool = False


def run_job(request: JobRequest, observer: JobObserver) -> JobEnding:
    """Do the run of *request*, telling *observer* as it goes; its ending. Whatever the ending, the observer's
    ``notify`` is called once (an error or a second signal is raised after it)."""
    job = _Job(request, observer)
    try:
        ending = job.run()
        observer.ended(ending)
    except BulkRetryError as exc:
        observer.notify(job.failed(exc.exit_status, error=str(exc)))
        raise
    except KeyboardInterrupt:  # a second signal with no run to hand it to
        name = request.stops.name
        observer.notify(job.failed(signal_exit_status(name), signal=name or "SIGINT"))
        raise
    observer.notify(ending)
    return ending


class _Job:
    """The steps of :func:`run_job`, and what is known so far for an ending that comes early."""

    def __init__(self, request: JobRequest, observer: JobObserver) -> None:
        self.request, self.observer = request, observer
        settings = request.prepared.settings
        # What names the run before it has a summary: its folder when given, else its manifest.
        out_dir = settings.output.out_dir
        self.run_id = out_dir.name if out_dir is not None else settings.manifest.path.name
        self.auth: Authenticator | None = None
        self.ending: JobEnding | None = None

    def run(self) -> JobEnding:
        settings, request = self.request.prepared.settings, self.request
        request.network.check_trust(settings.target.endpoint)  # (as the client will): a bad bundle, no run folder
        if not settings.checks.dry_run or request.needs_auth:  # the ECS agency: its first keys are asked for here
            self.auth = authenticator_for(
                request.credentials(),
                timeout=settings.pacing.timeout,
                network=request.network,
            )
        if not settings.checks.dry_run and self.auth is not None:  # the csms: cells' secrets, before any OMS call
            request = self.request = replace(
                request, prepared=with_secrets(request.prepared, self.auth, request.network)
            )
        if request.stops.requested():  # stopped after the manifest was read: no run folder, no call
            raise Stopped("before the first call")
        with _gc_tuned(), self.observer.calling():
            calls = _Calls(request, self.observer, self.auth)
            result = calls.run()
        self.ending = self._ending(result, calls.out_dir)
        return self.ending

    def _ending(self, result: RunResult | None, out_dir: Path | None) -> JobEnding:
        signal = self.request.stops.name  # a signal while the reports were written counts too
        if result is None:
            return JobEnding(
                signal_exit_status(signal),
                out_dir.name if out_dir is not None else self.run_id,
                out_dir=out_dir,
                report=str(out_dir or ""),
                signal=signal,
                auth=self.auth,
            )
        summary = result.summary
        return JobEnding(
            _exit_status(result, signal),
            summary.run_id,
            summary,
            tuple(result.files),
            result.out_dir,
            report=str(report_file(summary, result.files)),
            note=result.note,
            halted=result.halted,
            halt_code=result.halt_code,
            changed=result.changed,
            signal=signal,
            auth=self.auth,
        )

    def failed(self, exit_status: int, *, error: str = "", signal: str | None = None) -> JobEnding:
        """The ending of a run that an error or a second signal ended, with what was known of it."""
        known = self.ending or JobEnding(exit_status, self.run_id, auth=self.auth)
        return replace(known, exit_status=exit_status, error=error, signal=known.signal or signal)


def _exit_status(result: RunResult, signal: str | None) -> int:
    """The contract's exit status of a run that ended with *result*: the signal's when one stopped it; 3 when a
    systematic failure halted it (not the ``--max-duration`` time box); 1 when a row failed, was invalid or
    interrupted; else 0."""
    if signal is not None:
        return signal_exit_status(signal)
    return ended_status(result.summary, halted=bool(result.halted) and result.halt_code == "halted")


@contextlib.contextmanager
def _gc_tuned() -> Iterator[None]:
    """The run allocates a few short-lived objects per call and keeps few cycles: freeze what the imports made
    and collect the youngest generation less often. Measured: about 4 % less CPU per call."""
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class _Calls:
    """The calls of one run in an event loop of their own, stopped by the stop signals: the first stops new
    calls at once and gives the calls in flight a grace period; a second abandons them."""

    def __init__(self, request: JobRequest, observer: JobObserver, auth: Authenticator | None) -> None:
        self.request, self.observer, self.auth = request, observer, auth
        self.engine: Engine | None = None
        self.out_dir: Path | None = None
        self.graced = False

    def run(self) -> RunResult | None:
        """The run's result; None when it was cancelled (the signal's name is then kept, SIGINT if none came)."""
        try:
            return anyio.run(self._main, backend="asyncio")
        except (asyncio.CancelledError, KeyboardInterrupt):
            stops = self.request.stops
            stops.name = stops.name or "SIGINT"
            return None

    def _started(self, start: RunStart) -> None:
        self.engine, self.out_dir = start.engine, start.out_dir
        self.observer.started(start)

    async def _main(self) -> RunResult:
        request = self.request
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        grace = min(GRACE_S, request.prepared.settings.pacing.timeout)

        def on_loop(count: int) -> None:
            if count > 1:
                task.cancel()
            elif self.engine is not None and not self.graced:
                self.graced = True
                self.engine.stop()  # wakes the rows waiting to retry
                loop.call_later(grace, task.cancel)
            # no engine yet: execute() asks should_stop before the first call

        def on_signal(count: int) -> None:  # in the signal handler: a flag, and the rest on the loop
            if self.engine is not None:
                self.engine.stop_now()  # no new call from this instant
            with contextlib.suppress(RuntimeError):  # the loop is closing: nothing left to stop
                loop.call_soon_threadsafe(on_loop, count)

        request.stops.on_signal = on_signal
        try:
            return await execute(
                request.prepared,
                self.auth,
                on_result=self.observer.row,
                on_start=self._started,
                should_stop=request.stops.requested,
                network=request.network,
            )
        finally:
            request.stops.on_signal = None
