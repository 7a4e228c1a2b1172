"""Scheduled re-runs and crash safety end to end: --resume, rerun, the folder lock, --log-file,
--json-summary, and kill -9 at a random moment followed by --resume. Real simulator, real files."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from bulkretry.run.prepare import prepare
from bulkretry.run.runlock import RunLock
from bulkretry.run.runner import execute
from bulkretry.run.settings import ManifestSource, Output, Pacing, Resume, RunSettings, ServiceTarget
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import (
    DEMO_SECRETS,
    SAMPLES,
    child_env,
    child_run_argv,
    failed_group_ids,
    run_cli,
    start_child,
    write_group_manifest,
)


@pytest.fixture
def sim_config() -> SimConfig:
    """The default simulator: the groups samples/ was made from."""
    return SimConfig()


def _where(sim_thread: SimulatorThread) -> list[str]:
    return ["--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id, "--rate", "500", "--quiet"]


def _report(folder: Path) -> list[dict[str, str]]:
    with open(folder / "report.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _puts(sim_thread: SimulatorThread, since: int = 0) -> list[str]:
    """Group ids of the retry calls the simulator received after request number *since*."""
    return [r.path_segments[3] for r in sim_thread.simulator.received[since:] if r.method == "PUT"]


def _failed_manifest(sim_thread: SimulatorThread, path: Path, n: int) -> list[str]:
    ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=1000)[1]][:n]
    path.write_text("group_id,note\n" + "".join(f"{gid},row {i}\n" for i, gid in enumerate(ids)), encoding="utf-8")
    return ids


def _child_run(
    sim_thread: SimulatorThread, tmp_path: Path, n: int, *options: str
) -> tuple[list[str], list[str], dict[str, str]]:
    """A manifest of the simulator's first *n* failed groups, and a child ``bulkretry run`` of it into tmp_path/run
    with *options*: ``(the ids, its argv, its environment)``."""
    ids = failed_group_ids(sim_thread, n)
    manifest = write_group_manifest(tmp_path / "m.csv", ids)
    argv = child_run_argv(manifest, sim_thread.url, sim_thread.config.project_id, tmp_path / "run", *options)
    return ids, argv, child_env(sim_thread.config)


def _stopped_run(sim_thread: SimulatorThread, manifest: Path, out: Path, stop_after: int) -> None:
    """A run stopped (as by Ctrl-C) after *stop_after* results: the rest are interrupted."""
    from bulkretry.oms.auth import AkSkAuth
    from bulkretry.oms.credentials import AkSk

    settings = RunSettings(
        ManifestSource(manifest),
        ServiceTarget(endpoint=sim_thread.url, project_id=sim_thread.config.project_id),
        Pacing(rate=None, concurrency=1),
        output=Output(out_dir=out),
    )
    engine = {}
    seen = []

    def on_result(result) -> None:
        seen.append(result)
        if len(seen) == stop_after:
            engine["e"].stop()

    prepared = prepare(settings)
    anyio.run(
        lambda: execute(
            prepared,
            AkSkAuth(AkSk(sim_thread.config.ak, sim_thread.config.sk)),
            on_result=on_result,
            on_start=lambda start: engine.setdefault("e", start.engine),
        )
    )


# -- resume ---------------------------------------------------------------------------------------------


def test_resume_calls_only_the_rows_not_yet_finished(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """Stopped after 4 rows, then --resume: the other rows are called once each; the report is complete."""
    ids = _failed_manifest(sim_thread, tmp_path / "m.csv", 12)
    _stopped_run(sim_thread, tmp_path / "m.csv", tmp_path / "run", stop_after=4)
    first = _report(tmp_path / "run")
    done = [r["group_id"] for r in first if r["outcome"] == "succeeded"]
    assert len(done) == 4 and {r["outcome"] for r in first} == {"succeeded", "interrupted"}
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli(
        "run", str(tmp_path / "m.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"), "--resume"
    )
    assert code == 0, err
    assert sorted(_puts(sim_thread, before)) == sorted(set(ids) - set(done))
    rows = _report(tmp_path / "run")
    assert [r["group_id"] for r in rows] == ids and {r["outcome"] for r in rows} == {"succeeded"}
    assert [r["note"] for r in rows] == [f"row {i}" for i in range(12)]
    summary_json = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary_json["sessions"] == 2 and summary_json["calls"] == 12
    assert summary_json["by_outcome"] == {"succeeded": 12}


def test_resume_of_a_finished_run_calls_nothing(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """Every row final: --resume rewrites the reports and sends no request."""
    _failed_manifest(sim_thread, tmp_path / "m.csv", 3)
    run_cli("run", str(tmp_path / "m.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"))
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli(
        "run", str(tmp_path / "m.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"), "--resume"
    )
    assert code == 0, err
    assert len(sim_thread.simulator.received) == before
    assert len(_report(tmp_path / "run")) == 3


def test_resume_refuses_a_changed_manifest_unless_forced(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """An edited manifest: exit 2, nothing called, a message saying what to do; --force goes on."""
    manifest = tmp_path / "m.csv"
    _failed_manifest(sim_thread, manifest, 6)
    _stopped_run(sim_thread, manifest, tmp_path / "run", stop_after=2)
    manifest.write_text(manifest.read_text(encoding="utf-8") + "extra-group,new\n", encoding="utf-8")
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("run", str(manifest), *_where(sim_thread), "--out", str(tmp_path / "run"), "--resume")
    assert code == 2 and "the manifest changed" in err and "--force" in err and "Traceback" not in err
    assert len(sim_thread.simulator.received) == before
    code, _, err = run_cli(
        "run", str(manifest), *_where(sim_thread), "--out", str(tmp_path / "run"), "--resume", "--force"
    )
    assert code == 1, err  # the unknown group fails; the others succeed
    assert len(_puts(sim_thread, before)) == 5


def test_a_forced_resume_names_the_groups_its_changed_rows_hold(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """--resume --force after finished rows changed groups: the groups those rows hold now were not called, and
    the run says which (a warning on stderr, the log), instead of skipping them silently."""
    manifest = tmp_path / "m.csv"
    ids = _failed_manifest(sim_thread, manifest, 8)
    _stopped_run(sim_thread, manifest, tmp_path / "run", stop_after=2)  # rows 2 and 3 finished
    lines = manifest.read_text(encoding="utf-8").splitlines()
    lines[1], lines[2] = f"{ids[6]},moved", f"{ids[7]},moved"  # rows 2 and 3 now hold groups never called
    manifest.write_text("\n".join(lines[:7]) + "\n", encoding="utf-8")
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli(
        "run", str(manifest), *_where(sim_thread), "--out", str(tmp_path / "run"), "--resume", "--force"
    )
    assert code in (0, 1) and "Traceback" not in err, err  # 1 when a row the stopped session reached fails now
    project = sim_thread.config.project_id
    assert "2 rows finished in an earlier session now hold other groups" in err, err
    assert f"{project}/{ids[6]}, {project}/{ids[7]}" in err
    assert not {ids[6], ids[7]} & set(_puts(sim_thread, before))  # as the warning says: not called


def test_resume_refuses_changed_call_settings(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """Another project id than the run's own: exit 2, naming the setting."""
    _failed_manifest(sim_thread, tmp_path / "m.csv", 4)
    _stopped_run(sim_thread, tmp_path / "m.csv", tmp_path / "run", stop_after=1)
    code, _, err = run_cli(
        "run",
        str(tmp_path / "m.csv"),
        "--endpoint",
        sim_thread.url,
        "--project-id",
        "other",
        "--quiet",
        "--out",
        str(tmp_path / "run"),
        "--resume",
    )
    assert code == 2 and "project_id was" in err


