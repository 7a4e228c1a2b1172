"""One writer per run folder: an advisory lock on ``DIR/.lock``, held for the whole run.

The operating system drops the lock when the process ends, however it ends (``kill -9`` included),
so a crashed run never leaves a stale lock behind and ``--resume`` can take it at once.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from bulkretry.errors import ConfigError

__all__ = ["LOCK_NAME", "RunLock", "live_runs", "lock_holder"]

LOCK_NAME = ".lock"

try:
    import fcntl

    def _try_lock(fd: int, shared: bool = False) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        pass  # closing the descriptor drops the lock

except ImportError:  # Windows (tests/test_runlock.py hides fcntl and stands in for msvcrt)
    import msvcrt

    # typeshed declares msvcrt's names only for sys.platform == "win32", and mypy checks as on Linux: hence the
    # ignores. msvcrt locks bytes from the file's position: byte 0, where a fresh descriptor stands.
    def _try_lock(fd: int, shared: bool = False) -> bool:  # no shared locks here: readers lock as writers do
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        """Windows asks for a region to be unlocked before its file is closed (the pid written moved on)."""
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            pass  # closing the file drops it anyway


class RunLock:
    """``with RunLock(folder):`` holds the folder's lock, or raises ConfigError naming the holder.

    ``shared=True`` is a reader's lock (``report``, ``diff``, ``rerun``'s source): it keeps writers out, not
    other readers, and needs no write access: in a folder it cannot write (a read-only archive) it takes the
    lock file read-only, or holds nothing when there is none, since no run can write there either.
    """

    def __init__(self, folder: Path, *, shared: bool = False) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.shared = shared
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"RunLock({str(self.path)!r}, shared={self.shared}, held={self._fd is not None})"

    def acquire(self) -> None:
        fd: int | None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            fd = self._read_only_fd(exc)
        if fd is None:
            return
        if not _try_lock(fd, self.shared):
            holder = _read_pid(fd)
            os.close(fd)
            raise ConfigError(
                f"{self.path.parent} is in use by another bulkretry run"
                + (f" (pid {holder})" if holder else "")
                + "; wait for it to finish or stop it"
            )
        if not self.shared:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _read_only_fd(self, exc: OSError) -> int | None:
        """A reader in a folder it cannot write: the lock file opened read-only, or None when there is none."""
        if self.shared and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            try:
                return os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            except OSError:
                pass
        raise ConfigError(f"cannot lock {self.path.parent}: {exc.strerror or exc}") from None

    def release(self) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_holder(folder: Path) -> str | None:
    """Whether a run is going on in *folder*, without waiting and without writing: None when its lock is free (or
    there is none), else the pid of the run that holds it ('' when it cannot be read)."""
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_lock(fd, shared=True):
            _unlock(fd)
            return None
        return _read_pid(fd)
    finally:
        os.close(fd)


def live_runs(folders: Iterable[Path]) -> list[tuple[Path, str]]:
    """The folders of *folders* whose run is going on (their lock is held), each with the note that says so."""
    live = []
    for folder in folders:
        holder = lock_holder(folder)
        if holder is not None:
            live.append((folder, "a run is still going on there" + (f" (pid {holder})" if holder else "")))
    return live


def _read_pid(fd: int) -> str:
    try:
        if hasattr(os, "pread"):
            data = os.pread(fd, 32, 0)
        else:  # Windows: the descriptor is this function's own, so nothing else moves its position
            os.lseek(fd, 0, os.SEEK_SET)
            data = os.read(fd, 32)
        text = data.decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
