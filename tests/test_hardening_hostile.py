"""Hardening against hostile servers, terminals and networks: notification targets that drip their answer or never
end it (one budget for them all, answers capped), a metadata token with CR/LF, a terminal that cannot print the
text, NO_PROXY with CIDR blocks, a CA bundle that holds no certificate, a KooCLI profile's mode with control
characters."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from bulkretry.manifest.plan import Planner
from bulkretry.notify.message import Ending, render
from bulkretry.notify.send import BUDGET_VARIABLE, MAX_ANSWER_BYTES, resolve_targets, send_notifications
from bulkretry.oms.auth import AgencyAuth
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.metadata import MetadataError, fetch_key, parse_key
from bulkretry.oms.network import network_from
from bulkretry.records import Outcome, RowResult
from bulkretry.run.engine import Engine, EngineConfig
from bulkretry.sim import SimConfig, SimulatorThread, running_simulator
from bulkretry.sim.state import SimState
from tests.clitools import (
    child_env,
    child_run_argv,
    clear_credentials,
    failed_group_ids,
    run_cli,
    sim_run_argv,
    start_child,
    use_sim_credentials,
    write_group_manifest,
)
from tests.reports import run_summary
from tests.servers import FakeMetadata, Listener, ServerThread, serve_metadata


class Hostile:
    """A loopback HTTP target that never finishes its answer: it drips its headers a byte at a time, or
    (*endless_body*) answers 200 with a body that never ends, until the client hangs up. Counts the body's bytes
    sent, and sets ``cut`` when the client hung up."""

    def __init__(self, endless_body: bool = False) -> None:
        self.endless_body = endless_body
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.sent = 0
        self.cut = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\n" + (b"Content-Type: text/plain\r\n\r\n" if self.endless_body else b"")
                )
                chunk = b"x" * 65536 if self.endless_body else b"X-Drip: "
                while not self._stop.is_set():
                    conn.sendall(chunk)
                    self.sent += len(chunk)
                    chunk = chunk if self.endless_body else b"a"
                    if not self.endless_body:
                        time.sleep(0.05)
            except OSError:
                self.cut.set()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


def _good_target() -> tuple[ServerThread, list[dict]]:
    """A target that answers 200 at once, and the bodies it got."""
    got: list[dict] = []

    async def handler(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(text="ok")

    return ServerThread(handler), got


@pytest.mark.slow
def test_targets_that_drip_or_never_end_are_sent_at_once_within_one_budget() -> None:
    """A target dripping its headers is a warning once the budget is spent, the others are sent meanwhile (not one
    after another), and an endless answer is read to MAX_ANSWER_BYTES, then hung up on."""
    drip, endless = Hostile(), Hostile(endless_body=True)
    good, got = _good_target()
    warnings: list[str] = []
    with good:
        targets = resolve_targets(
            [f"json://127.0.0.1:{drip.port}/", f"json://127.0.0.1:{endless.port}/", good.url.replace("http", "json")],
            {},
        )
        message = render(Ending(0, run_summary([], run_id="r1")))
        sending = threading.Thread(
            target=lambda: warnings.extend(
                send_notifications(targets, message, network=network_from({}), failed=False, budget=1.0)
            ),
            daemon=True,
        )
        sending.start()
        sending.join(120)  # (a guard: without the budget the dripping target holds the call for ever)
        assert not sending.is_alive(), "send_notifications did not end"
        assert endless.cut.wait(30), "the endless answer was read on and on"
    drip.close()
    endless.close()
    assert len(got) == 1 and got[0]["title"].endswith(": succeeded")
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("notification to json://*** (--notify #1) not sent: no answer within")
    assert BUDGET_VARIABLE in warnings[0]
    assert endless.sent < 256 * MAX_ANSWER_BYTES


@pytest.mark.slow
def test_a_run_whose_target_drips_ends_with_a_warning(tmp_path: Path, sim_thread: SimulatorThread) -> None:
    """`bulkretry run --notify` with a target that drips its answer: the process ends, exit 0, with a warning
    that names the budget ($BULKRETRY_NOTIFY_BUDGET_S, a second here)."""
    drip = Hostile()
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 2))
    argv = child_run_argv(
        manifest,
        sim_thread.url,
        sim_thread.config.project_id,
        tmp_path / "run",
        "--quiet",
        "--notify",
        f"json://127.0.0.1:{drip.port}/",
    )
    child = start_child(argv, {**child_env(sim_thread.config), BUDGET_VARIABLE: "1"})
    try:
        _out, err = child.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        raise
    finally:
        drip.close()
    assert child.returncode == 0, err
    assert "warning: notification to json://*** (--notify #1) not sent: no answer within" in err


class CrLfMetadata(FakeMetadata):
    """The metadata service answering its session tokens with a line end (``md-…\\r\\n``), or (*inside*) with a
    line break inside the token, which no header can carry."""

    def __init__(self, state: object, *, inside: bool = False, wall: Callable[[], float] | None = None) -> None:
        super().__init__(state, ttl_s=3600, wall=wall)
        self.inside = inside

    async def handle(self, request: web.Request) -> web.StreamResponse:
        answer = await super().handle(request)
        if request.method == "PUT" and isinstance(answer, web.Response) and answer.status == 200:
            token = str(answer.text)
            return web.Response(text=f"{token[:4]}\r\n{token[4:]}" if self.inside else f"{token}\r\n")
        return answer


class ShiftedClock:
    """Wall time, moved on by hand: shared by the simulator's state (key expiry) and the authenticator."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


