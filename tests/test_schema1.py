"""A run folder of the release before actions (journal schema 1, tests/data/schema1/): migrated, never re-created,
for ``report``, ``rerun``, ``history`` and ``--resume``; a newer schema refused."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bulkretry.diff import diff_runs
from bulkretry.errors import ConfigError, JournalError
from bulkretry.history import history
from bulkretry.run.journal import JOURNAL_NAME, SCHEMA_VERSION, Journal
from bulkretry.run.rundir import reopen_run
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import PROJECT, clear_credentials, csv_dicts, run_cli

FIXTURE = Path(__file__).resolve().parent / "data" / "schema1"
#: The simulator the fixture's runs were made against (tests/data/README.md): its endpoint is in their journals.
PORT = 18931
ENDPOINT = f"http://127.0.0.1:{PORT}"


def run_folder(tmp_path: Path, name: str) -> Path:
    """The fixture's *name*.sqlite copied as the journal of a run folder (the fixture itself is never changed)."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copyfile(FIXTURE / f"{name}.sqlite", folder / JOURNAL_NAME)
    return folder


def stored(path: Path, key: str) -> object:
    """The ``run`` table's value of *key* as the file holds it (None when it has none)."""
    with closing(sqlite3.connect(path)) as db:
        found = db.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
    return json.loads(found[0]) if found else None


@pytest.fixture
def fixture_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorThread]:
    """The simulator the fixture was made against, on its port, and its token as the only credentials."""
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_AUTH_TOKEN", "sim-token")
    with SimulatorThread(SimConfig(port=PORT, groups=30, failed_ratio=1.0, seed=7)) as thread:
        yield thread


def test_opening_a_schema_1_journal_migrates_it_in_one_logged_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The schema goes from 1 to 2, the missing parameters say a retry of task groups, and the step is logged."""
    path = run_folder(tmp_path, "done") / JOURNAL_NAME
    assert stored(path, "schema") == 1 and stored(path, "action") is None
    with caplog.at_level(logging.INFO, logger="bulkretry"), Journal.open_existing(path) as journal:
        params = journal.params()
        rows = journal.count()
    assert SCHEMA_VERSION == 2 and stored(path, "schema") == 2
    assert (stored(path, "action"), stored(path, "target"), stored(path, "priority")) == ("retry", "groups", None)
    assert stored(path, "batch_size") == 50 and params["action"] == "retry" and params["schema"] == 2
    assert rows == 24 and params["run_id"] == "done", "the rows and the other parameters are kept"
    events = [r for r in caplog.records if getattr(r, "event", "") == "journal_migrated"]
    assert len(events) == 1 and events[0].fields["from_schema"] == 1 and events[0].fields["written"] is True


def test_a_schema_2_journal_is_not_migrated_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Once migrated, opening the journal again changes nothing and logs no step."""
    path = run_folder(tmp_path, "done") / JOURNAL_NAME
    Journal.open_existing(path).close()
    with caplog.at_level(logging.INFO, logger="bulkretry"):
        Journal.open_existing(path).close()
    assert not [r for r in caplog.records if getattr(r, "event", "") == "journal_migrated"]


