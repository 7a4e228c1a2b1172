"""`bulkretry report` (reports again from the journal) and `bulkretry diff` (two runs compared)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bulkretry.run.runlock import RunLock
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import run_argv, run_cli, run_manifest


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _run(config: SimConfig, manifest: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    with SimulatorThread(config) as sim_thread:
        code, _, err = run_manifest(manifest, sim_thread.url, config.project_id, out, *extra)
    assert code in (0, 1), err
    return _rows(out / "report.csv")


def _failed_groups_manifest(tmp_path: Path, n: int) -> Path:
    with SimulatorThread(SimConfig(failed_ratio=1.0)) as sim_thread:
        ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]][:n]
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    return manifest


@pytest.mark.usefixtures("env")
def test_diff_counts_exactly_the_transient_failures_as_fixed(tmp_path: Path) -> None:
    """A run with injected 5xx (one attempt each) against a later clean run: those rows, and only they, are fixed."""
    manifest = _failed_groups_manifest(tmp_path, 40)
    flaky = SimConfig(failed_ratio=1.0, error_rate=0.3, seed=42)
    first = _run(flaky, manifest, tmp_path / "old", "--max-attempts", "1")
    transient = {r["group_id"] for r in first if r["outcome"] == "failed"}
    assert transient and all(r["http_status"].startswith("5") for r in first if r["outcome"] == "failed")
    second = _run(SimConfig(failed_ratio=1.0, seed=42), manifest, tmp_path / "new")
    assert {r["outcome"] for r in second} == {"succeeded"}
    code, out, err = run_cli("diff", str(tmp_path / "old"), str(tmp_path / "new"))
    assert code == 0, err
    assert f"fixed: {len(transient)}\nstill failing: 0\nnewly failing: 0\n" in out
    changed = _rows(tmp_path / "new" / "diff.csv")
    assert {r["group_id"] for r in changed} == transient and {r["change"] for r in changed} == {"fixed"}


@pytest.mark.usefixtures("env")
def test_diff_sees_newly_failing_and_still_failing_rows(tmp_path: Path) -> None:
    """Against a server whose groups already moved on, retried groups newly fail (exit 1); failed ones still fail."""
    manifest = _failed_groups_manifest(tmp_path, 6)
    manifest.write_text(manifest.read_text(encoding="utf-8") + "no-such-group\n", encoding="utf-8")
    config = SimConfig(failed_ratio=1.0)
    with SimulatorThread(config) as sim_thread:  # one server for both runs: the second retry finds them executing
        for out in ("old", "new"):
            run_manifest(manifest, sim_thread.url, config.project_id, tmp_path / out)
    code, out, _ = run_cli("diff", str(tmp_path / "old"), str(tmp_path / "new"), "--out", str(tmp_path / "d.csv"))
    assert code == 1
    assert "fixed: 0\nstill failing: 1\nnewly failing: 6\n" in out
    assert sorted(r["change"] for r in _rows(tmp_path / "d.csv")) == ["newly failing"] * 6 + ["still failing"]


def test_diff_of_folders_without_runs_or_the_same_run_is_a_usage_error(tmp_path: Path) -> None:
    """No journal, or one folder twice: exit 2 naming the problem."""
    code, _, err = run_cli("diff", str(tmp_path), str(tmp_path / "x"))
    assert code == 2 and "holds no run" in err


@pytest.mark.usefixtures("env")
def test_report_writes_the_reports_again_from_the_journal(tmp_path: Path) -> None:
    """Deleted reports come back identical in content; --format adds a format; nothing is called."""
    manifest = _failed_groups_manifest(tmp_path, 5)
    rows = _run(SimConfig(failed_ratio=1.0), manifest, tmp_path / "run", "--format", "csv")
    summary_json = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    (tmp_path / "run" / "report.csv").unlink()
    code, out, err = run_cli("report", str(tmp_path / "run"))
    assert code == 0, err
    assert "report.csv" in out
    assert _rows(tmp_path / "run" / "report.csv") == rows
    again = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert {k: again[k] for k in ("run_id", "rows", "by_outcome", "calls")} == {
        k: summary_json[k] for k in ("run_id", "rows", "by_outcome", "calls")
    }
    code, _, _ = run_cli("report", str(tmp_path / "run"), "--format", "json")
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert code == 0 and [r["group_id"] for r in report["rows"]] == [r["group_id"] for r in rows]


def test_report_refuses_a_folder_in_use_or_without_a_run(tmp_path: Path) -> None:
    """A folder with no journal, or locked by a running run: exit 2."""
    code, _, err = run_cli("report", str(tmp_path))
    assert code == 2 and "holds no run" in err
    (tmp_path / "journal.sqlite").write_bytes(b"")
    with RunLock(tmp_path):
        code, _, err = run_cli("report", str(tmp_path))
    assert code == 2 and "in use" in err


def _other_sqlite() -> bytes:
    """A real SQLite database that is not a journal (another program's table)."""
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "other.sqlite"
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE contacts (name TEXT)")
        db.commit()
        db.close()
        return path.read_bytes()


NOT_JOURNALS = {"empty": lambda: b"", "text": lambda: b"not a database\n" * 100, "other sqlite": _other_sqlite}


@pytest.mark.parametrize("kind", list(NOT_JOURNALS))
@pytest.mark.parametrize("command", ["report", "diff old", "diff new"])
def test_a_journal_that_is_not_one_is_not_a_run_and_is_left_as_it_was(tmp_path: Path, kind: str, command: str) -> None:
    """report/diff of a folder whose journal.sqlite is empty, not SQLite or not ours: exit 2, the file untouched."""
    good = tmp_path / "good"
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\ng1\n", encoding="utf-8")
    code, _, err = run_cli(*run_argv(manifest, "http://127.0.0.1:9", "p", good, "--dry-run", "--quiet"))
    assert code == 0, err
    bad = tmp_path / "bad"
    bad.mkdir()
    journal = bad / "journal.sqlite"
    journal.write_bytes(NOT_JOURNALS[kind]())
    before = (journal.read_bytes(), journal.stat().st_mtime_ns)
    argv = {
        "report": ["report", str(bad)],
        "diff old": ["diff", str(bad), str(good), "--out", str(tmp_path / "d.csv")],
        "diff new": ["diff", str(good), str(bad)],
    }[command]
    code, out, err = run_cli(*argv)
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{bad} is not a run" in err, err
    assert (journal.read_bytes(), journal.stat().st_mtime_ns) == before
    assert sorted(p.name for p in bad.iterdir()) in (["journal.sqlite"], [".lock", "journal.sqlite"])
    assert not (tmp_path / "d.csv").exists() and not (good / "diff.csv").exists()
    assert not list(good.glob("journal.sqlite-*")) and not list(bad.glob("journal.sqlite-*"))  # no WAL, no SHM
