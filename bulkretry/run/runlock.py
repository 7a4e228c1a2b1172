"""One writer per run folder: an advisory lock on ``DIR/.lock``, held for the whole run.

The operating system drops the lock when the process ends, however it ends (``kill -9`` included),
so a crashed run never leaves a stale lock behind and ``--resume`` can take it at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from bulkretry.errors import ConfigError

__all__ = ["LOCK_NAME", "RunLock"]

LOCK_NAME = ".lock"

try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            # typeshed declares msvcrt's names only for sys.platform == "win32", and mypy checks as on Linux
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True


class RunLock:
    """``with RunLock(folder):`` holds the folder's lock, or raises ConfigError naming the holder."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"RunLock({str(self.path)!r}, held={self._fd is not None})"

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot lock {self.path.parent}: {exc.strerror or exc}") from None
        if not _try_lock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            raise ConfigError(f"{self.path.parent} is in use by another bulkretry run"
                              + (f" (pid {holder})" if holder else "") + "; wait for it to finish or stop it")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
