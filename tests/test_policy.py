"""The retry policy: full-jitter backoff, Retry-After, and which errors are retried."""

from __future__ import annotations

import random

from bulkretry.run.policy import RetryPolicy


def test_policy_waits() -> None:
    """Backoff grows exponentially under full jitter, Retry-After wins, and only retryable errors retry."""
    from bulkretry.errors import ApiError, TransportError

    policy = RetryPolicy(max_attempts=3, base_s=1.0, cap_s=4.0, rng=random.Random(0))
    throttled = ApiError(429, "APIGW.0308", "x")
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)):
        waits = [policy.delay(throttled, attempt) for _ in range(200)]
        assert min(waits) >= 0 and max(waits) <= ceiling and max(waits) > ceiling * 0.8
    assert policy.delay(ApiError(429, "c", "m", retry_after=7.5), 1) == 7.5
    assert policy.delay(ApiError(503, "c", "m", retry_after=10_000), 1) == 300.0
    assert policy.should_retry(throttled, 2) and not policy.should_retry(throttled, 3)
    assert policy.should_retry(TransportError("timeout", "t"), 1)
    assert not policy.should_retry(TransportError("invalid_request", "t"), 1)
    for status in (400, 401, 403, 404, 302):
        assert not policy.should_retry(ApiError(status, "c", "m"), 1)


def test_backoff_is_safe_for_any_attempt_number() -> None:
    """The backoff exponent never overflows: attempts past 1024 wait at most the cap, like any late attempt."""
    from bulkretry.errors import ApiError

    policy = RetryPolicy(max_attempts=100, base_s=0.5, cap_s=30.0, rng=random.Random(0))
    for attempt in (1024, 1025, 5000, 10**9):
        assert 0 <= policy.delay(ApiError(503, "c", "m"), attempt) <= 30.0
