"""Hardening of the run's own credentials, end to end through the CLI: they never reach a file or the screen."""

from __future__ import annotations

import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from aiohttp import web

from bulkretry.sim import SimulatorThread
from tests.clitools import PROJECT, TOKEN, read_report, run_at, run_cli
from tests.manifests import write_csv
from tests.servers import ServerThread

# -- the run's own credentials never reach a file or the screen ---------------------------------------------

ROW_SK = "row-src-sk-0123456789abcdef"
ROW_AK = "ROWSRCAK00000000001"


async def _quoting(request: web.Request) -> web.Response:
    """A server that quotes the token it was sent (and the row's SK) in its answers: ids, codes, messages."""
    token = request.headers.get("X-Auth-Token", "")
    body = await request.text()
    if request.method == "GET":
        return web.json_response(
            {"error_code": "APIGW.0301", "error_msg": f"token {token} refused"},
            status=401,
            headers={"X-Request-Id": token[:200]},
        )
    group = unquote(request.raw_path.split("/")[4])
    if group == "quote-ok":
        return web.json_response({}, headers={"X-Request-Id": f"{token} {ROW_SK}"})
    return web.json_response(
        {"error_code": "OMS.0002", "error_msg": f"{'x' * 280} token {token} body {body}"},
        status=400,
        headers={"X-Request-Id": token},
    )


def test_a_server_quoting_the_runs_token_leaves_it_in_no_file_or_output(token_env: str, tmp_path: Path) -> None:
    """The token (and a row's SK) quoted in error_msg and X-Request-Id: in no run file, stdout or stderr."""
    manifest = write_csv(
        tmp_path / "m.csv",
        [["group_id", "src_ak", "src_sk"], ["quote-ok", ROW_AK, ROW_SK], ["quote-err", ROW_AK, ROW_SK]],
    )
    with ServerThread(_quoting) as server:
        code, out, err = run_at(server.url, manifest, tmp_path / "run", "--max-attempts", "1")
        dcode, dout, derr = run_cli(
            "discover", "--endpoint", server.url, "--project-id", PROJECT, "--out", str(tmp_path / "found.csv")
        )
    assert (code, dcode) == (1, 1), (out, err, dout, derr)
    assert "[redacted]" in derr
    rows = {r["group_id"]: r for r in read_report(tmp_path / "run")}
    assert rows["quote-ok"]["outcome"] == "succeeded" and "[redacted]" in rows["quote-ok"]["request_id"]
    assert "[redacted]" in rows["quote-err"]["error_msg"], rows["quote-err"]
    texts = [out, err, dout, derr] + [
        p.read_bytes().decode("utf-8", "replace")
        for p in (tmp_path / "run").rglob("*")
        if p.is_file() and p.suffix != ".xlsx"
    ]
    with zipfile.ZipFile(tmp_path / "run" / "report.xlsx") as book:
        texts += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
    for secret in (TOKEN, TOKEN[:12], ROW_SK, ROW_SK[:12]):
        assert not [t[:200] for t in texts if secret in t], secret


@pytest.mark.parametrize("command", ["run", "validate", "discover"])
def test_an_endpoint_with_a_password_is_refused_without_echoing_it(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, command: str
) -> None:
    """--endpoint http://user:pass@host: exit 2 before any call, the password in no output and no file."""
    value = sim_thread.url.replace("http://", "http://admin:hunter2-pw@")
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    args = {
        "validate": ["validate", str(manifest)],
        "run": ["run", str(manifest), "--out", str(tmp_path / "run")],
        "discover": ["discover", "--out", str(tmp_path / "found.csv")],
    }[command]
    before = len(sim_thread.simulator.received)
    code, out, err = run_cli(*args, "--endpoint", value, "--project-id", PROJECT)
    assert code == 2, (out, err)
    assert "--endpoint" in err and "user name or password" in err, err
    assert "hunter2" not in out + err
    assert len(sim_thread.simulator.received) == before
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and b"hunter2" in p.read_bytes()]


# -- a secret read from CSMS is a row's secret like any other ---------------------------------------------------

CSMS_SK = "csms-read-src-sk-fedcba9876543210"


async def _csms_then_quoting(request: web.Request) -> web.Response:
    """CSMS's answer for any secret (CSMS_SK), then an OMS that quotes the call's body back in its error."""
    if request.raw_path.startswith("/v1/"):
        return web.json_response({"version": {"version_metadata": {"id": "v1"}, "secret_string": CSMS_SK}})
    body = await request.text()
    return web.json_response({"error_code": "OMS.0002", "error_msg": f"bad body {body}"}, status=400)


def test_a_secret_read_from_csms_and_quoted_back_is_in_no_file_or_output(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A csms: cell's value, quoted back by the server: redacted, and in no run file, stdout or stderr."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "RUNAK000000000000001")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "run-sk-for-the-quoting-server")
    manifest = write_csv(tmp_path / "m.csv", [["group_id", "src_ak", "src_sk"], ["g1", "AK1", "csms:keys"]])
    with ServerThread(_csms_then_quoting) as server:
        code, out, err = run_at(
            server.url, manifest, tmp_path / "run", "--max-attempts", "1", "--csms-endpoint", server.url
        )
    assert code == 1, (out, err)
    row = read_report(tmp_path / "run")[0]
    assert row["error_code"] == "OMS.0002" and "[redacted]" in row["error_msg"], row
    texts = [out, err] + [
        p.read_bytes().decode("utf-8", "replace")
        for p in (tmp_path / "run").rglob("*")
        if p.is_file() and p.suffix != ".xlsx"
    ]
    with zipfile.ZipFile(tmp_path / "run" / "report.xlsx") as book:
        texts += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
    assert not [t[:200] for t in texts if CSMS_SK in t or CSMS_SK[:12] in t]
