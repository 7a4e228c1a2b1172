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
