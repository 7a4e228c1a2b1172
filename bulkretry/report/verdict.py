"""How a run went, in words: report.html's verdict (one word and one sentence, and the command to run next), in the
words of the run's action (a retry's own, "All retried"; another action's without the word "retry"), and the
phrases of its :class:`~bulkretry.records.Tally` that the summary line and the notification say too (the outcome
counts, the rows called and how many succeeded, the rows set aside and why), so every surface tells one story."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bulkretry.i18n import N_
from bulkretry.oms.actions import DEFAULT_ACTION, Action
from bulkretry.records import SET_ASIDE, Outcome, RunSummary, Tally
from bulkretry.report.labels import action_label

__all__ = [
    "COUNT_ORDER",
    "WHY_SET_ASIDE",
    "Verdict",
    "called_words",
    "outcome_counts",
    "set_aside_words",
    "verdict",
]

Words = Callable[[str], str]

#: The outcomes in the order the summary line and the notification count them.
COUNT_ORDER = tuple(outcome.value for outcome in Outcome)
#: Why a row set aside was not called (msgids, in their parentheses after a space, which Chinese does without), by
#: its outcome.
WHY_SET_ASIDE = {
    Outcome.SKIPPED.value: N_(" (not in a status the action accepts, or to fix first)"),
    Outcome.DUPLICATE.value: N_(" (listed before in the manifest)"),
}


def _same(text: str) -> str:
    return text


def outcome_counts(
    tally: Tally, _: Words, name: Words = _same, *, why: bool = False, only: tuple[str, ...] = COUNT_ORDER
) -> str:
    """``5 succeeded, 1 failed, 20 skipped``: the outcomes (of *only*) that occurred, each named by *name*; with
    *why*, a row set aside says why it was not called (``20 skipped (not in a status the action accepts, or to fix
    first)``). '' for none."""
    counts = []
    for outcome in only:
        count = getattr(tally, outcome)
        if count:
            said = _("{count} {outcome}").format(count=count, outcome=name(outcome))
            if why and outcome in WHY_SET_ASIDE:
                said += _(WHY_SET_ASIDE[outcome])
            counts.append(said)
    return _(", ").join(counts)


def called_words(tally: Tally, _: Words) -> str:
    """``5 of 6 rows called succeeded (83.3%)``: the success rate, over the rows called ('' when none was)."""
    rate = tally.success_rate
    if rate is None:
        return ""
    return _("{ok} of {called} rows called succeeded ({share})").format(
        ok=f"{tally.succeeded:,}", called=f"{tally.called:,}", share=f"{rate:.1%}"
    )


def set_aside_words(tally: Tally, _: Words, name: Words = _same) -> str:
    """``20 skipped (not in a status the action accepts, or to fix first), 1 duplicate (listed before in the
    manifest)``: the rows the run chose not to call, and why ('' when there were none)."""
    return outcome_counts(tally, _, name, why=True, only=SET_ASIDE)


@dataclass(frozen=True)
class _Words:
    """The verdict's words that name the action (msgids; ``{action}`` is the action's label)."""

    no_rows: str
    not_done: str
    all_word: str
    all_sentence: str


_RETRY = _Words(
    N_("The manifest had no rows to retry."),
    N_("{bad} of {total} rows were not retried{share}: see the error codes below."),
    N_("All retried"),
    N_("Every task group was retried: {ok} of {total} rows succeeded."),
)
_OTHER = _Words(
    N_("The manifest had no rows to call."),
    N_("{bad} of {total} rows did not succeed{share}: see the error codes below."),
    N_("All done"),
    N_("Every row succeeded ({action}): {ok} of {total} rows."),
)


@dataclass(frozen=True)
class Verdict:
    """The page's verdict: its tone (``ok``, ``warn``, ``bad``, ``info``), word, sentence and the command to run
    next ('' for none)."""

    tone: str
    word: str
    sentence: str
    command: str = ""


def verdict(s: RunSummary, action: Action, tally: Tally, _: Words, name: Words = _same) -> Verdict:
    """How the run *s* of *action* went, from its *tally*: the rows set aside (skipped, duplicate) are said apart,
    with why, and are neither counted against the run nor in its success rate (*name* names an outcome)."""
    words = _RETRY if action.name == DEFAULT_ACTION else _OTHER
    total = tally.rows
    if s.dry_run:
        return Verdict(
            "info", _("Dry run"), _("{total} rows were checked; nothing was called.").format(total=f"{total:,}")
        )
    if total == 0:
        return Verdict("info", _("No rows"), _(words.no_rows))
    aside = set_aside_words(tally, _, name)
    due = total - tally.set_aside  # the rows the run was to call
    if due == 0:
        return Verdict("info", _("Nothing called"), _("No row was called: {rows}.").format(rows=aside))
    aside = _(" Not called: {rows}.").format(rows=aside) if aside else ""
    rate = tally.success_rate
    share = _(" ({share} of the rows called succeeded)").format(share=f"{rate:.1%}") if rate is not None else ""
    if tally.interrupted:
        return _interrupted(tally, due, share, aside, _)
    if tally.not_done:
        sentence = _(words.not_done).format(bad=f"{tally.not_done:,}", total=f"{due:,}", share=share)
        return Verdict("bad", _("Needs attention"), sentence + aside)
    sentence = _(words.all_sentence).format(ok=f"{tally.succeeded:,}", total=f"{due:,}", action=_(action_label(action)))
    return Verdict("ok", _(words.all_word), sentence + aside)


def _interrupted(tally: Tally, due: int, share: str, aside: str, _: Words) -> Verdict:
    """The verdict of a run that left rows unfinished (out of the *due* rows it was to call), with the *share* that
    succeeded and the rows not called (*aside*), and the command that continues it."""
    bad = tally.not_done
    also = _(", and {bad} failed or were invalid").format(bad=f"{bad:,}") if bad else ""
    return Verdict(
        "warn",
        _("Interrupted"),
        _("{interrupted} of {total} rows were not finished{also}{share}.{aside} Continue the run with").format(
            interrupted=f"{tally.interrupted:,}", total=f"{due:,}", also=also, share=share, aside=aside
        ),
        "bulkretry run --resume --out RUN_DIR",
    )
