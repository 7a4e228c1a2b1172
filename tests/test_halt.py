"""Stopping early on a systematic failure: errors that cannot heal are not retried, the first calls all failing
alike halt the run, ``--halt-on-failure PCT[:MIN]``; against real sockets (a closed port, a TLS server with a
self-signed certificate, a resolver that knows no name) and the simulator."""

from __future__ import annotations

import csv
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkretry.errors import ApiError, TransportError
from bulkretry.records import Outcome, RowResult
from bulkretry.run.halt import (
    FailureShare,
    FirstCallsFailedAlike,
    parse_halt_on_failure,
    run_rules,
)
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import PROJECT, clear_credentials, run_cli, run_manifest, use_sim_credentials
from tests.netns import require_netns, run_isolated

ROWS = 300


@pytest.fixture
def sim_config() -> SimConfig:
    """Every group failed, enough for 300 rows."""
    return SimConfig(groups=ROWS, failed_ratio=1.0)


def _groups(sim: SimulatorThread) -> list[str]:
    return [g["group_id"] for g in sim.simulator.state.list(status=5, offset=0, limit=1000)[1]]


def _manifest(path: Path, groups: list[str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["group_id"], *([g] for g in groups)])
    return path


def _report(run: Path) -> list[dict[str, str]]:
    with open(run / "report.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _run(url: str, manifest: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return run_manifest(manifest, url, PROJECT, out, *extra, rate="100")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class TlsServer:
    """A TLS server on loopback with a self-signed certificate (made by openssl now), counting connections."""

    def __init__(self, folder: Path) -> None:
        cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.settimeout(5)
            try:
                self.context.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()

    def __enter__(self) -> TlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close() alone does not)
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    with TlsServer(tmp_path) as server:
        yield server


def _check_halted(out_dir: Path, code: int, err: str, cause: str) -> tuple[list[dict[str, str]], dict[str, object]]:
    """The run exited 3, said why, and left its rows not called interrupted/halted naming *cause*."""
    assert code == 3, err
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    reason = f"the first 20 calls all failed with {cause}"
    assert summary["halt_code"] == "halted" and str(summary["halted"]).startswith(reason), summary
    assert f"the run halted: {reason}" in err and "--resume" in err, err
    rows = _report(out_dir)
    assert len(rows) == ROWS
    halted = [r for r in rows if r["error_code"] == "halted"]
    assert halted and all(r["outcome"] == "interrupted" and r["attempts"] == "0" for r in halted)
    assert all(r["error_msg"].startswith(f"halted: {reason}") for r in halted), halted[0]["error_msg"]
    return rows, summary


def _resume_calls_exactly_the_unfinished(
    sim: SimulatorThread, manifest: Path, out_dir: Path, rows: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume against a working endpoint (--force: the endpoint changed) calls the rows not finished, only."""
    unfinished = {r["group_id"] for r in rows if r["outcome"] == "interrupted"}
    use_sim_credentials(monkeypatch, sim.simulator.config)
    code, _, err = _run(sim.url, manifest, out_dir, "--resume")
    assert code == 2 and "endpoint" in err and "--force" in err, err  # a changed endpoint needs --force
    code, _, err = _run(sim.url, manifest, out_dir, "--resume", "--force", "--rate", "2000")
    called = [r.path_segments[3] for r in sim.simulator.received if r.method == "PUT"]
    assert sorted(called) == sorted(unfinished), (len(called), len(unfinished))
    after = _report(out_dir)
    assert {r["group_id"] for r in after if r["outcome"] == "succeeded"} == unfinished
    assert json.loads((out_dir / "summary.json").read_text(encoding="utf-8")).get("halted") is None


@pytest.mark.slow
def test_a_closed_port_halts_300_rows_within_30_calls_and_resume_calls_the_rest(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection is retried per row, but the first 20 calls all refused halt the run."""
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_AUTH_TOKEN", "sim-token")
    manifest = _manifest(tmp_path / "m.csv", _groups(sim_thread))
    out_dir = tmp_path / "run"
    code, _, err = _run(f"http://127.0.0.1:{_closed_port()}", manifest, out_dir)
    rows, summary = _check_halted(out_dir, code, err, "connection: ")
    assert 20 <= int(summary["calls"]) <= 30, summary  # type: ignore[call-overload]
    assert len([r for r in rows if r["outcome"] == "interrupted"]) >= ROWS - 30
    _resume_calls_exactly_the_unfinished(sim_thread, manifest, out_dir, rows, monkeypatch)


@pytest.mark.slow
def test_an_untrusted_certificate_is_not_retried_and_halts_300_rows_within_30_calls(
    sim_thread: SimulatorThread, tls_server: TlsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tls_certificate: one call per row, the first 20 halt the run; the server saw at most 30 connections."""
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_AUTH_TOKEN", "sim-token")
    manifest = _manifest(tmp_path / "m.csv", _groups(sim_thread))
    out_dir = tmp_path / "run"
    code, _, err = _run(tls_server.url, manifest, out_dir)
    rows, summary = _check_halted(out_dir, code, err, "tls_certificate: certificate verify failed for 127.0.0.1:")
    assert 20 <= tls_server.accepted <= 30 and tls_server.accepted == summary["calls"], (tls_server.accepted, summary)
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert failed and {(r["error_code"], r["attempts"]) for r in failed} == {("tls_certificate", "1")}
    assert "self-signed certificate" in failed[0]["error_msg"], failed[0]
    assert len(failed) + len([r for r in rows if r["error_code"] == "halted"]) == ROWS
    _resume_calls_exactly_the_unfinished(sim_thread, manifest, out_dir, rows, monkeypatch)


DNS_SCENARIO = r"""
import asyncio, csv, json, socket, sys, threading
import aiohttp
from bulkretry.cli import main
from bulkretry.oms.client import connect_failure

servers, queries = sys.argv[1].split(","), []

def answer(query: bytes) -> bytes:
    end = 12
    while query[end]:
        end += query[end] + 1
    end += 5  # the root label, QTYPE and QCLASS
    return query[:2] + b"\x81\x83" + b"\x00\x01\x00\x00\x00\x00\x00\x00" + query[12:end]  # NXDOMAIN

async def probe() -> list:
    async with aiohttp.ClientSession() as session:
        try:
            await session.get("https://oms.example.invalid/")
        except aiohttp.ClientConnectorError as exc:
            named = connect_failure(exc)
            return [named.code, named.message, named.retryable]
    return []

no_resolver = asyncio.run(probe())  # nothing listens at the nameserver yet: a temporary failure
for address in servers:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 53))
    def serve(sock=sock):
        while True:
            data, peer = sock.recvfrom(4096)
            queries.append(data)
            sock.sendto(answer(data), peer)
    threading.Thread(target=serve, daemon=True).start()
