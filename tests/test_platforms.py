"""Windows' missing facilities, simulated on Linux: each fallback runs the real code path (tests/nounix.py)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from bulkretry.errors import ConfigError, CredentialsError
from bulkretry.oms.credentials import CredentialOptions, Token
from bulkretry.oms.sources import load_credentials
from bulkretry.run.runlock import RunLock
from tests.nounix import popen_without_unix, run_without_unix

TRY_LOCK = """
import sys
from pathlib import Path
from bulkretry.errors import ConfigError
from bulkretry.run import runlock
assert not hasattr(runlock, "fcntl") and hasattr(runlock, "msvcrt"), "the msvcrt path is not the one taken"
try:
    runlock.RunLock(Path(sys.argv[1])).acquire()
    print("acquired")
except ConfigError as exc:
    print(exc)
"""

HOLD_LOCK = """
import os, sys
from pathlib import Path
from bulkretry.run.runlock import RunLock
lock = RunLock(Path(sys.argv[1]))
lock.acquire()
print("locked", os.getpid(), flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
sys.stdin.readline()
"""


def test_the_run_lock_without_fcntl_or_pread(tmp_path: Path) -> None:
    """No fcntl (msvcrt's byte locks) and no os.pread: a second process is refused, naming the holder's pid,
    until the holder releases the lock (still running: release unlocks, not only the process's end)."""
    holder = popen_without_unix(HOLD_LOCK, str(tmp_path))
    try:
        word, pid = holder.stdout.readline().split()  # type: ignore[union-attr]
        assert word == "locked"
        refused = run_without_unix(TRY_LOCK, str(tmp_path))
        assert f"in use by another bulkretry run (pid {pid})" in refused.stdout, refused.stdout + refused.stderr
        assert "msvcrt.locking calls: 1" in refused.stdout
        holder.stdin.write("\n")  # type: ignore[union-attr]
        holder.stdin.flush()  # type: ignore[union-attr]
        assert holder.stdout.readline().strip() == "released"  # type: ignore[union-attr]
        taken = run_without_unix(TRY_LOCK, str(tmp_path))
        assert taken.stdout.splitlines()[0] == "acquired", taken.stdout + taken.stderr
    finally:
        holder.kill()
        holder.communicate()


def test_the_holders_pid_is_read_without_pread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without os.pread (Windows) the refusal still names the holder's pid (read after a seek)."""
    monkeypatch.delattr(os, "pread")
    with RunLock(tmp_path), pytest.raises(ConfigError, match=rf"in use by another bulkretry run \(pid {os.getpid()}\)"):
        RunLock(tmp_path).acquire()


def test_secret_files_without_o_nonblock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without O_NONBLOCK, O_NOCTTY and O_CLOEXEC (Windows) a token file is read, and a huge file, a device or a
    folder is still refused."""
    for name in ("O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC"):
        monkeypatch.delattr(os, name)
    (tmp_path / "tok").write_text("file-token\n")
    assert load_credentials({}, CredentialOptions(token_file=str(tmp_path / "tok"))) == Token("file-token")
    with open(tmp_path / "big", "wb") as fh:
        fh.truncate(1 << 30)
    for path, words in (
        (tmp_path / "big", "larger than"),
        ("/dev/zero", "not a regular file"),
        (tmp_path, "not a regular file"),
    ):
        with pytest.raises(CredentialsError, match=words):
            load_credentials({}, CredentialOptions(token_file=str(path)))


@pytest.mark.slow
def test_demo_runs_without_unix_facilities(tmp_path: Path) -> None:
    """`bulkretry demo` where fcntl, os.pread and O_NONBLOCK are missing: it runs, locks its run folder with
    msvcrt's byte locks (and unlocks it), and writes its reports."""
    code = "from bulkretry.cli import main\nraise SystemExit(main(['demo']))"
    proc = run_without_unix(code, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "msvcrt.locking calls: 2" in proc.stdout, proc.stdout  # lock, then unlock
    (run,) = (tmp_path / "bulkretry-runs").iterdir()
    assert {"report.csv", "report.json", "summary.json", "journal.sqlite"} <= {p.name for p in run.iterdir()}


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_sim_stops_on_a_signal_without_add_signal_handler(signame: str) -> None:
    """`bulkretry sim` where loop.add_signal_handler raises NotImplementedError (Windows): SIGTERM or Ctrl-C still
    stops it cleanly (exit 0, 'simulator stopped'), through signal.signal."""
    code = "import sys\nfrom bulkretry.cli import main\nraise SystemExit(main(['sim', '--port', '0']))"
    proc = popen_without_unix(code)
    try:
        assert proc.stdout.readline().startswith("listening on http://127.0.0.1:")  # type: ignore[union-attr]
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "simulator stopped" in out, out + err


def test_nounix_hides_what_it_says() -> None:
    """The prelude really hides fcntl, os.pread and O_NONBLOCK and makes add_signal_handler refuse."""
    code = """
import asyncio, os
try:
    import fcntl
    print("fcntl importable")
except ImportError:
    print("no fcntl")
print(hasattr(os, "pread"), hasattr(os, "O_NONBLOCK"))
async def main():
    try:
        asyncio.get_running_loop().add_signal_handler(2, print)
    except NotImplementedError:
        print("no add_signal_handler")
asyncio.run(main())
"""
    out = run_without_unix(code).stdout.splitlines()
    assert out[:3] == ["no fcntl", "False False", "no add_signal_handler"], (out, sys.platform)
