"""Run Python code in a child process that lacks what Windows lacks, to test the fallbacks on Linux.

In the child, before the code runs: ``import fcntl`` fails and a stand-in ``msvcrt`` (its ``locking`` on fcntl's
byte-range locks, as Windows locks bytes) takes its place; ``os.pread``, ``os.O_NONBLOCK``, ``os.O_NOCTTY`` and
``os.O_CLOEXEC`` are gone; ``loop.add_signal_handler`` raises ``NotImplementedError`` as Windows' event loops do.
The child prints ``msvcrt.locking calls: N`` when it exits, so a test can tell the stand-in was used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["PRELUDE", "popen_without_unix", "run_without_unix"]

PRELUDE = """
import asyncio.unix_events, atexit, os, sys, types
import fcntl as _fcntl

_calls = []


def _locking(fd, mode, nbytes):
    _calls.append(mode)
    start = os.lseek(fd, 0, os.SEEK_CUR)
    if mode == 0:  # LK_UNLCK
        _fcntl.lockf(fd, _fcntl.LOCK_UN, nbytes, start, 0)
        return
    try:
        _fcntl.lockf(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB, nbytes, start, 0)
    except BlockingIOError:
        raise PermissionError(13, "Permission denied") from None


msvcrt = types.ModuleType("msvcrt")
msvcrt.LK_UNLCK, msvcrt.LK_LOCK, msvcrt.LK_NBLCK, msvcrt.LK_RLCK, msvcrt.LK_NBRLCK = 0, 1, 2, 3, 4
msvcrt.locking = _locking
sys.modules["msvcrt"] = msvcrt
sys.modules["fcntl"] = None  # import fcntl raises ImportError
for _name in ("pread", "O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC"):
    delattr(os, _name)


def _no_signal_handlers(self, sig, callback, *args):
    raise NotImplementedError


asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = _no_signal_handlers
atexit.register(lambda: print(f"msvcrt.locking calls: {len(_calls)}", flush=True))
"""


#: The checkout whose bulkretry the child imports, whatever its working folder.
ROOT = Path(__file__).resolve().parent.parent


def _argv(code: str, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-c", PRELUDE + code, *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_without_unix(
    code: str, *args: str, cwd: Path | None = None, timeout: float = 60, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run *code* (with ``sys.argv[1:]`` = *args*) after the prelude; its output as text."""
    return subprocess.run(
        _argv(code, args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env(), **kwargs
    )


def popen_without_unix(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start *code* after the prelude, its stdin, stdout and stderr piped as text."""
    return subprocess.Popen(
        _argv(code, args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        **kwargs,
    )
