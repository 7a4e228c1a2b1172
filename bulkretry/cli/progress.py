"""The terminal side of a run: a tqdm progress bar, the ``--log-file``, and the lines and notifications at its
end (the run's :class:`~bulkretry.run.job.JobObserver`).

First Ctrl-C (or SIGTERM): no new calls; calls in flight get a short grace period; the rest of the
rows are marked ``interrupted`` and every report is written. A second Ctrl-C aborts the calls in flight at
once, still recording them as ``interrupted``. The handlers are in :mod:`bulkretry.cli.signals`, the stopping
in :mod:`bulkretry.run.job`.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bulkretry.cli.ending import Notifier, Told, outcome_name, print_ending, terminal_words
from bulkretry.cli.logfile import json_log
from bulkretry.i18n import translation
from bulkretry.records import SET_ASIDE, RowResult
from bulkretry.run.engine import Engine
from bulkretry.run.job import JobEnding
from bulkretry.run.prepare import PreparedRun
from bulkretry.run.runner import RunStart

__all__ = ["POSTFIX_EVERY_S", "Terminal", "TerminalRun"]

#: How often the bar's counts are made again: tqdm redraws the bar at most every 0.1 s (its ``mininterval``).
POSTFIX_EVERY_S = 0.1


@dataclass(frozen=True)
class Terminal:
    """Where and how a run talks: the streams, ``--quiet``, ``--json-summary``, ``--log-file``, and the language
    of the progress bar's words."""

    out: TextIO
    err: TextIO
    quiet: bool = False
    json_summary: bool = False
    log_file: Path | None = None
    lang: str = "en"


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
        self._postfix_due = 0.0  # when the bar's counts are made again (time.monotonic)
        self.lang = terminal.lang
        self._ = translation(self.lang).gettext
        self._outcome = outcome_name(self.lang)

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        """The log file and the progress bar (when one is shown), while the rows are called and the reports
        written."""
        with json_log(self.terminal.log_file, self.terminal.err):
            self.bar = bar = self._new_bar() if self.show else None
            try:
                yield
            finally:
                if bar is not None:
                    bar.set_postfix_str(self._postfix(), refresh=False)  # the last counts, whenever the last was made
                    bar.close()

    def _new_bar(self) -> Any:
        """The tqdm bar on the terminal (tqdm is imported only when a bar is shown: 10 ms a run)."""
        from tqdm import tqdm

        _ = self._
        tqdm.monitor_interval = 0  # no monitor thread: our bar is updated from one thread, often enough
        return tqdm(
            total=self.prepared.rows,
            file=self.terminal.err,
            unit=_("row"),
            dynamic_ncols=True,
            desc=_("dry run") if self.prepared.settings.checks.dry_run else self._calling(),
            smoothing=0.05,
        )

    def _calling(self) -> str:
        """The bar's description while the rows are called: ``retry groups``, ``start tasks``, ..."""
        return terminal_words(self.prepared.action, self.lang)

    def started(self, start: RunStart) -> None:
        self.engine = start.engine
        if start.done and self.bar is not None:  # a resumed run: the whole run, from where the last session stopped
            bar = self.bar
            bar.reset(total=start.rows)
            bar.update(start.done)
            bar.set_description(self._("resuming"))

    def row(self, result: RowResult) -> None:
        self.counts[result.outcome] += 1  # a StrEnum: counts['succeeded'] finds it
        if not self.show:
            return
        self.bar.update(1)
        # The counts' text is made when the bar may show it, not once a row: tqdm redraws at most 10 times a second.
        now = time.monotonic()
        if now >= self._postfix_due:
            self._postfix_due = now + POSTFIX_EVERY_S
            self.bar.set_postfix_str(self._postfix(), refresh=False)

    def _postfix(self) -> str:
        """The bar's counts in the run's language (and the limit of ``--rate auto``): ``ok 12 · failed 1 · invalid
        0``, and the rows set aside apart, once there are any (``· skipped 20``)."""
        counts, _ = self.counts, self._
        pacers = self.engine.pacers if self.engine is not None else None
        auto = self.prepared.settings.pacing.rate_auto
        rate = _(" · limit {rate}/s").format(rate=f"{pacers.rate:.3g}") if pacers is not None and auto else ""
        aside = "".join(f" · {self._outcome(outcome)} {counts[outcome]}" for outcome in SET_ASIDE if counts[outcome])
        text = _("ok {ok} · failed {failed} · invalid {invalid}")
        return text.format(ok=counts["succeeded"], failed=counts["failed"], invalid=counts["invalid"]) + aside + rate

    def ended(self, ending: JobEnding) -> None:
        prepared, terminal = self.prepared, self.terminal
        settings = prepared.settings
        output = settings.output
        told = Told(
            settings.manifest.path, prepared.action, output.lang, json_summary=terminal.json_summary, tz=output.zone
        )
        print_ending(ending, told, out=terminal.out, err=terminal.err)

    def notify(self, ending: JobEnding) -> None:
        self.notifier.send(ending, self.terminal.err)
