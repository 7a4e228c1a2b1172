"""The terminal side of a run: a tqdm progress bar, the ``--log-file``, and the lines and notifications at its
end (the run's :class:`~bulkretry.run.job.JobObserver`).

First Ctrl-C (or SIGTERM): no new calls; calls in flight get a short grace period; the rest of the
rows are marked ``interrupted`` and every report is written. A second Ctrl-C aborts the calls in flight at
once, still recording them as ``interrupted``. The handlers are in :mod:`bulkretry.cli.signals`, the stopping
in :mod:`bulkretry.run.job`.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bulkretry.cli.ending import Notifier, Told, action_words, print_ending
from bulkretry.cli.logfile import json_log
from bulkretry.records import RowResult
from bulkretry.run.engine import Engine
from bulkretry.run.job import JobEnding
from bulkretry.run.prepare import PreparedRun
from bulkretry.run.runner import RunStart

__all__ = ["Terminal", "TerminalRun"]


@dataclass(frozen=True)
class Terminal:
    """Where and how a run talks: the streams, ``--quiet``, ``--json-summary`` and ``--log-file``."""

    out: TextIO
    err: TextIO
    quiet: bool = False
    json_summary: bool = False
    log_file: Path | None = None


class TerminalRun:
    """A run seen from the terminal: its progress bar on *err* (unless quiet or not a terminal), its log file, its
    closing lines and its notifications."""

    def __init__(self, prepared: PreparedRun, terminal: Terminal, notifier: Notifier) -> None:
        self.prepared, self.terminal, self.notifier = prepared, terminal, notifier
        self.counts: Counter[str] = Counter()
        self.engine: Engine | None = None
        err = terminal.err
        self.show = not terminal.quiet and hasattr(err, "isatty") and err.isatty()
        self.bar: Any = None

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        """The log file and the progress bar, while the rows are called and the reports written."""
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: our bar is updated from one thread, often enough
        with json_log(self.terminal.log_file, self.terminal.err):
            self.bar = bar = tqdm(
                total=self.prepared.rows,
                file=self.terminal.err,
                disable=not self.show,
                unit="row",
                dynamic_ncols=True,
                desc="dry run" if self.prepared.settings.checks.dry_run else self._calling(),
                smoothing=0.05,
            )
            try:
                yield
            finally:
                bar.close()

    def _calling(self) -> str:
        """The bar's description while the rows are called: ``retry groups``, ``start tasks``, ..."""
        return action_words(self.prepared.action)

    def started(self, start: RunStart) -> None:
        self.engine = start.engine
        if start.done:  # a resumed run: show the whole run, started where the last session stopped
            bar = self.bar
            bar.reset(total=start.rows)
            bar.update(start.done)
            bar.set_description("resuming")

    def row(self, result: RowResult) -> None:
        self.counts[result.outcome] += 1  # a StrEnum: counts['succeeded'] finds it
        if not self.show:
            return
        bar, counts = self.bar, self.counts
        bar.update(1)
        pacers = self.engine.pacers if self.engine is not None else None
        auto = self.prepared.settings.pacing.rate_auto
        rate = f" · limit {pacers.rate:.3g}/s" if pacers is not None and auto else ""
        bar.set_postfix_str(
            f"ok {counts['succeeded']} · failed {counts['failed']} · invalid {counts['invalid']}{rate}", refresh=False
        )

    def ended(self, ending: JobEnding) -> None:
        prepared, terminal = self.prepared, self.terminal
        settings = prepared.settings
        told = Told(settings.manifest.path, prepared.action, settings.output.lang, json_summary=terminal.json_summary)
        print_ending(ending, told, out=terminal.out, err=terminal.err)

    def notify(self, ending: JobEnding) -> None:
        self.notifier.send(ending, self.terminal.err)
