"""Each group's own story: with --check-status (or --verify) the group's GET goes into every report."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import openpyxl
import pytest
from huaweicloudsdkoms.v2 import ShowTaskGroupRequest

from bulkretry.records import GROUP_COLUMNS, REPORT_COLUMNS
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import (
    SAMPLES,
    discover_and_run,
    discover_at,
    run_cli,
    run_manifest,
    sim_run_argv,
    use_sim_credentials,
)
from tests.test_sim_sdk import sdk_client

STATUS = ("status_before", "status_before_meaning")


def _story(shown: object) -> dict[str, object]:
    """The group columns as the official SDK reads the group's GET."""
    reason, record = shown.error_reason, shown.failed_object_record  # type: ignore[attr-defined]
    return {
        "group_error_code": reason.error_code if reason else "",
        "group_error_msg": reason.error_msg if reason else "",
        "group_total_task_num": shown.total_task_num,
        "group_failed_task_num": shown.failed_task_num,  # type: ignore[attr-defined]
        "group_success_num": shown.success_num,
        "group_fail_num": shown.fail_num,  # type: ignore[attr-defined]
        "group_total_size": shown.total_size,
        "group_complete_size": shown.complete_size,  # type: ignore[attr-defined]
        "group_failed_object_list": record.list_file_key if record else "",
    }


