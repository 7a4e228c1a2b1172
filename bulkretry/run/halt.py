"""When a run should stop calling: rules that read the calls and the finished rows and name a systematic failure.

The engine hands every call's end (an answer, or the error) and every row it called, as it finishes, to its
:class:`HaltRule`; a rule that returns a reason makes the engine halt: no new call starts, the calls in flight
finish, and every row not called is recorded ``interrupted`` with error code ``halted`` and the reason, so
``--resume`` calls them once the cause is fixed. A rule is told of one call or row at a time and must decide in
O(1): it runs on the engine's per-call path.

The rules of a run (:func:`run_rules`): :class:`FirstCallsRefused` (the first 5 rows called all refused with
401/403), :class:`FirstCallsFailedAlike` (the first 20 calls all failed with the same error, 429 aside: a closed
port, an untrusted certificate, a name that does not resolve) and, with ``--halt-on-failure PCT[:MIN]``,
:class:`FailureShare` (over PCT % of at least MIN finished rows failed). A failure that every call meets and
says so at the first (a proxy that wants authentication: ``halts`` in :data:`~bulkretry.errors.FAILURES`) halts
the run at once, whatever the rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from bulkretry.errors import ApiError, BulkRetryError, TransportError
from bulkretry.i18n.messages import FAILURE_SHARE, FIRST_ALIKE, FIRST_REFUSED, say
from bulkretry.oms.errorbody import short_text
from bulkretry.records import Outcome, RowResult
from bulkretry.run.policy import failure_kind

__all__ = [
    "ALIKE_CALLS",
    "DEFAULT_MIN_ROWS",
    "FIRST_CALLS",
    "REFUSED_STATUSES",
    "FailureShare",
    "FirstCallsFailedAlike",
    "FirstCallsRefused",
    "HaltRule",
    "HaltRules",
    "parse_halt_on_failure",
    "run_rules",
]

#: How many of the first finished calls must all be refused before the run halts.
FIRST_CALLS = 5
#: How many of the run's first calls must all fail with the same error before the run halts.
ALIKE_CALLS = 20
#: ``--halt-on-failure PCT`` without ``:MIN``: the share is judged once this many rows finished.
DEFAULT_MIN_ROWS = 20
#: The answers that say the credentials are not accepted.
REFUSED_STATUSES = frozenset({401, 403})


class HaltRule(Protocol):
    """Decides from the finished rows whether the run should stop calling."""

    def observe(self, result: RowResult) -> str | None:
        """Hear of one row that was called and has finished; the reason to halt, or None to go on."""
        ...

    def observe_call(self, error: BulkRetryError | None) -> str | None:
        """Hear of one call's end: *error* (an :class:`ApiError` or :class:`TransportError`), or None for an
        answer; the reason to halt, or None to go on."""
        ...


class _FirstCalls:
    """What the first-calls rules share: how many calls they judge, and whether they have judged them all."""

    def __init__(self, first: int) -> None:
        if first < 1:
            raise ValueError("first must be at least 1")
        self.first = first
        self._seen = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(first={self.first}, seen={self._seen})"

    @property
    def settled(self) -> bool:
        """The first calls are judged: the rule will not fire from now on."""
        return self._seen >= self.first


class FirstCallsRefused(_FirstCalls):
    """The first *first* calls to finish were all refused (401/403): the credentials are not accepted, and
    every other row would be refused too. Any other outcome among them settles it: the rule never fires."""

    def __init__(self, first: int = FIRST_CALLS) -> None:
        super().__init__(first)
        self._refused: Counter[tuple[int, str]] = Counter()

    def observe(self, result: RowResult) -> str | None:
        """See :meth:`HaltRule.observe`."""
        if self._seen >= self.first or result.outcome is Outcome.INTERRUPTED:
            return None
        self._seen += 1
        if result.outcome is not Outcome.FAILED or result.http_status not in REFUSED_STATUSES:
            self._seen = self.first  # a call that was not refused: these credentials work
            return None
        self._refused[result.http_status, result.error_code] += 1
        if self._seen < self.first:
            return None
        answers = ", ".join(f"{status} {code}".strip() for (status, code), _ in self._refused.most_common())
        return say(FIRST_REFUSED, calls=self.first, answers=answers)

    def observe_call(self, error: BulkRetryError | None) -> str | None:
        """See :meth:`HaltRule.observe_call`: this rule reads rows only."""
        return None


class FirstCallsFailedAlike(_FirstCalls):
    """The run's first *first* calls all failed with the same error (the same HTTP status and error code): a
    closed port, an untrusted certificate, a name that does not resolve, a gateway or server error on every
    call. Counted by calls, not rows, so a failure retried per row (a refused connection, a 503) halts within
    about *first* calls however many attempts a row may make. A 429 is not counted either way (pacing handles
    it); an answer, an OMS error about the row itself (a 4xx with an ``OMS.`` code: no such group, not failed)
    or a second kind of error settles it: the rule never fires. Which failures are systematic, throttled or
    about the row is :mod:`bulkretry.run.policy`'s word."""

    def __init__(self, first: int = ALIKE_CALLS) -> None:
        super().__init__(first)
        self._key: tuple[int | None, str] | None = None
        self._message = ""

    def observe(self, result: RowResult) -> str | None:
        """See :meth:`HaltRule.observe`: this rule reads calls only."""
        return None

    def observe_call(self, error: BulkRetryError | None) -> str | None:
        """See :meth:`HaltRule.observe_call`."""
        if self._seen >= self.first:
            return None
        if error is None:  # an answer: the endpoint works
            self._seen = self.first
            return None
        kind = failure_kind(error)
        if kind.throttled:  # pacing's business, not a sign either way
            return None
        if not kind.systematic:
            self._seen = self.first  # the service judged this row (no such group, not failed): the endpoint works
            return None
        key, message = _alike(error)
        if self._key is None:
            self._key, self._message = key, message
        elif key != self._key:
            self._seen = self.first  # two different errors: not one systematic cause
            return None
        self._seen += 1
        if self._seen < self.first:
            return None
        status, code = self._key
        what = f"{status} {code}" if status is not None and code != str(status) else code
        return say(FIRST_ALIKE, calls=self.first, what=what, message=short_text(self._message, 300))


