"""Runs on a schedule: exit 3 for a halted run, a time box that ends after the last call, a proxy that wants
authentication."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import (
    PROJECT,
    failed_group_ids,
    read_report,
    run_argv,
    run_cli,
    sim_run_argv,
    write_group_manifest,
)
from tests.tlsnet import BackgroundLoop, RecordingTlsServer, StreamServer


@pytest.fixture
def slow_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorThread]:
    """A simulator that answers every OMS call after 1.5 s, with its own credentials in the environment."""
    config = SimConfig(groups=4, failed_ratio=1.0, latency_ms=1500)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", config.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", config.sk)
    with SimulatorThread(config) as thread:
        yield thread


@pytest.mark.slow
def test_a_time_box_that_ends_after_the_last_call_is_no_halt(slow_sim: SimulatorThread, tmp_path: Path) -> None:
    """--max-duration 1s with both calls in flight when it ends: every row succeeds, exit 0, and neither the
    summary nor stderr names a halt (issue 28, item 8)."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(slow_sim, 2))
    argv = sim_run_argv(slow_sim, manifest, tmp_path / "run", "--max-duration", "1s", "--concurrency", "2")
    code, out, err = run_cli(*argv, "--quiet", "--json-summary")
    assert code == 0, err
    assert {r["outcome"] for r in read_report(tmp_path / "run")} == {"succeeded"}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert "halted" not in summary and "halt_code" not in summary, summary
    assert json.loads(out)["halted"] is None and "time box" not in err, (out, err)


class AuthProxy(StreamServer):
    """A proxy on 127.0.0.1 that answers every request, a CONNECT or an absolute URI, with 407; it records the
    request lines."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            self.asked.append(head.decode("latin-1").split("\r\n", 1)[0])
            writer.write(
                b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        writer.close()


@pytest.mark.parametrize("endpoint", ["https://oms.example.test", "http://oms.example.test:8080"])
def test_a_proxy_that_wants_authentication_halts_the_run_at_once(
    endpoint: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real proxy on loopback answering 407, to a CONNECT (https) or an absolute URI (http): no row is retried
    as a connection failure, the run halts at once saying the proxy wants authentication, and exits 3."""
    with BackgroundLoop() as loop:
        proxy = loop.run(AuthProxy().start())
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        manifest = write_group_manifest(tmp_path / "m.csv", [f"g{i}" for i in range(30)])
        argv = run_argv(manifest, endpoint, PROJECT, tmp_path / "run", "--concurrency", "1", "--max-attempts", "5")
        code, out, err = run_cli(*argv, "--quiet", "--json-summary")
    assert code == 3, err
    assert "the proxy wants authentication" in err and json.loads(out)["exit_status"] == 3, (out, err)
    rows = read_report(tmp_path / "run")
    called = [r for r in rows if r["attempts"] != "0"]
    assert len(called) == 1 and len(proxy.asked) == 1, (called, proxy.asked)  # one call, never retried
    assert (called[0]["outcome"], called[0]["error_code"]) == ("failed", "proxy_auth"), called[0]
    halted = [r for r in rows if r["error_code"] == "halted"]
    assert len(halted) == 29 and "the proxy wants authentication" in halted[0]["error_msg"], halted[0]


def _round(sim_thread: SimulatorThread, manifest: Path, out: Path, *options: str) -> tuple[int, str, list[dict]]:
    """One round of *manifest* into *out* with --check-status --notify-on change, its notifications posted to a
    json:// hook on loopback: ``(exit status, stderr, the messages)``."""
    with BackgroundLoop() as loop:
        server = loop.run(RecordingTlsServer(None).start())
        hook = f"json://127.0.0.1:{server.port}/hook"
        argv = sim_run_argv(sim_thread, manifest, out, "--quiet", "--check-status", "--notify", hook, *options)
        code, _, err = run_cli(*argv, "--notify-on", "change")
        return code, err, [seen.json() for seen in server.seen]


def test_notify_on_change_tells_a_first_round_and_a_change_only(
    sim_thread: SimulatorThread, env: dict[str, str], tmp_path: Path
) -> None:
    """--notify-on change: a first round is sent (with the report's absolute path and its --report-url link); a
    round failing the same rows with the same codes is not; another failing row is; a rerun is compared with the
    run it reruns."""
    runs = tmp_path / "runs"
    manifest = write_group_manifest(tmp_path / "m.csv", [*failed_group_ids(sim_thread, 2), "gone-1", "gone-2"])
    code, err, posted = _round(sim_thread, manifest, runs / "r1", "--report-url", "https://ops.example/runs/")
    assert code == 1 and len(posted) == 1, err
    report = (runs / "r1" / "report.html").absolute()
    assert f"Report: {report} · https://ops.example/runs/r1/report.html" in posted[0]["message"], posted[0]
    code, err, posted = _round(sim_thread, manifest, runs / "r2")  # the two real groups are skipped now
    assert code == 1 and posted == [], (err, posted)
    code, err, posted = _round(sim_thread, write_group_manifest(manifest, ["gone-1", "gone-2", "gone-3"]), runs / "r3")
    assert code == 1 and len(posted) == 1, err
    with BackgroundLoop() as loop:
        server = loop.run(RecordingTlsServer(None).start())
        hook = f"json://127.0.0.1:{server.port}/hook"
        argv = [
            "rerun",
            str(runs / "r3"),
            "--quiet",
            "--out",
            str(runs / "r4"),
            "--notify",
            hook,
            "--notify-on",
            "change",
        ]
        code, _, err = run_cli(*argv)
        assert code == 1 and server.seen == [], err  # the same three fail as in r3, the run it reruns
