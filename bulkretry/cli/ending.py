"""What the terminal is told when a run ends: the summary line, the notes and warnings, the ``--json-summary``
document, and the ``--notify`` warnings."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # for annotations only: imported lazily, so `bulkretry --help` stays fast
    from bulkretry.notify.send import Target
    from bulkretry.oms.actions import Action
    from bulkretry.oms.network import Network
    from bulkretry.records import RunSummary
    from bulkretry.run.job import JobEnding

__all__ = ["Notifier", "Told", "print_ending", "summary_line", "terminal_words"]


@dataclass(frozen=True)
class Told:
    """What the lines at the end of a run say besides its ending: the run's manifest and action, in which
    language, and whether the summary goes out as JSON."""

    manifest: Path
    action: Action
    lang: str
    json_summary: bool = False


def summary_line(summary: RunSummary, files: Sequence[Path], lang: str = "en", action: Action | None = None) -> str:
    """The line printed at the end of a run, in *lang* (English names the outcomes as the csv does); it names
    *action* when it is not the default (``24 rows (start tasks): ...``)."""
    from bulkretry.i18n import translation
    from bulkretry.run.summary import report_file

    _ = translation(lang).gettext
    codes = [(c, n) for c, n in summary.by_error_code.items() if c not in ("duplicate",)][:3]
    top = _(" · top errors: {codes}").format(codes=_(", ").join(f"{c} ×{n}" for c, n in codes)) if codes else ""
    if action is None or action.is_default:
        line = _("{rows} rows: {counts}{top} · {duration} s · {calls} calls at {rate}/s · report: {report}")
    else:
        line = _("{rows} rows ({action}): {counts}{top} · {duration} s · {calls} calls at {rate}/s · report: {report}")
    return line.format(
        rows=summary.rows,
        action=terminal_words(action) if action is not None else "",
        counts=_outcome_counts(summary, lang) or _("nothing"),
        top=top,
        duration=f"{summary.duration_s:.1f}",
        calls=summary.calls,
        rate=f"{summary.achieved_rate:g}",
        report=report_file(summary, files),
    )


def terminal_words(action: Action) -> str:
    """``start tasks``: the action and its target, as the summary line and the progress bar name them (the
    reports and notifications say ``start (tasks)``: ``report.labels.action_words``)."""
    return f"{action.name} {action.target}"


def _outcome_counts(summary: RunSummary, lang: str) -> str:
    """``8 succeeded, 2 failed``: the outcomes that occurred, in the csv's words (English) or *lang*'s."""
    from bulkretry.i18n import DEFAULT_LANG, translation
    from bulkretry.report.charts import outcome_label

    _ = translation(lang).gettext
    order = ["succeeded", "failed", "invalid", "duplicate", "skipped", "dry_run", "interrupted"]
    return _(", ").join(
        _("{count} {outcome}").format(
            count=summary.by_outcome[k], outcome=k if lang == DEFAULT_LANG else outcome_label(k, lang)
        )
        for k in order
        if summary.by_outcome.get(k)
    )


def print_ending(ending: JobEnding, told: Told, *, out: TextIO, err: TextIO) -> None:
    """Print how the run ended: the summary line (on *err* with ``--json-summary``), its notes and warnings, the
    signal that stopped it, then the JSON summary."""
    manifest, json_summary = told.manifest, told.json_summary
    if ending.summary is not None:
        line = summary_line(ending.summary, ending.files, told.lang, told.action)
        print(line, file=err if json_summary else out)
        _print_notes(ending, manifest, err)
    if ending.signal is not None:
        print(_signal_line(ending, manifest), file=err)
    if json_summary:
        print(_json_summary(ending), file=out)


def _continue_with(manifest: Path, out_dir: Path | None) -> str:
    return (
        f"continue with: bulkretry run {shlex.quote(str(manifest))} --out {shlex.quote(str(out_dir))} --resume "
        "(and the same options)"
    )


def _print_notes(ending: JobEnding, manifest: Path, err: TextIO) -> None:
    """The annotated manifest not written, the groups a forced resume did not call, and a halt."""
    if ending.note:
        print(f"note: no annotated manifest: {ending.note}", file=err)
    changed = ending.changed
    if changed.rows:
        print(
            f"bulkretry: warning: {changed.rows} rows finished in an earlier session now hold other groups "
            f"(the manifest changed, and --force resumed anyway), so those groups were not called: "
            f"{', '.join(changed.first)}{', ...' if changed.rows > len(changed.first) else ''}; call them "
            "with a new run (without --resume) of a manifest that lists them",
            file=err,
        )
    if ending.halt_shown:
        boxed = ending.halt_code == "max_duration"
        fix = "" if boxed else "fix the cause, then "
        print(
            f"bulkretry: {'the time box ended' if boxed else 'the run halted'}: {ending.halted}; the "
            f"rows not called are interrupted (error code {ending.halt_code}): {fix}"
            + _continue_with(manifest, ending.out_dir),
            file=err,
        )


def _signal_line(ending: JobEnding, manifest: Path) -> str:
    where = f"; report in {ending.out_dir}; " + _continue_with(manifest, ending.out_dir) if ending.out_dir else ""
    return f"bulkretry: stopped by {ending.signal}; unfinished rows are marked interrupted{where}"


def _json_summary(ending: JobEnding) -> str:
    data = ending.summary.as_dict() if ending.summary is not None else {}
    return json.dumps(
        {
            **data,
            "files": [str(f) for f in ending.files],
            "signal": ending.signal,
            "halted": ending.halted or None,
            "exit_status": ending.exit_status,
        },
        ensure_ascii=False,
    )


class Notifier:
    """The ``--notify`` targets of a run, sent its ending (per ``--notify-on``); what could not be sent is a
    warning on *err* and in the log file, and changes nothing else."""

    def __init__(
        self,
        targets: Sequence[Target],
        network: Network,
        lang: str,
        *,
        only_failures: bool,
        log_file: Path | None,
        budget: float,
    ) -> None:
        self.targets, self.network, self.lang = targets, network, lang
        self.only_failures, self.log_file, self.budget = only_failures, log_file, budget

    def send(self, ending: JobEnding, err: TextIO) -> None:
        from bulkretry.errors import EXIT_OK

        if not self.targets or (self.only_failures and ending.exit_status == EXIT_OK):
            return
        import logging

        from bulkretry.cli.logfile import json_log
        from bulkretry.notify.deliver import notify_ending
        from bulkretry.notify.message import Ending

        told = Ending(
            ending.exit_status,
            ending.summary,
            report=ending.report,
            halted=ending.halt_shown,
            signal=ending.signal,
            error=ending.error,
            run_id=ending.run_id,
        )
        warnings = notify_ending(
            self.targets, told, lang=self.lang, network=self.network, auth=ending.auth, budget=self.budget
        )
        log = logging.getLogger("bulkretry.notify")
        with json_log(self.log_file if warnings else None, err):
            for warning in warnings:
                print(f"bulkretry: warning: {warning}", file=err)
                log.warning("%s", warning, extra={"event": "notify_failed", "fields": {}})
