"""What the terminal is told when a run ends: the summary line, the notes and warnings, the ``--json-summary``
document, and the ``--notify`` warnings."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # for annotations only: imported lazily, so `bulkretry --help` stays fast
    from bulkretry.i18n.times import Locale
    from bulkretry.notify.send import Target
    from bulkretry.oms.actions import Action
    from bulkretry.oms.network import Network
    from bulkretry.records import RunSummary, Tally
    from bulkretry.run.job import JobEnding

__all__ = ["Notifier", "NotifyRule", "Told", "outcome_name", "print_ending", "summary_line", "terminal_words"]


@dataclass(frozen=True)
class Told:
    """What the lines at the end of a run say besides its ending: the run's manifest and action, in which
    language and time zone, and whether the summary goes out as JSON."""

    manifest: Path
    action: Action
    lang: str
    json_summary: bool = False
    #: The zone of the time the summary line shows (None: the machine's).
    tz: str | None = None


def summary_line(
    summary: RunSummary, files: Sequence[Path], lang: str = "en", action: Action | None = None, tz: str | None = None
) -> str:
    """The line printed at the end of a run, in *lang* (English names the outcomes as the csv does); it names
    *action* when it is not the default (``24 rows (start tasks): ...``). The top errors are the failing rows'
    only; when rows were set aside, the success rate over the rows called follows, and the rows not called, with
    why; the time the run finished is in *tz* (None: the machine's zone)."""
    from bulkretry.i18n import translation
    from bulkretry.i18n.times import people_time
    from bulkretry.run.summary import report_file

    _ = translation(lang).gettext
    tally = summary.tally()
    codes = tally.top_errors()
    top = _(" · top errors: {codes}").format(codes=_(", ").join(f"{c} ×{n}" for c, n in codes)) if codes else ""
    if action is None or action.is_default:
        line = _(
            "{rows} rows: {counts}{top}{called} · {duration} s · {calls} at {rate}/s · finished {finished} · "
            "report: {report}"
        )
    else:
        line = _(
            "{rows} rows ({action}): {counts}{top}{called} · {duration} s · {calls} at {rate}/s · "
            "finished {finished} · report: {report}"
        )
    return line.format(
        rows=summary.rows,
        action=terminal_words(action, lang) if action is not None else "",
        counts=_outcome_counts(tally, lang) or _("nothing"),
        called=_called(tally, lang),
        top=top,
        duration=f"{summary.duration_s:.1f}",
        calls=_calls(summary, _),
        rate=f"{summary.achieved_rate:g}",
        finished=people_time(summary.finished_at, tz) or "—",
        report=report_file(summary, files),
    )


def terminal_words(action: Action, lang: str = "en") -> str:
    """``start tasks``: the action (a value to type, never translated) and its target in *lang*'s words, as the
    summary line and the progress bar name them (the reports and notifications say ``start (tasks)``:
    ``report.labels.action_words``)."""
    from bulkretry.i18n import translation
    from bulkretry.i18n.messages import TARGET_PLURALS

    return f"{action.name} {translation(lang).gettext(TARGET_PLURALS[action.target])}"


def _outcome_counts(tally: Tally, lang: str) -> str:
    """``8 succeeded, 2 failed, 20 skipped``: the outcomes that occurred, in the csv's words (English) or *lang*'s."""
    from bulkretry.i18n import translation
    from bulkretry.report.verdict import outcome_counts

    return outcome_counts(tally, translation(lang).gettext, outcome_name(lang))


def _called(tally: Tally, lang: str) -> str:
    """`` · 5 of 6 rows called succeeded (83.3%) · not called: 20 skipped (not in a status the action accepts, or
    to fix first)`` when rows were set aside; '' when none was."""
    from bulkretry.i18n import translation
    from bulkretry.report.verdict import called_words, set_aside_words

    if not tally.set_aside:
        return ""
    _ = translation(lang).gettext
    called = " · " + called_words(tally, _) if tally.rate_told else ""
    return called + _(" · not called: {rows}").format(rows=set_aside_words(tally, _, outcome_name(lang)))


def outcome_name(lang: str) -> Callable[[str], str]:
    """How the summary line names an outcome: as the csv does in English, in *lang*'s words otherwise."""
    from functools import partial

    from bulkretry.i18n import DEFAULT_LANG

    if lang == DEFAULT_LANG:  # the csv's value (report.charts, which has the words, is not loaded for it)
        return str
    from bulkretry.report.charts import outcome_word

    return partial(outcome_word, lang=lang)


def _calls(summary: RunSummary, _: Callable[[str], str]) -> str:
    """``6 calls``, ``6 calls and 26 status reads``: the action's calls, and the status reads apart."""
    reads = _(" and {reads} status reads").format(reads=summary.status_reads) if summary.status_reads else ""
    return _("{calls} calls").format(calls=summary.calls) + reads


def print_ending(ending: JobEnding, told: Told, *, out: TextIO, err: TextIO) -> None:
    """Print how the run ended: the summary line (on *err* with ``--json-summary``), its notes and warnings, the
    signal that stopped it, then the JSON summary (machine data: never translated)."""
    from bulkretry.i18n import translation

    json_summary = told.json_summary
    _ = translation(told.lang).gettext
    if ending.summary is not None:
        line = summary_line(ending.summary, ending.files, told.lang, told.action, told.tz)
        print(line, file=err if json_summary else out)
        _print_notes(ending, told, err)
    if ending.signal is not None:
        print(_signal_line(ending, told.manifest, _), file=err)
    if json_summary:
        print(_json_summary(ending), file=out)


def _continue_with(manifest: Path, out_dir: Path | None, _: Callable[[str], str]) -> str:
    return _("continue with: {command} (and the same options)").format(
        command=f"bulkretry run {shlex.quote(str(manifest))} --out {shlex.quote(str(out_dir))} --resume"
    )


def _print_notes(ending: JobEnding, told: Told, err: TextIO) -> None:
    """The annotated manifest not written, the groups a forced resume did not call, and a halt, in the run's
    language."""
    from bulkretry.i18n import translation
    from bulkretry.i18n.messages import translate

    _ = translation(told.lang).gettext
    if ending.note:
        print(_("note: no annotated manifest: {why}").format(why=translate(ending.note, told.lang)), file=err)
    changed = ending.changed
    if changed.rows:
        more = ", ..." if changed.rows > len(changed.first) else ""
        # Two messages, not ngettext: the catalog's tools keep no plural forms, and Chinese has one.
        if changed.rows == 1:
            text = _(
                "bulkretry: warning: {rows} row finished in an earlier session now holds another group (the "
                "manifest changed, and --force resumed anyway), so that group was not called: {groups}; call it "
                "with a new run (without --resume) of a manifest that lists it"
            )
        else:
            text = _(
                "bulkretry: warning: {rows} rows finished in an earlier session now hold other groups (the manifest "
                "changed, and --force resumed anyway), so those groups were not called: {groups}; call them with a "
                "new run (without --resume) of a manifest that lists them"
            )
        print(text.format(rows=changed.rows, groups=_(", ").join(changed.first) + more), file=err)
    if ending.halt_shown:
        print(_halt_line(ending, told, _), file=err)


def _halt_line(ending: JobEnding, told: Told, _: Callable[[str], str]) -> str:
    """``bulkretry: the run halted: <why>; ...``: the halt's reason in the run's language, its code as it is."""
    from bulkretry.i18n.messages import translate

    if ending.halt_code == "max_duration":
        line = _(
            "bulkretry: the time box ended: {why}; the rows not called are interrupted (error code {code}): {resume}"
        )
    else:
        line = _(
            "bulkretry: the run halted: {why}; the rows not called are interrupted (error code {code}): fix the "
            "cause, then {resume}"
        )
    return line.format(
        why=translate(ending.halted, told.lang),
        code=ending.halt_code,
        resume=_continue_with(told.manifest, ending.out_dir, _),
    )


def _signal_line(ending: JobEnding, manifest: Path, _: Callable[[str], str]) -> str:
    if not ending.out_dir:
        return _("bulkretry: stopped by {signal}; unfinished rows are marked interrupted").format(signal=ending.signal)
    return _(
        "bulkretry: stopped by {signal}; unfinished rows are marked interrupted; report in {dir}; {resume}"
    ).format(signal=ending.signal, dir=ending.out_dir, resume=_continue_with(manifest, ending.out_dir, _))


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


@dataclass(frozen=True)
class NotifyRule:
    """When a run's ending is sent (``--notify-on``: ``always``, ``failure`` or ``change``) and where its report
    is published (``--report-url``: the URL of the runs folder, or empty)."""

    on: str = "always"
    report_url: str = ""

    def wants(self, ending: JobEnding) -> bool:
        """Whether *ending* is sent: always; on a failure, when the exit status is not 0; on a change, on a halt,
        a signal or an error, and when the rows failing or their error codes differ from the previous round's."""
        from bulkretry.errors import EXIT_OK

        if self.on == "failure":
            return ending.exit_status != EXIT_OK
        if self.on != "change" or ending.halted or ending.signal or ending.error or ending.out_dir is None:
            return True
        from bulkretry.history import round_changed

        return round_changed(ending.out_dir)

    def report(self, ending: JobEnding) -> str:
        """Where the report is: its absolute path, and its URL under ``--report-url``."""
        if not ending.report:
            return ""
        path = Path(ending.report).absolute()
        if not self.report_url or ending.out_dir is None:
            return str(path)
        within = path.relative_to(ending.out_dir.absolute()).as_posix() if path != ending.out_dir.absolute() else ""
        return f"{path} · {self.report_url.rstrip('/')}/{ending.out_dir.name}/{within}"


class Notifier:
    """The ``--notify`` targets of a run, sent its ending (per its :class:`NotifyRule`); what could not be sent is
    a warning on *err* and in the log file, and changes nothing else."""

    def __init__(
        self,
        targets: Sequence[Target],
        network: Network,
        locale: Locale,
        *,
        rule: NotifyRule,
        log_file: Path | None,
        budget: float,
    ) -> None:
        self.targets, self.network, self.locale = targets, network, locale
        self.rule, self.log_file, self.budget = rule, log_file, budget

    def send(self, ending: JobEnding, err: TextIO) -> None:
        if not self.targets or not self.rule.wants(ending):
            return
        import logging

        from bulkretry.cli.logfile import json_log
        from bulkretry.notify.deliver import notify_ending
        from bulkretry.notify.message import Ending

        told = Ending(
            ending.exit_status,
            ending.summary,
            report=self.rule.report(ending),
            halted=ending.halt_shown,
            signal=ending.signal,
            error=ending.error,
            run_id=ending.run_id,
        )
        warnings = notify_ending(
            self.targets, told, locale=self.locale, network=self.network, auth=ending.auth, budget=self.budget
        )
        log = logging.getLogger("bulkretry.notify")
        with json_log(self.log_file if warnings else None, err):
            for warning in warnings:
                print(f"bulkretry: warning: {warning}", file=err)
                log.warning("%s", warning, extra={"event": "notify_failed", "fields": {}})
