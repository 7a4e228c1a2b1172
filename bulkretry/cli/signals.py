"""Ctrl-C and SIGTERM for the whole of a `run`/`rerun`: from before the manifest is read to the last report.

The handlers are installed before anything is read and stay until the command ends, so a stop signal is
never missed (nor the process killed by SIGTERM's default action) between the phases:

- while the manifest is read: the library is asked between rows (``requested``) and stops before any call;
- while the rows are called: ``on_signal`` (set by the progress bar's event loop) stops the engine at once
  (no new call starts) and, on the loop, gives the calls in flight their grace; a second signal aborts them;
- while the reports are written: the reports are finished (the journal is complete, each file is renamed
  into place only when whole), then the command ends with the signal's status.

With no event loop to hand the signal to (reading the manifest, the summary), a second signal aborts at once
with ``KeyboardInterrupt``. A SIGINT the parent told us to ignore (a shell's background job) is honoured too,
as it is during the calls.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

from bulkretry.errors import signal_exit_status

__all__ = ["StopSignals"]

_SIGNALS: dict[int, str] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class StopSignals:
    """Records SIGINT/SIGTERM for one command; a context manager that restores the earlier handlers."""

    def __init__(self) -> None:
        #: The first stop signal's name (``"SIGINT"``/``"SIGTERM"``), or None.
        self.name: str | None = None
        #: How many stop signals came.
        self.count = 0
        #: Called in the signal handler with the count (keep it to a flag and ``call_soon_threadsafe``).
        self.on_signal: Callable[[int], None] | None = None
        self._previous: dict[int, object] = {}

    def requested(self) -> bool:
        """Whether a stop signal came (the library's ``should_stop``)."""
        return self.name is not None

    @property
    def exit_status(self) -> int:
        """The contract's status for the first signal: 143 for SIGTERM, else 130."""
        return signal_exit_status(self.name)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.name = self.name or _SIGNALS.get(signum, "SIGINT")
        self.count += 1
        hook = self.on_signal
        if hook is not None:
            hook(self.count)
        elif self.count > 1:
            raise KeyboardInterrupt

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signals are only for the main thread
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
