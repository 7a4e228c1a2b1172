"""What a run is asked to do (``RunSettings``, made of a few value objects: where the manifest is, where the
calls go, how fast, what to check, where the files go, what to continue), and the settings of a rerun or of a
resumed rerun, merged from the earlier run's journal: the library's half of ``bulkretry run``, ``rerun`` and
``--resume``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bulkretry.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RATE,
    DEFAULT_RUNS_ROOT,
    DEFAULT_TIMEOUT,
    MAX_ATTEMPTS,
    MAX_BATCH_SIZE,
    MAX_CONCURRENCY,
    MAX_DURATION,
    MAX_RATE,
    MAX_TIMEOUT,
    MAX_VERIFY_TIMEOUT,
    MIN_RATE,
)
from bulkretry.errors import UsageError
from bulkretry.i18n import DEFAULT_LANG
from bulkretry.i18n.times import local_zone
from bulkretry.manifest.read import WORKBOOK_SUFFIXES
from bulkretry.manifest.shard import Shard, parse_shard
from bulkretry.oms.actions import ACTION_NAMES, DEFAULT_ACTION, PRIORITIES, TARGETS
from bulkretry.oms.credentials import check_setting
from bulkretry.oms.endpoint import parse_endpoint
from bulkretry.report.common import FORMATS
from bulkretry.run.adaptive import RateSpec, parse_rate
from bulkretry.run.journal import JOURNAL_NAME
from bulkretry.run.rerun import Selection, load_selection
from bulkretry.run.rundir import resumable_params

__all__ = [
    "Checks",
    "ManifestSource",
    "Output",
    "Pacing",
    "PacingGiven",
    "Resume",
    "RunSettings",
    "ServiceTarget",
    "Work",
    "format_duration",
    "halt_setting",
    "parse_duration",
    "rerun_settings",
    "restored",
    "resumed",
]


def _check_numbers(checks: list[tuple[str, Any, float, float]]) -> None:
    """Refuse numbers no run can take (they come from options, or from an earlier run's journal for a rerun)."""
    for option, value, low, high in checks:
        if value is not None and not (isinstance(value, (int, float)) and low <= value <= high and value > 0):
            allowed = f"above 0 and at most {high:g}" if low == 0 else f"from {low:g} to {high:g}"
            raise UsageError(f"{option} must be {allowed}, got {value!r}")


@dataclass(frozen=True)
class ManifestSource:
    """The manifest and how to read it (``--encoding`` and ``--delimiter`` for a CSV, ``--sheet`` for a workbook;
    ``--extra-column``: headers that look like a known column but are meant as they are)."""

    path: Path
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    extra_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceTarget:
    """Where the calls go: ``--endpoint`` or ``--region``, the default project, whether TLS is verified, and where
    the secrets of ``csms:`` cells are read (``--csms-endpoint``; else each row's region's)."""

    endpoint: str | None = None
    region: str | None = None
    project_id: str | None = None
    verify_tls: bool = True
    csms_endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.project_id is not None:  # a rerun's may come from the earlier run's journal
            check_setting(self.project_id, "--project-id")
        if self.csms_endpoint:
            parse_endpoint(self.csms_endpoint, option="--csms-endpoint")


@dataclass(frozen=True)
class Pacing:
    """How fast and how long: the rate, the calls in flight, the attempts per row, the time limits, and when a
    systematic failure halts the run."""

    rate: float | None = DEFAULT_RATE
    #: ``--rate auto``: ``(start, max)`` per project; then ``rate`` is ignored.
    rate_auto: tuple[float, float] | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base_s: float = 0.5
    timeout: float = DEFAULT_TIMEOUT
    #: ``--halt-on-failure PCT:MIN``: halt once over PCT % of at least MIN finished rows failed.
    halt_on_failure: tuple[float, int] | None = None
    #: Start no call after this many seconds of the run (--max-duration); the rest are ``max_duration``.
    max_duration: float | None = None

    def __post_init__(self) -> None:
        """Refuse a ``--halt-on-failure`` and numbers no run can take."""
        if self.halt_on_failure is not None:
            percent, min_rows = self.halt_on_failure
            if not (
                isinstance(percent, (int, float)) and 0 < percent <= 100 and isinstance(min_rows, int) and min_rows >= 1
            ):
                raise UsageError(
                    f"--halt-on-failure must be PCT[:MIN], PCT above 0 and at most 100, MIN a whole "
                    f"number of at least 1, got {percent!r}:{min_rows!r}"
                )
        _check_numbers(
            [
                ("--concurrency", self.concurrency, 1, MAX_CONCURRENCY),
                ("--max-attempts", self.max_attempts, 1, MAX_ATTEMPTS),
                ("--timeout", self.timeout, 0, MAX_TIMEOUT),
                ("--max-duration", self.max_duration, 0, MAX_DURATION),
                ("--rate", self.rate, MIN_RATE, MAX_RATE),
                *(("--rate auto", value, MIN_RATE, MAX_RATE) for value in self.rate_auto or ()),
            ]
        )

    @property
    def rate_text(self) -> float | str | None:
        """``--rate`` as given: a number, or ``auto:START:MAX``."""
        return f"auto:{self.rate_auto[0]:g}:{self.rate_auto[1]:g}" if self.rate_auto else self.rate


@dataclass(frozen=True)
class PacingGiven:
    """The pace options as given (None: not given): a run's become its :class:`Pacing` with the defaults, a
    rerun's with the earlier run's values."""

    rate: RateSpec | float | None = None
    concurrency: int | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    halt_on_failure: tuple[float, int] | None = None
    max_duration: float | None = None

    def over(self, earlier: Mapping[str, Any]) -> Pacing:
        """The pacing of these options, each one not given taken from *earlier* (a run's recorded parameters),
        else the default (``--max-duration`` is never taken from an earlier run)."""
        rate = self.rate if self.rate is not None else parse_rate(str(earlier.get("rate") or DEFAULT_RATE))
        default = Pacing()

        def pick(name: str, value: Any) -> Any:
            if value is not None:
                return value
            recorded = earlier.get(name)
            return recorded if recorded is not None else getattr(default, name)

        return Pacing(
            **_rate_fields(rate),
            concurrency=pick("concurrency", self.concurrency),
            max_attempts=pick("max_attempts", self.max_attempts),
            timeout=pick("timeout", self.timeout),
            halt_on_failure=self.halt_on_failure or halt_setting(earlier.get("halt_on_failure")),
            max_duration=self.max_duration,
        )


def _rate_fields(spec: RateSpec | float) -> dict[str, Any]:
    """``--rate`` as :class:`Pacing` fields: ``rate`` and ``rate_auto``."""
    if isinstance(spec, (int, float)):
        return {"rate": float(spec), "rate_auto": None}
    return {"rate": spec.fixed, "rate_auto": (spec.start, spec.max_rate) if spec.auto else None}


@dataclass(frozen=True)
class Checks:
    """What each row does besides its call: a dry run, the status looked up first (``--check-status``) or
    polled after (``--verify``), and the body's ``migrate_failed_object`` default."""

    dry_run: bool = False
    #: Look each group up first and skip those not in status 5 (--check-status).
    check_status: bool = False
    #: With check_status, call a group whose own error no retry can fix all the same (--call-anyway).
    call_anyway: bool = False
    #: Poll each retried group until it leaves status 5, up to this many seconds (--verify).
    verify_timeout: float | None = None
    migrate_failed_object: bool | None = None

    def __post_init__(self) -> None:
        _check_numbers([("--verify-timeout", self.verify_timeout, 0, MAX_VERIFY_TIMEOUT)])


@dataclass(frozen=True)
class Work:
    """What each row's call is: ``--action``, on ``--target`` (None: tasks when the manifest has a ``task_id``
    column, else groups; the run's :class:`~bulkretry.oms.actions.Action` is resolved with the manifest, in
    ``PreparedRun.action``), ``--priority`` (the level of ``priority`` rows whose cell is empty),
    ``--batch-size`` (task ids per ``batch-update`` call) and ``--shard`` (the share of the manifest this process
    takes; None: every row)."""

    action: str = DEFAULT_ACTION
    target: str | None = None
    priority: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    shard: Shard | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTION_NAMES:
            raise UsageError(f"--action must be one of {', '.join(ACTION_NAMES)}, got {self.action!r}")
        if self.target is not None and self.target not in TARGETS:
            raise UsageError(f"--target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise UsageError(f"--priority must be one of {', '.join(PRIORITIES)}, got {self.priority!r}")
        _check_numbers([("--batch-size", self.batch_size, 1, MAX_BATCH_SIZE)])

    def public(self) -> dict[str, object]:
        """As the journal keeps it (``target`` is the resolved one, from ``PreparedRun.action``)."""
        return {"action": self.action, "priority": self.priority, "batch_size": self.batch_size}

    @property
    def shard_text(self) -> str | None:
        """``--shard`` as the journal keeps it (``I/N``), apart from the public parameters: what a resume compares
        and a rerun keeps, not a setting report.html lists."""
        return str(self.shard) if self.shard is not None else None


@dataclass(frozen=True)
class Output:
    """Where the run's files go, in which formats, language and time zone."""

    out_dir: Path | None = None
    runs_root: Path = DEFAULT_RUNS_ROOT
    formats: tuple[str, ...] = FORMATS
    #: The language of report.html, the xlsx Summary sheet and the summary line (``--lang``). Not kept in the
    #: journal: ``report`` and ``rerun`` take theirs from ``--lang`` or the environment.
    lang: str = DEFAULT_LANG
    #: The zone of the times people read (``--tz``: an IANA name, ``UTC``); None: an earlier run's for ``rerun``
    #: and ``--resume``, else the machine's. The runner keeps ``zone`` in the journal (``tz``) for ``report``
    #: and ``rerun``.
    tz: str | None = None

    @property
    def zone(self) -> str:
        """The zone the run shows its times in: ``tz``, else the machine's (``i18n.times.local_zone``)."""
        return self.tz or local_zone()


@dataclass(frozen=True)
class Resume:
    """Whether the run continues an earlier one, and which rows of an earlier run a rerun takes."""

    #: Continue the run in ``out_dir``; ``force``: even though the manifest or call settings changed.
    resume: bool = False
    force: bool = False
    #: A rerun: only these groups of an earlier run.
    selection: Selection | None = None


@dataclass(frozen=True)
class RunSettings:
    """What a run is asked to do, as a few value objects (each checks its own values when made)."""

    manifest: ManifestSource
    target: ServiceTarget = field(default_factory=ServiceTarget)
    pacing: Pacing = field(default_factory=Pacing)
    checks: Checks = field(default_factory=Checks)
    output: Output = field(default_factory=Output)
    resume: Resume = field(default_factory=Resume)
    work: Work = field(default_factory=Work)

    def public_params(self) -> dict[str, object]:
        """The settings as recorded in the journal and shown to people (nothing secret is here)."""
        m, t, p, c = self.manifest, self.target, self.pacing, self.checks
        selection = self.resume.selection
        return {
            "manifest": str(m.path),
            "manifest_path": str(m.path.absolute()),
            "sheet": m.sheet,
            "encoding": m.encoding,
            "delimiter": m.delimiter,
            "endpoint": t.endpoint,
            "region": t.region,
            "project_id": t.project_id,
            "rate": p.rate_text,
            "concurrency": p.concurrency,
            "max_attempts": p.max_attempts,
            "timeout": p.timeout,
            "formats": list(self.output.formats),
            "dry_run": c.dry_run,
            "migrate_failed_object": c.migrate_failed_object,
            "source_run": selection.public() if selection else None,
            "check_status": c.check_status,
            "verify_timeout": c.verify_timeout,
            "max_duration": p.max_duration,
            "halt_on_failure": list(p.halt_on_failure) if p.halt_on_failure is not None else None,
            **self.work.public(),
            # Recorded only when given, so that the journals of runs without it read as before.
            **({"call_anyway": True} if c.call_anyway else {}),
        }


def resumed(settings: RunSettings, work_given: Mapping[str, Any] | None = None) -> RunSettings:
    """*settings* of a ``--resume``: the run's own action and shard (``--action``, ``--target``, ``--priority``,
    ``--batch-size``, ``--shard`` not in *work_given*, the options given now, are the run's), and when the run in
    ``out_dir`` is a rerun, the same rows of the same earlier run."""
    out_dir = settings.output.out_dir
    if out_dir is None:
        raise UsageError("--resume needs --out DIR: the folder of the run to continue")
    exists = (out_dir / JOURNAL_NAME).is_file()  # if not, the resume itself says so
    params = resumable_params(out_dir) if exists else {}
    if work_given is not None:
        settings = replace(settings, work=replace(_earlier_work(params), **work_given))
    if settings.output.tz is None:  # and its zone
        settings = replace(settings, output=replace(settings.output, tz=params.get("tz")))
    if settings.pacing.halt_on_failure is None:  # the run's own --halt-on-failure goes on unless given again
        pacing = replace(settings.pacing, halt_on_failure=halt_setting(params.get("halt_on_failure")))
        settings = replace(settings, pacing=pacing)
    settings = replace(settings, checks=_kept_checks(settings.checks, params))
    return _same_rows(settings, params)


def _same_rows(settings: RunSettings, params: Mapping[str, Any]) -> RunSettings:
    """*settings* of a resume of the run of *params*: when it is a rerun, the same rows of the same earlier run."""
    source = params.get("source_run")
    if not source:
        return settings
    selection = load_selection(Path(source["out_dir"]), source["only"], source["error_codes"])
    return replace(settings, resume=replace(settings.resume, selection=selection))


def restored(
    params: Mapping[str, Any],
    out_dir: Path,
    *,
    target: ServiceTarget | None = None,
    pacing: PacingGiven | None = None,
    output: Output | None = None,
    force: bool = False,
) -> RunSettings:
    """The settings the run in *out_dir* started with, from its recorded *params* (:meth:`RunSettings.public_params`:
    never a secret), to resume it (``bulkretry resume DIR``), with what is given now over them: *target*'s endpoint,
    region and project and each of *pacing*'s options (None: the run's), *output*'s language, and *force*.
    ``--max-duration`` is never the run's: a time box is given for each session."""
    path = params.get("manifest_path") or params.get("manifest")
    if not path:
        raise UsageError(f"{out_dir}: the run does not record its manifest, so it cannot be resumed by its folder")
    settings = RunSettings(
        manifest=_earlier_reading(Path(path), params),
        target=_earlier_target(target or ServiceTarget(), params),
        pacing=(pacing or PacingGiven()).over(params),
        checks=Checks(
            dry_run=bool(params.get("dry_run")),
            check_status=bool(params.get("check_status")),
            verify_timeout=params.get("verify_timeout"),
            migrate_failed_object=params.get("migrate_failed_object"),
        ),
        output=Output(out_dir=out_dir, formats=tuple(params.get("formats") or FORMATS), lang=(output or Output()).lang),
        resume=Resume(resume=True, force=force),
        work=_earlier_work(params),
    )
    return _same_rows(settings, params)


def halt_setting(recorded: Any) -> tuple[float, int] | None:
    """``--halt-on-failure`` as an earlier run recorded it (``[PCT, MIN]``), or None."""
    if isinstance(recorded, (list, tuple)) and len(recorded) == 2:
        return float(recorded[0]), int(recorded[1])
    return None


def rerun_settings(
    selection: Selection,
    *,
    manifest: str | None = None,
    target: ServiceTarget | None = None,
    pacing: PacingGiven | None = None,
    checks: Checks | None = None,
    output: Output | None = None,
    work_given: Mapping[str, Any] | None = None,
) -> RunSettings:
    """A rerun's settings: the earlier run's (from *selection*'s journal), overridden by what is given now; the
    action, its target, priority and batch size are the earlier run's but for those in *work_given* (``Work``'s
    fields given now), as for ``--resume``.

    *target*'s endpoint, region and project, and each of *pacing*'s options, fall back to the earlier run's
    value when None; *checks* and *output* are taken as they are (but ``output.formats`` falls back to the
    earlier run's when empty, ``output.tz`` when None, the body's ``migrate_failed_object`` is always the
    earlier run's, and its ``--call-anyway`` is kept). The new run's folder goes beside the earlier one.
    """
    old = selection.source_params
    path = manifest or old.get("manifest_path") or old.get("manifest")
    if not path:
        raise UsageError(f"{selection.source_dir}: the run does not record its manifest; give it with --manifest FILE")
    given_output = output or Output()
    return RunSettings(
        manifest=_earlier_reading(Path(path), old),
        target=_earlier_target(target or ServiceTarget(), old),
        pacing=(pacing or PacingGiven()).over(old),
        checks=replace(_kept_checks(checks or Checks(), old), migrate_failed_object=old.get("migrate_failed_object")),
        output=replace(
            given_output,
            formats=given_output.formats or tuple(old.get("formats") or FORMATS),
            tz=given_output.tz or old.get("tz"),
            runs_root=selection.source_dir.parent,
        ),
        resume=Resume(selection=selection),
        work=replace(_earlier_work(old), **(work_given or {})),
    )


def _kept_checks(given: Checks, old: Mapping[str, Any]) -> Checks:
    """*given* checks with the earlier run's ``--call-anyway`` kept (a call setting, as the action is)."""
    return replace(given, call_anyway=given.call_anyway or bool(old.get("call_anyway")))


def _earlier_work(old: Mapping[str, Any]) -> Work:
    """The earlier run's action, target, priority, batch size and shard (a journal of schema 1 reads as a retry of
    task groups after its migration)."""
    shard = old.get("shard")
    return Work(
        action=old.get("action") or DEFAULT_ACTION,
        target=old.get("target"),
        priority=old.get("priority"),
        batch_size=old.get("batch_size") or DEFAULT_BATCH_SIZE,
        shard=parse_shard(shard) if shard else None,
    )


def _earlier_reading(path: Path, old: Mapping[str, Any]) -> ManifestSource:
    """The earlier run's reading options that fit this manifest's kind (a rerun may name another file)."""
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return ManifestSource(path, sheet=old.get("sheet"))
    return ManifestSource(path, encoding=old.get("encoding"), delimiter=old.get("delimiter"))


def _earlier_target(given: ServiceTarget, old: Mapping[str, Any]) -> ServiceTarget:
    """*given*, its endpoint, region and project falling back to the earlier run's."""
    return replace(
        given,
        endpoint=given.endpoint if given.endpoint is not None else old.get("endpoint"),
        region=given.region if given.region is not None else old.get("region"),
        project_id=given.project_id if given.project_id is not None else old.get("project_id"),
    )


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``--max-duration``: ``90s``, ``45m``, ``2h`` (or ``1.5h``; a bare number is seconds) as seconds;
    ValueError saying the forms otherwise."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:]) if value else None
    number = value[:-1] if unit is not None else value
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_DURATION:  # NaN fails this too
        raise ValueError(
            f"invalid duration {text!r}: expected a number with s, m or h (e.g. 90s, 45m, 2h), "
            f"more than 0 and at most {MAX_DURATION / 86400:g} days"
        )
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as ``--max-duration`` spells them: ``45m``, ``2h``, ``90s``."""
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
