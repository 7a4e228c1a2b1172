"""The question a live run asks at a terminal before its first call: when it would call more than
:data:`CONFIRM_ROWS` rows, or would stop anything, it shows what it will call (rows, projects, regions, endpoints,
the action) and goes on only on ``y``. ``--yes`` skips it; without a terminal (cron, a pipe) it is never asked.
What is shown is the library's :func:`~bulkretry.run.preflight.call_scope`; the library itself never asks."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from bulkretry.errors import Stopped
from bulkretry.i18n.messages import TARGET_PLURALS

if TYPE_CHECKING:  # for annotations only: the run command imports this module lazily
    from bulkretry.cli.signals import StopSignals
    from bulkretry.run.preflight import CallScope
    from bulkretry.run.prepare import PreparedRun

__all__ = ["CONFIRM_ROWS", "confirmed", "describe", "interactive"]

#: A live run that would call more rows than this asks first (a stop always asks).
CONFIRM_ROWS = 100
#: The most projects, regions or endpoints named in the question; the rest are counted.
_SHOWN = 5


def interactive(stdin: TextIO, err: TextIO) -> bool:
    """Whether a person can be asked: the question goes to a terminal (*err*) and the answer comes from one."""
    try:
        return stdin.isatty() and err.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


def _asks(prepared: PreparedRun) -> bool:
    """Whether the run might need a yes, before the rows are counted: a stop, or more rows than the limit."""
    return prepared.action.name == "stop" or prepared.rows > CONFIRM_ROWS


def _needs_yes(scope: CallScope) -> bool:
    return scope.action.name == "stop" or scope.rows > CONFIRM_ROWS


def _listed(names: Sequence[str], _: Callable[[str], str]) -> str:
    shown = ", ".join(names[:_SHOWN]) or _("none")
    return shown + (_(" and {n} more").format(n=len(names) - _SHOWN) if len(names) > _SHOWN else "")


def _not_called(scope: CallScope, _: Callable[[str], str]) -> str:
    return _(" ({n} not: invalid or duplicate)").format(n=scope.not_called) if scope.not_called else ""


def describe(scope: CallScope, _: Callable[[str], str] = str) -> str:
    """What the run will call, in lines for the question, in the language of *_* (a catalog's ``gettext``)."""
    action = scope.action
    regions = _listed(scope.regions, _) if scope.regions else _("(none: --endpoint)")
    return "\n".join(
        (
            _("about to call OMS: --action {action} on {target}, {call}").format(
                action=action.name, target=_(TARGET_PLURALS[action.target]), call=action.describe()
            ),
            _("  rows:      {rows} to call{not_called}").format(rows=scope.rows, not_called=_not_called(scope, _)),
            _("  projects:  {projects}").format(projects=_listed(scope.projects, _)),
            _("  regions:   {regions}").format(regions=regions),
            _("  endpoints: {endpoints}").format(endpoints=_listed(scope.endpoints, _)),
        )
    )


def confirmed(
    prepared: PreparedRun,
    signals: StopSignals,
    err: TextIO,
    stdin: TextIO | None = None,
    _: Callable[[str], str] = str,
) -> bool:
    """Whether the run may go on: yes without a terminal or when it needs no yes; else what the person answered
    (``y`` or ``yes``; anything else, or the end of input, is no), asked in the language of *_*. A stop signal
    while asking ends the command with nothing called."""
    stdin = stdin if stdin is not None else sys.stdin
    if not _asks(prepared) or not interactive(stdin, err):
        return True
    from bulkretry.run.preflight import call_scope

    scope = call_scope(prepared)
    if not _needs_yes(scope):
        return True
    return _answer(stdin, signals, describe(scope, _), err, _("Go on? [y/N] ")).strip().lower() in ("y", "yes")


def _answer(stdin: TextIO, signals: StopSignals, what: str, err: TextIO, question: str) -> str:
    """*what* and the question on *err*, then one line from *stdin*; a stop signal meanwhile raises
    :class:`Stopped` (the reading is not waited for). The hook is in place before the question is shown, and a
    signal that came before it is taken too: a Ctrl-C at any moment never leaves the reading waiting."""

    def stop_now(count: int) -> None:
        raise Stopped("while asking whether to go on")

    signals.on_signal = stop_now
    try:
        if signals.requested():
            stop_now(signals.count)
        print(what, file=err)
        err.write(question)
        err.flush()
        return stdin.readline()
    finally:
        signals.on_signal = None