nxdomain = asyncio.run(probe())
with open("m.csv", "w", newline="") as fh:
    csv.writer(fh).writerows([["group_id"]] + [[f"g{i:04d}"] for i in range(300)])
code = main(["run", "m.csv", "--endpoint", "https://oms.example.invalid", "--project-id", "p1", "--out", "run",
             "--rate", "100", "--quiet"])
print(json.dumps({"no_resolver": no_resolver, "nxdomain": nxdomain, "code": code, "queries": len(queries)}))
"""


def _nameservers() -> list[str]:
    try:
        lines = Path("/etc/resolv.conf").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


@pytest.mark.slow
def test_a_name_that_does_not_resolve_is_not_retried_and_halts_the_run(tmp_path: Path) -> None:
    """In a loopback-only namespace, a resolver answering NXDOMAIN: dns, one call a row, halted within 30 calls;
    with no resolver answering at all, dns too but retryable (it may heal)."""
    require_netns()
    servers = _nameservers()
    if not servers or any(":" in s for s in servers):
        pytest.skip(f"needs IPv4 nameservers in /etc/resolv.conf, found {servers}")
    script = tmp_path / "dns.py"
    script.write_text(DNS_SCENARIO, encoding="utf-8")
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_PROXY") and k != "NO_PROXY"}
    env["OMS_AUTH_TOKEN"] = "a-token"
    done = run_isolated(
        script, ",".join(servers), addresses=[s for s in servers if not s.startswith("127.")], env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["no_resolver"][0] == "dns" and result["no_resolver"][2] is True, result
    assert result["nxdomain"][0] == "dns" and result["nxdomain"][2] is False, result
    assert "oms.example.invalid does not resolve" in result["nxdomain"][1], result
    assert result["code"] == 3, done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert 20 <= summary["calls"] <= 30 and summary["halt_code"] == "halted", summary
    assert summary["halted"].startswith(
        "the first 20 calls all failed with dns: the name oms.example.invalid does not resolve"
    ), summary
    rows = _report(tmp_path / "run")
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert failed and {(r["error_code"], r["attempts"]) for r in failed} == {("dns", "1")}
    assert len(failed) + len([r for r in rows if r["error_code"] == "halted"]) == ROWS


# -- the rules themselves ----------------------------------------------------------------------------------------


def _row(outcome: Outcome, code: str = "", status: int | None = None) -> RowResult:
    return RowResult(2, PROJECT, "g", outcome, http_status=status, error_code=code, attempts=1)


def test_the_first_calls_failing_alike_halt_only_when_all_of_them_fail_the_same_way() -> None:
    """20 alike halt; a 429 is not counted; an answer, another error or an OMS error about the row settles it."""
    refused = TransportError("connection", "Cannot connect to host 127.0.0.1:9 [Connect call failed]")
    rule = FirstCallsFailedAlike(3)
    assert [rule.observe_call(e) for e in (refused, ApiError(429, "APIGW.0308", "slow down"), refused)] == [None] * 3
    assert rule.observe_call(refused) == (
        "the first 3 calls all failed with connection: Cannot connect to host 127.0.0.1:9 [Connect call failed]"
    )
    assert FirstCallsFailedAlike(2).observe_call(ApiError(503, "", "busy")) is None
    rule = FirstCallsFailedAlike(2)
    assert [rule.observe_call(ApiError(503, "APIGW.0202", "down")) for _ in range(2)][-1] == (
        "the first 2 calls all failed with 503 APIGW.0202: down"
    )
    for settle in (None, TransportError("timeout", "no answer"), ApiError(404, "OMS.1009", "no such group")):
        rule = FirstCallsFailedAlike(2)
        assert [rule.observe_call(e) for e in (refused, settle, refused, refused)] == [None] * 4, settle


def test_failure_share_halts_over_pct_of_at_least_min_rows() -> None:
    """--halt-on-failure 50:4: nothing before 4 rows finished; then more than half failed halts."""
    rule = FailureShare(50, 4)
    rows = [
        _row(Outcome.FAILED, "OMS.1009", 404),
        _row(Outcome.FAILED, "OMS.1009", 404),
        _row(Outcome.INTERRUPTED, "interrupted"),
        _row(Outcome.SUCCEEDED),
        _row(Outcome.SUCCEEDED),
    ]
    assert [rule.observe(r) for r in rows] == [None] * 5  # 2 of 4 is not over 50 %
    assert rule.observe(_row(Outcome.FAILED, "503", 503)) == (
        "3 of the 5 rows finished failed, over the 50 % that --halt-on-failure 50:4 allows (top errors: OMS.1009 ×2, "
        "503 ×1)"
    )
    assert run_rules().observe(_row(Outcome.FAILED)) is None


@pytest.mark.parametrize(
    ("text", "expected"), [("50", (50.0, 20)), ("12.5:3", (12.5, 3)), ("100:1", (100.0, 1)), ("30%:100", (30.0, 100))]
)
def test_halt_on_failure_reads_pct_and_min(text: str, expected: tuple[float, int]) -> None:
    assert parse_halt_on_failure(text) == expected


@pytest.mark.parametrize("value", ["0", "-5", "100.1", "nan", "x", "50:0", "50:-1", "50:1.5", "50:x", ""])
def test_a_bad_halt_on_failure_is_a_usage_error_naming_the_option(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 before anything is read or called, for run and rerun alike."""
    manifest = _manifest(tmp_path / "m.csv", ["g1"])
    for argv in (["run", str(manifest)], ["rerun", str(tmp_path)]):
        code, _, err = run_cli(*argv, f"--halt-on-failure={value}")
        err += capsys.readouterr().err  # argparse writes its usage errors to sys.stderr
        assert code == 2 and "--halt-on-failure" in err and "PCT[:MIN]" in err, err


