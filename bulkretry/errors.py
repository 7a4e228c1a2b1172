"""Every exception bulkretry raises on purpose: one base, a few flat subclasses that carry fields, so
reports record codes, not prose, and the CLI turns each into one line and its ``exit_status``.

``exit_status`` is the contract's: 2 when nothing was called (a usage, settings, credentials or manifest
error), 1 when calls were made but the run could not end cleanly (a report that could not be written,
results the journal refused), 3 when IAM refused the login after calls were made (the run stopped early).
No exception here ever holds a secret: messages are built from ids, codes and the service's own text (with
the run's secrets redacted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_HALTED",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "FAILURES",
    "PROXY_AUTH",
    "ApiError",
    "BulkRetryError",
    "ConfigError",
    "CredentialsError",
    "FailureKind",
    "JournalError",
    "LoginRefused",
    "LoginUnavailable",
    "ManifestError",
    "ReportError",
    "Stopped",
    "TransportError",
    "UnsavedResults",
    "UsageError",
    "failure_named",
    "signal_exit_status",
]

#: Every row is fine (succeeded, skipped or a dry run).
EXIT_OK = 0
#: Some rows (or the run's ending) failed after calls were made.
EXIT_FAILED = 1
#: Nothing was called: bad usage, settings, credentials or manifest.
EXIT_USAGE = 2
#: The run stopped early on a systematic failure (credentials refused, IAM or the endpoint unreachable, an
#: untrusted certificate, a proxy that wants authentication): fix the cause, then ``--resume``.
EXIT_HALTED = 3
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


@dataclass(frozen=True)
class FailureKind:
    """One kind of failed call, as the run treats it: named by the client (or IAM login) that met it, judged by
    :mod:`bulkretry.run.policy` (retries and waits) and :mod:`bulkretry.run.halt` (systematic failures)."""

    name: str
    #: Another attempt may pass (a pause, a restart, a dropped connection); False: every attempt fails alike.
    retried: bool
    #: The service asked us to slow down (429): the pacer hears of it, the halt rules do not count it.
    throttled: bool = False
    #: The same failure on every call would be one cause for the whole run (a closed port, an untrusted
    #: certificate, a server error); False: about the row itself (the service judged the group).
    systematic: bool = True
    #: Every call of the run meets it, and says so at the first (a proxy that wants authentication): the run
    #: halts at once instead of waiting for the first calls to fail alike.
    halts: bool = False


#: Every kind of failure a call can meet, by name: the one table of what is retried. The client names the kind
#: (:attr:`ApiError.kind`, :attr:`TransportError.kind`) and decides nothing; :mod:`bulkretry.run.policy` owns the
#: decision and documents it. A kind not in the table (a transport code unknown here) is retried.
FAILURES: Mapping[str, FailureKind] = {
    kind.name: kind
    for kind in (
        FailureKind("throttled", retried=True, throttled=True, systematic=False),  # 429
        FailureKind("server_error", retried=True),  # 5xx
        FailureKind("row_rejected", retried=False, systematic=False),  # a 4xx with an OMS. code: about the row
        FailureKind("http_error", retried=False),  # every other status: 3xx, 4xx, a 2xx that is no answer
        FailureKind("timeout", retried=True),  # no answer within --timeout
        FailureKind("connection", retried=True),  # refused, unreachable, dropped, an answer that is not HTTP
        FailureKind("dns_temporary", retried=True),  # (code dns) no resolver answered: it may heal
        FailureKind("dns", retried=False),  # the resolver said the name does not exist
        FailureKind("tls", retried=False),  # a handshake that failed: no TLS there
        FailureKind("tls_certificate", retried=False),  # an untrusted certificate
        FailureKind("invalid_request", retried=False),  # a request that cannot be sent (URL, header, host)
        FailureKind("internal_error", retried=False),  # a bug or a library surprise
        FailureKind("login_unavailable", retried=False),  # IAM gave no token: the run halts, no row retries
        FailureKind("proxy_auth", retried=False, halts=True),  # 407: the proxy wants authentication
    )
}

#: A kind the table does not name: retried, as a dropped connection.
_UNKNOWN = FailureKind("unknown", retried=True)


#: What a row's error_msg and the halt say when the proxy answers 407 (the proxy's own URL is never quoted: it may
#: hold a password).
PROXY_AUTH = (
    "the proxy wants authentication (407 Proxy Authentication Required): give its user and password in "
    "HTTPS_PROXY or HTTP_PROXY (http://USER:PASSWORD@HOST:PORT), or set NO_PROXY for the endpoint if it needs "
    "no proxy"
)


def failure_named(name: str) -> FailureKind:
    """The kind called *name* in :data:`FAILURES`; one the table does not name is retried."""
    return FAILURES.get(name, _UNKNOWN)


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
    def kind(self) -> str:
        """The failure's name in :data:`FAILURES`: from the status, and the error code for a 4xx."""
        status = self.status
        if status == 429:
            return "throttled"
        if status == 407:  # the proxy speaking (plain HTTP through it), not the service
            return "proxy_auth"
        if status >= 500:
            return "server_error"
        if 400 <= status < 500 and self.error_code.upper().startswith("OMS."):
            return "row_rejected"
        return "http_error"

    @property
    def retryable(self) -> bool:
        """Whether another attempt may pass, as :data:`FAILURES` says (throttling and server-side failures)."""
        return failure_named(self.kind).retried


class TransportError(BulkRetryError):
    """No usable HTTP answer: a timeout (``code='timeout'``), a failed or dropped connection
    (``code='connection'``), or a request that could not be sent at all (``code='invalid_request'``).

    *kind* names the failure in :data:`FAILURES` when it is finer than the code (``dns_temporary``: code ``dns``,
    but no resolver answered); by default it is the code.
    """

    def __init__(self, code: str, message: str, *, kind: str = "", latency_ms: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.kind = kind or code
        self.latency_ms = latency_ms

    @property
    def retryable(self) -> bool:
        """Whether another attempt may pass, as :data:`FAILURES` says for :attr:`kind`."""
        return failure_named(self.kind).retried


class LoginRefused(BulkRetryError):
    """IAM refused the login for a project (HTTP 4xx: a wrong password, an unknown user or domain, a locked
    account, a project the user cannot use). No call can succeed and IAM locks an account after a few failed
    logins, so the run stops at once and makes no other call. ``exit_status`` is 2 (nothing was called), or 3
    when the run had called rows before (it stopped early on a systematic failure; the message says so)."""

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
        super().__init__(code, message, kind="login_unavailable")


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