@pytest.mark.parametrize("case", ["no-out", "empty-folder"])
def test_resume_without_a_run_is_a_usage_error(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, case: str
) -> None:
    """--resume without --out, or on a folder with no run: exit 2 with what to do, nothing called."""
    _failed_manifest(sim_thread, tmp_path / "m.csv", 2)
    out = [] if case == "no-out" else ["--out", str(tmp_path)]
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("run", str(tmp_path / "m.csv"), *_where(sim_thread), *out, "--resume")
    assert code == 2 and ("--out DIR" in err if case == "no-out" else "nothing to resume" in err)
    assert len(sim_thread.simulator.received) == before


def test_a_locked_folder_is_refused(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """While another run holds the folder, a second run (or resume) into it exits 2 and calls nothing."""
    _failed_manifest(sim_thread, tmp_path / "m.csv", 2)
    (tmp_path / "run").mkdir()
    before = len(sim_thread.simulator.received)
    with RunLock(tmp_path / "run"):
        code, _, err = run_cli("run", str(tmp_path / "m.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"))
    assert code == 2 and "in use by another bulkretry run" in err
    assert len(sim_thread.simulator.received) == before


# -- rerun ----------------------------------------------------------------------------------------------


def test_rerun_calls_exactly_the_failed_rows(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """rerun DIR: only the failed rows' groups are called, with credentials read again from the manifest."""
    code, _, _ = run_cli("run", str(SAMPLES / "manifest.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"))
    assert code == 1
    failed = [r for r in _report(tmp_path / "run") if r["outcome"] == "failed"]
    assert len(failed) == 3
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("rerun", str(tmp_path / "run"), "--out", str(tmp_path / "again"), "--quiet")
    assert code == 1, err
    sent = [r for r in sim_thread.simulator.received[before:] if r.method == "PUT"]
    assert sorted(r.path_segments[3] for r in sent) == sorted(r["group_id"] for r in failed)
    assert all(json.loads(r.body)["src_sk"] == DEMO_SECRETS["DEMO_SRC_SK"] for r in sent)
    rows = _report(tmp_path / "again")
    assert [r["row"] for r in rows] == [r["row"] for r in failed]
    summary_json = json.loads((tmp_path / "again" / "summary.json").read_text(encoding="utf-8"))
    assert summary_json["source_run"]["out_dir"] == str((tmp_path / "run").absolute())
    assert summary_json["source_run"]["only"] == ["failed", "interrupted"] and summary_json["rows"] == 3


def test_rerun_by_error_code_and_default_folder(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """--error-code narrows the rows; without --out the new run sits beside the source, named *-rerun."""
    run_cli("run", str(SAMPLES / "manifest.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"))
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("rerun", str(tmp_path / "run"), "--error-code", "OMS.1009", "--quiet")
    unknown = [r["group_id"] for r in _report(tmp_path / "run") if r["error_code"] == "OMS.1009"]
    assert code == 1, err
    assert len(unknown) == 1
    assert _puts(sim_thread, before) == unknown
    (new,) = [p for p in tmp_path.iterdir() if p.name.endswith("-rerun")]
    assert [r["group_id"] for r in _report(new)] == unknown


def test_rerun_with_nothing_to_do_exits_0_and_writes_nothing(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """A run with no failed row: rerun says so, calls nothing, creates no folder."""
    _failed_manifest(sim_thread, tmp_path / "m.csv", 3)
    run_cli("run", str(tmp_path / "m.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"))
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("rerun", str(tmp_path / "run"))
    assert code == 0 and "nothing to rerun" in err
    assert len(sim_thread.simulator.received) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "run"]


def test_rerun_of_a_folder_without_a_run_exits_2(tmp_path: Path) -> None:
    """A folder that holds no journal: exit 2 naming it."""
    code, _, err = run_cli("rerun", str(tmp_path))
    assert code == 2 and str(tmp_path) in err and "holds no run" in err


def test_rerun_matches_rows_by_group_after_the_manifest_was_edited(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """Finished rows deleted from the manifest: the interrupted groups are still found and called."""
    manifest = tmp_path / "m.csv"
    ids = _failed_manifest(sim_thread, manifest, 8)
    _stopped_run(sim_thread, manifest, tmp_path / "run", stop_after=3)
    left = [r["group_id"] for r in _report(tmp_path / "run") if r["outcome"] == "interrupted"]
    manifest.write_text("group_id\n" + "\n".join(reversed(left)) + "\n", encoding="utf-8")
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("rerun", str(tmp_path / "run"), "--out", str(tmp_path / "again"), "--quiet")
    assert code == 0, err
    assert "changed since" in err
    assert sorted(_puts(sim_thread, before)) == sorted(left) and len(left) == len(ids) - 3


# -- unattended runs --------------------------------------------------------------------------------------


def test_log_file_and_json_summary(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """--log-file: JSON lines (start, one per row, finish); --json-summary: stdout is one JSON document."""
    log = tmp_path / "run.jsonl"
    code, out, err = run_cli(
        "run",
        str(SAMPLES / "manifest.csv"),
        *_where(sim_thread),
        "--out",
        str(tmp_path / "run"),
        "--log-file",
        str(log),
        "--json-summary",
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["exit_status"] == 1 and doc["by_outcome"]["succeeded"] == 8 and doc["rows"] == 13
    assert "13 rows:" in err
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finish" and kinds.count("row") == 13
    assert {e["outcome"] for e in events if e["event"] == "row"} == {"succeeded", "failed", "invalid", "duplicate"}


def test_json_summary_of_a_usage_error(tmp_path: Path) -> None:
    """Even a run that cannot start answers a cron wrapper in JSON, with exit 2."""
    code, out, _ = run_cli("run", str(tmp_path / "missing.csv"), "--json-summary")
    assert code == 2 and json.loads(out)["exit_status"] == 2 and "missing.csv" in json.loads(out)["error"]


def test_no_secret_in_any_file_log_or_output(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """Every file a run, a resume and a rerun write, the log and the output hold none of the secrets."""
    log = tmp_path / "run.jsonl"
    outputs = []
    for argv in (
        ["run", str(SAMPLES / "manifest.csv"), *_where(sim_thread), "--out", str(tmp_path / "run")],
        ["run", str(SAMPLES / "manifest.csv"), *_where(sim_thread), "--out", str(tmp_path / "run"), "--resume"],
        ["rerun", str(tmp_path / "run"), "--out", str(tmp_path / "again")],
    ):
        code, out, err = run_cli(*argv, "--log-file", str(log), "--json-summary")
        assert code == 1 and json.loads(out)["exit_status"] == 1, err
        outputs.append(out + err)
    secrets = [*DEMO_SECRETS.values(), sim_thread.config.sk, "SRCAKEXAMPLE0000"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"journal.sqlite", "report.xlsx", "summary.json", "run.jsonl", ".lock"}
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path, secret)
    for secret in secrets:
        assert all(secret not in text for text in outputs)


# -- kill -9 --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_at_a_random_moment_then_resume_completes_the_run(tmp_path: Path, seed: int) -> None:
    """SIGKILL mid-run, then --resume: no finished row is called again (only rows in flight may repeat),
    and the final report has every row, each called."""
    config = SimConfig(groups=400, failed_ratio=1.0, latency_ms=20)
    with SimulatorThread(config) as sim_thread:
        ids, argv, env = _child_run(sim_thread, tmp_path, 300, "--rate", "400", "--concurrency", "8", "--quiet")
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = random.Random(seed).randint(20, 200)
        deadline = time.monotonic() + 60
        while len(_puts(sim_thread)) < target and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        with closing(sqlite3.connect(tmp_path / "run" / "journal.sqlite")) as db:
            finished = {row for (row,) in db.execute("SELECT row FROM rows WHERE outcome != 'interrupted'")}
            (horizon,) = db.execute("SELECT value FROM run WHERE key = 'calling_horizon'").fetchone()
        maybe_called = set(range(2, int(horizon) + 1)) - finished
        first = _puts(sim_thread)
        called_rows = {ids.index(g) + 2 for g in first}
        assert called_rows - finished <= maybe_called  # every call that went out is journalled or under the horizon
        assert len(maybe_called) <= 8 + 2 * 8  # the calls in flight, and the horizon's slack (2 x concurrency)
        resume = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=120)
        second = _puts(sim_thread, 0)[len(first) :]
    assert resume.returncode in (0, 1), resume.stderr
    again = {ids.index(g) + 2 for g in second}
    assert not again & finished  # no finished row was called again
    # Only the rows whose answer was not yet on disk may repeat: the calls in flight (8), and, at most one per
    # worker, an answer recorded in the loop turn of the kill whose worker had already sent its next call (the turn
    # commits its answers once, after its callbacks: the journal's batching).
    assert len(again & called_rows) <= 2 * 8
    rows = _report(tmp_path / "run")
    assert [r["group_id"] for r in rows] == ids
    assert all(r["outcome"] in ("succeeded", "failed") for r in rows)
    assert sorted(set(first) | set(second)) == sorted(ids)  # every group was called
    repeated = [r for r in rows if int(r["row"]) in again & called_rows]
    assert all(r["outcome"] == "succeeded" or "may have called this row" in r["error_msg"] for r in repeated)


@pytest.mark.slow
def test_a_second_ctrl_c_aborts_at_once_and_the_journal_stays_consistent(tmp_path: Path) -> None:
    """Two SIGINTs: calls in flight are abandoned (interrupted, not waited for), every row is reported and
    journalled, and --resume then finishes the run."""
    config = SimConfig(groups=40, failed_ratio=1.0, latency_ms=4000)
    with SimulatorThread(config) as sim_thread:
        ids, argv, env = _child_run(sim_thread, tmp_path, 10, "--concurrency", "3", "--rate", "100", "--quiet")
        proc = start_child(argv, env)
        deadline = time.monotonic() + 30
        while len(_puts(sim_thread)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        rows = _report(tmp_path / "run")
        assert [r["group_id"] for r in rows] == ids and {r["outcome"] for r in rows} == {"interrupted"}
        with closing(sqlite3.connect(tmp_path / "run" / "journal.sqlite")) as db:
            assert db.execute("SELECT COUNT(*) FROM rows WHERE outcome = 'interrupted'").fetchone()[0] == len(ids)
        resume = subprocess.run(
            [*argv, "--resume", "--concurrency", "10"], env=env, capture_output=True, text=True, timeout=120
        )
    assert resume.returncode in (0, 1), resume.stderr
    assert {r["outcome"] for r in _report(tmp_path / "run")} <= {"succeeded", "failed"}


def test_a_stopped_rerun_resumes_with_its_own_selection(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """A rerun stopped part-way, resumed with `run MANIFEST --out RERUN --resume`: only the rerun's rows are
    called (not the whole manifest), and its summary still names its source."""
    from bulkretry.oms.auth import AkSkAuth
    from bulkretry.oms.credentials import AkSk
    from bulkretry.run.rerun import load_selection

    manifest = tmp_path / "m.csv"
    _failed_manifest(sim_thread, manifest, 10)
    _stopped_run(sim_thread, manifest, tmp_path / "run", stop_after=4)  # 6 rows interrupted
    selection = load_selection(tmp_path / "run")
    settings = RunSettings(
        ManifestSource(manifest),
        ServiceTarget(endpoint=sim_thread.url, project_id=sim_thread.config.project_id),
        Pacing(rate=None, concurrency=1),
        output=Output(out_dir=tmp_path / "again"),
        resume=Resume(selection=selection),
    )
    engine = {}
    seen = []

    def on_result(result) -> None:
        seen.append(result)
        if len(seen) == 2:
            engine["e"].stop()

    auth = AkSkAuth(AkSk(sim_thread.config.ak, sim_thread.config.sk))
    anyio.run(
        lambda: execute(
            prepare(settings), auth, on_result=on_result, on_start=lambda start: engine.setdefault("e", start.engine)
        )
    )
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("run", str(manifest), *_where(sim_thread), "--out", str(tmp_path / "again"), "--resume")
    assert code == 0, err
    left = [r["group_id"] for r in _report(tmp_path / "run") if r["outcome"] == "interrupted"]
    rows = _report(tmp_path / "again")
    assert sorted(r["group_id"] for r in rows) == sorted(left) and {r["outcome"] for r in rows} == {"succeeded"}
    assert len(_puts(sim_thread, before)) == len(left) - 2  # the two the rerun finished are not called again
    summary_json = json.loads((tmp_path / "again" / "summary.json").read_text(encoding="utf-8"))
    assert summary_json["source_run"]["run_id"] == "run" and summary_json["sessions"] == 2


@pytest.mark.slow
def test_max_duration_starts_no_call_after_the_time_box_and_resume_finishes(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """--max-duration 1s at 10 calls/s: no call starts after the second, the rows not called are interrupted with
    error code max_duration (exit 1, the reason said), and --resume calls exactly those."""
    manifest = tmp_path / "m.csv"
    ids = _failed_manifest(sim_thread, manifest, 30)
    where = ["--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id, "--quiet"]
    before = len(sim_thread.simulator.received)
    started = time.monotonic()
    code, out, err = run_cli(
        "run",
        str(manifest),
        *where,
        "--rate",
        "10",
        "--concurrency",
        "2",
        "--max-duration",
        "1s",
        "--out",
        str(tmp_path / "run"),
        "--json-summary",
    )
    assert code == 1, err
    assert time.monotonic() - started < 20  # a bound against a hang, not a timing assertion
    called = _puts(sim_thread, before)
    rows = _report(tmp_path / "run")
    boxed = [r for r in rows if r["error_code"] == "max_duration"]
    assert 5 <= len(called) <= 15 and len(boxed) == 30 - len(called), (len(called), len(boxed))
    assert all(r["outcome"] == "interrupted" and "--max-duration 1s" in r["error_msg"] for r in boxed)
    assert "the time box ended" in err and "--resume" in err
    assert json.loads(out)["halted"].startswith("the run reached --max-duration 1s")
    before = len(sim_thread.simulator.received)
    code, _, err = run_cli("run", str(manifest), *where, "--rate", "500", "--out", str(tmp_path / "run"), "--resume")
    assert code == 0, err
    assert sorted(_puts(sim_thread, before)) == sorted(r["group_id"] for r in boxed)
    assert {r["outcome"] for r in _report(tmp_path / "run")} == {"succeeded"} and len(ids) == 30


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("45m", 2700), ("2h", 7200), ("1.5h", 5400), ("30", 30)])
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    """--max-duration's forms: a number with s, m or h, or bare seconds."""
    from bulkretry.run.settings import format_duration, parse_duration

    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "0s", "-5m", "abc", "2d", "nan", "inf", "9999h"])
def test_a_bad_duration_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Anything else is exit 2, naming the option and the forms (argparse's message, on stderr)."""
    code, _, _ = run_cli("run", "m.csv", f"--max-duration={text}")
    err = capsys.readouterr().err
    assert code == 2 and "--max-duration" in err and "45m" in err, err
