"""The batch engine: fan out the run's calls (its action) under a rate limit and a concurrency cap, one result per row.

An anyio task group on asyncio; a pacer (:mod:`bulkretry.run.pacing`) spaces every call (first attempts and
retries alike) ``1/rate`` seconds apart, so no one-second window holds more than ``rate`` calls (with
``--rate auto``: at the rate each project's pacer has learnt from 429s); ``concurrency`` workers share one
iterator of plans, so at most that many rows are in progress and memory follows the concurrency, not
the manifest. A batch action (``priority``) sends consecutive rows of one project, region and body in one call,
``batch_size`` at a time, and gives each row its own result from the batch's answer.
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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anyio

from bulkretry.errors import ApiError, BulkRetryError, LoginRefused, LoginUnavailable, TransportError
from bulkretry.i18n.messages import (
    DRY_RUN,
    NOT_ACCEPTED,
    NOT_CALLED,
    STOPPED_BEFORE_ANSWER,
    TARGETS,
    UNKNOWN_STATUS,
    halt_message,
    say,
)
from bulkretry.manifest.plan import RowPlan
from bulkretry.masking import redact
from bulkretry.oms.actions import ACTIONS, DEFAULT_ACTION, GROUPS, Action
from bulkretry.oms.client import OmsClient, Response
from bulkretry.oms.codes import explain
from bulkretry.oms.errorbody import short_text
from bulkretry.oms.status import fix_first, group_story, status_name, status_of
from bulkretry.records import Outcome, RowResult
from bulkretry.run.halt import HaltRule
from bulkretry.run.pacing import FixedPacer, PacerPool
from bulkretry.run.policy import RetryPolicy, failure_kind

__all__ = ["Engine", "EngineConfig", "EngineStats", "utc_now_iso"]

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
    """Live counters of one engine run: ``calls`` counts every call that went out, ``status_reads`` the GETs of
    ``--check-status`` and ``--verify`` among them."""

    calls: int = 0
    status_reads: int = 0
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

    def count_call(self, now: float, second: int) -> None:
        """Count one call going out at *now* (the engine's clock), in the Unix second *second*."""
        self.calls += 1
        if self.first_call_at is None:
            self.first_call_at = now
        self.last_call_at = now
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight
        self.mark(second, 0)

    def uncount_call(self, second: int) -> None:
        """Take back a call counted in *second* that never went out (IAM gave no token)."""
        self.calls -= 1
        self.timeline[second][0] -= 1


@dataclass(frozen=True)
class EngineConfig:
    """How an :class:`Engine` calls: the settings of a run's calls, and the pacers and halt rules it reads.

    *action* is the call each row gets (:mod:`bulkretry.oms.actions`; the retry of task groups unless given), a
    batch action *batch_size* rows a call. *rate* is calls per second in total (``None``: unlimited), or *pacers*
    hands out each project's pacer (``--rate auto``); *concurrency* is the most calls in flight. *check_status*
    reads the target before its call (a status the action does not accept is skipped, and so is a group the action
    restarts whose own error no retry can fix, unless *call_anyway*); *verify_timeout* polls it
    after the call, every *verify_interval* seconds, while its status is in ``action.pending`` and the time has
    not passed. *halt_rule* hears of every call and row.
    """

    rate: float | None = None
    concurrency: int = 1
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    pacers: PacerPool | None = None
    dry_run: bool = False
    check_status: bool = False
    call_anyway: bool = False
    verify_timeout: float | None = None
    verify_interval: float = 2.0
    halt_rule: HaltRule | None = None
    action: Action = ACTIONS[(DEFAULT_ACTION, GROUPS)]
    batch_size: int = 50

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")

    def pacer_pool(self) -> PacerPool | None:
        """The pacers of the run: *pacers*, else one shared pacer at *rate*, else none (no limit)."""
        if self.pacers is not None:
            return self.pacers
        rate = self.rate
        return PacerPool(lambda: FixedPacer(rate), shared=True) if rate else None


class _Row:
    """One row in progress: what its calls have made so far (a cancel, a stop and the result read it)."""

    __slots__ = ("answer", "before", "extra", "last", "made", "pacer", "plan", "reads", "started", "story", "tries")

    def __init__(self, plan: RowPlan, started: str, pacer: Any) -> None:
        self.plan = plan
        self.started = started
        self.pacer = pacer
        #: Calls made for the row so far, lookups and polls included, and how many of them were those status reads.
        self.made = 0
        self.reads = 0
        #: Calls made by the current :meth:`Engine._attempts` (the policy counts them).
        self.tries = 0
        self.last: BulkRetryError | None = None
        self.extra: tuple[tuple[str, str | int], ...] = plan.extra
        #: The status columns of ``--check-status``, and the group's own story (group_story).
        self.before: tuple[tuple[str, str], ...] = ()
        self.story: tuple[tuple[str, str | int], ...] | None = None
        #: A batch's answer (on the batch's own row, which counts its calls).
        self.answer: Response | None = None

    @property
    def attempts(self) -> int:
        """The action's own calls for the row (its result's ``attempts``): status reads are not among them."""
        return self.made - self.reads


class Engine:
    """Runs :class:`RowPlan` s through an :class:`OmsClient`, as *config* says (:class:`EngineConfig`)."""

    def __init__(
        self,
        client: OmsClient | None,
        config: EngineConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        now_iso: Callable[[], str] = utc_now_iso,
    ) -> None:
        if client is None and not config.dry_run:
            raise ValueError("a client is needed unless this is a dry run")
        self._client = client
        self.config = config
        self.pacers = config.pacer_pool()
        self._policy = config.policy
        self._halt_rule = config.halt_rule
        self._clock = clock
        self._now_iso = now_iso
        self._stopping = False
        self._stop_event: anyio.Event | None = None
        #: Why the run halted (empty: it did not), and the error code of the rows it did not call.
        self.halt_reason = ""
        self.halt_code = "halted"
        #: Rows recorded as not called because of the halt: a halt that left none (it came after the last call
        #: went out) changed nothing, and the run's ending does not name it.
        self.halted_rows = 0
        #: The refused IAM login that ended the run (``run()`` raises it).
        self.fatal: LoginRefused | None = None
        self.stats = EngineStats()

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Engine(rate={c.rate}, concurrency={c.concurrency}, "
            f"max_attempts={c.policy.max_attempts}, calls={self.stats.calls})"
        )

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
            self.halted_rows += 1
            return self.halt_code, halt_message(self.halt_code, self.halt_reason)
        return "interrupted", NOT_CALLED

    @property
    def halted(self) -> tuple[str, str]:
        """``(reason, error code)`` of the halt when it left rows not called; ``("", "")`` when the run did not
        halt, or halted only after its last call went out (every row was called: nothing to resume)."""
        return (self.halt_reason, self.halt_code) if self.halted_rows else ("", "")

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
        worker = self._batch_worker if self.config.action.batch else self._worker
        async with anyio.create_task_group() as tg:
            for _ in range(self.config.concurrency):
                tg.start_soon(worker, source, on_result, on_call)
        if self.fatal is not None:
            raise self.fatal
        return self.stats

    def _calls(self, plan: RowPlan) -> bool:
        """Whether *plan* is to be called now (not invalid or a duplicate, not a dry run, the run not stopped)."""
        return plan.callable and not self._stopping and not self.config.dry_run

    async def _worker(self, source: Iterator[RowPlan], on_result: ResultSink, on_call: CallHook | None) -> None:
        """Call the plans of *source* one row at a time."""
        # Each worker pulls the next plan from the one shared iterator (next() never awaits, so no
        # plan is taken twice): *concurrency* workers, not a task per row, keep memory and CPU flat.
        for plan in source:
            if self.fatal is not None:  # IAM refused the login: the rows not called are left as they are
                return
            if not self._calls(plan):
                on_result(self._uncalled(plan))
                continue
            # One row: called (looked up first, polled after, as the run asks) and its result reported, here
            # rather than in a coroutine of its own (one less a row).
            row = self._new_row(plan)
            result: RowResult | None = None
            try:
                result = await self._call_row(row, on_call)
            except anyio.get_cancelled_exc_class():
                result = self._failure(row, True)
                raise
            finally:
                self._report(row, result, on_result)

    def _report(self, row: _Row, result: RowResult | None, on_result: ResultSink) -> None:
        """Hand *row*'s *result* on (None: IAM refused the login before its first call), and let the halt rule
        read it when the row made calls (status reads included)."""
        if result is None:
            return
        on_result(result)
        if row.made and self._halt_rule is not None:
            reason = self._halt_rule.observe(result)
            if reason:
                self.halt(reason)

    # -- one row -----------------------------------------------------------------------------------

    def _uncalled(self, plan: RowPlan) -> RowResult:
        """The result of a row that is not called: invalid or a duplicate, a dry run, or the run stopped."""
        if not plan.callable:
            return self._local(plan, plan.verdict, plan.error_code, plan.error_msg)  # type: ignore[arg-type]
        if self.config.dry_run:
            return self._local(plan, Outcome.DRY_RUN, "", say(DRY_RUN, call=self.config.action.describe()))
        return self._local(plan, Outcome.INTERRUPTED, *self.not_called())

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

    def _new_row(self, plan: RowPlan) -> _Row:
        return _Row(plan, self._now_iso(), self.pacers.get(plan.project_id) if self.pacers is not None else None)

    async def _call_row(self, row: _Row, on_call: CallHook | None) -> RowResult | None:
        """The calls of one row and its result (None: IAM refused the login before the row's first call)."""
        plan, client = row.plan, self._client
        assert client is not None  # a row is called only when this is no dry run, and then __init__ had a client
        region, action = plan.region or None, self.config.action
        if self.config.check_status:  # look first: a status the action does not accept is skipped, not called
            looked = await self._look_first(row, on_call)
            if looked is not None:
                return looked
        if row.last is None and not self._stopping:
            resp = await self._attempts(
                row, lambda: client.call(action, plan.project_id, plan.group_id, plan.body, region=region), on_call
            )
            if resp is not None:
                if self.config.verify_timeout is not None:
                    await self._verify(row)
                return self._succeeded(row, resp)
        return self._ending(row)

    def _succeeded(self, row: _Row, resp: Response) -> RowResult:
        """The result of a row whose call succeeded (polled first with ``--verify``: :meth:`_verify`)."""
        plan = row.plan
        # Made from its fields in order (_make checks their number): a third of the keyword call's cost, once a row.
        return RowResult._make(
            (
                plan.row,
                plan.project_id,
                plan.group_id,
                Outcome.SUCCEEDED,
                resp.status,  # http_status
                "",  # error_code
                "",  # error_msg
                row.attempts,
                resp.request_id,
                resp.latency_ms,
                row.started,  # started_at
                self._now_iso(),  # finished_at
                row.extra,
            )
        )

    def _ending(self, row: _Row) -> RowResult | None:
        """The result of a row whose calls ended without success: failed, or interrupted by a stop (None: IAM
        refused the login before the row's first call, and an uncalled row then has no result)."""
        if self.fatal is not None and not row.made:
            return None
        return self._failure(
            row, self._stopping and (row.last is None or self._policy.should_retry(row.last, row.tries))
        )

    async def _look_first(self, row: _Row, on_call: CallHook | None) -> RowResult | None:
        """``--check-status``: the target's GET before its call. The row's result when it is not to be called
        (a status the action does not accept, no readable status, or a group that needs a fix first); None to go on
        (accepted, or the lookup itself failed: ``row.last``)."""
        found = await self._show(row, on_call)
        if found is None:
            return None
        plan, action = row.plan, self.config.action
        status = status_of(found)
        row.before = (
            ("status_before", "" if status is None else str(status)),
            ("status_before_meaning", status_name(status, target=action.target)),
        )
        if action.target == GROUPS:
            row.story = group_story(found, lambda text: redact(text, plan.body))
        row.extra = (*row.before, *(row.story or ()), *plan.extra)
        if status is None:  # not known to be accepted, nor known not to be: neither call nor skip
            return self._looked(row, Outcome.FAILED, "status:unknown", _unknown_status(action))
        if action.accepts(status):
            return self._needs_fix(row, found)
        return self._looked(row, Outcome.SKIPPED, f"status:{status}", _not_accepted(action, status))

    def _needs_fix(self, row: _Row, found: Any) -> RowResult | None:
        """A group the action restarts whose own ``error_reason`` no retry can fix is skipped, its code
        ``needs_fix:TRF.xxxx`` and its message what to fix (:func:`fix_first`); None to call it."""
        code = fix_first(self.config.action, found, row.plan.body, call_anyway=self.config.call_anyway)
        return self._looked(row, Outcome.SKIPPED, code, " ".join(explain(code))) if code else None

    def _looked(self, row: _Row, outcome: Outcome, code: str, msg: str) -> RowResult:
        """The result of a row that its lookup settled (skipped, or a status not known)."""
        plan = row.plan
        return RowResult(
            plan.row,
            plan.project_id,
            plan.group_id,
            outcome,
            http_status=200,
            error_code=code,
            error_msg=msg,
            attempts=row.attempts,
            started_at=row.started,
            finished_at=self._now_iso(),
            extra=row.extra,
        )

    # -- batches (an action whose ids go into one call's body) ----------------------------------------

    async def _batch_worker(self, source: Iterator[RowPlan], on_result: ResultSink, on_call: CallHook | None) -> None:
        """Call the plans of *source* a batch at a time (see :meth:`_gather`)."""
        after = _After()
        while True:
            plan, after.plan = after.plan or next(source, None), None
            if plan is None or self.fatal is not None:
                return
            if not self._calls(plan):
                on_result(self._uncalled(plan))
                continue
            batch, after = self._gather(plan, source, on_result)
            try:
                await self._batch(batch, on_result, on_call)
            except anyio.get_cancelled_exc_class():
                if after.plan is not None:  # read past the batch, never called: still one result for it
                    on_result(self._local(after.plan, Outcome.INTERRUPTED, *self.not_called()))
                raise
            if after.error is not None:
                raise after.error

    def _gather(self, first: RowPlan, source: Iterator[RowPlan], on_result: ResultSink) -> tuple[list[RowPlan], _After]:
        """*first* and the callable plans after it of the same project, region and body, up to ``batch_size``
        (plans not to be called in between are reported as they come); and what was read past the batch: the
        next plan (another project, region or body), or the error the manifest raised."""
        key, batch = _batch_key(first), [first]
        while len(batch) < self.config.batch_size:
            try:
                plan = next(source, None)
            except Exception as exc:  # a manifest error: this batch is called first, then it is raised
                return batch, _After(error=exc)
            if plan is None:
                break
            if not plan.callable:
                on_result(self._uncalled(plan))
            elif _batch_key(plan) != key:
                return batch, _After(plan=plan)
            else:
                batch.append(plan)
        return batch, _After()

    async def _batch(self, plans: list[RowPlan], on_result: ResultSink, on_call: CallHook | None) -> None:
        """One call for *plans* (with ``--check-status``, for those whose status the action accepts, each read
        first), and each row's result."""
        left = [self._new_row(plan) for plan in plans]  # the rows not reported yet
        carrier = _Row(plans[0], left[0].started, left[0].pacer)  # the batch call's own count of calls
        try:
            if self.config.check_status:
                left = await self._accepted(left, on_result, on_call)
            if left and not self._stopping:
                await self._batch_call(carrier, left, on_call)
            for row in left:
                self._report(row, await self._batch_result(row, carrier), on_result)
            left = []
        except anyio.get_cancelled_exc_class():
            for row in left:
                _share_calls(carrier, row)
                self._report(row, self._failure(row, True), on_result)
            raise

    async def _accepted(self, rows: list[_Row], on_result: ResultSink, on_call: CallHook | None) -> list[_Row]:
        """``--check-status`` of a batch: each row read in turn; the rows whose status the action does not
        accept (or whose lookup failed) are reported, the others returned."""
        accepted: list[_Row] = []
        for index, row in enumerate(rows):
            if self._stopping:
                return [*accepted, *rows[index:]]
            looked = await self._look_first(row, on_call)
            if looked is not None:
                self._report(row, looked, on_result)
            elif row.last is not None:
                self._report(row, self._ending(row), on_result)
            else:
                accepted.append(row)
        return accepted

    async def _batch_call(self, carrier: _Row, rows: list[_Row], on_call: CallHook | None) -> None:
        """The one call of a batch, under the pacer and the retry policy; its answer in ``carrier.answer``, or
        ``carrier.last`` says why there is none. Each row's first call is heard by *on_call*."""
        client, action, plan = self._client, self.config.action, carrier.plan

        def hear(_: RowPlan) -> None:
            for row in rows:
                if not row.made and on_call is not None:
                    on_call(row.plan)

        ids = [int(row.plan.group_id) for row in rows]
        carrier.answer = await self._attempts(
            carrier,
            lambda: client.call_batch(action, plan.project_id, ids, plan.body, region=plan.region or None),  # type: ignore[union-attr]
            hear,
        )

    async def _batch_result(self, row: _Row, carrier: _Row) -> RowResult | None:
        """A row's result from its batch's answer: the same status, request id and latency for every row of it."""
        _share_calls(carrier, row)
        if carrier.answer is None:
            return self._ending(row)
        if self.config.verify_timeout is not None:
            await self._verify(row)
        return self._succeeded(row, carrier.answer)

    # -- the calls of a row ------------------------------------------------------------------------

    async def _show(self, row: _Row, on_call: CallHook | None) -> Any:
        """The row's target as OMS shows it (its GET, under the pacer and the retry policy), or None."""
        plan, client, action = row.plan, self._client, self.config.action
        return await self._attempts(
            row,
            lambda: client.show(action, plan.project_id, plan.group_id, region=plan.region or None),  # type: ignore[union-attr]
            on_call,
            read=True,
        )

    async def _attempts(
        self, row: _Row, call: Callable[[], Any], on_call: CallHook | None, *, read: bool = False
    ) -> Any:
        """Make one call under the pacer and the retry policy: the answer, or None (``row.last`` says why).

        ``row.made`` counts every call made for the row (``row.reads`` those of a status *read*), ``row.tries``
        this one's; *on_call* hears of the row's very first call. Returns None with ``row.last`` unchanged when the
        engine stopped first.
        """
        row.tries = 0
        pacer, stats = row.pacer, self.stats
        while True:
            sent_at = pacer.ready() if pacer is not None else 0.0
            if sent_at is None:  # a wait for the slot (a free one is taken without awaiting anything)
                sent_at = await pacer.acquire()
            if not row.made and on_call is not None:
                on_call(row.plan)
            if self._stopping:  # stopped while waiting for its turn
                return None
            row.tries += 1
            row.made += 1
            row.reads += read
            # The call's bookkeeping is here, not in a coroutine of its own: one less coroutine per call.
            second = int(time.time())
            stats.count_call(self._clock(), second)
            stats.status_reads += read
            try:
                try:
                    answer = await call()
                finally:
                    stats.in_flight -= 1
            except (LoginRefused, LoginUnavailable) as exc:  # no call went out: IAM gave no token
                self._no_token(row, exc, second, read)
                return None
            except (ApiError, TransportError) as exc:
                if await self._retry_after(row, exc, sent_at, second):
                    continue
                return None
            except Exception as exc:  # a bug or a library surprise: this row fails, the run goes on
                row.last = _internal_error(row.plan, exc)
                return None
            if pacer is not None:
                pacer.feedback(sent_at, False)
            if self._halt_rule is not None:
                self._halt_rule.observe_call(None)
            return answer

    def _no_token(self, row: _Row, exc: LoginRefused | LoginUnavailable, second: int, read: bool) -> None:
        """IAM gave no token, so the call (a status *read* or not) never went out: a refused login ends the run,
        an IAM that does not answer halts it."""
        self.stats.uncount_call(second)
        self.stats.status_reads -= read
        row.made -= 1
        row.reads -= read
        row.tries -= 1
        if isinstance(exc, LoginRefused):
            if self.fatal is None:
                self.fatal = exc
                self.stop()
        else:
            self.halt(exc.message)

    async def _retry_after(self, row: _Row, exc: ApiError | TransportError, sent_at: float, second: int) -> bool:
        """A call failed with *exc*: tell the pacer and the halt rules, and wait before another attempt if the
        policy wants one. True to try again, False when the row's calls end here (``row.last`` is *exc*)."""
        row.last = exc
        throttled = failure_kind(exc).throttled
        self.stats.mark(second, 1 if throttled else 2)
        if isinstance(exc, ApiError):  # (an answer: the pacer learns from answers only)
            self.stats.throttled += throttled
            if row.pacer is not None:
                row.pacer.feedback(sent_at, throttled)
        if self._halt_rule is not None:
            reason = self._halt_rule.observe_call(exc)
            if reason:
                self.halt(reason)
        if not self._policy.should_retry(exc, row.tries):
            return False
        delay = self._policy.delay(exc, row.tries)
        if log.isEnabledFor(logging.INFO):
            _log_retry(row, exc, delay)
        with anyio.move_on_after(delay):
            await self._stop_event.wait()  # type: ignore[union-attr]
        return not self._stopping

    async def _verify(self, row: _Row) -> None:
        """After the call: poll the target while its status is in ``action.pending`` and the verify timeout has
        not passed, and put what was last seen in the row's status columns. The polls are status reads."""
        polled = await self._poll(row)
        plan, target = row.plan, self.config.action.target
        after = status_of(polled) if polled is not None else None
        if row.story is None and polled is not None and target == GROUPS:  # no lookup before: the story as polled
            row.story = group_story(polled, lambda text: redact(text, plan.body))
        row.extra = (
            *row.before,
            ("status_after", "" if after is None else str(after)),
            ("status_after_meaning", status_name(after, target=target)),
            *(row.story or ()),
            *plan.extra,
        )

    async def _poll(self, row: _Row) -> Any:
        """The target as last seen by polling it after its call (None if no poll answered)."""
        action = self.config.action
        deadline = self._clock() + (self.config.verify_timeout or 0.0)
        seen: Any = None
        while True:
            found = await self._show(row, None)
            if found is None:
                return seen
            seen = found
            if status_of(found) not in action.pending or self._clock() >= deadline:
                return seen
            with anyio.move_on_after(min(self.config.verify_interval, max(0.0, deadline - self._clock()))):
                await self._stop_event.wait()  # type: ignore[union-attr]
            if self._stopping:
                return seen

    def _failure(self, row: _Row, interrupted: bool) -> RowResult:
        """The result of a row whose calls ended without success: failed, or interrupted by a stop."""
        plan, error = row.plan, row.last
        outcome = Outcome.INTERRUPTED if interrupted else Outcome.FAILED
        common: _FailureFields = dict(
            attempts=row.attempts, started_at=row.started, finished_at=self._now_iso(), extra=row.extra
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
            msg = redact(error.message, plan.body)
            return RowResult(
                plan.row, plan.project_id, plan.group_id, outcome, error_code=error.code, error_msg=msg,
                latency_ms=error.latency_ms, **common,
            )  # fmt: skip
        code, msg = ("interrupted", STOPPED_BEFORE_ANSWER) if not self.halt_reason else self.not_called()
        return RowResult(plan.row, plan.project_id, plan.group_id, outcome, error_code=code, error_msg=msg, **common)


class _After:
    """What a batch worker read past its batch: the next plan, or the error the manifest raised."""

    __slots__ = ("error", "plan")

    def __init__(self, plan: RowPlan | None = None, error: Exception | None = None) -> None:
        self.plan, self.error = plan, error


def _batch_key(plan: RowPlan) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
    """Plans with the same key can share a batch call: one project, region and body (the level)."""
    return plan.project_id, plan.region, tuple(plan.body.items())


def _share_calls(carrier: _Row, row: _Row) -> None:
    """A batch's calls, counted on its own row, are each of its rows' calls (once: the carrier is then spent
    for this row)."""
    if carrier.made and row.last is None:
        row.made += carrier.made
        row.tries, row.last = carrier.tries, carrier.last


def _statuses(action: Action, statuses: Iterable[int]) -> str:
    """``3 (stopped), 4 (failed)``: statuses of *action*'s target, in words."""
    return ", ".join(f"{status} ({status_name(status, target=action.target)})" for status in sorted(statuses))


def _not_accepted(action: Action, status: int) -> str:
    """Why a row is skipped: ``status 2 (running): --action start accepts 3 (stopped), 4 (failed)``."""
    return say(
        NOT_ACCEPTED, status=_statuses(action, (status,)), action=action.name, allowed=_statuses(action, action.allowed)
    )


def _unknown_status(action: Action) -> str:
    """Why a row whose lookup gave no readable status is neither called nor skipped."""
    return say(UNKNOWN_STATUS, action=action.name, target=TARGETS[action.id_column])


def _internal_error(plan: RowPlan, exc: Exception) -> TransportError:
    """A bug or a library surprise in a call, logged with its traceback, as the row's error."""
    log.exception("row %d: unexpected error", plan.row, extra={"event": "internal_error", "fields": {"row": plan.row}})
    return TransportError("internal_error", short_text(f"{type(exc).__name__}: {exc}"))


def _log_retry(row: _Row, error: ApiError | TransportError, delay: float) -> None:
    """Log one retry of *row* after *error*, in *delay* seconds."""
    code = (error.error_code or str(error.status)) if isinstance(error, ApiError) else error.code
    fields = {
        "row": row.plan.row,
        "group_id": row.plan.group_id,
        "attempt": row.tries,
        "error_code": code,
        "delay_s": round(delay, 3),
    }
    log.info("row %d: %s, retrying in %.2f s", row.plan.row, code, delay, extra={"event": "retry", "fields": fields})
