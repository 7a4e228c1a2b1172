"""The one failure table: every kind the client names is judged by run/policy.py, and the hot path's shortcuts."""

from __future__ import annotations

from bulkretry.errors import FAILURES, ApiError, LoginUnavailable, TransportError
from bulkretry.records import Outcome, RowResult
from bulkretry.run.halt import FirstCallsFailedAlike, FirstCallsRefused, HaltRules
from bulkretry.run.policy import failure_kind, is_retryable


def test_every_kind_of_failure_is_in_the_table_and_judged_once() -> None:
    """Statuses, transport codes and kinds map to the table's rows; an error's retryable is the policy's word."""
    cases = {
        ApiError(429, "APIGW.0308", "m"): "throttled",
        ApiError(503, "c", "m"): "server_error",
        ApiError(404, "OMS.1009", "m"): "row_rejected",
        ApiError(401, "APIGW.0301", "m"): "http_error",
        ApiError(302, "302", "m"): "http_error",
        ApiError(200, "invalid_response", "m"): "http_error",
        TransportError("dns", "m", kind="dns_temporary"): "dns_temporary",
        TransportError("dns", "m"): "dns",
        LoginUnavailable("iam_timeout", "m"): "login_unavailable",
    }
    for error, name in cases.items():
        assert failure_kind(error) is FAILURES[name], error
        assert error.retryable == is_retryable(error) == FAILURES[name].retried, error
    assert is_retryable(TransportError("some_new_code", "m"))  # unknown transport codes are retried
    assert not is_retryable(ValueError("not a call"))


def test_settled_first_call_rules_are_no_longer_asked() -> None:
    """Once the first calls are judged, HaltRules asks no first-calls rule, and still answers as each rule would."""
    refused, alike = FirstCallsRefused(2), FirstCallsFailedAlike(2)
    rules = HaltRules([refused, alike])
    assert rules.observe_call(None) is None and alike.settled
    ok = RowResult(1, "p", "g", Outcome.SUCCEEDED, http_status=200, attempts=1)
    assert rules.observe(ok) is None and refused.settled
    for _ in range(5):
        assert rules.observe_call(TransportError("connection", "m")) is None
        assert rules.observe(RowResult(2, "p", "g", Outcome.FAILED, http_status=401, attempts=1)) is None
