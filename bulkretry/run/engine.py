"""The batch engine: fan out retry calls under a rate limit and a concurrency cap, one result per row.

An anyio task group on asyncio; a pacer (:mod:`bulkretry.run.pacing`) spaces every call (first attempts and
retries alike) ``1/rate`` seconds apart, so no one-second window holds more than ``rate`` calls (with
``--rate auto``: at the rate each project's pacer has learnt from 429s); ``concurrency`` workers share one
iterator of plans, so at most that many rows are in progress and memory follows the concurrency, not
the manifest.
Results go to ``on_result`` as rows finish. ``stop()`` stops new calls and marks the rest
``interrupted``; cancelling the run marks the calls in flight ``interrupted`` too. ``halt(reason)`` is a stop
for a systematic failure: the rows not called are ``interrupted`` with error code ``halted`` and the reason.
A :class:`~bulkretry.run.halt.HaltRule` halts the run from the calls and the finished rows (the first calls all
refused, or all failing alike; too many rows failed);
an IAM that gives no token halts it at once. An IAM that refuses the login (``LoginRefused``) ends the run:
no other call starts, the rows not called get no result, and ``run()`` raises it once the calls in flight end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anyio

from bulkretry.errors import ApiError, BulkRetryError, LoginRefused, LoginUnavailable, TransportError
from bulkretry.manifest.plan import RowPlan
from bulkretry.masking import redact
from bulkretry.oms.client import OmsClient
from bulkretry.oms.errorbody import short_text
from bulkretry.oms.status import FAILED, group_story, status_name, status_of
from bulkretry.records import Outcome, RowResult
from bulkretry.run.halt import HaltRule
from bulkretry.run.pacing import FixedPacer, PacerPool
from bulkretry.run.policy import RetryPolicy

__all__ = ["Engine", "EngineStats", "utc_now_iso"]

ResultSink = Callable[[RowResult], None]
CallHook = Callable[[RowPlan], None]

if TYPE_CHECKING:
    from typing import TypedDict

    class _FailureFields(TypedDict):
        """The keyword arguments every failed or interrupted :class:`RowResult` shares."""

        attempts: int
        started_at: str
        finished_at: str
        extra: tuple[tuple[str, str | int], ...]


log = logging.getLogger(__name__)


_last: list[Any] = [None, "", None, ""]  # the millisecond and the whole second last formatted, and their texts


def utc_now_iso() -> str:
    """Now in UTC as ISO 8601 with milliseconds, e.g. ``2026-11-24T10:00:00.123Z`` (one strftime per second,
    one format per millisecond: a run makes two a row)."""
    ms = int(time.time() * 1000)
    if ms == _last[0]:
        cached: str = _last[1]
        return cached
    whole, frac = divmod(ms, 1000)
    if whole != _last[2]:
        _last[2], _last[3] = whole, datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    text = f"{_last[3]}.{frac:03d}Z"
    _last[0], _last[1] = ms, text
    return text


@dataclass
class EngineStats:
    """Live counters of one engine run."""

    calls: int = 0
    throttled: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    first_call_at: float | None = None
    last_call_at: float | None = None
    #: Per wall-clock second (Unix time, whole): ``[calls, answered 429, other failed calls]``.
    timeline: dict[int, list[int]] = field(default_factory=dict)

    def mark(self, second: int, slot: int) -> None:
        """Count one call (slot 0), 429 (1) or other failure (2) in *second*."""
        counts = self.timeline.get(second)
        if counts is None:
            counts = self.timeline[second] = [0, 0, 0]
        counts[slot] += 1

    @property
    def achieved_rate(self) -> float:
        """Calls per second between the first and the last call (0 with fewer than two calls)."""
        if self.first_call_at is None or self.last_call_at is None or self.calls < 2:
            return 0.0
        span = self.last_call_at - self.first_call_at
        return round((self.calls - 1) / span, 3) if span > 0 else 0.0


class Engine:
    """Runs :class:`RowPlan` s through an :class:`OmsClient`.

    *rate* is calls per second in total (``None``: unlimited), or *pacers* hands out each project's
    pacer (``--rate auto``); *concurrency* is the most calls in flight.
    """

    def __init__(
        self,
        client: OmsClient | None,
        *,
        rate: float | None,
        concurrency: int,
        policy: RetryPolicy,
        pacers: PacerPool | None = None,
        dry_run: bool = False,
        check_status: bool = False,
        verify_timeout: float | None = None,
        verify_interval: float = 2.0,
        halt_rule: HaltRule | None = None,
        clock: Callable[[], float] = time.monotonic,
        now_iso: Callable[[], str] = utc_now_iso,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if client is None and not dry_run:
            raise ValueError("a client is needed unless this is a dry run")
        self._client = client
        self._rate = rate
        self.pacers = (
            pacers if pacers is not None else (PacerPool(lambda: FixedPacer(rate), shared=True) if rate else None)
        )
        self._concurrency = concurrency
        self._policy = policy
        self._dry_run = dry_run
        self._check_status = check_status
        self._verify_timeout = verify_timeout
        self._verify_interval = verify_interval
        self._clock = clock
        self._now_iso = now_iso
        self._stopping = False
        self._stop_event: anyio.Event | None = None
        self._halt_rule = halt_rule
        #: Why the run halted (empty: it did not), and the error code of the rows it did not call.
        self.halt_reason = ""
        self.halt_code = "halted"
        #: The refused IAM login that ended the run (``run()`` raises it).
        self.fatal: LoginRefused | None = None
        self.stats = EngineStats()

    def __repr__(self) -> str:
        return (
            f"Engine(rate={self._rate}, concurrency={self._concurrency}, "
            f"max_attempts={self._policy.max_attempts}, calls={self.stats.calls})"
        )

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop_now(self) -> None:
        """Start no new call from now on: a flag only, so safe from a signal handler; ``stop()`` (on the
        event loop) also wakes the rows waiting to retry or to poll."""
        self._stopping = True

    def stop(self) -> None:
        """Start no new call; rows not yet called (and rows waiting to retry) become ``interrupted``."""
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()

    def halt(self, reason: str, code: str = "halted") -> None:
        """Stop early for *reason* (a systematic failure; with *code* ``max_duration``, the time box): as
        :meth:`stop`, and the rows not called are recorded ``interrupted`` with error code *code* and
        ``<code>: <reason>``. The first reason is kept."""
        if not self.halt_reason and not self._stopping:
            self.halt_reason, self.halt_code = reason, code
            log.warning("%s: %s", code, reason, extra={"event": "halt", "fields": {"reason": reason, "code": code}})
        self.stop()

    def not_called(self) -> tuple[str, str]:
        """``(error_code, error_msg)`` of a row the run did not call because it stopped or halted."""
        if self.halt_reason:
            return self.halt_code, f"{self.halt_code}: {self.halt_reason}"
        return "interrupted", "not called: the run was stopped"

    async def run(
        self, plans: Iterable[RowPlan], on_result: ResultSink, on_call: CallHook | None = None
    ) -> EngineStats:
        """Call every callable plan; report every plan (called or not) to *on_result*, once.

        *on_call* hears of a row just before its first call goes out (the journal marks it in flight);
        it may ``stop()`` the engine, and then the row is not called. Raises :class:`LoginRefused` (after the
        calls in flight end) when IAM refused a login; the rows not called then get no result.
        """
        self._stop_event = anyio.Event()
        if self._stopping:
            self._stop_event.set()
        source = iter(plans)

        async def worker() -> None:
            # Each worker pulls the next plan from the one shared iterator (next() never awaits, so no
            # plan is taken twice): *concurrency* workers, not a task per row, keep memory and CPU flat.
            for plan in source:
                if self.fatal is not None:  # IAM refused the login: the rows not called are left as they are
                    return
                if not plan.callable:
                    on_result(self._local(plan, plan.verdict, plan.error_code, plan.error_msg))  # type: ignore[arg-type]
                elif self._dry_run:
                    on_result(self._local(plan, Outcome.DRY_RUN, "", "dry run: not called"))
                elif self._stopping:
                    on_result(self._local(plan, Outcome.INTERRUPTED, *self.not_called()))
                else:
                    await self._row(plan, on_result, on_call)

        async with anyio.create_task_group() as tg:
            for _ in range(self._concurrency):
                tg.start_soon(worker)
        if self.fatal is not None:
            raise self.fatal
        return self.stats

    # -- one row -----------------------------------------------------------------------------------

    def _local(self, plan: RowPlan, outcome: Outcome, code: str, msg: str) -> RowResult:
        now = self._now_iso()
        return RowResult(
            plan.row,
            plan.project_id,
            plan.group_id,
            outcome,
            error_code=code,
            error_msg=msg,
            started_at=now,
            finished_at=now,
            extra=plan.extra,
        )

    async def _row(self, plan: RowPlan, on_result: ResultSink, on_call: CallHook | None) -> None:
        started = self._now_iso()
        made = [0]  # calls made for this row so far (a cell _attempts adds to, so a cancel still sees it)
        tries = 0
        last: BulkRetryError | None = None
        result: RowResult | None = None
        extra: tuple[tuple[str, str | int], ...] = plan.extra
        pacer = self.pacers.get(plan.project_id) if self.pacers is not None else None
        client = self._client
        assert client is not None  # a row is called only when this is no dry run, and then __init__ had a client
        region = plan.region or None
        before: tuple[tuple[str, str], ...] = ()  # the status columns of --check-status
        story: tuple[tuple[str, str | int], ...] | None = None  # the group's own story (group_story)
        try:
            if self._check_status:  # look first: a group that is not failed is skipped, not retried
                group, last, tries = await self._attempts(
                    plan,
                    pacer,
                    lambda: client.show_task_group(plan.project_id, plan.group_id, region=region),
                    made,
                    on_call,
                )
                if group is not None:
                    status = status_of(group)
                    before = (
                        ("status_before", "" if status is None else str(status)),
                        ("status_before_meaning", status_name(status)),
                    )
                    story = group_story(group, lambda text: redact(text, plan.body))
                    extra = (*before, *story, *plan.extra)
                    if status is None:  # not known to be failed, nor known not to be: neither retry nor skip
                        result = RowResult(
                            plan.row,
                            plan.project_id,
                            plan.group_id,
                            Outcome.FAILED,
                            http_status=200,
                            error_code="status:unknown",
                            attempts=made[0],
                            started_at=started,
                            error_msg="the status lookup answered with no readable status, so it is not known whether "
                            "the group failed: not retried; look the group up in the OMS console, or run "
                            "this row again without --check-status",
                            finished_at=self._now_iso(),
                            extra=extra,
                        )
                    elif status != FAILED:
                        result = RowResult(
                            plan.row,
                            plan.project_id,
                            plan.group_id,
                            Outcome.SKIPPED,
                            http_status=200,
                            error_code=f"status:{status}",
                            attempts=made[0],
                            started_at=started,
                            error_msg=f"status {status} ({status_name(status)}): not failed, so not retried",
                            finished_at=self._now_iso(),
                            extra=extra,
                        )
            if result is None and last is None and not self._stopping:
                resp, last, tries = await self._attempts(
                    plan,
                    pacer,
                    lambda: client.retry_task_group(plan.project_id, plan.group_id, plan.body, region=region),
                    made,
                    on_call,
                )
                if resp is not None:
                    if self._verify_timeout is not None:
                        polled = await self._verify(plan, pacer, made)
                        after = status_of(polled) if polled is not None else None
                        if story is None and polled is not None:  # no lookup before: the group's story as polled
                            story = group_story(polled, lambda text: redact(text, plan.body))
                        extra = (
                            *before,
                            ("status_after", "" if after is None else str(after)),
                            ("status_after_meaning", status_name(after)),
                            *(story or ()),
                            *plan.extra,
                        )
                    result = RowResult(
                        plan.row,
                        plan.project_id,
                        plan.group_id,
                        Outcome.SUCCEEDED,
                        http_status=resp.status,
                        attempts=made[0],
                        request_id=resp.request_id,
                        latency_ms=resp.latency_ms,
                        started_at=started,
                        finished_at=self._now_iso(),
                        extra=extra,
                    )
            if result is None and (self.fatal is None or made[0]):  # a refused login: an uncalled row has no result
                interrupted = self._stopping and (last is None or self._policy.should_retry(last, tries))
                result = self._failure(plan, last, made[0], started, interrupted, extra)
        except anyio.get_cancelled_exc_class():
            result = self._failure(plan, last, made[0], started, True, extra)
            raise
        finally:
            if result is not None:
                on_result(result)
                if result.attempts and self._halt_rule is not None:
                    reason = self._halt_rule.observe(result)
                    if reason:
                        self.halt(reason)

    async def _attempts(
        self, plan: RowPlan, pacer: Any, call: Callable[[], Any], made: list[int], on_call: CallHook | None
    ) -> tuple[Any, BulkRetryError | None, int]:
        """Make one call under the pacer and the retry policy: ``(answer or None, last error, tries)``.

        ``made[0]`` counts every call made for the row (this one's tries added as they go out); *on_call*
        hears of the row's very first call. Returns no answer and no error when the engine stopped first.
        """
        tries = 0
        last: BulkRetryError | None = None
        while True:
            sent_at = await pacer.acquire() if pacer is not None else 0.0
            if made[0] == 0 and on_call is not None:
                on_call(plan)
            if self._stopping:  # stopped while waiting for its turn
                return None, last, tries
            tries += 1
            made[0] += 1
            # The call's bookkeeping is here, not in a coroutine of its own: one less coroutine per call.
            stats = self.stats
            stats.calls += 1
            now = self._clock()
            if stats.first_call_at is None:
                stats.first_call_at = now
            stats.last_call_at = now
            stats.in_flight += 1
            if stats.in_flight > stats.peak_in_flight:
                stats.peak_in_flight = stats.in_flight
            second = int(time.time())
            stats.mark(second, 0)
            try:
                try:
                    answer = await call()
                finally:
                    stats.in_flight -= 1
            except (LoginRefused, LoginUnavailable) as exc:  # no call went out: IAM gave no token
                stats.calls -= 1
                made[0] -= 1
                stats.timeline[second][0] -= 1
                if isinstance(exc, LoginRefused):
                    if self.fatal is None:
                        self.fatal = exc
                        self.stop()
                else:
                    self.halt(exc.message)
                return None, last, tries - 1
            except (ApiError, TransportError) as exc:
                last = exc
                throttled = isinstance(exc, ApiError) and exc.status == 429
                stats.mark(second, 1 if throttled else 2)
                if isinstance(exc, ApiError):
                    stats.throttled += throttled
                    if pacer is not None:
                        pacer.feedback(sent_at, throttled)
                if self._halt_rule is not None:
                    reason = self._halt_rule.observe_call(exc)
                    if reason:
                        self.halt(reason)
                if not self._policy.should_retry(exc, tries):
                    return None, last, tries
                delay = self._policy.delay(exc, tries)
                if log.isEnabledFor(logging.INFO):
                    log.info(
                        "row %d: %s, retrying in %.2f s",
                        plan.row,
                        _code(exc),
                        delay,
                        extra={
                            "event": "retry",
                            "fields": {
                                "row": plan.row,
                                "group_id": plan.group_id,
                                "attempt": tries,
                                "error_code": _code(exc),
                                "delay_s": round(delay, 3),
                            },
                        },
                    )
                with anyio.move_on_after(delay):
                    await self._stop_event.wait()  # type: ignore[union-attr]
                if self._stopping:  # stop() may have set it while this waited; mypy keeps the narrowing to False
                    return None, last, tries  # type: ignore[unreachable]
                continue
            except Exception as exc:  # a bug or a library surprise: this row fails, the run goes on
                log.exception(
                    "row %d: unexpected error", plan.row, extra={"event": "internal_error", "fields": {"row": plan.row}}
                )
                return (
                    None,
                    TransportError("internal_error", short_text(f"{type(exc).__name__}: {exc}"), retryable=False),
                    tries,
                )
            if pacer is not None:
                pacer.feedback(sent_at, False)
            if self._halt_rule is not None:
                self._halt_rule.observe_call(None)
            return answer, None, tries

    async def _verify(self, plan: RowPlan, pacer: Any, made: list[int]) -> Any:
        """After a retry: poll the group until it leaves status 5 or the verify timeout passes; the group
        as last seen (None if no poll answered). The polls count in ``made[0]``."""
        client = self._client
        deadline = self._clock() + (self._verify_timeout or 0.0)
        seen: Any = None
        while True:
            group, _, _ = await self._attempts(
                plan,
                pacer,
                lambda: client.show_task_group(  # type: ignore[union-attr]
                    plan.project_id,
                    plan.group_id,
                    region=plan.region or None,
                ),
                made,
                None,
            )
            if group is None:
                return seen
            seen = group
            if status_of(group) != FAILED or self._clock() >= deadline:
                return seen
            with anyio.move_on_after(min(self._verify_interval, max(0.0, deadline - self._clock()))):
                await self._stop_event.wait()  # type: ignore[union-attr]
            if self._stopping:
                return seen

    def _failure(
        self,
        plan: RowPlan,
        error: BulkRetryError | None,
        attempts: int,
        started: str,
        interrupted: bool,
        extra: tuple[tuple[str, str | int], ...] | None = None,
    ) -> RowResult:
        outcome = Outcome.INTERRUPTED if interrupted else Outcome.FAILED
        common: _FailureFields = dict(
            attempts=attempts,
            started_at=started,
            finished_at=self._now_iso(),
            extra=plan.extra if extra is None else extra,
        )
        if isinstance(error, ApiError):
            return RowResult(
                plan.row,
                plan.project_id,
                plan.group_id,
                outcome,
                http_status=error.status,
                error_code=redact(error.error_code, plan.body),
                error_msg=redact(error.error_msg, plan.body),
                request_id=error.request_id,
                latency_ms=error.latency_ms,
                **common,
            )
        if isinstance(error, TransportError):
            return RowResult(
                plan.row,
                plan.project_id,
                plan.group_id,
                outcome,
                error_code=error.code,
                error_msg=redact(error.message, plan.body),
                latency_ms=error.latency_ms,
                **common,
            )
        code, msg = ("interrupted", "stopped before an answer came") if not self.halt_reason else self.not_called()
        return RowResult(plan.row, plan.project_id, plan.group_id, outcome, error_code=code, error_msg=msg, **common)


def _code(error: ApiError | TransportError) -> str:
    return (error.error_code or str(error.status)) if isinstance(error, ApiError) else error.code
