"""``--log-file``: the library's log records as JSON lines, one object per line, for unattended runs.

The library logs through :mod:`logging` (logger ``bulkretry``) with an ``event`` name and a ``fields``
dict on each record; nothing it logs holds a secret. This handler is attached only for the command's
duration; a file that cannot be written (a full disk) costs one warning and the rest of the log, never the run.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from bulkretry.errors import ConfigError

__all__ = ["JsonLinesFormatter", "json_log"]


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "message"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update({k: v for k, v in fields.items() if k not in data})
        if record.exc_info and record.exc_info[0] is not None:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class _LogFile(logging.FileHandler):
    """A FileHandler that stops at its first failed write (a full disk): one warning on *err*, then nothing,
    instead of :mod:`logging`'s traceback for every record; the run goes on without its log."""

    def __init__(self, path: Path, err: TextIO) -> None:
        super().__init__(path, mode="a", encoding="utf-8")
        self._err = err
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        exc = sys.exc_info()[1]
        why = (exc.strerror or str(exc)) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        print(
            f"bulkretry: warning: --log-file {self.baseFilename}: cannot write ({why}); logging stops here, "
            "the run goes on (its journal and reports are not affected)",
            file=self._err,
        )

    def close(self) -> None:
        try:
            super().close()  # flushes what is buffered: fails again on a full disk
        except OSError:
            if not self.failed:
                self.handleError(logging.makeLogRecord({}))


@contextmanager
def json_log(path: Path | None, err: TextIO | None = None) -> Iterator[None]:
    """Append the ``bulkretry`` logger's INFO records to *path* as JSON lines while the block runs. If the file
    cannot be written (a full disk), one warning goes to *err* (default: stderr) and logging stops."""
    if path is None:
        yield
        return
    try:
        handler = _LogFile(path, err or sys.stderr)
    except OSError as exc:
        raise ConfigError(f"cannot open --log-file {path}: {exc.strerror or exc}") from None
    handler.setFormatter(JsonLinesFormatter())
    logger = logging.getLogger("bulkretry")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()
