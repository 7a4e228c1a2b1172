"""`bulkretry run` and `validate` end to end: CLI in-process, simulator in a thread, real report files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from bulkretry.records import REPORT_COLUMNS
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import (
    DEMO_SECRETS,
    SAMPLES,
    child_env,
    child_run_argv,
    run_cli,
    run_manifest,
    start_child,
    wait_for_requests,
)

EXPECTED = ["succeeded"] * 8 + ["duplicate", "failed", "failed", "failed", "invalid"]


@pytest.fixture
def sim_config() -> SimConfig:
    """The default simulator: the groups samples/ was made from."""
    return SimConfig()


def _run(sim_thread: SimulatorThread, manifest: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return run_manifest(manifest, sim_thread.url, sim_thread.config.project_id, out, *extra, rate="200")


@pytest.mark.parametrize("manifest", ["manifest.csv", "manifest.xlsx"])
def test_run_writes_one_report_row_per_manifest_row(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, manifest: str
) -> None:
    """The sample (English CSV or Chinese-header xlsx) yields the contract's reports, in manifest order."""
    code, out, err = _run(sim_thread, SAMPLES / manifest, tmp_path / "run")
    assert code == 1, err  # some rows fail on purpose
    assert "8 succeeded, 3 failed, 1 invalid, 1 duplicate" in out
    with open(tmp_path / "run" / "report.csv", encoding="utf-8", newline="") as fh:
        assert fh.read(1) == "\ufeff"
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    assert header[: len(REPORT_COLUMNS)] == list(REPORT_COLUMNS)
    assert [r["row"] for r in rows] == [str(n) for n in range(2, 15)]
    assert [r["outcome"] for r in rows] == EXPECTED
    assert rows[9]["error_code"] == "OMS.1015" and rows[9]["http_status"] == "400"
    assert rows[12]["error_code"] == "invalid:src_ak too long"
    assert all(r["project_id"] == sim_thread.config.project_id for r in rows)
    assert "src_sk" not in header and "dst_sk" not in header
    assert rows[0]["src_ak"] == "SRCA…0000"
    summary_json = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary_json["by_outcome"] == {"succeeded": 8, "failed": 3, "invalid": 1, "duplicate": 1}
    assert summary_json["rows"] == 13 and summary_json["calls"] == 11
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx", read_only=True)
    assert book.sheetnames[:2] == ["Summary", "Rows"]
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert [r["outcome"] for r in report["rows"]] == EXPECTED


def test_no_secret_in_any_file_or_output(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """Neither the SKs resolved from env: cells nor the run's own SK reach any file or the output."""
    code, out, err = _run(sim_thread, SAMPLES / "manifest.csv", tmp_path / "run")
    secrets = [*DEMO_SECRETS.values(), sim_thread.config.sk, "SRCAKEXAMPLE0000"]
    assert code == 1
    files = list((tmp_path / "run").rglob("*"))
    assert {f.name for f in files} >= {"report.csv", "report.xlsx", "report.json", "summary.json", "journal.sqlite"}
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path.name, secret)
    for secret in secrets:
        assert secret not in out + err