def _reports(out: Path) -> tuple[list[str], list[dict], list[dict], list[list]]:
    with open(out / "report.csv", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = list(reader.fieldnames or ())
    with open(out / "report.json", encoding="utf-8") as fh:
        json_rows = json.load(fh)["rows"]
    book = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    sheet = [list(r) for r in book["Rows"].iter_rows(values_only=True)]
    book.close()
    return header, rows, json_rows, sheet


def test_check_status_writes_what_the_groups_get_answered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--check-status on the sample: every looked-up row's group columns equal what the SDK reads from the same
    GET before the run (numbers as numbers in json and xlsx), right after the status columns; the group no GET
    found has empty cells."""
    config = SimConfig()
    use_sim_credentials(monkeypatch, config, DEMO_SRC_SK="x-secret", DEMO_DST_SK="y-secret")
    with SimulatorThread(config) as sim_thread:
        oms = sdk_client(sim_thread.url, config)
        before = {
            gid: _story(oms.show_task_group(ShowTaskGroupRequest(group_id=gid)))
            for gid in sim_thread.simulator.state.ids()
        }
        code, _, err = run_manifest(
            SAMPLES / "manifest.csv", sim_thread.url, config.project_id, tmp_path / "run", "--check-status"
        )
    assert code == 1, err  # the unknown group and the invalid row
    header, rows, json_rows, sheet = _reports(tmp_path / "run")
    at = len(REPORT_COLUMNS) + len(STATUS)
    assert tuple(header[len(REPORT_COLUMNS) : at]) == STATUS
    assert tuple(header[at : at + len(GROUP_COLUMNS)]) == GROUP_COLUMNS
    assert sheet[0] == header
    looked_up = [i for i, r in enumerate(rows) if r["status_before"]]
    assert len(looked_up) >= 10
    assert {rows[i]["outcome"] for i in looked_up} == {"succeeded", "skipped"}
    assert any(before[rows[i]["group_id"]]["group_failed_object_list"] for i in looked_up)
    for i in looked_up:
        expected = before[rows[i]["group_id"]]
        assert {c: json_rows[i][c] for c in GROUP_COLUMNS} == expected
        assert {c: rows[i][c] for c in GROUP_COLUMNS} == {c: str(v) for c, v in expected.items()}
        cells = {c: sheet[i + 1][header.index(c)] for c in GROUP_COLUMNS}
        assert {c: "" if v is None else v for c, v in cells.items()} == expected
    unknown = next(i for i, r in enumerate(rows) if r["error_code"] == "OMS.1009")
    assert all(rows[unknown][c] == "" for c in GROUP_COLUMNS)
    assert all(json_rows[unknown][c] == "" for c in GROUP_COLUMNS)


def test_verify_alone_writes_the_story_of_the_last_poll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--verify without --check-status: the group columns are those of the last poll, as the SDK reads the group
    afterwards (the retry cleared its error and failure counts)."""
    config = SimConfig(groups=20, failed_ratio=0.5, seed=3, settle_s=0.0)
    use_sim_credentials(monkeypatch, config)
    with SimulatorThread(config) as sim_thread:
        run = discover_and_run(sim_thread, tmp_path, "--verify")
        oms = sdk_client(sim_thread.url, config)
        _, _, json_rows, _ = _reports(run)
        after = {
            r["group_id"]: _story(oms.show_task_group(ShowTaskGroupRequest(group_id=r["group_id"]))) for r in json_rows
        }
    assert json_rows and all(r["status_after"] == "6" for r in json_rows)
    for row in json_rows:
        assert {c: row[c] for c in GROUP_COLUMNS} == after[row["group_id"]]
        assert row["group_error_code"] == "" and row["group_fail_num"] == 0


def test_without_check_status_there_are_no_group_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimConfig()
    use_sim_credentials(monkeypatch, config, DEMO_SRC_SK="x-secret", DEMO_DST_SK="y-secret")
    with SimulatorThread(config) as sim_thread:
        run_manifest(SAMPLES / "manifest.csv", sim_thread.url, config.project_id, tmp_path / "run")
    header, _, json_rows, _ = _reports(tmp_path / "run")
    assert not set(GROUP_COLUMNS) & set(header) and not set(GROUP_COLUMNS) & set(json_rows[0])


def _as_before_group_columns(journal: Path) -> None:
    """Make a --check-status run's journal look written by a bulkretry without the group columns: its recorded
    extra columns and every row's extra pairs lose them (the journal schema itself did not change)."""
    db = sqlite3.connect(journal)
    with db:
        columns = json.loads(db.execute("SELECT value FROM run WHERE key = 'extra_columns'").fetchone()[0])
        db.execute(
            "UPDATE run SET value = ? WHERE key = 'extra_columns'",
            (json.dumps([c for c in columns if c not in GROUP_COLUMNS]),),
        )
        for row, extra in db.execute("SELECT row, extra FROM rows").fetchall():
            kept = [pair for pair in json.loads(extra) if pair[0] not in GROUP_COLUMNS]
            db.execute("UPDATE rows SET extra = ? WHERE row = ?", (json.dumps(kept, ensure_ascii=False), row))
    db.close()


def test_a_journal_from_before_the_group_columns_still_reports_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bulkretry report` of an older --check-status run writes its columns as they were; `--resume` of it (stopped
    half way) writes the group columns, empty for the rows the older run finished, and `report` then keeps them."""
    config = SimConfig(groups=40, failed_ratio=0.5, seed=5)
    use_sim_credentials(monkeypatch, config)
    with SimulatorThread(config) as sim_thread:
        manifest = tmp_path / "failed.csv"
        code, _, err = discover_at(sim_thread, manifest)
        assert code == 0, err
        run = tmp_path / "run"
        argv = sim_run_argv(sim_thread, manifest, run, "--rate", "500", "--quiet", "--check-status")
        code, _, err = run_cli(*argv)
        assert code == 0, err
        journal = run / "journal.sqlite"
        _as_before_group_columns(journal)

        code, _, err = run_cli("report", str(run), "--format", "csv,json,xlsx,html")
        assert code == 0, err
        header, rows, _, sheet = _reports(run)
        assert "status_before" in header and not set(GROUP_COLUMNS) & set(header) and sheet[0] == header
        assert len(rows) == 20 and all(r["outcome"] == "succeeded" for r in rows)

        db = sqlite3.connect(journal)  # the older run stopped half way: the second half never finished
        with db:
            db.execute("DELETE FROM rows WHERE row > 11")
        db.close()
        code, _, err = run_cli(*argv, "--resume")
        assert code == 0, err
        for rebuilt in (False, True):
            if rebuilt:
                code, _, err = run_cli("report", str(run))
                assert code == 0, err
            header, rows, json_rows, _ = _reports(run)
            assert tuple(header[len(REPORT_COLUMNS) + 2 :][: len(GROUP_COLUMNS)]) == GROUP_COLUMNS
            old, new = [r for r in json_rows if r["row"] <= 11], [r for r in json_rows if r["row"] > 11]
            assert len(old) == 10 and len(new) == 10
            assert all(r[c] == "" for r in old for c in GROUP_COLUMNS)
            # Those groups were retried by the first session, so the second one found them executing (skipped).
            assert all(r["outcome"] == "skipped" and isinstance(r["group_total_task_num"], int) for r in new)