@pytest.fixture
def half_missing(sim_thread: SimulatorThread, tmp_path: Path) -> Path:
    """A manifest of 40 rows alternating a real failed group and a group OMS does not know (404 OMS.1009)."""
    real = _groups(sim_thread)[:20]
    return _manifest(tmp_path / "m.csv", [g for i, r in enumerate(real) for g in (r, f"gone-{i}")])


def test_halt_on_failure_halts_the_run_and_a_resume_keeps_it(
    sim_thread: SimulatorThread, half_missing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the rows fail: --halt-on-failure 40:10 halts after 10 rows; a resume without the option halts again
    (the run's setting is kept; the share is judged per session), and one with a looser share calls the rest."""
    use_sim_credentials(monkeypatch, sim_thread.simulator.config)
    out_dir = tmp_path / "run"
    code, _, err = _run(sim_thread.url, half_missing, out_dir, "--concurrency", "1", "--halt-on-failure", "40:10")
    assert code == 3 and sim_thread.simulator.calls == 10, err
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    reason = "5 of the 10 rows finished failed, over the 40 % that --halt-on-failure 40:10 allows"
    assert summary["halted"].startswith(reason) and summary["by_error_code"]["halted"] == 30, summary
    assert all(r["error_msg"].startswith(f"halted: {reason}") for r in _report(out_dir) if r["attempts"] == "0")
    code, _, err = _run(sim_thread.url, half_missing, out_dir, "--concurrency", "1", "--resume")
    assert code == 3 and sim_thread.simulator.calls == 20 and "40:10" in err, err  # judged per session: rows 11-20
    code, _, err = _run(
        sim_thread.url, half_missing, out_dir, "--concurrency", "1", "--resume", "--halt-on-failure", "60:10"
    )
    assert code == 1 and sim_thread.simulator.calls == 40, err
    assert "halted" not in json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    code, out, err = run_cli("rerun", str(out_dir), "--quiet", "--json-summary", "--out", str(tmp_path / "rerun"))
    assert code == 3 and sim_thread.simulator.calls == 40 + 10, err  # the rerun took the run's own 40:10
    assert json.loads(out)["halted"].startswith(
        "10 of the 10 rows finished failed, over the 40 % that --halt-on-failure 40:10 allows"
    ), out
