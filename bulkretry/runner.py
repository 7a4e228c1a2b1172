"""One run, end to end: read and check the manifest, call, journal every row, write the reports.

The CLI drives this module and does the printing; everything here reports through return values,
exceptions and callbacks.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import anyio

from .auth import Authenticator
from .client import OmsClient, make_session
from .engine import Engine, utc_now_iso
from .errors import BulkRetryError, ConfigError
from .journal import JOURNAL_NAME, Journal
from .manifest import ManifestInfo, iter_rows, open_manifest
from .plan import Planner, RowPlan
from .policy import RetryPolicy
from .records import Outcome, RowResult, RunSummary
from .report import FORMATS, write_reports

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RATE",
    "DEFAULT_TIMEOUT",
    "PreparedRun",
    "ReportError",
    "RunResult",
    "RunSettings",
    "execute",
    "prepare",
]

#: Calls per second when --rate is not given: well under API Gateway's usual per-API quota.
DEFAULT_RATE = 10.0
DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT = 30.0
DEFAULT_RUNS_ROOT = Path("bulkretry-runs")


class ReportError(BulkRetryError):
    """The calls were made and journalled, but the report files could not be written."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    manifest: Path
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    endpoint: str | None = None
    region: str | None = None
    project_id: str | None = None
    rate: float | None = DEFAULT_RATE
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: float = DEFAULT_TIMEOUT
    out_dir: Path | None = None
    runs_root: Path = DEFAULT_RUNS_ROOT
    formats: tuple[str, ...] = FORMATS
    dry_run: bool = False
    migrate_failed_object: bool | None = None
    verify_tls: bool = True
    backoff_base_s: float = 0.5

    def public_params(self) -> dict[str, object]:
        """The settings as recorded in the journal and shown to people (nothing secret is here)."""
        return {
            "manifest": str(self.manifest), "endpoint": self.endpoint, "region": self.region,
            "project_id": self.project_id, "rate": self.rate, "concurrency": self.concurrency,
            "max_attempts": self.max_attempts, "timeout": self.timeout, "formats": list(self.formats),
            "dry_run": self.dry_run, "migrate_failed_object": self.migrate_failed_object,
        }


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A manifest read and checked end to end; nothing called, nothing written yet."""

    settings: RunSettings
    info: ManifestInfo
    rows: int
    by_verdict: Mapping[str, int]
    env: Mapping[str, str] = field(repr=False)

    @property
    def to_call(self) -> int:
        return self.by_verdict.get("call", 0)

    def planner(self) -> Planner:
        s = self.settings
        return Planner(columns=self.info.columns, project_id=s.project_id, region=s.region, endpoint=s.endpoint,
                       migrate_failed_object=s.migrate_failed_object, env=self.env,
                       base_dir=Path(self.info.path).resolve().parent)

    def plans(self) -> Iterator[RowPlan]:
        """Every row's plan, streamed from the manifest (a fresh pass each time)."""
        return self.planner().plan_all(iter_rows(self.info))


def prepare(settings: RunSettings, env: Mapping[str, str] | None = None) -> PreparedRun:
    """Open the manifest and check every row; raise ManifestError/ConfigError before anything is called."""
    env = dict(os.environ if env is None else env)
    info = open_manifest(settings.manifest, encoding=settings.encoding, delimiter=settings.delimiter,
                         sheet=settings.sheet)
    unchecked = PreparedRun(settings, info, 0, {}, env)
    counts = Counter("call" if plan.callable else plan.verdict.value  # type: ignore[union-attr]
                     for plan in unchecked.plans())
    return PreparedRun(settings, info, sum(counts.values()), dict(counts), env)


@dataclass(frozen=True, slots=True)
class RunResult:
    summary: RunSummary
    out_dir: Path
    files: list[Path]


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-")[:40] or "manifest"


