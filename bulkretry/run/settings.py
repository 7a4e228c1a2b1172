"""What a run is asked to do (``RunSettings``), and the settings of a rerun or of a resumed rerun, merged
from the earlier run's journal: the library's half of ``bulkretry run``, ``rerun`` and ``--resume``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bulkretry.defaults import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RATE,
    DEFAULT_RUNS_ROOT,
    DEFAULT_TIMEOUT,
    MAX_ATTEMPTS,
    MAX_CONCURRENCY,
    MAX_DURATION,
    MAX_RATE,
    MAX_TIMEOUT,
    MAX_VERIFY_TIMEOUT,
    MIN_RATE,
)
from bulkretry.errors import UsageError
from bulkretry.i18n import DEFAULT_LANG
from bulkretry.manifest.read import WORKBOOK_SUFFIXES
from bulkretry.oms.credentials import check_setting
from bulkretry.report.common import FORMATS
from bulkretry.run.adaptive import RateSpec, parse_rate
from bulkretry.run.journal import JOURNAL_NAME
from bulkretry.run.rerun import Selection, load_selection
from bulkretry.run.rundir import read_params

__all__ = [
    "RunSettings",
    "format_duration",
    "halt_setting",
    "parse_duration",
    "rate_fields",
    "rerun_settings",
    "resumed",
]


@dataclass(frozen=True)
class RunSettings:
    manifest: Path
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    endpoint: str | None = None
    region: str | None = None
    project_id: str | None = None
    rate: float | None = DEFAULT_RATE
    #: ``--rate auto``: ``(start, max)`` per project; then ``rate`` is ignored.
    rate_auto: tuple[float, float] | None = None
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
    #: Continue the run in ``out_dir``; ``force``: even though the manifest or call settings changed.
    resume: bool = False
    force: bool = False
    #: A rerun: only these groups of an earlier run.
    selection: Selection | None = None
    #: Look each group up first and skip those not in status 5 (--check-status).
    check_status: bool = False
    #: Poll each retried group until it leaves status 5, up to this many seconds (--verify).
    verify_timeout: float | None = None
    #: Start no call after this many seconds of the run (--max-duration); the rest are ``max_duration``.
    max_duration: float | None = None
    #: The language of report.html, the xlsx Summary sheet and the summary line (``--lang``). Not kept in the
    #: journal: ``report`` and ``rerun`` take theirs from ``--lang`` or the environment.
    lang: str = DEFAULT_LANG
    #: ``--halt-on-failure PCT:MIN``: halt once over PCT % of at least MIN finished rows failed.
    halt_on_failure: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        """Refuse numbers no run can take (they come from options, or from an earlier run's journal for a rerun)."""
        checks = [
            ("--concurrency", self.concurrency, 1, MAX_CONCURRENCY),
            ("--max-attempts", self.max_attempts, 1, MAX_ATTEMPTS),
            ("--timeout", self.timeout, 0, MAX_TIMEOUT),
            ("--verify-timeout", self.verify_timeout, 0, MAX_VERIFY_TIMEOUT),
            ("--max-duration", self.max_duration, 0, MAX_DURATION),
            ("--rate", self.rate, MIN_RATE, MAX_RATE),
            *(("--rate auto", value, MIN_RATE, MAX_RATE) for value in self.rate_auto or ()),
        ]
        if self.project_id is not None:  # a rerun's may come from the earlier run's journal
            check_setting(self.project_id, "--project-id")
        if self.halt_on_failure is not None:
            percent, min_rows = self.halt_on_failure
            if not (
                isinstance(percent, (int, float)) and 0 < percent <= 100 and isinstance(min_rows, int) and min_rows >= 1
            ):
                raise UsageError(
                    f"--halt-on-failure must be PCT[:MIN], PCT above 0 and at most 100, MIN a whole "
                    f"number of at least 1, got {percent!r}:{min_rows!r}"
                )
        for option, value, low, high in checks:
            if value is not None and not (isinstance(value, (int, float)) and low <= value <= high and value > 0):
                allowed = f"above 0 and at most {high:g}" if low == 0 else f"from {low:g} to {high:g}"
                raise UsageError(f"{option} must be {allowed}, got {value!r}")

    @property
    def rate_text(self) -> float | str | None:
        """``--rate`` as given: a number, or ``auto:START:MAX``."""
        return f"auto:{self.rate_auto[0]:g}:{self.rate_auto[1]:g}" if self.rate_auto else self.rate

    def public_params(self) -> dict[str, object]:
        """The settings as recorded in the journal and shown to people (nothing secret is here)."""
        return {
            "manifest": str(self.manifest),
            "manifest_path": str(self.manifest.absolute()),
            "sheet": self.sheet,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "endpoint": self.endpoint,
            "region": self.region,
            "project_id": self.project_id,
            "rate": self.rate_text,
            "concurrency": self.concurrency,
            "max_attempts": self.max_attempts,
            "timeout": self.timeout,
            "formats": list(self.formats),
            "dry_run": self.dry_run,
            "migrate_failed_object": self.migrate_failed_object,
            "source_run": self.selection.public() if self.selection else None,
            "check_status": self.check_status,
            "verify_timeout": self.verify_timeout,
            "max_duration": self.max_duration,
            "halt_on_failure": list(self.halt_on_failure) if self.halt_on_failure is not None else None,
        }


def rate_fields(spec: RateSpec | float) -> dict[str, Any]:
    """``--rate`` as RunSettings fields: ``rate`` and ``rate_auto``."""
    if isinstance(spec, (int, float)):
        return {"rate": float(spec), "rate_auto": None}
    return {"rate": spec.fixed, "rate_auto": (spec.start, spec.max_rate) if spec.auto else None}


def resumed(settings: RunSettings) -> RunSettings:
    """*settings* of a ``--resume``: when the run in ``out_dir`` is a rerun, the same rows of the same earlier run."""
    if settings.out_dir is None:
        raise UsageError("--resume needs --out DIR: the folder of the run to continue")
    exists = (settings.out_dir / JOURNAL_NAME).is_file()  # if not, the resume itself says so
    params = read_params(settings.out_dir) if exists else {}
    if settings.halt_on_failure is None:  # the run's own --halt-on-failure goes on unless given again
        settings = replace(settings, halt_on_failure=halt_setting(params.get("halt_on_failure")))
    source = params.get("source_run")
    if not source:
        return settings
    return replace(settings, selection=load_selection(Path(source["out_dir"]), source["only"], source["error_codes"]))


def halt_setting(recorded: Any) -> tuple[float, int] | None:
    """``--halt-on-failure`` as an earlier run recorded it (``[PCT, MIN]``), or None."""
    if isinstance(recorded, (list, tuple)) and len(recorded) == 2:
        return float(recorded[0]), int(recorded[1])
    return None


def rerun_settings(
    selection: Selection,
    *,
    manifest: str | None = None,
    endpoint: str | None = None,
    region: str | None = None,
    project_id: str | None = None,
    rate: RateSpec | float | None = None,
    concurrency: int | None = None,
    max_attempts: int | None = None,
    timeout: float | None = None,
    halt_on_failure: tuple[float, int] | None = None,
    **given: Any,
) -> RunSettings:
    """A rerun's settings: the earlier run's (from *selection*'s journal), overridden by what is given now.

    The keywords named here fall back to the earlier run's value when None (``halt_on_failure`` too); *given*
    are RunSettings fields taken as they are (``out_dir``, ``dry_run``, ``verify_tls``, ``check_status``,
    ``verify_timeout``; ``formats`` falls back to the earlier run's when empty). The new run's folder goes
    beside the earlier one.
    """
    old = selection.source_params

    def pick(name: str, value: Any) -> Any:
        return value if value is not None else old.get(name)

    path = manifest or old.get("manifest_path") or old.get("manifest")
    if not path:
        raise UsageError(f"{selection.source_dir}: the run does not record its manifest; give it with --manifest FILE")
    if not given.get("formats"):
        given["formats"] = tuple(old.get("formats") or FORMATS)
    # The earlier run's reading options that fit this manifest's kind (a rerun may name another file).
    excel = Path(path).suffix.lower() in WORKBOOK_SUFFIXES
    return RunSettings(
        manifest=Path(path),
        encoding=None if excel else old.get("encoding"),
        delimiter=None if excel else old.get("delimiter"),
        sheet=old.get("sheet") if excel else None,
        endpoint=pick("endpoint", endpoint),
        region=pick("region", region),
        project_id=pick("project_id", project_id),
        migrate_failed_object=old.get("migrate_failed_object"),
        **rate_fields(rate if rate is not None else parse_rate(str(old.get("rate") or DEFAULT_RATE))),
        concurrency=pick("concurrency", concurrency),
        max_attempts=pick("max_attempts", max_attempts),
        timeout=pick("timeout", timeout),
        runs_root=selection.source_dir.parent,
        selection=selection,
        halt_on_failure=halt_on_failure or halt_setting(old.get("halt_on_failure")),
        **given,
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
