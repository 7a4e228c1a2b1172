"""The library's face for a script (re-exported by ``bulkretry``): run a manifest and read a run back, typed.

:func:`run_manifest` is ``bulkretry run`` without the terminal: the same :func:`~bulkretry.run.prepare.prepare`
and :func:`~bulkretry.run.job.run_job` the CLI calls, with an observer that stays silent (or the caller's) and
no stop signal but the caller's. :func:`read_report` reads a run folder's journal, as ``bulkretry report`` does,
without writing anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from bulkretry.oms.credentials import CredentialOptions
from bulkretry.oms.network import network_from
from bulkretry.oms.sources import load_credentials
from bulkretry.records import RowResult, RunSummary
from bulkretry.run.job import JobEnding, JobObserver, JobRequest, run_job
from bulkretry.run.prepare import prepare
from bulkretry.run.rundir import run_journal
from bulkretry.run.runner import RunStart
from bulkretry.run.settings import RunSettings
from bulkretry.run.summary import summarize

__all__ = ["RunReport", "SilentRun", "read_report", "run_manifest"]


class SilentRun:
    """A :class:`~bulkretry.run.job.JobObserver` that is told everything and says nothing (a script's default);
    *on_row*, when given, is called with each finished row."""

    def __init__(self, on_row: Callable[[RowResult], None] | None = None) -> None:
        self.on_row = on_row

    def calling(self) -> AbstractContextManager[None]:
        return nullcontext()

    def started(self, start: RunStart) -> None:
        pass

    def row(self, result: RowResult) -> None:
        if self.on_row is not None:
            self.on_row(result)

    def ended(self, ending: JobEnding) -> None:
        pass

    def notify(self, ending: JobEnding) -> None:
        pass


class _NeverStop:
    """No stop signal: a script stops a run by its own means (``Pacing.max_duration``, an exception)."""

    name: str | None = None
    on_signal: Callable[[int], None] | None = None

    def requested(self) -> bool:
        return False


def run_manifest(
    settings: RunSettings,
    *,
    env: Mapping[str, str] | None = None,
    credentials: CredentialOptions | None = None,
    observer: JobObserver | None = None,
) -> JobEnding:
    """Run *settings* as ``bulkretry run`` does, and return how it ended: ``ending.summary`` (the run's
    :class:`~bulkretry.records.RunSummary`), ``ending.files``, ``ending.exit_status`` (0, 1, 3 as the CLI's).

    The credentials, proxy and CA come from *env* (default: ``os.environ``) through the same chain as the CLI's,
    with *credentials* as its options. Nothing is printed and nothing is asked. What stops a run before any call
    is raised: ``ManifestError``, ``ConfigError``, ``CredentialsError`` (each with ``exit_status`` 2),
    ``LoginRefused`` and ``LoginUnavailable`` at the first IAM login.
    """
    env = dict(os.environ if env is None else env)
    prepared = prepare(settings, env)
    options = credentials or CredentialOptions()
    network = network_from(env, verify=settings.target.verify_tls)
    request = JobRequest(prepared, lambda: load_credentials(env, options), network, _NeverStop())
    return run_job(request, observer or SilentRun())


@dataclass(frozen=True)
class RunReport:
    """A run read back from its folder: its summary, and its rows (read from the journal as they are iterated)."""

    summary: RunSummary
    out_dir: Path

    def rows(self) -> Iterator[RowResult]:
        """Every row of the run in manifest order, one :class:`~bulkretry.records.RowResult` at a time."""
        with run_journal(self.out_dir) as journal:
            yield from journal.results()


def read_report(run_dir: str | os.PathLike[str]) -> RunReport:
    """The run in *run_dir* (a folder with a ``journal.sqlite``), read only: its summary, and its rows through
    :meth:`RunReport.rows`. A folder that holds no run is a ``ConfigError``."""
    out_dir = Path(run_dir)
    with run_journal(out_dir) as journal:
        summary = summarize(journal, journal.params(), out_dir)
    return RunReport(summary, out_dir)
