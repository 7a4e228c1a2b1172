"""What is worth another attempt, how long to wait before it, and what counts as a systematic failure.

The one place a failed call is judged. The client and IAM logins only name a failure (its kind); the table of
kinds is :data:`bulkretry.errors.FAILURES` (kept in the root vocabulary so an error's ``retryable`` reads it too),
and this module decides with it:

=====================  ========  ==========  ==================================================================
kind                   retried   systematic  when
=====================  ========  ==========  ==================================================================
``throttled``          yes       no          429: the pacer slows down; the halt rules do not count it
``server_error``       yes       yes         5xx
``row_rejected``       no        no          a 4xx with an ``OMS.`` code: the service judged the row itself
``http_error``         no        yes         every other status: 3xx (not followed), 4xx, a 2xx that is no answer
``timeout``            yes       yes         no answer within ``--timeout``
``connection``         yes       yes         refused, unreachable, dropped, an answer that is not HTTP
``dns_temporary``      yes       yes         code ``dns``: no resolver answered (it may heal)
``dns``                no        yes         the name does not exist
``tls``                no        yes         a TLS handshake that failed
``tls_certificate``    no        yes         an untrusted certificate
``invalid_request``    no        yes         a request that cannot be sent (URL, header, another host)
``internal_error``     no        yes         a bug or a library surprise
``login_unavailable``  no        yes         IAM gave no token: the run halts instead
``proxy_auth``         no        yes         407: the proxy wants authentication; the run halts at the first
=====================  ========  ==========  ==================================================================

A transport code the table does not name is retried. Waits are exponential backoff with full jitter (AWS's
"Exponential Backoff And Jitter"), or the server's ``Retry-After`` when it sends one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from bulkretry.errors import ApiError, BulkRetryError, FailureKind, TransportError, failure_named

__all__ = ["RetryPolicy", "failure_kind", "is_retryable"]

#: What a failure that is neither an :class:`ApiError` nor a :class:`TransportError` is: final, and no sign of a
#: systematic failure of the calls.
_NOT_A_CALL = FailureKind("not_a_call", retried=False, systematic=False)


def failure_kind(error: BaseException) -> FailureKind:
    """How the run treats *error*: its row of :data:`~bulkretry.errors.FAILURES`."""
    if isinstance(error, (ApiError, TransportError)):
        return failure_named(error.kind)
    return _NOT_A_CALL


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt after *error* may pass."""
    return failure_kind(error).retried


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` calls per row at most; waits of ``uniform(0, min(cap, base * 2**n))``.

    ``rng`` is injectable so tests can pin the jitter; ``base_s=0`` turns waiting off.
    """

    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    #: The longest ``Retry-After`` honoured; a larger one is cut to this.
    max_retry_after_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not all(0 <= value < math.inf for value in (self.base_s, self.cap_s, self.max_retry_after_s)):
            raise ValueError("backoff times must be finite and not negative")

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """After *attempt* calls (1-based) ended in *error*: is another attempt due?"""
        return attempt < self.max_attempts and is_retryable(error)

    def delay(self, error: BulkRetryError, attempt: int) -> float:
        """Seconds to wait after the *attempt*-th call failed with *error*."""
        retry_after: float | None = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after_s)
        # The exponent stops at 1023, the largest a float holds (2.0 ** 1024 overflows): past it the
        # product is inf or the cap anyway, so any attempt number is safe.
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 1023))
        return self.rng.uniform(0.0, ceiling)
