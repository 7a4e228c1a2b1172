"""The runner's parts that need no simulator: plans handed out in batches."""

from __future__ import annotations

import pytest


def test_plans_made_before_a_manifest_error_come_out_before_it() -> None:
    """A batch that stops at an unreadable row hands out the rows planned before it, then raises the error."""
    from bulkretry.errors import ManifestError
    from bulkretry.run.runner import _in_batches

    def plans():
        yield from range(1, 6)
        raise ManifestError("m.csv: row 6 cannot be read")

    batches = _in_batches(plans(), 256)
    assert [next(batches) for _ in range(5)] == [1, 2, 3, 4, 5]
    with pytest.raises(ManifestError, match="row 6"):
        next(batches)
    assert list(_in_batches(iter(range(7)), 3)) == list(range(7))


@pytest.mark.parametrize(
    ("field", "value", "option"),
    [
        ("concurrency", 10_000_000, "--concurrency"),
        ("max_attempts", 2000, "--max-attempts"),
        ("timeout", 1e308, "--timeout"),
        ("verify_timeout", float("inf"), "--verify-timeout"),
        ("rate", 1e-320, "--rate"),
        ("rate_auto", (1.0, 1e308), "--rate auto"),
        ("timeout", float("nan"), "--timeout"),
    ],
)
def test_settings_refuse_numbers_no_run_can_take(field: str, value: object, option: str) -> None:
    """RunSettings (a rerun's too, from an earlier journal) refuse absurd numbers: a usage error naming the option."""
    from pathlib import Path

    from bulkretry.errors import UsageError
    from bulkretry.run.settings import Checks, ManifestSource, Pacing, RunSettings

    with pytest.raises(UsageError, match=f"^{option} must be"):
        part = (
            {"checks": Checks(**{field: value})} if field == "verify_timeout" else {"pacing": Pacing(**{field: value})}
        )
        RunSettings(ManifestSource(Path("m.csv")), **part)  # type: ignore[arg-type]