async def _agency_run(tmp_path: Path, *, inside: bool, shift: float) -> tuple[list[RowResult], Engine, int]:
    """Twenty failed groups retried with the agency's keys, *shift* seconds after the first key came, while the
    metadata service answers tokens with CR/LF (*inside* the token, or at its end): the results, the engine, and
    the calls the simulator got."""
    clock = ShiftedClock()
    config = SimConfig(groups=20, failed_ratio=1.0)
    state = SimState.from_config(config, clock=clock)
    fake = CrLfMetadata(state, wall=clock)
    async with running_simulator(config, state=state) as sim, serve_metadata(fake) as origin, make_session() as s:
        first = parse_key(json.dumps(fake.answer(state.issue_key(3600))), clock())
        auth = AgencyAuth(first, fetch=lambda: fetch_key(origin, clock=clock), clock=clock)
        fake.inside = inside
        clock.shift = shift
        planner = Planner(columns=["group_id"], project_id=config.project_id, endpoint="http://x")
        plans = [planner.plan(n + 2, {"group_id": g}) for n, g in enumerate(state.ids())]
        engine = Engine(OmsClient(s, auth, endpoint=sim.url), EngineConfig(concurrency=4))
        results: list[RowResult] = []
        await engine.run(plans, results.append)
        return results, engine, sim.calls


async def test_a_session_token_with_a_line_end_is_used_without_it(tmp_path: Path) -> None:
    """A token answered as ``md-…\\r\\n`` at a refresh: the line end is dropped and the keys are refreshed, so
    every row is called and succeeds (it was a ValueError per row: failed internal_error, never sent)."""
    results, engine, calls = await _agency_run(tmp_path, inside=False, shift=3100)
    assert Counter(r.outcome for r in results) == {Outcome.SUCCEEDED: 20}
    assert calls == 20 and not engine.halt_reason


async def test_a_refresh_that_keeps_failing_halts_the_run_with_rows_left_to_resume(tmp_path: Path) -> None:
    """A token with CR/LF inside (no header value) while the keys have expired: no row is sent or failed; the
    run halts and every row is interrupted (halted), for --resume."""
    results, engine, calls = await _agency_run(tmp_path, inside=True, shift=3700)
    assert calls == 0
    assert {(r.outcome, r.error_code) for r in results} == {(Outcome.INTERRUPTED, "halted")}
    assert len(results) == 20 and "session token" in engine.halt_reason


async def test_a_token_that_is_no_header_value_is_a_metadata_error() -> None:
    """fetch_key: a session token with a line break inside is a MetadataError naming it, not a ValueError."""
    fake = CrLfMetadata(SimState(), inside=True)
    async with serve_metadata(fake) as origin:
        with pytest.raises(MetadataError, match="session token"):
            await fetch_key(origin)
    assert fake.gets == 0


