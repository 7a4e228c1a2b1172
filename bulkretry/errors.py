"""Every exception bulkretry raises on purpose: one base, a few flat subclasses that carry fields, so
reports record codes, not prose, and the CLI turns each into one line and its ``exit_status``.

``exit_status`` is the contract's: 2 when nothing was called (a usage, settings, credentials or manifest
error), 1 when calls were made but the run could not end cleanly (a report that could not be written,
results the journal refused). No exception here ever holds a secret: messages are built from ids, codes
and the service's own text (with the run's secrets redacted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "ApiError",
    "BulkRetryError",
    "ConfigError",
    "CredentialsError",
    "JournalError",
    "LoginRefused",
    "LoginUnavailable",
    "ManifestError",
    "ReportError",
    "Stopped",
    "TransportError",
    "UnsavedResults",
    "UsageError",
    "signal_exit_status",
]

#: Every row is fine (succeeded, skipped or a dry run).
EXIT_OK = 0
#: Some rows (or the run's ending) failed after calls were made.
EXIT_FAILED = 1
#: Nothing was called: bad usage, settings, credentials or manifest.
EXIT_USAGE = 2
#: A stop signal ended the run: SIGINT (Ctrl-C), SIGTERM.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def signal_exit_status(name: str | None) -> int:
    """The contract's status for a stop signal named *name*: 143 for SIGTERM, else 130."""
    return EXIT_SIGTERM if name == "SIGTERM" else EXIT_SIGINT


class BulkRetryError(Exception):
    """Base of every error bulkretry raises on purpose."""

    #: The process's exit status when this error ends a command.
    exit_status: int = EXIT_USAGE


class ConfigError(BulkRetryError):
    """A usage error: a bad option value or a missing setting. Nothing was called."""


class UsageError(ConfigError):
    """A usage error found by the command line itself (options that do not go together)."""


class CredentialsError(ConfigError):
    """No usable credentials, or credentials that are incomplete. Nothing was called."""


class ManifestError(BulkRetryError):
    """The manifest cannot be read or used; names the file and, where known, row and column."""

    def __init__(
        self, message: str, *, path: str | None = None, row: int | None = None, column: str | None = None
    ) -> None:
        where = ", ".join(
            part
            for part in (
                path,
                f"row {row}" if row is not None else None,
                f"column {column!r}" if column is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.row, self.column = path, row, column


class ApiError(BulkRetryError):
    """The service answered with an error status (after the client's own 401 refresh, if any)."""

    def __init__(
        self,
        status: int,
        error_code: str,
        error_msg: str,
        *,
        request_id: str = "",
        latency_ms: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            f"HTTP {status} {error_code}: {error_msg}" + (f" (X-Request-Id {request_id})" if request_id else "")
        )
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.latency_ms = latency_ms
        #: Seconds the server asked us to wait (``Retry-After``), if it said.
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Throttling and server-side failures may pass; every other error is final."""
        return self.status == 429 or self.status >= 500


class TransportError(BulkRetryError):
    """No usable HTTP answer: a timeout (``code='timeout'``), a failed or dropped connection
    (``code='connection'``), or a request that could not be sent at all (``retryable=False``)."""

    def __init__(self, code: str, message: str, *, retryable: bool = True, latency_ms: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.latency_ms = latency_ms


class LoginRefused(BulkRetryError):
    """IAM refused the login for a project (HTTP 4xx: a wrong password, an unknown user or domain, a locked
    account, a project the user cannot use). No call can succeed and IAM locks an account after a few failed
    logins, so the run stops at once and makes no other call. ``exit_status`` is 2 (nothing was called), or 1
    when the run had called rows before (the run says so in the message)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_code: str,
        project_id: str,
        request_id: str = "",
        exit_status: int = EXIT_USAGE,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.project_id = project_id
        self.request_id = request_id
        self.exit_status = exit_status


class LoginUnavailable(TransportError):
    """IAM gave no token for a project without refusing the login: no answer (``code='iam_timeout'``), no
    connection (``'iam_connection'``), or an answer that is no token (throttled, a 5xx, a redirect). Every row
    would meet the same, so it is not retried per row: the run halts (``halted``) and ``--resume`` continues."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, retryable=False)


class JournalError(BulkRetryError):
    """The journal cannot be opened, read or written (not a run folder, a newer schema, a full disk)."""


class ReportError(BulkRetryError):
    """The calls were made and journalled, but the report files could not be written."""

    exit_status = EXIT_FAILED


class Stopped(BulkRetryError):
    """A stop was asked for (the CLI: Ctrl-C or SIGTERM) before any call: nothing was called. *where* says
    what was being done (``while reading the manifest m.xlsx (at row 1234)``), *signal* what stopped it;
    ``exit_status`` is the signal's (130 unless given: 143 for SIGTERM)."""

    exit_status = EXIT_SIGINT

    def __init__(self, where: str, *, signal: str | None = None, exit_status: int | None = None) -> None:
        super().__init__(f"stopped{f' by {signal}' if signal else ''} {where}: nothing was called")
        self.where, self.signal = where, signal
        if exit_status is not None:
            self.exit_status = exit_status


class UnsavedResults(BulkRetryError):
    """The journal refused results (a full disk): they are handed over in ``rows`` so the caller can show
    them; ``out_dir`` is the run folder."""

    exit_status = EXIT_FAILED

    def __init__(self, message: str, rows: list[dict[str, Any]], out_dir: Path) -> None:
        super().__init__(message)
        self.rows = rows
        self.out_dir = out_dir
