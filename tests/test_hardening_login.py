"""Hardening against login and 401 storms, end to end through the CLI: a systematic failure stops the run, not one
row at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from bulkretry.sim import SimulatorThread
from tests.clitools import PROJECT, clear_credentials, read_report, run_at, use_sim_credentials
from tests.manifests import write_csv
from tests.servers import Handler, Listener, ServerThread, empty_json

# -- login and 401 storms: a systematic failure stops the run, not one row at a time -----------------------

IAM_PATH = "/v3/auth/tokens"


def _failed_groups(sim: SimulatorThread, n: int) -> list[str]:
    return [g["group_id"] for g in sim.simulator.state.list(status=5, offset=0, limit=1000)[1]][:n]


def _use_password(monkeypatch: pytest.MonkeyPatch, user: str, password: str) -> None:
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_IAM_USER", user)
    monkeypatch.setenv("OMS_IAM_PASSWORD", password)


def _iam_answering(status: int, message: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": status, "message": message}}, status=status)

    return handler


def _iam_logins(sim: SimulatorThread) -> int:
    return sum(r.raw_path == IAM_PATH for r in sim.simulator.received)


@pytest.mark.parametrize("case", ["wrong-password", "unknown-user", 400, 403])
def test_a_refused_iam_login_stops_the_run_at_once_exit_2(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: object
) -> None:
    """IAM refusing the login (4xx) is asked once, not once per row: no OMS call, one line, exit 2."""
    _use_password(
        monkeypatch,
        "nobody" if case == "unknown-user" else "sim-user",
        "sim-password" if isinstance(case, int) else "not-the-password",
    )
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in _failed_groups(sim_thread, 8))])
    iam = ServerThread(_iam_answering(case, "The account is locked.")) if isinstance(case, int) else None
    with iam or ServerThread(empty_json):
        code, out, err = run_at(
            sim_thread.url,
            manifest,
            tmp_path / "run",
            "--concurrency",
            "4",
            "--iam-endpoint",
            iam.url if iam else sim_thread.url,
            "--iam-domain",
            "sim-domain",
        )
    logins = len(iam.requests) if iam else _iam_logins(sim_thread)
    assert (code, logins, sim_thread.simulator.calls) == (2, 1, 0), (out, err)
    assert err.startswith("bulkretry: error: IAM") and err.count("\n") == 1, err
    assert "refused the login" in err and "nothing was called" in err and "--resume" in err, err
    assert "not-the-password" not in out + err and "Traceback" not in err


def test_a_refused_login_after_calls_for_another_project_exits_3(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM refusing a second project stops the run there; the calls made are kept and the exit is 3."""
    _use_password(monkeypatch, "sim-user", "sim-password")
    g = _failed_groups(sim_thread, 5)
    rows = [[PROJECT, g[0]], [PROJECT, g[1]], ["other-project", g[2]], ["other-project", g[3]], [PROJECT, g[4]]]
    manifest = write_csv(tmp_path / "m.csv", [["project_id", "group_id"], *rows])
    code, out, err = run_at(
        sim_thread.url,
        manifest,
        tmp_path / "run",
        "--concurrency",
        "1",
        "--iam-endpoint",
        sim_thread.url,
        "--iam-domain",
        "sim-domain",
    )
    assert (code, _iam_logins(sim_thread), sim_thread.simulator.calls) == (3, 2, 2), (out, err)
    assert err.startswith("bulkretry: error: IAM") and "other-project" in err, err
    assert "2 calls were made before" in err and "--resume" in err, err
    assert [(r["group_id"], r["outcome"]) for r in read_report(tmp_path / "run")] == [
        (g[0], "succeeded"),
        (g[1], "succeeded"),
    ]


def _closed_port_url() -> str:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as sock:
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("case", ["silent", "closed", 429, 503])
def test_an_iam_that_gives_no_token_is_asked_once_and_halts_the_run(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: object
) -> None:
    """IAM silent, closed, throttling or failing: one login attempt for the run, every row halted, exit 3."""
    _use_password(monkeypatch, "sim-user", "sim-password")
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in _failed_groups(sim_thread, 6))])
    server: Listener | ServerThread | None = (
        Listener(hold=True)
        if case == "silent"
        else ServerThread(_iam_answering(case, "busy"))
        if isinstance(case, int)
        else None
    )
    with server or ServerThread(empty_json):
        url = server.url if server else _closed_port_url()
        code, out, err = run_at(
            sim_thread.url,
            manifest,
            tmp_path / "run",
            "--concurrency",
            "3",
            "--max-attempts",
            "3",
            "--timeout",
            "0.3",
            "--iam-endpoint",
            url,
            "--iam-domain",
            "sim-domain",
        )
    attempts = server.connections if isinstance(server, Listener) else len(server.requests) if server else 1
    assert (code, attempts, sim_thread.simulator.calls) == (3, 1, 0), (out, err)
    rows = read_report(tmp_path / "run")
    assert len(rows) == 6
    assert {(r["outcome"], r["error_code"], r["attempts"]) for r in rows} == {("interrupted", "halted", "0")}
    assert all(r["error_msg"].startswith("halted: IAM") and url in r["error_msg"] for r in rows), rows[0]
    assert "halted" in err and "--resume" in err, err


@pytest.mark.parametrize("case", ["wrong-sk", "wrong-token", "wrong-project"])
def test_refused_first_calls_halt_the_run_and_resume_calls_the_rest(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The first 5 calls all refused (401/403): no more calls start, the rest are halted, --resume calls them."""
    config = sim_thread.simulator.config
    clear_credentials(monkeypatch)
    if case == "wrong-token":
        monkeypatch.setenv("OMS_AUTH_TOKEN", "not-the-token")
    else:
        monkeypatch.setenv("HUAWEICLOUD_SDK_AK", config.ak)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "not-the-sk" if case == "wrong-sk" else config.sk)
    project = "other-project" if case == "wrong-project" else PROJECT
    groups = _failed_groups(sim_thread, 12)
    manifest = write_csv(tmp_path / "m.csv", [["project_id", "group_id"], *([project, g] for g in groups)])
    code, out, err = run_at(sim_thread.url, manifest, tmp_path / "run", "--concurrency", "2")
    calls = sim_thread.simulator.calls
    assert code == 3 and 5 <= calls <= 6, (calls, out, err)
    rows = read_report(tmp_path / "run")
    refused = ("403", "OMS.0003") if case == "wrong-project" else ("401", "APIGW.0301")
    failed = [r for r in rows if r["outcome"] == "failed"]
    halted = [r for r in rows if r["outcome"] == "interrupted"]
    assert len(failed) == calls and {(r["http_status"], r["error_code"]) for r in failed} == {refused}
    assert len(halted) == 12 - calls and {r["error_code"] for r in halted} == {"halted"}
    reason = f"halted: the first 5 calls were refused with {refused[0]} {refused[1]}; check the credentials"
    assert all(r["error_msg"].startswith(reason) for r in halted), halted[0]["error_msg"]
    assert "halted" in err and "--resume" in err, err
    if case == "wrong-project":
        return
    use_sim_credentials(monkeypatch, config)
    code, out, err = run_at(sim_thread.url, manifest, tmp_path / "run", "--concurrency", "2", "--resume")
    assert code == 1 and sim_thread.simulator.calls == 12, (out, err)
    after = {r["group_id"]: r["outcome"] for r in read_report(tmp_path / "run")}
    assert after == {g: "failed" if g in {r["group_id"] for r in failed} else "succeeded" for g in groups}
