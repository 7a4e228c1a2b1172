"""Local time for people, UTC for machines: --tz, the one formatter of a time, and every surface that shows one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bulkretry.i18n.times import local_zone, parse_tz, people_time
from bulkretry.notify.message import Ending, render
from bulkretry.sim import SimulatorThread
from tests.clitools import csv_dicts, failed_group_ids, run_at, run_cli, write_group_manifest
from tests.reports import read_xlsx_rows, run_summary

SHANGHAI = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00")
UTC_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_a_time_is_shown_in_the_zone_with_its_offset() -> None:
    """An ISO 8601 UTC time reads as the zone's wall clock with the offset, never a hand-written one."""
    assert people_time("2026-12-04T14:31:05.120Z", "Asia/Shanghai") == "2026-12-04 22:31:05 +08:00"
    assert people_time("2026-12-04T14:31:05Z", "UTC") == "2026-12-04 14:31:05 +00:00"
    assert people_time("", "UTC") == ""


def test_a_zone_with_summer_time_shows_each_date_at_its_own_offset() -> None:
    """Europe/Berlin is +02:00 in summer and +01:00 in winter."""
    assert people_time("2026-07-15T10:00:00Z", "Europe/Berlin") == "2026-07-15 12:00:00 +02:00"
    assert people_time("2026-01-15T10:00:00Z", "Europe/Berlin") == "2026-01-15 11:00:00 +01:00"


def test_an_unknown_zone_names_the_nearest_ones() -> None:
    """A misspelt zone is refused with the zone names closest to it."""
    with pytest.raises(ValueError, match=r"Asia/Shanghai"):
        parse_tz("Asia/Shangai")
    assert parse_tz("Europe/Berlin") == "Europe/Berlin"


def test_the_local_zone_is_the_one_tz_names() -> None:
    """TZ naming an IANA zone is the machine's zone; one that names none falls back to an offset or a link."""
    assert local_zone({"TZ": ":Asia/Shanghai"}) == "Asia/Shanghai"
    assert local_zone({"TZ": "Asia/Shanghai"}) == "Asia/Shanghai"
    assert parse_tz(local_zone({"TZ": "not a zone"}))  # whatever it falls back to, --tz takes it again


def test_an_unknown_tz_option_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """`run --tz Asia/Shangai` exits 2 before anything, naming --tz and the zone meant."""
    code, _, _ = run_cli("run", "nothing.csv", "--tz", "Asia/Shangai")
    err = capsys.readouterr().err
    assert code == 2
    assert "--tz" in err and "Asia/Shanghai" in err


def test_a_notification_says_when_the_run_finished_in_the_zone() -> None:
    """The notification's finish time is in the run's zone, with the offset."""
    summary = run_summary([], finished_at="2026-12-04T14:31:05Z")
    body = render(Ending(0, summary), tz="Asia/Shanghai").body
    assert "Finished: 2026-12-04 22:31:05 +08:00" in body


def run_in(tmp_path: Path, sim_thread: SimulatorThread, *extra: str) -> tuple[Path, str]:
    """A run of two groups into tmp_path/run with *extra* options: its folder and stdout."""
    manifest = write_group_manifest(tmp_path / "groups.csv", failed_group_ids(sim_thread, 2))
    out = tmp_path / "run"
    code, stdout, err = run_at(sim_thread.url, manifest, out, *extra)
    assert code in (0, 1), stdout + err
    return out, stdout


@pytest.mark.usefixtures("env")
def test_a_run_in_shanghai_time_keeps_its_machine_files_in_utc(tmp_path: Path, sim_thread: SimulatorThread) -> None:
    """--tz Asia/Shanghai: report.html, the Summary sheet and the summary line show +08:00; csv/json stay UTC."""
    out, stdout = run_in(tmp_path, sim_thread, "--tz", "Asia/Shanghai")
    assert SHANGHAI.search(stdout), stdout
    html = (out / "report.html").read_text(encoding="utf-8")
    assert SHANGHAI.search(html) and " UTC" not in html.replace("UTC:", "")
    summary_sheet = {str(r[0]): r[1] for r in read_xlsx_rows(out / "report.xlsx", "Summary") if r}
    assert SHANGHAI.fullmatch(str(summary_sheet["started_at"])), summary_sheet
    for row in csv_dicts(out / "report.csv"):
        assert UTC_ISO.match(row["started_at"]) and UTC_ISO.match(row["finished_at"]), row
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert UTC_ISO.match(summary["started_at"]) and UTC_ISO.match(summary["finished_at"])


@pytest.mark.usefixtures("env")
def test_report_keeps_the_runs_zone_unless_tz_is_given(tmp_path: Path, sim_thread: SimulatorThread) -> None:
    """`bulkretry report DIR` writes the run's own zone again; --tz there writes another."""
    out, _ = run_in(tmp_path, sim_thread, "--tz", "Asia/Shanghai", "--format", "html")
    (out / "report.html").unlink()
    assert run_cli("report", str(out))[0] == 0
    assert SHANGHAI.search((out / "report.html").read_text(encoding="utf-8"))
    assert run_cli("report", str(out), "--tz", "America/Sao_Paulo")[0] == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert re.search(r"\d\d:\d\d:\d\d -03:00", html) and not SHANGHAI.search(html)


@pytest.mark.usefixtures("env")
def test_history_shows_each_run_start_in_the_zone(tmp_path: Path, sim_thread: SimulatorThread) -> None:
    """history.html gives each run's start in --tz, with its offset; history.csv has no such time."""
    out, _ = run_in(tmp_path, sim_thread, "--format", "csv")
    code, stdout, err = run_cli("history", str(out), "--out", str(tmp_path / "h"), "--tz", "Asia/Shanghai")
    assert code in (0, 1), stdout + err
    assert SHANGHAI.search((tmp_path / "h" / "history.html").read_text(encoding="utf-8"))
