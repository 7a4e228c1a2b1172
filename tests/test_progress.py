"""The progress bar: its counts made at most every POSTFIX_EVERY_S, the last counts always shown; no tqdm when no bar
is shown."""

from __future__ import annotations

import io
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from bulkretry.cli import progress
from bulkretry.cli.progress import Terminal, TerminalRun
from bulkretry.oms.actions import ACTIONS
from bulkretry.records import Outcome, RowResult


class Tty(io.StringIO):
    """A terminal's stream: what tqdm writes, kept."""

    def isatty(self) -> bool:
        return True


def terminal_run(err: io.StringIO, *, quiet: bool = False) -> TerminalRun:
    settings = SimpleNamespace(checks=SimpleNamespace(dry_run=False), pacing=SimpleNamespace(rate_auto=False))
    prepared: Any = SimpleNamespace(rows=5, settings=settings, action=ACTIONS["retry", "groups"])
    return TerminalRun(prepared, Terminal(out=io.StringIO(), err=err, quiet=quiet), notifier=None)  # type: ignore[arg-type]


def results() -> list[RowResult]:
    outcomes = [Outcome.SUCCEEDED, Outcome.SUCCEEDED, Outcome.FAILED, Outcome.INVALID, Outcome.SUCCEEDED]
    return [RowResult(row=i + 2, project_id="p", group_id=f"g{i}", outcome=o) for i, o in enumerate(outcomes)]


def test_the_bar_ends_with_the_last_counts_though_they_were_made_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five rows within one POSTFIX_EVERY_S: the counts' text is made for the first row and at the end, and the
    bar's last line shows every row counted."""
    made = []
    original = TerminalRun._postfix

    def counting(self: TerminalRun) -> str:
        made.append(original(self))
        return made[-1]

    monkeypatch.setattr(TerminalRun, "_postfix", counting)
    monkeypatch.setattr(progress, "POSTFIX_EVERY_S", 3600.0)
    err = Tty()
    run = terminal_run(err)
    with run.calling():
        for result in results():
            run.row(result)
    assert made == ["ok 1 · failed 0 · invalid 0", "ok 3 · failed 1 · invalid 1"]
    assert "ok 3 · failed 1 · invalid 1" in err.getvalue().rsplit("\r", 1)[-1]
    assert run.counts == {"succeeded": 3, "failed": 1, "invalid": 1}


def test_no_bar_no_tqdm() -> None:
    """A quiet run (or one whose stream is no terminal) counts its rows and never imports tqdm."""
    code = (
        "import io, sys; from tests.test_progress import terminal_run, results\n"
        "run = terminal_run(io.StringIO())\n"
        "with run.calling():\n"
        "    [run.row(r) for r in results()]\n"
        "print(sorted(run.counts.values()), 'tqdm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[1, 1, 3] False"
