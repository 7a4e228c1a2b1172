"""The simulator's settings: one frozen record, checked when built, whose ``repr`` hides the secrets."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["MAX_GROUPS", "MAX_TASKS", "SimConfig"]

MAX_GROUPS = 1_000_000
MAX_TASKS = 1_000_000

Rule = Callable[[object], bool]

#: Fields whose value is never shown, not even when it is wrong.
_SECRETS = frozenset({"sk", "token", "iam_password", "secrets"})


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number_from(low: float, high: float = math.inf) -> Rule:
    """A finite number in ``low..high``."""
    return lambda value: _is_number(value) and low <= value <= high  # type: ignore[operator]


def _positive(value: object) -> bool:
    return _is_number(value) and value > 0  # type: ignore[operator]


def _integer_from(low: int, high: int) -> Rule:
    return lambda value: _is_integer(value) and low <= value <= high  # type: ignore[operator]


def _plain_text(value: object) -> bool:
    """A non-empty string without surrounding spaces."""
    return isinstance(value, str) and bool(value) and value == value.strip()


def _token(value: object) -> bool:
    return value is None or (isinstance(value, str) and bool(value.strip()))


def _project_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 1024 and "/" not in value


_PLAIN_TEXT = "a non-empty string without surrounding spaces"


def _secret_pairs(value: object) -> bool:
    """A tuple of ``(name, text)`` pairs of strings."""
    return isinstance(value, tuple) and all(
        isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(part, str) for part in pair) for pair in value
    )


def _names(value: object) -> bool:
    return isinstance(value, tuple) and all(isinstance(name, str) for name in value)


#: Each field's check and the words that say what it allows, in the order the fields are checked.
_RULES: tuple[tuple[str, Rule, str], ...] = (
    ("host", lambda value: isinstance(value, str) and bool(value), "a non-empty host name"),
    ("port", _integer_from(0, 65535), "an integer in 0..65535"),
    ("ak", _plain_text, _PLAIN_TEXT),
    ("sk", _plain_text, _PLAIN_TEXT),
    ("iam_user", _plain_text, _PLAIN_TEXT),
    ("iam_domain", _plain_text, _PLAIN_TEXT),
    ("iam_password", _plain_text, _PLAIN_TEXT),
    ("token", _token, "None or a non-empty string"),
    ("project_id", _project_id, "1..1024 characters without '/'"),
    ("groups", _integer_from(0, MAX_GROUPS), f"an integer in 0..{MAX_GROUPS}"),
    ("tasks", _integer_from(0, MAX_TASKS), f"an integer in 0..{MAX_TASKS}"),
    ("failed_ratio", _number_from(0.0, 1.0), "a number in 0..1"),
    ("needs_fix_ratio", _number_from(0.0, 1.0), "a number in 0..1"),
    ("seed", _is_integer, "an integer"),
    ("rate_limit", lambda value: value is None or _positive(value), "None or a number > 0 (calls per second)"),
    ("latency_ms", _number_from(0.0, 600_000), "a number in 0..600000"),
    ("error_rate", _number_from(0.0, 1.0), "a number in 0..1"),
    ("token_ttl_s", _positive, "a number > 0"),
    ("max_date_skew_s", _number_from(0.0), "a number >= 0"),
    ("settle_s", _number_from(0.0), "a number >= 0"),
    ("record", lambda value: isinstance(value, bool), "True or False"),
    ("secrets", _secret_pairs, "a tuple of (name, value) string pairs"),
    ("secrets_denied", _names, "a tuple of secret names"),
)


@dataclass(frozen=True)
class SimConfig:
    """What the simulator listens on, which credentials it accepts and how it misbehaves.

    Attributes:
        host, port: where to listen; port 0 picks a free port.
        ak, sk: the access key pair accepted for ``SDK-HMAC-SHA256`` signing.
        token: an ``X-Auth-Token`` accepted as-is (None: only tokens issued by the sim's IAM).
        project_id: the only project the credentials give access to.
        groups, failed_ratio, seed: the generated task groups (reproducible from the seed).
        needs_fix_ratio: the share of the failed groups whose ``error_reason`` is one no retry fixes (bucket gone,
            out of space, keys invalid or without permission, balance); the others carry one a retry fixes.
        tasks: the generated migration tasks (from the same seed and failed ratio; about half of them
            belong to a generated group, the others stand alone).
        rate_limit: at most this many OMS calls per second (sliding window on the state's clock;
            rejected calls count too); None for no limit.
        latency_ms: added to every OMS call after authentication.
        error_rate: share of OMS calls answered with an injected transient 5xx.
        iam_user, iam_domain, iam_password: the password credentials the sim's IAM accepts.
        token_ttl_s: lifetime of IAM tokens, on the state's clock.
        max_date_skew_s: largest accepted distance between ``X-Sdk-Date`` and the real UTC time.
        settle_s: how long a status in passing lasts, on the state's clock: a retried group is "executing"
            before "migration finished", a started one before "monitoring"; a stopped group or task is
            "pausing" before "paused" (or "stopped"); a started task "waiting" before "running".
        record: keep every received request in ``Simulator.received``.
        secrets: the CSMS stand-in's secrets, ``(name, secret_string)`` pairs, each with one version ``v1``
            (also ``latest``); the same authentication as OMS calls.
        secrets_denied: secret names the stand-in refuses to the credentials (403).
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
    tasks: int = 30
    needs_fix_ratio: float = 0.0
    secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    secrets_denied: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, rule, allowed in _RULES:
            value = getattr(self, name)
            if not rule(value):
                shown = "…" if name in _SECRETS else value
                raise ValueError(f"SimConfig.{name} must be {allowed} (got {shown!r})")
