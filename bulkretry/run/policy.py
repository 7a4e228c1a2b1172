"""What is worth another attempt, and how long to wait before it.

Retryable: 429, 5xx, timeouts and dropped connections. Final at once: every other status (400, 401,
403, 404, 3xx) and requests that cannot be sent. Waits are exponential backoff with full jitter
(AWS's "Exponential Backoff And Jitter"), or the server's ``Retry-After`` when it sends one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from bulkretry.errors import ApiError, BulkRetryError, TransportError

__all__ = ["RetryPolicy", "is_retryable"]


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, (ApiError, TransportError)) and error.retryable


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