def test_a_read_only_schema_1_journal_is_migrated_in_memory_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Read-only (an archive): the parameters read as schema 2, the file keeps its bytes and its schema 1."""
    path = run_folder(tmp_path, "done") / JOURNAL_NAME
    before = path.read_bytes()
    with caplog.at_level(logging.INFO, logger="bulkretry"), Journal.open_existing(path, read_only=True) as journal:
        params = journal.params()
    assert params["schema"] == 2 and params["action"] == "retry" and params["target"] == "groups"
    assert path.read_bytes() == before and stored(path, "schema") == 1
    events = [r for r in caplog.records if getattr(r, "event", "") == "journal_migrated"]
    assert len(events) == 1 and events[0].fields["written"] is False


@pytest.mark.parametrize("read_only", [False, True])
def test_a_schema_newer_than_known_is_refused(tmp_path: Path, read_only: bool) -> None:
    """A journal of schema 3 is neither migrated nor misread, writable or not."""
    path = run_folder(tmp_path, "done") / JOURNAL_NAME
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE run SET value = '3' WHERE key = 'schema'")
        db.commit()
    with pytest.raises(JournalError, match="newer bulkretry"):
        Journal.open_existing(path, read_only=read_only)
    assert stored(path, "schema") == 3 and stored(path, "action") is None


def test_report_rebuilds_the_reports_of_a_schema_1_run(tmp_path: Path) -> None:
    """``bulkretry report`` writes the reports of the old run, which name a retry of groups, and never writes its
    journal."""
    folder = run_folder(tmp_path, "done")
    before = (folder / JOURNAL_NAME).read_bytes()
    code, out, err = run_cli("report", str(folder))
    assert code == 0, out + err
    rows = csv_dicts(folder / "report.csv")
    assert len(rows) == 24 and {r["outcome"] for r in rows} == {"succeeded"} and "group_id" in rows[0]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert (summary["action"], summary["target"], summary["rows"]) == ("retry", "groups", 24)
    assert (folder / JOURNAL_NAME).read_bytes() == before


def test_history_reads_schema_1_runs(tmp_path: Path) -> None:
    """``history`` over both fixture runs: every group of both, matched by (project_id, group_id)."""
    done, partial = run_folder(tmp_path, "done"), run_folder(tmp_path, "partial")
    result = history([partial, done], tmp_path / "out")
    assert len(result.runs) == 2 and result.groups == 24 and not result.not_fine
    assert result.actions == ("retry (groups)",)


def test_rerun_of_a_schema_1_run(tmp_path: Path, fixture_sim: SimulatorThread) -> None:
    """``rerun`` of the old run calls its groups again, as a retry of groups, and records it in schema 2."""
    folder = run_folder(tmp_path, "done")
    manifest = shutil.copy(FIXTURE / "manifest.csv", tmp_path / "manifest.csv")
    code, out, err = run_cli(
        "rerun", str(folder), "--only", "succeeded", "--manifest", str(manifest), "--quiet", "--rate", "200"
    )
    assert code == 0, out + err
    (rerun,) = [d for d in tmp_path.iterdir() if d.name.endswith("-rerun")]
    with Journal.open_existing(rerun / JOURNAL_NAME, read_only=True) as journal:
        params = journal.params()
        by_outcome, _ = journal.counts()
    assert (params["schema"], params["action"], params["target"]) == (2, "retry", "groups")
    assert params["source_run"]["run_id"] == "done" and by_outcome == {"succeeded": 24}
    assert params["project_id"] == PROJECT and params["endpoint"] == ENDPOINT


def test_resume_completes_a_schema_1_run(tmp_path: Path, fixture_sim: SimulatorThread) -> None:
    """``--resume`` of the interrupted old run calls its 16 rows never finished; the journal then says schema 2,
    a retry."""
    folder = run_folder(tmp_path, "partial")
    manifest = shutil.copy(FIXTURE / "manifest.csv", tmp_path / "manifest.csv")
    argv = ["run", str(manifest), "--endpoint", ENDPOINT, "--project-id", PROJECT, "--out", str(folder)]
    code, out, err = run_cli(*argv, "--resume", "--quiet", "--rate", "200")
    assert code == 0, out + err
    calls = [r for r in fixture_sim.simulator.traffic.received if r.raw_path.endswith("/retry")]
    assert len(calls) == 16
    path = folder / JOURNAL_NAME
    assert (stored(path, "schema"), stored(path, "action"), stored(path, "target")) == (2, "retry", "groups")
    assert {r["outcome"] for r in csv_dicts(folder / "report.csv")} == {"succeeded"}


def test_diff_names_the_action_of_each_schema_1_run(tmp_path: Path) -> None:
    """``diff`` of the two old runs: both a retry of groups, read from journals it never writes."""
    done, partial = run_folder(tmp_path, "done"), run_folder(tmp_path, "partial")
    result = diff_runs(partial, done, tmp_path / "diff.csv")
    assert (result.old_action, result.new_action) == ("retry (groups)", "retry (groups)")
    assert result.counts["fixed"] == 16 and stored(done / JOURNAL_NAME, "schema") == 1


def test_a_resume_with_another_action_is_a_changed_call_setting(tmp_path: Path) -> None:
    """The migrated run was a retry: resuming it as a start is refused, unless forced."""
    folder = run_folder(tmp_path, "partial")
    with Journal.open_existing(folder / JOURNAL_NAME, read_only=True) as journal:
        params = {**journal.params(), "action": "start"}
    with pytest.raises(ConfigError, match="action was 'retry', now 'start'"):
        reopen_run(folder, params, force=False)
    run = reopen_run(folder, params, force=True)
    run.close()
    assert stored(folder / JOURNAL_NAME, "forced_changes") == ["action was 'retry', now 'start'"]