@pytest.mark.slow
def test_a_terminal_that_cannot_print_chinese_gets_replacement_characters(
    tmp_path: Path, sim_thread: SimulatorThread
) -> None:
    """A zh-CN run on an ASCII terminal (PYTHONIOENCODING=ascii, LANG=C): the summary line comes with '?' for what
    it cannot print, the notification is sent, exit 0 (it was a UnicodeEncodeError at the end: exit 1)."""
    good, got = _good_target()
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 2))
    with good:
        argv = child_run_argv(
            manifest,
            sim_thread.url,
            sim_thread.config.project_id,
            tmp_path / "run",
            "--lang",
            "zh-CN",
            "--notify",
            good.url.replace("http", "json"),
        )
        env = {**child_env(sim_thread.config), "PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"}
        done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    out, err = done.stdout.decode("ascii"), done.stderr.decode("ascii")
    assert done.returncode == 0, err
    assert "UnicodeEncodeError" not in err and "?" in out
    assert len(got) == 1


@pytest.mark.parametrize("no_proxy", ["10.0.0.0/8,127.0.0.0/8", "fd00::/8, 127.0.0.1/32"])
def test_no_proxy_cidr_blocks_send_those_addresses_direct(
    tmp_path: Path, sim_thread: SimulatorThread, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    """NO_PROXY with CIDR blocks (as requests and curl read it): the OMS calls to 127.0.0.1 go direct, and the
    proxy (a port that hangs up) is never asked."""
    with Listener() as proxy:
        use_sim_credentials(monkeypatch, sim_thread.config, HTTP_PROXY=proxy.url, NO_PROXY=no_proxy)
        manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 3))
        code, out, err = run_cli(*sim_run_argv(sim_thread, manifest, tmp_path / "run", "--quiet"))
    assert code == 0, err + out
    assert proxy.connections == 0
    direct = network_from({"HTTP_PROXY": "http://p:1", "NO_PROXY": no_proxy}).proxy_for("http://10.1.2.3/") is None
    assert direct == no_proxy.startswith("10.")


@pytest.mark.parametrize("kind", ["empty folder", "fifo", "no certificate"])
def test_a_ca_bundle_without_a_certificate_exits_2_before_any_call(
    tmp_path: Path, sim_thread: SimulatorThread, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """--ca-bundle naming an empty folder, a FIFO (never opened: it would block) or a file with no certificate:
    exit 2 with the path in the message, nothing called, no run folder."""
    bundle = tmp_path / "bundle"
    if kind == "empty folder":
        bundle.mkdir()
    elif kind == "fifo":
        os.mkfifo(bundle)
    else:
        bundle.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n# nothing else\n")
    use_sim_credentials(monkeypatch, sim_thread.config)
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 1))
    received = len(sim_thread.simulator.received)
    code, out, err = run_cli(*sim_run_argv(sim_thread, manifest, tmp_path / "run", "--ca-bundle", str(bundle)))
    assert code == 2, err + out
    assert f"--ca-bundle {bundle}" in err and "no such file" not in err
    assert len(sim_thread.simulator.received) == received and not (tmp_path / "run").exists()


def test_a_profile_mode_with_control_characters_is_shown_escaped(
    tmp_path: Path, sim_thread: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KooCLI profile whose mode holds an escape sequence and a bell: exit 2, the mode shown escaped, no control
    character reaches the terminal."""
    clear_credentials(monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".hcloud").mkdir()
    profile = {"name": "a", "mode": "SSO\x1b[2J\x07", "accessKeyId": "AK", "secretAccessKey": "SK"}
    (tmp_path / ".hcloud" / "config.json").write_text(json.dumps({"current": "a", "profiles": [profile]}))
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 1))
    code, out, err = run_cli(*sim_run_argv(sim_thread, manifest, tmp_path / "run"))
    assert code == 2, err + out
    assert "mode SSO\\x1b[2J\\x07," in err
    assert not [c for c in err + out if ord(c) < 32 and c != "\n"]
