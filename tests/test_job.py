"""run/job.py and run/settings.py's value objects: a run's ending as the CLI and the notification read it, and
the settings as the journal records them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkretry.errors import EXIT_OK, ConfigError, UsageError, signal_exit_status
from bulkretry.run.job import JobEnding
from bulkretry.run.settings import (
    Checks,
    ManifestSource,
    Output,
    Pacing,
    PacingGiven,
    Resume,
    RunSettings,
    ServiceTarget,
)

#: The keys of public_params, in the order journals have always stored them (the action's, schema 2, last).
PUBLIC_KEYS = [
    "manifest",
    "manifest_path",
    "sheet",
    "encoding",
    "delimiter",
    "endpoint",
    "region",
    "project_id",
    "rate",
    "concurrency",
    "max_attempts",
    "timeout",
    "formats",
    "dry_run",
    "migrate_failed_object",
    "source_run",
    "check_status",
    "verify_timeout",
    "max_duration",
    "halt_on_failure",
    "action",
    "priority",
    "batch_size",
]


def test_public_params_keep_their_keys_and_values() -> None:
    """The settings' value objects give the journal the same keys, in the same order, with the same values."""
    settings = RunSettings(
        ManifestSource(Path("m.csv"), encoding="gb18030", delimiter=";"),
        ServiceTarget(region="cn-north-4", project_id="p1"),
        Pacing(rate_auto=(10.0, 1000.0), concurrency=8, halt_on_failure=(30.0, 50), max_duration=7200.0),
        Checks(dry_run=True, check_status=True, verify_timeout=60.0),
        Output(formats=("csv", "json")),
        Resume(),
    )
    params = settings.public_params()
    assert list(params) == PUBLIC_KEYS
    assert params["rate"] == "auto:10:1000" and params["formats"] == ["csv", "json"]
    assert params["halt_on_failure"] == [30.0, 50] and params["encoding"] == "gb18030"


def test_pace_not_given_is_the_earlier_runs_else_the_default() -> None:
    """A rerun's pace option not given is the earlier run's; one the earlier run does not record is the default."""
    pacing = PacingGiven(concurrency=4).over({"rate": "auto:5:50", "max_attempts": 3, "halt_on_failure": [20, 10]})
    assert pacing.concurrency == 4 and pacing.max_attempts == 3 and pacing.rate_auto == (5.0, 50.0)
    assert pacing.timeout == Pacing().timeout and pacing.halt_on_failure == (20.0, 10)


def test_a_value_object_checks_its_own_values() -> None:
    """Each part refuses what no run can take, naming the option, as RunSettings did."""
    with pytest.raises(UsageError, match=r"^--halt-on-failure must be"):
        Pacing(halt_on_failure=(0.0, 5))
    with pytest.raises(ConfigError, match="--project-id"):
        ServiceTarget(project_id="a\nb")


def test_a_halt_is_shown_only_when_no_signal_stopped_the_run() -> None:
    """The halt's reason is told unless a signal stopped the run (the signal is told then)."""
    halted = JobEnding(1, "r", halted="the first 5 calls were refused", halt_code="halted")
    assert halted.halt_shown == "the first 5 calls were refused"
    assert JobEnding(130, "r", halted="x", signal="SIGINT").halt_shown == ""


def test_the_ending_never_shows_its_authenticator() -> None:
    """The ending carries the run's authenticator (to sign an SMN notification) but never shows it."""
    ending = JobEnding(EXIT_OK, "r", auth=object())  # type: ignore[arg-type]
    assert "auth" not in repr(ending)


def test_signal_exit_statuses() -> None:
    """SIGTERM ends with 143, SIGINT (or an unnamed stop) with 130."""
    assert (signal_exit_status("SIGTERM"), signal_exit_status("SIGINT"), signal_exit_status(None)) == (143, 130, 130)
