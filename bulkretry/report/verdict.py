"""report.html's verdict: one word and one sentence on how the run went (and the command to run next), in the
words of the run's action: a retry's own ("All retried"), another action's without the word "retry"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bulkretry.i18n import N_
from bulkretry.oms.actions import DEFAULT_ACTION, Action
from bulkretry.records import RunSummary
from bulkretry.report.labels import action_label

__all__ = ["Verdict", "verdict"]


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


def verdict(s: RunSummary, action: Action, by: Mapping[str, int], total: int, _: Callable[[str], str]) -> Verdict:
    """How the run *s* of *action* went, from its rows by outcome (*by*) out of *total*."""
    words = _RETRY if action.name == DEFAULT_ACTION else _OTHER
    ok, failed, invalid, interrupted = (by.get(k, 0) for k in ("succeeded", "failed", "invalid", "interrupted"))
    share = _(" ({share} succeeded)").format(share=f"{ok / total:.1%}") if total else ""
    if s.dry_run:
        return Verdict(
            "info", _("Dry run"), _("{total} rows were checked; nothing was called.").format(total=f"{total:,}")
        )
    if total == 0:
        return Verdict("info", _("No rows"), _(words.no_rows))
    if interrupted:
        also = _(", and {bad} failed or were invalid").format(bad=f"{failed + invalid:,}") if failed or invalid else ""
        return Verdict(
            "warn",
            _("Interrupted"),
            _("{interrupted} of {total} rows were not finished{also}{share}. Continue the run with").format(
                interrupted=f"{interrupted:,}", total=f"{total:,}", also=also, share=share
            ),
            "bulkretry run --resume --out RUN_DIR",
        )
    if failed or invalid:
        sentence = _(words.not_done).format(bad=f"{failed + invalid:,}", total=f"{total:,}", share=share)
        return Verdict("bad", _("Needs attention"), sentence)
    sentence = _(words.all_sentence).format(ok=f"{ok:,}", total=f"{total:,}", action=_(action_label(action)))
    return Verdict("ok", _(words.all_word), sentence)