def test_invalid_and_duplicate_rows_are_not_sent(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """The simulator sees exactly the valid, first-occurrence rows, with their env: secrets resolved."""
    before = len(sim_thread.simulator.received)
    _run(sim_thread, SAMPLES / "manifest.csv", tmp_path / "run")
    sent = [r for r in sim_thread.simulator.received[before:] if r.method == "PUT"]
    assert len(sent) == 11
    bodies = [json.loads(r.body) for r in sent]
    assert all(b["src_sk"] == DEMO_SECRETS["DEMO_SRC_SK"] for b in bodies)
    assert all(isinstance(b["migrate_failed_object"], bool) for b in bodies)


def test_dry_run_calls_nothing_and_needs_no_credentials(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--dry-run reports dry_run rows, exits 1 only for the invalid row, and sends no request."""
    for name in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "OMS_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in DEMO_SECRETS.items():
        monkeypatch.setenv(name, value)
    before = len(sim_thread.simulator.received)
    code, out, _ = _run(sim_thread, SAMPLES / "manifest.csv", tmp_path / "run", "--dry-run", "--format", "csv")
    assert len(sim_thread.simulator.received) == before
    assert "11 dry_run" in out and code == 1
    assert not (tmp_path / "run" / "report.xlsx").exists()


def test_missing_credentials_exit_2_and_call_nothing(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no credentials configured, the run stops before any call with exit 2 and a hint."""
    for name in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "OMS_AUTH_TOKEN", "CLOUD_SDK_AK", "OMS_IAM_USER"):
        monkeypatch.delenv(name, raising=False)
    before = len(sim_thread.simulator.received)
    code, _, err = _run(sim_thread, SAMPLES / "manifest.csv", tmp_path / "run")
    assert code == 2 and "HUAWEICLOUD_SDK_AK" in err and "Traceback" not in err
    assert len(sim_thread.simulator.received) == before


def test_bad_manifest_exits_2(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """A manifest without a group id column is refused by name, exit 2."""
    bad = tmp_path / "bad.csv"
    bad.write_text("name,owner\nx,y\n", encoding="utf-8")
    code, _, err = _run(sim_thread, bad, tmp_path / "run")
    assert code == 2 and "bad.csv" in err and "group_id" in err


def test_out_folder_with_a_run_is_never_overwritten(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """A second run into the same --out is refused with exit 2."""
    _run(sim_thread, SAMPLES / "manifest.csv", tmp_path / "run")
    code, _, err = _run(sim_thread, SAMPLES / "manifest.csv", tmp_path / "run")
    assert code == 2 and "already holds a run" in err


def test_all_succeeded_exits_0(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """A manifest of failed groups only: every row succeeds and the exit status is 0."""
    ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]][-5:]
    manifest = tmp_path / "ok.csv"
    manifest.write_text("group_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    code, out, _ = _run(sim_thread, manifest, tmp_path / "run")
    assert code == 0 and "5 succeeded" in out


def test_validate_prints_verdicts_and_calls_nothing(sim_thread: SimulatorThread, env: dict) -> None:
    """validate shows each row's verdict and the summary, exits 1 for the invalid row, sends nothing."""
    before = len(sim_thread.simulator.received)
    code, out, _ = run_cli("validate", str(SAMPLES / "manifest.xlsx"), "--project-id", "p", "--region", "cn-north-4")
    assert code == 1
    assert "invalid:src_ak too long" in out and "duplicate" in out
    assert "13 rows · 11 to call · 1 duplicate · 1 invalid" in out
    assert len(sim_thread.simulator.received) == before


def test_validate_without_project_is_a_usage_error(env: dict) -> None:
    """No project id anywhere: exit 2 with what to do."""
    code, _, err = run_cli("validate", str(SAMPLES / "manifest.csv"), "--region", "cn-north-4")
    assert code == 2 and "--project-id" in err


@pytest.mark.slow
@pytest.mark.parametrize(("signame", "expected"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_stops_the_run_and_still_writes_the_report(tmp_path: Path, signame: str, expected: int) -> None:
    """Ctrl-C / SIGTERM: exit 130 / 143, finished rows kept, the rest interrupted, every report written."""
    import signal

    config = SimConfig(latency_ms=300)
    with SimulatorThread(config) as sim_thread:
        ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]]
        manifest = tmp_path / "m.csv"
        manifest.write_text("group_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
        env = child_env(config)
        proc = start_child(
            child_run_argv(
                manifest, sim_thread.url, config.project_id, tmp_path / "run", "--concurrency", "2", "--quiet"
            ),
            env,
        )
        wait_for_requests(sim_thread.simulator, 3)
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == expected, err
    assert "interrupted" in err and "Traceback" not in err
    assert f"bulkretry run {manifest} --out {tmp_path / 'run'} --resume" in err  # the command that continues it
    with open(tmp_path / "run" / "report.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    outcomes = [r["outcome"] for r in rows]
    assert len(rows) == len(ids)
    assert set(outcomes) == {"succeeded", "interrupted"}
    assert 2 <= outcomes.count("succeeded") < len(ids) - 5


def test_journal_keeps_a_per_second_timeline_of_calls_429s_and_failures(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """The timeline (for the HTML report) counts every call once, and the failed ones as failures."""
    from bulkretry.run.journal import Journal

    _run(sim_thread, SAMPLES / "manifest.csv", tmp_path / "run")
    with Journal.open_existing(tmp_path / "run" / "journal.sqlite") as journal:
        timeline = journal.params()["timeline"]
    assert sum(calls for _, calls, _, _ in timeline) == 11
    assert sum(failed for _, _, _, failed in timeline) == 3  # two OMS.1015, one OMS.1009
    assert sum(throttled for _, _, throttled, _ in timeline) == 0
    assert all(isinstance(second, int) and second > 1_700_000_000 for second, *_ in timeline)


# -- the annotated manifest, written in the reports' pass over the journal -------------------------------


def _execute(sim_thread: SimulatorThread, manifest: Path, out: Path, on_result=None):
    import anyio

    from bulkretry.oms.auth import AkSkAuth
    from bulkretry.oms.credentials import AkSk
    from bulkretry.run.prepare import prepare
    from bulkretry.run.runner import execute
    from bulkretry.run.settings import ManifestSource, Output, Pacing, RunSettings, ServiceTarget

    settings = RunSettings(
        ManifestSource(manifest),
        ServiceTarget(endpoint=sim_thread.url, project_id=sim_thread.config.project_id),
        Pacing(rate=None, concurrency=1),
        output=Output(out_dir=out),
    )
    prepared = prepare(settings)
    auth = AkSkAuth(AkSk(sim_thread.config.ak, sim_thread.config.sk))
    return prepared, anyio.run(lambda: execute(prepared, auth, on_result=on_result))


def test_a_cancelled_run_reports_the_rows_planned_ahead_as_interrupted(tmp_path: Path) -> None:
    """Plans are made a batch ahead of the calls: when the run is cancelled partway through a batch, the rest
    of that batch and the rows after it are still in the journal and the report, as interrupted, in order."""
    import anyio

    from bulkretry.oms.auth import TokenAuth
    from bulkretry.oms.credentials import Token
    from bulkretry.run.prepare import prepare
    from bulkretry.run.runner import PLAN_BATCH, execute
    from bulkretry.run.settings import ManifestSource, Output, Pacing, RunSettings, ServiceTarget

    rows = 2 * PLAN_BATCH + 7
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\n" + "".join(f"g-{i:04d}\n" for i in range(rows)), encoding="utf-8")
    with SimulatorThread(SimConfig(latency_ms=200)) as sim_thread:
        settings = RunSettings(
            ManifestSource(manifest),
            ServiceTarget(endpoint=sim_thread.url, project_id=sim_thread.config.project_id),
            Pacing(rate=None, concurrency=2),
            output=Output(out_dir=tmp_path / "run"),
        )
        prepared = prepare(settings)

        async def main() -> None:
            with anyio.move_on_after(0.5):
                await execute(prepared, TokenAuth(Token(sim_thread.config.token)))

        anyio.run(main)
    with open(tmp_path / "run" / "report.csv", encoding="utf-8-sig", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert [r["group_id"] for r in report] == [f"g-{i:04d}" for i in range(rows)]
    called = [r for r in report if r["outcome"] != "interrupted"]
    assert 1 <= len(called) < 20 and all(r["attempts"] == "1" for r in called)
    assert all(r["error_code"] == "interrupted" for r in report[len(called) + 2 :])


def _failed_ids(sim_thread: SimulatorThread, n: int) -> list[str]:
    return [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=1000)[1]][:n]


def test_run_annotates_the_csv_as_write_annotated_does(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """The run feeds annotated.csv from the reports' pass: the same bytes as write_annotated from the journal,
    and the same outcomes as report.csv, row by row (blank rows kept in place)."""
    from bulkretry.manifest.annotate import write_annotated
    from bulkretry.run.journal import Journal

    ids = _failed_ids(sim_thread, 6)
    lines = [f"{gid},row {i}\n" for i, gid in enumerate(ids)] + ["not-a-failed-group,extra\n"]
    lines.insert(3, ",\n")  # a blank record stays a blank line
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id,note\n" + "".join(lines), encoding="utf-8")
    prepared, result = _execute(sim_thread, manifest, tmp_path / "run")
    assert result.note == "" and tmp_path / "run" / "annotated.csv" in result.files
    with Journal(tmp_path / "run" / "journal.sqlite") as journal:
        again = write_annotated(prepared.info, journal.results(), tmp_path / "again")
    ours = (tmp_path / "run" / "annotated.csv").read_bytes()
    assert again.rows == 7 and ours == (tmp_path / "again" / "annotated.csv").read_bytes()
    with open(tmp_path / "run" / "annotated.csv", encoding="utf-8-sig", newline="") as fh:
        annotated = [row for row in csv.DictReader(fh) if row["group_id"]]
    with open(tmp_path / "run" / "report.csv", encoding="utf-8-sig", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert [(r["group_id"], r["outcome"], r["error_code"]) for r in annotated] == [
        (r["group_id"], r["outcome"], r["error_code"]) for r in report
    ]
    assert [r["outcome"] for r in report] == ["succeeded"] * 6 + ["failed"]


def test_manifest_edited_during_the_run_costs_the_annotation_not_the_reports(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """The annotated writer stops partway (row 5 no longer holds its group): the reports still have every row,
    no annotated.csv (nor its temporary file) is left, and the run says why."""
    ids = _failed_ids(sim_thread, 6)
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id,note\n" + "".join(f"{gid},row {i}\n" for i, gid in enumerate(ids)), encoding="utf-8")
    edited = [*ids[:3], "someone-else", *ids[4:]]
    seen = []

    def on_result(result) -> None:
        seen.append(result)
        if len(seen) == len(ids):  # after the last call, before the reports
            manifest.write_text(
                "group_id,note\n" + "".join(f"{gid},row {i}\n" for i, gid in enumerate(edited)), encoding="utf-8"
            )

    _, result = _execute(sim_thread, manifest, tmp_path / "run", on_result=on_result)
    assert "annotated.csv not written" in result.note and "holds group 'someone-else' in row 5" in result.note
    assert sorted(path.name for path in (tmp_path / "run").iterdir() if path.name.startswith("annotated")) == []
    with open(tmp_path / "run" / "report.csv", encoding="utf-8-sig", newline="") as fh:
        assert [r["group_id"] for r in csv.DictReader(fh)] == ids
