"""The question before a live run: asked at a real terminal (a pseudo-terminal around a child ``bulkretry``) when
the run stops anything or calls over 100 rows, where "n" calls nothing; never asked without a terminal or with
--yes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulkretry.cli.confirm import CONFIRM_ROWS
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import child_env, child_run_argv, failed_group_ids, run_cli, sim_run_argv, write_group_manifest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


@pytest.fixture
def sim_config() -> SimConfig:
    """Enough failed groups for a run over the question's limit."""
    return SimConfig(groups=300, failed_ratio=0.6)


def read_until(fd: int, text: bytes, seconds: float = 60.0) -> bytes:
    """What the terminal *fd* shows until *text* appears or it closes (or *seconds* pass: the caller asserts)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed its side of the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


class TerminalChild:
    """A child ``bulkretry`` whose stdin, stdout and stderr are one pseudo-terminal."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)

    def answer(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self) -> tuple[int, bytes]:
        """The exit status and what the terminal showed after the answer."""
        rest = read_until(self.master, b"\0never\0")
        code = self.process.wait(timeout=120)
        os.close(self.master)
        return code, rest


def terminal_run(sim_thread: SimulatorThread, manifest: Path, out: Path, *extra: str) -> TerminalChild:
    argv = child_run_argv(manifest, sim_thread.url, sim_thread.config.project_id, out, "--rate", "500", *extra)
    return TerminalChild(argv, child_env(sim_thread.config))


def asked_to_stop(sim_thread: SimulatorThread, tmp_path: Path, groups: int) -> tuple[TerminalChild, bytes]:
    """A stop of *groups* failed groups from a terminal, up to its question: the child and what it showed."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, groups))
    child = terminal_run(sim_thread, manifest, tmp_path / "run", "--action", "stop")
    shown = read_until(child.master, b"Go on? [y/N]")
    assert b"Go on? [y/N]" in shown, shown
    return child, shown


def put_calls(sim_thread: SimulatorThread) -> int:
    return sum(1 for request in sim_thread.simulator.received if request.method == "PUT")


@pytest.mark.slow
def test_a_stop_at_a_terminal_asks_and_no_calls_nothing(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """A stop from a terminal shows what it will call and asks; "n" ends it with nothing called (exit 2)."""
    child, shown = asked_to_stop(sim_thread, tmp_path, 3)
    assert b"--action stop on groups" in shown and b"rows:      3 to call" in shown
    assert sim_thread.config.project_id.encode() in shown
    child.answer("n\n")
    code, rest = child.finish()
    assert code == 2, rest
    assert b"not confirmed: nothing was called" in rest
    assert sim_thread.simulator.received == []
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_many_rows_at_a_terminal_ask_and_yes_calls(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """Over CONFIRM_ROWS rows to retry from a terminal: asked first, and "y" makes the calls."""
    ids = failed_group_ids(sim_thread, CONFIRM_ROWS + 1)
    assert len(ids) == CONFIRM_ROWS + 1
    manifest = write_group_manifest(tmp_path / "m.csv", ids)
    child = terminal_run(sim_thread, manifest, tmp_path / "run", "--quiet")
    shown = read_until(child.master, b"Go on? [y/N]")
    assert f"rows:      {CONFIRM_ROWS + 1} to call".encode() in shown, shown
    assert sim_thread.simulator.received == []
    child.answer("y\n")
    code, rest = child.finish()
    assert code == 0, rest
    assert put_calls(sim_thread) == CONFIRM_ROWS + 1


@pytest.mark.slow
def test_yes_at_a_terminal_does_not_ask(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """--yes: a stop from a terminal starts without a question."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 2))
    child = terminal_run(sim_thread, manifest, tmp_path / "run", "--action", "stop", "--quiet", "--yes")
    code, shown = child.finish()
    assert b"Go on?" not in shown
    assert code in (0, 1), shown  # failed groups cannot be stopped: the service refuses, but it was called
    assert put_calls(sim_thread) == 2


@pytest.mark.slow
def test_without_a_terminal_a_stop_never_asks(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """A child whose stdin is a pipe left open: a stop runs without asking (were it asked, it would wait)."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 2))
    argv = child_run_argv(
        manifest, sim_thread.url, sim_thread.config.project_id, tmp_path / "run", "--action", "stop", "--quiet"
    )
    child = subprocess.Popen(
        argv,
        env=child_env(sim_thread.config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = child.communicate(timeout=120)
    assert "Go on?" not in out + err
    assert child.returncode in (0, 1), err
    assert put_calls(sim_thread) == 2


@pytest.mark.usefixtures("env")
def test_in_process_many_rows_never_ask(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """The CLI's output is not a terminal here: over CONFIRM_ROWS rows run at once, every row called."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, CONFIRM_ROWS + 1))
    code, out, err = run_cli(*sim_run_argv(sim_thread, manifest, tmp_path / "run", "--rate", "1000", "--quiet"))
    assert code == 0, err
    assert "Go on?" not in out + err
    assert put_calls(sim_thread) == CONFIRM_ROWS + 1


@pytest.mark.slow
def test_ctrl_c_at_the_question_calls_nothing(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """SIGINT while the question waits ends the command at once: exit 130, nothing called, no run folder."""
    child, _ = asked_to_stop(sim_thread, tmp_path, 2)
    child.process.send_signal(signal.SIGINT)
    code, rest = child.finish()
    assert code == 130, rest
    assert b"stopped by SIGINT while asking whether to go on: nothing was called" in rest
    assert sim_thread.simulator.received == []
    assert not (tmp_path / "run").exists()