def make_run_dir(settings: RunSettings) -> tuple[str, Path]:
    """A new, empty run folder: ``--out`` if given (refused if it holds a run), else one under runs_root."""
    if settings.out_dir is not None:
        out = settings.out_dir
        if (out / JOURNAL_NAME).exists():
            raise ConfigError(f"{out} already holds a run; choose another --out (a run is never overwritten)")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create --out {out}: {exc.strerror or exc}") from None
        return out.name, out
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(settings.manifest.stem)}"
    for n in range(1, 1000):
        run_id = base if n == 1 else f"{base}-{n}"
        out = settings.runs_root / run_id
        try:
            out.mkdir(parents=True, exist_ok=False)
            return run_id, out
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot create the run folder {out}: {exc.strerror or exc}") from None
    raise ConfigError(f"too many runs named {base} in {settings.runs_root}")


async def execute(
    prepared: PreparedRun,
    auth: Authenticator | None,
    *,
    on_result: Callable[[RowResult], None] | None = None,
    on_engine: Callable[[Engine, Path], None] | None = None,
    session: aiohttp.ClientSession | None = None,
) -> RunResult:
    """Call every row of *prepared*, journal each result, then write the reports.

    *on_engine* receives the engine and the run folder before the first call (the CLI uses them to
    stop on a signal and to say where the reports are).
    When the run is cancelled, rows not yet finished are recorded as ``interrupted`` and the
    reports are still written before the cancellation goes on.
    """
    s = prepared.settings
    run_id, out_dir = make_run_dir(s)
    started_at, t0 = utc_now_iso(), time.monotonic()
    journal = Journal(out_dir / JOURNAL_NAME)
    journal.set_params({**s.public_params(), "run_id": run_id, "started_at": started_at,
                        "manifest_rows": prepared.rows})
    by_outcome: Counter[str] = Counter()
    by_code: Counter[str] = Counter()

    def record(result: RowResult) -> None:
        journal.record(result)
        by_outcome[result.outcome.value] += 1
        if result.error_code:
            by_code[result.error_code] += 1
        if on_result is not None:
            on_result(result)

    own_session = session is None and not s.dry_run
    if own_session:
        session = make_session(limit=s.concurrency)
    client = None if s.dry_run else OmsClient(session, auth, endpoint=s.endpoint, region=s.region,  # type: ignore[arg-type]
                                                  timeout=s.timeout, verify_tls=s.verify_tls)
    engine = Engine(client, rate=s.rate, concurrency=s.concurrency, dry_run=s.dry_run,
                    policy=RetryPolicy(max_attempts=s.max_attempts, base_s=s.backoff_base_s))
    if on_engine is not None:
        on_engine(engine, out_dir)
    plans = prepared.plans()
    try:
        await engine.run(plans, record)
    finally:
        # Rows the engine never reached (a cancelled run) are interrupted, and still reported.
        for plan in plans:
            now = utc_now_iso()
            record(RowResult(plan.row, plan.project_id, plan.group_id, Outcome.INTERRUPTED,
                             error_code="interrupted", error_msg="not called: the run was stopped",
                             started_at=now, finished_at=now, extra=plan.extra))
        if own_session:
            with anyio.CancelScope(shield=True):
                await session.close()  # type: ignore[union-attr]
        finished_at = utc_now_iso()
        summary = RunSummary(
            run_id=run_id, manifest=str(s.manifest), started_at=started_at, finished_at=finished_at,
            duration_s=round(time.monotonic() - t0, 3), rows=prepared.rows, by_outcome=dict(by_outcome),
            by_error_code=dict(by_code.most_common()), calls=engine.stats.calls,
            achieved_rate=engine.stats.achieved_rate, out_dir=str(out_dir), dry_run=s.dry_run,
        )
        journal.set_params({"finished_at": finished_at, "summary": summary.as_dict()})
        try:
            files = write_reports(out_dir, journal.results(), summary, formats=s.formats,
                                  extra_columns=prepared.planner().extra_columns)
        except OSError as exc:
            raise ReportError(f"the reports could not be written to {out_dir} ({exc.strerror or exc}); "
                              f"every result is kept in {out_dir / JOURNAL_NAME}") from None
        finally:
            journal.close()
    return RunResult(summary, out_dir, files)
