"""Hardening against hostile servers, terminals and networks: notification targets that drip their answer or never
end it (one budget for them all, answers capped), a metadata token with CR/LF, a terminal that cannot print the
text, NO_PROXY with CIDR blocks, a CA bundle that holds no certificate, a KooCLI profile's mode with control
characters."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web

from bulkretry.notify.message import Ending, render
from bulkretry.notify.send import BUDGET_VARIABLE, MAX_ANSWER_BYTES, resolve_targets, send_notifications
from bulkretry.oms.network import network_from
from bulkretry.sim import SimulatorThread
from tests.clitools import child_env, child_run_argv, failed_group_ids, start_child, write_group_manifest
from tests.reports import run_summary
from tests.servers import ServerThread


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
