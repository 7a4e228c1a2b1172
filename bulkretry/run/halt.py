"""When a run should stop calling: rules that read the finished rows and name a systematic failure.

The engine hands every row it called, as it finishes, to its :class:`HaltRule`; a rule that returns a reason
makes the engine halt: no new call starts, the calls in flight finish, and every row not called is recorded
``interrupted`` with error code ``halted`` and the reason, so ``--resume`` calls them once the cause is fixed.
A rule is told of one row at a time and must decide in O(1): it runs once per row on the engine's path.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from bulkretry.records import Outcome, RowResult

__all__ = ["FIRST_CALLS", "REFUSED_STATUSES", "FirstCallsRefused", "HaltRule"]

#: How many of the first finished calls must all be refused before the run halts.
FIRST_CALLS = 5
#: The answers that say the credentials are not accepted.
REFUSED_STATUSES = frozenset({401, 403})


class HaltRule(Protocol):
    """Decides from the finished rows whether the run should stop calling."""

    def observe(self, result: RowResult) -> str | None:
        """Hear of one row that was called and has finished; the reason to halt, or None to go on."""
        ...


class FirstCallsRefused:
    """The first *first* calls to finish were all refused (401/403): the credentials are not accepted, and
    every other row would be refused too. Any other outcome among them settles it: the rule never fires."""

    def __init__(self, first: int = FIRST_CALLS) -> None:
        if first < 1:
            raise ValueError("first must be at least 1")
        self.first = first
        self._seen = 0
        self._refused: Counter[tuple[int, str]] = Counter()

    def __repr__(self) -> str:
        return f"FirstCallsRefused(first={self.first}, seen={self._seen})"

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
        return f"the first {self.first} calls were refused with {answers}; check the credentials"
