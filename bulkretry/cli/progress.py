"""The terminal side of a run: a tqdm progress bar and the signals that stop a run cleanly.

First Ctrl-C (or SIGTERM): no new calls; calls in flight get a short grace period; the rest of the
rows are marked ``interrupted`` and every report is written. A second Ctrl-C aborts the calls in flight at
once, still recording them as ``interrupted``. The handlers themselves are in :mod:`bulkretry.cli.signals`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import anyio

from bulkretry.cli.signals import StopSignals
from bulkretry.oms.auth import Authenticator
from bulkretry.oms.network import Network
from bulkretry.records import RowResult
from bulkretry.run.engine import Engine
from bulkretry.run.prepare import PreparedRun
from bulkretry.run.runner import RunResult, RunStart, execute

__all__ = ["GRACE_S", "RunOutcome", "run_with_progress"]

#: How long calls in flight may take to finish after the first stop signal.
GRACE_S = 10.0


@dataclass(frozen=True)
class RunOutcome:
    result: RunResult | None
    signal: str | None
    out_dir: Path | None


def run_with_progress(
    prepared: PreparedRun,
    auth: Authenticator | None,
    *,
    quiet: bool,
    err: TextIO,
    signals: StopSignals,
    network: Network | None = None,
) -> RunOutcome:
    """Run *prepared* with a progress bar on *err*; *signals* (installed by the caller before the manifest
    was read) stop it: the first stops new calls at once, a second abandons the calls in flight."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: our bar is updated from one thread, often enough

    show = not quiet and hasattr(err, "isatty") and err.isatty()
    bar = tqdm(
        total=prepared.rows,
        file=err,
        disable=not show,
        unit="row",
        dynamic_ncols=True,
        desc="dry run" if prepared.settings.dry_run else "retrying",
        smoothing=0.05,
    )
    counts: Counter[str] = Counter()
    state: dict[str, object] = {"engine": None, "out_dir": None}

    def on_result(result: RowResult) -> None:
        counts[result.outcome] += 1  # a StrEnum: counts['succeeded'] finds it
        if not show:
            return
        bar.update(1)
        engine = state["engine"]
        pacers = engine.pacers if isinstance(engine, Engine) else None
        rate = f" · limit {pacers.rate:.3g}/s" if pacers is not None and prepared.settings.rate_auto else ""
        bar.set_postfix_str(
            f"ok {counts['succeeded']} · failed {counts['failed']} · invalid {counts['invalid']}{rate}", refresh=False
        )

    def on_start(start: RunStart) -> None:
        state["engine"], state["out_dir"] = start.engine, start.out_dir
        if start.done:  # a resumed run: show the whole run, started where the last session stopped
            bar.reset(total=start.rows)
            bar.update(start.done)
            bar.set_description("resuming")

    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        grace = min(GRACE_S, prepared.settings.timeout)
        graced = [False]

        def on_loop(count: int) -> None:
            engine = state["engine"]
            if count > 1:
                task.cancel()
            elif isinstance(engine, Engine) and not graced[0]:
                graced[0] = True
                engine.stop()  # wakes the rows waiting to retry
                loop.call_later(grace, task.cancel)
            # no engine yet: execute() asks signals.requested before the first call

        def on_signal(count: int) -> None:  # in the signal handler: a flag, and the rest on the loop
            engine = state["engine"]
            if isinstance(engine, Engine):
                engine.stop_now()  # no new call from this instant
            with contextlib.suppress(RuntimeError):  # the loop is closing: nothing left to stop
                loop.call_soon_threadsafe(on_loop, count)

        signals.on_signal = on_signal
        try:
            return await execute(
                prepared, auth, on_result=on_result, on_start=on_start, should_stop=signals.requested, network=network
            )
        finally:
            signals.on_signal = None

    result: RunResult | None = None
    try:
        result = anyio.run(main, backend="asyncio")
    except (asyncio.CancelledError, KeyboardInterrupt):
        signals.name = signals.name or "SIGINT"
    finally:
        bar.close()
    return RunOutcome(result, signals.name, state["out_dir"])  # type: ignore[arg-type]
