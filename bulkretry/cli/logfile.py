"""``--log-file``: the library's log records as JSON lines, one object per line, for unattended runs.

The library logs through :mod:`logging` (logger ``bulkretry``) with an ``event`` name and a ``fields``
dict on each record; nothing it logs holds a secret. This handler is attached only for the command's
duration.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bulkretry.errors import ConfigError

__all__ = ["JsonLinesFormatter", "json_log"]


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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


@contextmanager
def json_log(path: Path | None) -> Iterator[None]:
    """Append the ``bulkretry`` logger's INFO records to *path* as JSON lines while the block runs."""
    if path is None:
        yield
        return
    try:
        handler = logging.FileHandler(path, mode="a", encoding="utf-8")
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
