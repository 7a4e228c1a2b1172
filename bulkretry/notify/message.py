"""The text of a run's notification: a title and a short body, within every target's limits.

The body holds the run id, the counts by outcome, the top 3 error codes, the duration, how the run ended and
where the report is; the title says the verdict in a few words. Every target gets the same text as plain
text, within :data:`BODY_MAX_BYTES` (WeCom's bots take 2,048 bytes of text, less than anyone else) and
:data:`TITLE_MAX_BYTES` (SMN takes 512 bytes of subject), cut at UTF-8 character boundaries. The sentences go
through *gettext* (identity by default) so the text can be translated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from bulkretry.i18n.times import people_time
from bulkretry.records import RunSummary
from bulkretry.report.common import run_action
from bulkretry.report.labels import action_words
from bulkretry.report.verdict import called_words, outcome_counts, set_aside_words

__all__ = ["BODY_MAX_BYTES", "TITLE_MAX_BYTES", "Ending", "Message", "cut_bytes", "render"]

#: The largest body sent, title included (WeCom's text messages: 2,048 bytes; Apprise puts the title in them).
BODY_MAX_BYTES = 2000
#: The largest title (SMN subjects: 512 bytes).
TITLE_MAX_BYTES = 200


@dataclass(frozen=True)
class Ending:
    """How a run ended, as the CLI knows it when it exits: what the notification says."""

    exit_status: int
    #: The run's summary; None when the run stopped before it had one (a signal before the first call, a
    #: refused login, an error).
    summary: RunSummary | None = None
    #: The report to open (``report.html``, else the first file written), or the run's folder.
    report: str = ""
    #: Why the run halted (``halted`` or ``max_duration`` rows), empty when it did not.
    halted: str = ""
    #: ``SIGINT`` or ``SIGTERM`` when a signal stopped the run.
    signal: str | None = None
    #: The one-line message of an error that ended the run (no secret: errors.py's messages hold none).
    error: str = ""
    #: The run's id when there is no summary (e.g. its folder's name).
    run_id: str = ""

    @property
    def failed(self) -> bool:
        return self.exit_status != 0


class Message(NamedTuple):
    title: str
    body: str


def _identity(text: str) -> str:
    return text


def render(
    ending: Ending,
    *,
    gettext: Callable[[str], str] = _identity,
    outcome_name: Callable[[str], str] = _identity,
    max_bytes: int = BODY_MAX_BYTES,
    tz: str | None = None,
    message: Callable[[str], str] = _identity,
) -> Message:
    """The notification of *ending*: a title of at most :data:`TITLE_MAX_BYTES` and a body such that title,
    a line break and body take at most *max_bytes* UTF-8 bytes. *gettext* translates the sentences and
    *outcome_name* names an outcome (``failed``) in the text's language; *message* says one of our own messages
    (a halt's reason) in it; with a zone *tz*, a line says when the run finished, in that zone (the CLI always
    gives one: ``--tz`` or the machine's)."""
    _ = gettext
    summary = ending.summary
    run_id = summary.run_id if summary is not None else ending.run_id
    if ending.signal:
        verdict = _("stopped by {signal}").format(signal=ending.signal)
    elif ending.error:
        verdict = _("ended with an error")
    elif ending.halted:
        verdict = _("halted")
    elif ending.failed:
        verdict = _("some rows failed")
    else:
        verdict = _("succeeded")
    title = cut_bytes(
        _("bulkretry run {run_id}: {verdict}").format(run_id=run_id or "?", verdict=verdict), TITLE_MAX_BYTES
    )
    lines = [_("Run: {run_id}").format(run_id=run_id or "?")]
    if summary is not None and not run_action(summary).is_default:  # a retry's notification is as it was
        lines.append(_("Action: {action}").format(action=action_words(run_action(summary))))
    if summary is not None:
        lines.extend(_counted(summary, _, outcome_name))
    if summary is not None and tz is not None:
        lines.append(_("Finished: {when}").format(when=people_time(summary.finished_at, tz) or "—"))
    if ending.halted:
        lines.append(_("Halted: {why}").format(why=message(ending.halted)))
    if ending.signal:
        lines.append(_("Stopped by {signal}: unfinished rows are interrupted").format(signal=ending.signal))
    if ending.error:
        lines.append(_("Error: {error}").format(error=ending.error))
    lines.append(_("Exit status: {status}").format(status=ending.exit_status))
    if ending.report:
        lines.append(_("Report: {path}").format(path=ending.report))
    room = max_bytes - len(title.encode("utf-8")) - 1
    return Message(title, _fit(lines, room))


def _counted(summary: RunSummary, _: Callable[[str], str], outcome_name: Callable[[str], str]) -> list[str]:
    """The lines of the run's counts: its rows by outcome; with rows set aside, how many of the rows called
    succeeded and the rows not called, with why; the top 3 error codes (of failing rows only); the duration."""
    tally = summary.tally()
    counts = outcome_counts(tally, _, outcome_name)
    lines = [_("Rows: {rows} ({counts})").format(rows=summary.rows, counts=counts or _("none"))]
    if tally.rate_told:
        lines.append(called_words(tally, _))
    if tally.set_aside:
        lines.append(_("Not called: {rows}").format(rows=set_aside_words(tally, _, outcome_name)))
    codes = tally.top_errors()
    if codes:
        lines.append(_("Top errors: {codes}").format(codes=_(", ").join(f"{c} ×{n}" for c, n in codes)))
    lines.append(_("Duration: {duration}").format(duration=_duration(summary.duration_s)))
    return lines


def _duration(seconds: float) -> str:
    """``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _fit(lines: list[str], room: int) -> str:
    """*lines* joined, within *room* bytes: the report's line is kept whole when it fits, the longest lines are
    shortened first (an error message or a halt reason can be long), and the whole is cut last."""
    body = "\n".join(lines)
    if len(body.encode("utf-8")) <= room:
        return body
    budget = max(80, room // max(1, len(lines)))
    lines = [line if len(line.encode("utf-8")) <= budget else cut_bytes(line, budget - 3) + "…" for line in lines]
    return cut_bytes("\n".join(lines), room)


def cut_bytes(text: str, limit: int) -> str:
    """*text* within *limit* UTF-8 bytes, cut at a character boundary (never half a character)."""
    raw = text.encode("utf-8")
    return text if len(raw) <= limit else raw[: max(0, limit)].decode("utf-8", errors="ignore")
