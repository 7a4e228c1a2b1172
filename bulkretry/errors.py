"""One exception base with a few flat subclasses that carry fields, so reports record codes, not prose.

No exception here ever holds a secret: messages are built from ids, codes and the service's own text.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "BulkRetryError",
    "ConfigError",
    "CredentialsError",
    "ManifestError",
    "TransportError",
]


class BulkRetryError(Exception):
    """Base of every error bulkretry raises on purpose."""


class ConfigError(BulkRetryError):
    """A usage error: a bad option value or a missing setting. Nothing was called."""


class CredentialsError(ConfigError):
    """No usable credentials, or credentials that are incomplete. Nothing was called."""


class ManifestError(BulkRetryError):
    """The manifest cannot be read or used; names the file and, where known, row and column."""

    def __init__(self, message: str, *, path: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        where = ", ".join(
            part for part in (
                path,
                f"row {row}" if row is not None else None,
                f"column {column!r}" if column is not None else None,
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.row, self.column = path, row, column


class ApiError(BulkRetryError):
    """The service answered with an error status (after the client's own 401 refresh, if any)."""

    def __init__(self, status: int, error_code: str, error_msg: str, *, request_id: str = "",
                 latency_ms: float | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status} {error_code}: {error_msg}"
                         + (f" (X-Request-Id {request_id})" if request_id else ""))
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

    def __init__(self, code: str, message: str, *, retryable: bool = True,
                 latency_ms: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.latency_ms = latency_ms
