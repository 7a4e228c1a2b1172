"""The reports of a run that is not a retry: the target's id column named ``task_id`` in a task run, the action
shown in report.html, the xlsx Summary, summary.json and the notification, the verdict worded without "retry"; a
retry run's pages say nothing new."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from bulkretry.i18n.times import Locale
from bulkretry.notify.message import Ending, render
from bulkretry.records import Outcome, RowResult, RunSummary
from bulkretry.report import write_reports
from tests.clitools import csv_dicts
from tests.reports import result

START_TASKS = "start (tasks) — POST /v2/{project_id}/tasks/{task_id}/start"


@pytest.fixture
def task_results() -> list[RowResult]:
    """Two task rows: one started, one refused; the task's group carried as information."""
    return [
        result(2, group_id="101", extra=(("group_id", "g-1"),)),
        result(
            3,
            group_id="102",
            outcome=Outcome.FAILED,
            http_status=400,
            error_code="OMS.1015",
            extra=(("group_id", "g-1"),),
        ),
    ]


def write(folder: Path, results: list[RowResult], summary: RunSummary, lang: str = "en") -> Path:
    """The four reports of *results* in *folder*."""
    write_reports(folder, results, summary, extra_columns=["group_id"], locale=Locale(lang))
    return folder


def test_a_task_run_names_its_id_column_task_id(
    tmp_path: Path, summary: RunSummary, task_results: list[RowResult]
) -> None:
    """csv, json and the xlsx Rows sheet head the id column task_id; the task's group stays an extra column."""
    folder = write(tmp_path, task_results, replace(summary, action="start", target="tasks"))
    rows = csv_dicts(folder / "report.csv")
    assert list(rows[0])[:4] == ["row", "project_id", "task_id", "outcome"] and rows[0]["task_id"] == "101"
    assert rows[0]["group_id"] == "g-1"
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["rows"][0]["task_id"] == "101"
    book = openpyxl.load_workbook(folder / "report.xlsx", read_only=True)
    assert [c.value for c in next(book["Rows"].iter_rows(max_row=1))][2] == "task_id"
    summary_cells = [tuple(c.value for c in r) for r in book["Summary"].iter_rows()]
    assert ("action", START_TASKS) in summary_cells
    book.close()
    data = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert (data["action"], data["target"]) == ("start", "tasks")


def test_report_html_shows_the_action_and_words_the_verdict_without_retry(
    tmp_path: Path, summary: RunSummary, task_results: list[RowResult]
) -> None:
    """The page names the call and the id column, and its verdict does not say "retried"."""
    page = (write(tmp_path, task_results, replace(summary, action="start", target="tasks")) / "report.html").read_text(
        encoding="utf-8"
    )
    assert START_TASKS in page and "OMS task start" in page
    assert '"task_id"' in page and "retried" not in page and "did not succeed" in page


def test_a_retry_run_says_nothing_new(tmp_path: Path, summary: RunSummary, results: list[RowResult]) -> None:
    """A retry's page and Summary sheet have no action line; its verdict is a retry's."""
    folder = write(tmp_path, results, replace(summary, action="retry", target="groups"))
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "<dt>action</dt>" not in page and "OMS task-group retry" in page and "were not retried" in page
    book = openpyxl.load_workbook(folder / "report.xlsx", read_only=True)
    assert "action" not in [r[0].value for r in book["Summary"].iter_rows()]
    book.close()


def test_the_chinese_page_names_the_action_in_the_consoles_words(
    tmp_path: Path, summary: RunSummary, task_results: list[RowResult]
) -> None:
    """In Chinese: 迁移任务批量启动 and 任务 over the id column."""
    done = replace(summary, action="start", target="tasks", by_outcome={"succeeded": 2}, by_error_code={}, rows=2)
    page = (write(tmp_path, task_results[:1], done, lang="zh-CN") / "report.html").read_text(encoding="utf-8")
    assert "迁移任务批量启动" in page and "全部完成" in page and '"group":"任务"' in page


def test_the_notification_names_an_action_that_is_not_a_retry(summary: RunSummary) -> None:
    """A stop run's notification says so; a retry's says what it always said."""
    stop = render(Ending(0, replace(summary, action="stop", target="groups")))
    assert "Action: stop (groups)" in stop.body.splitlines()
    retry = render(Ending(0, replace(summary, action="retry", target="groups")))
    assert retry == render(Ending(0, summary))
