"""The run folder: create a new one, or reopen one to resume; lock it; check a resume is safe.

A run folder holds ``journal.sqlite`` (the truth), the reports built from it and ``.lock``. A folder
that holds a journal is never written by a new run; only ``--resume`` reopens it, and only for the same
manifest and the same call settings (``force`` overrides that check).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bulkretry.errors import ConfigError, JournalError
from bulkretry.run.journal import JOURNAL_NAME, Journal, journal_damage
from bulkretry.run.runlock import RunLock

__all__ = [
    "CALL_SETTINGS",
    "OpenRun",
    "create_run",
    "file_sha256",
    "read_params",
    "reopen_run",
    "require_run",
    "resumable_params",
    "run_journal",
]

#: Settings that decide which rows are called and how: a resume must use the run's own (a journal of schema 1 has
#: ``action``, ``target`` and ``priority`` from its migration: a retry of task groups).
CALL_SETTINGS = (
    "sheet",
    "endpoint",
    "region",
    "project_id",
    "migrate_failed_object",
    "dry_run",
    "source_run",
    "action",
    "target",
    "priority",
    "shard",
)


@dataclass
class OpenRun:
    """A locked run folder and its open journal."""

    run_id: str
    out_dir: Path
    journal: Journal
    lock: RunLock
    params: dict[str, Any]
    resumed: bool

    def close(self) -> None:
        try:
            self.journal.close()
        finally:
            self.lock.release()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-")[:40] or "manifest"


def create_run(out_dir: Path | None, runs_root: Path, name: str, params: Mapping[str, Any]) -> OpenRun:
    """A new run: *out_dir* if given (refused if it holds a run), else ``runs_root/STAMP-NAME``."""
    if out_dir is not None:
        _mkdir(out_dir, exist_ok=True)
        run_id = out_dir.name
    else:
        run_id, out_dir = _new_folder(runs_root, f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{_slug(name)}")
    lock = RunLock(out_dir)
    lock.acquire()
    try:
        if (out_dir / JOURNAL_NAME).exists():
            _refuse_damaged(out_dir)
            raise ConfigError(
                f"{out_dir} already holds a run; add --resume to continue it, or choose another "
                "--out (a run is never overwritten)"
            )
        journal = Journal(out_dir / JOURNAL_NAME)
        journal.set_params({**params, "run_id": run_id})
    except BaseException:
        lock.release()
        raise
    return OpenRun(run_id, out_dir, journal, lock, journal.params(), resumed=False)


def reopen_run(out_dir: Path, params: Mapping[str, Any], *, force: bool) -> OpenRun:
    """Reopen the run in *out_dir* to resume it; ConfigError if there is none or it does not match *params*."""
    if not (out_dir / JOURNAL_NAME).is_file():
        raise ConfigError(
            f"nothing to resume in {out_dir}: it holds no run ({JOURNAL_NAME} is missing); "
            "drop --resume to start a new run there"
        )
    lock = RunLock(out_dir)
    lock.acquire()
    try:
        _refuse_damaged(out_dir)
        journal = Journal.open_existing(out_dir / JOURNAL_NAME)
        old = journal.params()
        changes = _changes(old, params)
        if changes and not force:
            journal.close()
            raise ConfigError(
                f"cannot resume {out_dir}: {'; '.join(changes)} since the run began. Resuming would "
                "mix two different runs; start a new run (or `bulkretry rerun` what failed), or "
                "add --force to resume anyway"
            )
        if changes:
            journal.set_params({"forced_changes": changes})
    except JournalError as exc:
        lock.release()
        raise ConfigError(f"cannot resume {out_dir}: {exc}") from None
    except BaseException:
        lock.release()
        raise
    return OpenRun(str(old.get("run_id") or out_dir.name), out_dir, journal, lock, journal.params(), resumed=True)


def _refuse_damaged(out_dir: Path) -> None:
    """A ConfigError, saying why, when the journal in *out_dir* cannot be read as a whole: the run there can then
    be neither resumed nor reported, and a new run never writes over it."""
    why = journal_damage(out_dir / JOURNAL_NAME)
    if why:
        raise ConfigError(
            f"{out_dir} cannot be resumed: its {JOURNAL_NAME} is damaged ({why}); "
            "start a new run with another --out (the folder is left as it is)"
        )


def resumable_params(out_dir: Path) -> dict[str, Any]:
    """The recorded parameters of the run in *out_dir*, to resume it; a ConfigError saying why when it cannot be
    (no run there, a damaged journal, a run that holds the folder)."""
    if not (out_dir / JOURNAL_NAME).is_file():
        raise ConfigError(f"nothing to resume in {out_dir}: it holds no run ({JOURNAL_NAME} is missing)")
    with RunLock(out_dir, shared=True):
        _refuse_damaged(out_dir)
    return read_params(out_dir)


def require_run(folder: Path, hint: str = "") -> Path:
    """*folder*'s journal, or a ConfigError saying the folder holds no run (*hint* says what to give)."""
    path = folder / JOURNAL_NAME
    if not path.is_file():
        raise ConfigError(f"{folder} holds no run ({JOURNAL_NAME} is missing){hint}")
    return path


@contextmanager
def run_journal(folder: Path, hint: str = "") -> Iterator[Journal]:
    """The journal of the finished or stopped run in *folder*, open read-only under the folder's (shared) lock,
    so never while a run writes it and never written itself; journal errors become ConfigErrors naming the file."""
    path = require_run(folder, hint)
    with RunLock(folder, shared=True):
        try:
            with Journal.open_existing(path, read_only=True) as journal:
                yield journal
        except JournalError as exc:
            raise ConfigError(str(exc)) from None


def read_params(out_dir: Path) -> dict[str, Any]:
    """The recorded parameters of the run in *out_dir* (read under its lock); ConfigError if none."""
    with run_journal(out_dir) as journal:
        return journal.params()


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changes = []
    if old.get("manifest_sha256") != new.get("manifest_sha256"):
        changes.append(
            f"the manifest changed (sha256 {str(old.get('manifest_sha256'))[:12]}… then, "
            f"{str(new.get('manifest_sha256'))[:12]}… now)"
        )
    for key in CALL_SETTINGS:
        if old.get(key) != new.get(key):
            changes.append(f"{key} was {old.get(key)!r}, now {new.get(key)!r}")
    return changes


def _mkdir(path: Path, *, exist_ok: bool) -> None:
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        if not exist_ok:
            raise
        raise ConfigError(f"{path} exists and is not a folder; choose another --out") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot create the run folder {path}: {exc.strerror or exc}; choose another --out "
            "(a folder you can write to)"
        ) from None


def _new_folder(root: Path, base: str) -> tuple[str, Path]:
    for n in range(1, 1000):
        run_id = base if n == 1 else f"{base}-{n}"
        try:
            _mkdir(root / run_id, exist_ok=False)
        except FileExistsError:
            continue
        return run_id, root / run_id
    raise ConfigError(f"too many runs named {base} in {root}")
