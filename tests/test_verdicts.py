"""Honest verdicts: skipped and duplicate rows are set aside, never errors; a success rate is over the rows called;
``attempts`` counts the action's own calls and ``summary.json`` the status reads apart; and every surface of one
mixed round (summary.json, report.csv, the summary line, report.html, report.xlsx's Summary, the notification)
tells the same counts."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest

from bulkretry.cli.progress import Terminal, TerminalRun
from bulkretry.notify.message import Ending, render
from bulkretry.oms.actions import ACTIONS
from bulkretry.records import Outcome, RowResult, RunSummary, Tally
from bulkretry.report.verdict import called_words, set_aside_words
from bulkretry.sim import SimulatorThread
from tests.clitools import failed_group_ids, run_cli, sim_run_argv, use_sim_credentials, write_group_manifest
from tests.reports import run_summary
from tests.tlsnet import BackgroundLoop, RecordingTlsServer

UNKNOWN = "00000000-0000-4000-8000-00000000dead"


def _same(text: str) -> str:
    return text


def test_the_tally_sets_skipped_and_duplicate_rows_aside() -> None:
    """20 skipped and 5 retried: no error code, a success rate of 5 of 5, the skipped rows said apart with why."""
    summary = run_summary(
        [], rows=26, by_outcome={"succeeded": 5, "skipped": 20, "duplicate": 1}, by_error_code={"status:2": 20}
    )
    tally = summary.tally()
    assert (tally.called, tally.set_aside, tally.success_rate, tally.top_errors()) == (5, 21, 1.0, ())
    assert called_words(tally, _same) == "5 of 5 rows called succeeded (100.0%)"
    assert set_aside_words(tally, _same) == (
        "20 skipped (not in a status the action accepts, or to fix first), 1 duplicate (listed before in the manifest)"
    )


def test_a_status_that_is_not_known_stays_an_error() -> None:
    """status:unknown fails its row, so it stays among the top errors; a status:N code (a skipped row's) does not."""
    tally = Tally.of(3, {"failed": 1, "skipped": 2}, {"status:2": 2, "status:unknown": 1})
    assert tally.top_errors() == (("status:unknown", 1),) and tally.success_rate == 0.0


def test_a_run_with_every_row_skipped_called_nothing() -> None:
    """No row called: no success rate, and the notification says why nothing was called, without an error."""
    summary = run_summary([], rows=4, by_outcome={"skipped": 4}, by_error_code={"status:6": 4})
    assert summary.tally().success_rate is None
    body = render(Ending(0, summary)).body.splitlines()
    assert "Not called: 4 skipped (not in a status the action accepts, or to fix first)" in body
    assert not any(line.startswith("Top errors") or "rows called" in line for line in body)


@pytest.fixture
def mixed_round(tmp_path: Path, sim_thread: SimulatorThread, monkeypatch: pytest.MonkeyPatch) -> dict:
    """`bulkretry run --check-status` of 3 failed groups (retried), 2 in another status (skipped), an unknown group
    (failed on its lookup) and a duplicate row, notifying a json:// target: what every surface said."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    state = sim_thread.simulator.state
    failed = failed_group_ids(sim_thread, 3)
    others = [g["group_id"] for g in state.list(offset=0, limit=1000)[1] if g["status"] != 5][:2]
    assert len(others) == 2
    manifest = write_group_manifest(tmp_path / "m.csv", [*failed, *others, UNKNOWN, failed[0]])
    run = tmp_path / "run"
    with BackgroundLoop() as loop:
        server = loop.run(RecordingTlsServer(None).start())
        monkeypatch.setenv("HOOK", f"json://127.0.0.1:{server.port}/hook")
        argv = sim_run_argv(sim_thread, manifest, run, "--quiet", "--check-status", "--notify", "env:HOOK")
        code, out, err = run_cli(*argv)
        posted = [seen.json() for seen in server.seen]
    methods = Counter(r.method for r in sim_thread.simulator.received if "/taskgroups/" in r.raw_path)
    with open(run / "report.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "code": code,
        "out": out,
        "err": err,
        "posted": posted,
        "methods": methods,
        "rows": rows,
        "summary": json.loads((run / "summary.json").read_text(encoding="utf-8")),
        "page": (run / "report.html").read_text(encoding="utf-8"),
        "sheet": [
            tuple(c for c in r if c is not None)
            for r in openpyxl.load_workbook(run / "report.xlsx", read_only=True)["Summary"].values
        ],
    }


def test_a_mixed_round_tells_the_same_story_everywhere(mixed_round: dict) -> None:
    """summary.json, report.csv, the summary line, report.html, the xlsx Summary and the notification give the same
    counts: the skipped and duplicate rows apart with why, the success rate over the rows called, the top errors
    of the failing rows only, the action's calls and the status reads apart."""
    got = mixed_round
    assert got["code"] == 1, got["err"]  # the unknown group failed
    summary = got["summary"]
    by_outcome = {"succeeded": 3, "failed": 1, "skipped": 2, "duplicate": 1}
    assert summary["by_outcome"] == by_outcome and summary["by_error_code"] == {"OMS.1009": 1}
    assert (summary["calls"], summary["status_reads"]) == (got["methods"]["PUT"], got["methods"]["GET"]) == (3, 6)
    assert Counter(r["outcome"] for r in got["rows"]) == Counter(by_outcome)
    assert {r["outcome"]: r["attempts"] for r in got["rows"]} == {
        "succeeded": "1",  # the retry: its lookup is a status read
        "skipped": "0",
        "failed": "0",  # failed on its lookup: the retry was never sent
        "duplicate": "0",
    }

    tally = RunSummary.from_dict(summary).tally()
    called = called_words(tally, _same)
    aside = set_aside_words(tally, _same)
    assert called == "3 of 4 rows called succeeded (75.0%)"
    assert (
        aside == "2 skipped (not in a status the action accepts, or to fix first), 1 duplicate (listed before in the "
        "manifest)"
    )

    line = got["out"].strip()
    assert line.startswith("7 rows: 3 succeeded, 1 failed, 1 duplicate, 2 skipped · top errors: OMS.1009 ×1 · ")
    assert f" · {called} · not called: {aside} · " in line and " · 3 calls and 6 status reads at " in line

    page = got["page"]
    assert set(re.findall(r'<a class="mono code"[^>]*>([^<]+)</a>', page)) == {"OMS.1009"}
    assert (
        "1 of 4 rows were not retried (75.0% of the rows called succeeded): see the error codes below. "
        f"Not called: {aside}."
    ) in page
    assert "3 calls and 6 status reads" in page

    sheet = dict(r[:2] for r in got["sheet"] if len(r) >= 2)
    assert (sheet["calls"], sheet["status_reads"], sheet["rows_called"], sheet["success_rate"]) == (3, 6, 4, "75.0%")
    assert ("skipped", 2, "(not in a status the action accepts, or to fix first)") in got["sheet"]
    assert ("duplicate", 1, "(listed before in the manifest)") in got["sheet"]
    assert ("OMS.1009", 1) in got["sheet"] and not any(r and str(r[0]).startswith("status:") for r in got["sheet"])

    [message] = got["posted"]
    body = message["message"].splitlines()
    assert "Rows: 7 (3 succeeded, 1 failed, 1 duplicate, 2 skipped)" in body
    assert called in body and f"Not called: {aside}" in body and "Top errors: OMS.1009 ×1" in body


class _Tty(io.StringIO):
    """A terminal's stream: what tqdm writes, kept."""

    def isatty(self) -> bool:
        return True


def test_the_progress_bar_counts_the_rows_set_aside_apart() -> None:
    """Skipped and duplicate rows appear on the bar under their own names, never as failed."""
    settings = SimpleNamespace(checks=SimpleNamespace(dry_run=False), pacing=SimpleNamespace(rate_auto=False))
    prepared: Any = SimpleNamespace(rows=4, settings=settings, action=ACTIONS["retry", "groups"])
    err = _Tty()
    run = TerminalRun(prepared, Terminal(out=io.StringIO(), err=err), notifier=None)  # type: ignore[arg-type]
    outcomes = [Outcome.SUCCEEDED, Outcome.SKIPPED, Outcome.SKIPPED, Outcome.DUPLICATE]
    with run.calling():
        for row, outcome in enumerate(outcomes, 2):
            run.row(RowResult(row=row, project_id="p", group_id=f"g{row}", outcome=outcome))
    last = err.getvalue().rsplit("\r", 1)[-1]
    assert "ok 1 · failed 0 · invalid 0 · skipped 2 · duplicate 1" in last, last
