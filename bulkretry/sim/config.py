"""The simulator's settings: one frozen record, checked when built, whose ``repr`` hides the secrets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["SimConfig"]

_MAX_GROUPS = 1_000_000


def _check(ok: bool, name: str, allowed: str, value: object) -> None:
    if not ok:
        raise ValueError(f"SimConfig.{name} must be {allowed} (got {value!r})")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class SimConfig:
    """What the simulator listens on, which credentials it accepts and how it misbehaves.

    Attributes:
        host, port: where to listen; port 0 picks a free port.
        ak, sk: the access key pair accepted for ``SDK-HMAC-SHA256`` signing.
        token: an ``X-Auth-Token`` accepted as-is (None: only tokens issued by the sim's IAM).
        project_id: the only project the credentials give access to.
        groups, failed_ratio, seed: the generated task groups (reproducible from the seed).
        rate_limit: at most this many OMS calls per second (sliding window on the state's clock;
            rejected calls count too); None for no limit.
        latency_ms: added to every OMS call after authentication.
        error_rate: share of OMS calls answered with an injected transient 5xx.
        iam_user, iam_domain, iam_password: the password credentials the sim's IAM accepts.
        token_ttl_s: lifetime of IAM tokens, on the state's clock.
        max_date_skew_s: largest accepted distance between ``X-Sdk-Date`` and the real UTC time.
        settle_s: after a retry, how long a group reports "executing" before "migration finished".
        record: keep every received request in ``Simulator.received``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    ak: str = "SIMAK0000000000000001"
    sk: str = field(default="sim-secret-key-do-not-use", repr=False)
    token: str | None = field(default="sim-token", repr=False)
    project_id: str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    groups: int = 50
    failed_ratio: float = 0.6
    seed: int = 42
    rate_limit: float | None = None
    latency_ms: float = 0.0
    error_rate: float = 0.0
    iam_user: str = "sim-user"
    iam_domain: str = "sim-domain"
    iam_password: str = field(default="sim-password", repr=False)
    token_ttl_s: float = 86400.0
    max_date_skew_s: float = 900.0
    settle_s: float = 2.0
    record: bool = True

    def __post_init__(self) -> None:
        _check(isinstance(self.host, str) and bool(self.host), "host", "a non-empty host name", self.host)
        _check(isinstance(self.port, int) and 0 <= self.port <= 65535, "port", "an integer in 0..65535", self.port)
        for name in ("ak", "sk", "iam_user", "iam_domain", "iam_password"):
            value = getattr(self, name)
            shown = value if name in ("ak", "iam_user", "iam_domain") else "…"
            _check(
                isinstance(value, str) and bool(value) and value == value.strip(),
                name,
                "a non-empty string without surrounding spaces",
                shown,
            )
        _check(
            self.token is None or (isinstance(self.token, str) and bool(self.token.strip())),
            "token",
            "None or a non-empty string",
            "…",
        )
        _check(
            isinstance(self.project_id, str) and 1 <= len(self.project_id) <= 1024 and "/" not in self.project_id,
            "project_id",
            "1..1024 characters without '/'",
            self.project_id,
        )
        _check(
            isinstance(self.groups, int) and 0 <= self.groups <= _MAX_GROUPS,
            "groups",
            f"an integer in 0..{_MAX_GROUPS}",
            self.groups,
        )
        _check(
            _is_number(self.failed_ratio) and 0.0 <= self.failed_ratio <= 1.0,
            "failed_ratio",
            "a number in 0..1",
            self.failed_ratio,
        )
        _check(isinstance(self.seed, int) and not isinstance(self.seed, bool), "seed", "an integer", self.seed)
        _check(
            self.rate_limit is None or (_is_number(self.rate_limit) and self.rate_limit > 0),
            "rate_limit",
            "None or a number > 0 (calls per second)",
            self.rate_limit,
        )
        _check(
            _is_number(self.latency_ms) and 0.0 <= self.latency_ms <= 600_000,
            "latency_ms",
            "a number in 0..600000",
            self.latency_ms,
        )
        _check(
            _is_number(self.error_rate) and 0.0 <= self.error_rate <= 1.0,
            "error_rate",
            "a number in 0..1",
            self.error_rate,
        )
        _check(_is_number(self.token_ttl_s) and self.token_ttl_s > 0, "token_ttl_s", "a number > 0", self.token_ttl_s)
        _check(
            _is_number(self.max_date_skew_s) and self.max_date_skew_s >= 0,
            "max_date_skew_s",
            "a number >= 0",
            self.max_date_skew_s,
        )
        _check(_is_number(self.settle_s) and self.settle_s >= 0, "settle_s", "a number >= 0", self.settle_s)
        _check(isinstance(self.record, bool), "record", "True or False", self.record)