def _alike(error: BulkRetryError) -> tuple[tuple[int | None, str], str]:
    """What makes two failed calls the same error (the HTTP status and error code, or the transport code), and
    the error's message."""
    if isinstance(error, ApiError):
        return (error.status, error.error_code or str(error.status)), error.error_msg
    if isinstance(error, TransportError):
        return (None, error.code), error.message
    return (None, type(error).__name__), str(error)


class FailureShare:
    """``--halt-on-failure PCT[:MIN]``: once at least *min_rows* called rows finished, more than *percent* % of
    them failed. Judged after every row from then on (interrupted rows are not counted)."""

    def __init__(self, percent: float, min_rows: int = DEFAULT_MIN_ROWS) -> None:
        if not 0 < percent <= 100 or min_rows < 1:
            raise ValueError("percent must be above 0 and at most 100, min_rows at least 1")
        self.percent = percent
        self.min_rows = min_rows
        self._seen = 0
        self._failed = 0
        self._codes: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"FailureShare(percent={self.percent:g}, min_rows={self.min_rows}, failed={self._failed}/{self._seen})"

    def observe(self, result: RowResult) -> str | None:
        """See :meth:`HaltRule.observe`."""
        if result.outcome is Outcome.INTERRUPTED:
            return None
        self._seen += 1
        if result.outcome is Outcome.FAILED:
            self._failed += 1
            self._codes[result.error_code or str(result.http_status or "")] += 1
        if self._seen < self.min_rows or self._failed * 100 <= self.percent * self._seen:
            return None
        top = ", ".join(f"{code} ×{n}" for code, n in self._codes.most_common(3))
        return say(
            FAILURE_SHARE,
            failed=self._failed,
            seen=self._seen,
            percent=f"{self.percent:g}",
            min_rows=self.min_rows,
            top=top,
        )

    def observe_call(self, error: BulkRetryError | None) -> str | None:
        """See :meth:`HaltRule.observe_call`: this rule reads rows only."""
        return None


class HaltRules:
    """Several rules as one: the first reason any of them gives."""

    def __init__(self, rules: Sequence[HaltRule]) -> None:
        self.rules = tuple(rules)
        # The rules still deciding: a first-calls rule that has settled is dropped, so once the first calls are
        # judged a run without --halt-on-failure asks no rule at all (they are heard on every call).
        self._rows: list[HaltRule] = [rule for rule in self.rules if not isinstance(rule, FirstCallsFailedAlike)]
        self._calls: list[HaltRule] = [rule for rule in self.rules if isinstance(rule, FirstCallsFailedAlike)]

    def __repr__(self) -> str:
        return f"HaltRules({list(self.rules)!r})"

    def observe(self, result: RowResult) -> str | None:
        """See :meth:`HaltRule.observe`."""
        return _first_reason(self._rows, lambda rule: rule.observe(result)) if self._rows else None

    def observe_call(self, error: BulkRetryError | None) -> str | None:
        """See :meth:`HaltRule.observe_call`; a failure that halts at once (``halts``) is its own reason."""
        if error is not None and failure_kind(error).halts:
            return _alike(error)[1]
        return _first_reason(self._calls, lambda rule: rule.observe_call(error)) if self._calls else None


def _first_reason(rules: list[HaltRule], ask: Callable[[HaltRule], str | None]) -> str | None:
    """The first reason *ask* gets from *rules*; a first-calls rule that has settled leaves *rules*."""
    for rule in list(rules):
        reason = ask(rule)
        if reason:
            return reason
        if isinstance(rule, (FirstCallsRefused, FirstCallsFailedAlike)) and rule.settled:
            rules.remove(rule)
    return None


def run_rules(halt_on_failure: tuple[float, int] | None = None) -> HaltRules:
    """The rules of a run: the first calls refused or failing alike, and ``--halt-on-failure`` when given."""
    rules: list[HaltRule] = [FirstCallsRefused(), FirstCallsFailedAlike()]
    if halt_on_failure is not None:
        rules.append(FailureShare(*halt_on_failure))
    return HaltRules(rules)


def parse_halt_on_failure(text: str) -> tuple[float, int]:
    """``--halt-on-failure PCT[:MIN]`` as ``(percent, min_rows)``; ValueError naming the form otherwise."""
    pct, _, low = text.strip().partition(":")
    try:
        percent = float(pct.strip().rstrip("%"))
    except ValueError:
        percent = float("nan")
    try:
        min_rows = int(low) if low.strip() else DEFAULT_MIN_ROWS
    except ValueError:
        min_rows = 0
    if not 0 < percent <= 100 or min_rows < 1:  # NaN fails this too
        raise ValueError(
            f"invalid value {text!r}: expected PCT[:MIN], a percentage above 0 and at most 100 and a "
            f"whole number of rows of at least 1 (default {DEFAULT_MIN_ROWS}), e.g. 50 or 30:100"
        )
    return percent, min_rows
