"""What a forced resume must own up to: rows finished in an earlier session whose cell now holds another group.

A resume skips the rows an earlier session finished, by row number. When the manifest changed since (``--resume
--force``), a finished row may now hold a group that was never called: those groups are found here, by a pass
over the manifest beside the journal (both in row order), before any call, so the run can say which they are.
"""

from __future__ import annotations

from typing import NamedTuple

from bulkretry.manifest.read import ManifestInfo, iter_rows
from bulkretry.records import Outcome
from bulkretry.run.journal import Journal

__all__ = ["ChangedRows", "changed_rows"]

#: How many of the changed groups are named (the count is always whole).
SHOWN = 5


class ChangedRows(NamedTuple):
    """Rows skipped as finished that now hold another group: how many, and the first few as ``project/group``."""

    rows: int = 0
    first: tuple[str, ...] = ()


def changed_rows(info: ManifestInfo, journal: Journal, default_project: str) -> ChangedRows:
    """The rows of *info* that the journal holds as finished under another ``(project_id, group_id)``."""
    finished = (r for r in journal.results(extra=False) if r.outcome is not Outcome.INTERRUPTED)
    done = next(finished, None)
    count, first = 0, list[str]()
    for raw in iter_rows(info):
        while done is not None and done.row < raw.row:
            done = next(finished, None)
        if done is None:
            break
        if done.row != raw.row:
            continue
        key = (raw.values.get("project_id", "") or default_project, raw.values.get("group_id", ""))
        if key != (done.project_id, done.group_id):
            count += 1
            if len(first) < SHOWN:
                first.append(f"{key[0]}/{key[1]}")
    return ChangedRows(count, tuple(first))
