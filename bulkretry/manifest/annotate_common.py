"""What the annotated manifest's formats share: the added columns, the outcome colours, where the columns go,
and the reasons it is not written. See :mod:`bulkretry.manifest.annotate`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bulkretry.i18n.messages import CHANGED_GROUP, MANIFEST_CHANGED, say
from bulkretry.manifest.columns import ManifestInfo
from bulkretry.records import Outcome, RowResult
from bulkretry.report.common import OUTCOME_TEXT

__all__ = [
    "ANNOTATION_COLUMNS",
    "NO_ANNOTATION",
    "OUTCOME_COLOURS",
    "XLSX_MAX_ROWS",
    "Skip",
    "annotation",
    "annotation_slots",
    "changed",
    "header_of",
    "holds_another_group",
]

#: The columns added to the manifest, in this order.
ANNOTATION_COLUMNS: tuple[str, ...] = ("outcome", "error_code", "error_msg", "request_id")
#: A row without a result: its added columns are empty.
NO_ANNOTATION: tuple[str, str, str, str] = ("", "", "", "")
#: Rows (in all its sheets) above which a workbook is not annotated: openpyxl would take too long and too much
#: memory (about 6 kB and 0.4 ms a row of 8 columns).
XLSX_MAX_ROWS = 100_000

_GREEN, _RED, _AMBER, _GREY = "C6EFCE", "FFC7CE", "FFEB9C", "E7E6E6"
#: The light fill (RGB) of a row by its outcome.
OUTCOME_COLOURS: dict[Outcome, str] = {
    Outcome.SUCCEEDED: _GREEN,
    Outcome.FAILED: _RED,
    Outcome.INVALID: _AMBER,
    Outcome.INTERRUPTED: _AMBER,
    Outcome.DUPLICATE: _GREY,
    Outcome.SKIPPED: _GREY,
    Outcome.DRY_RUN: _GREY,
}


class Skip(Exception):
    """The annotated file is not written, for the reason given (shown to the user)."""


def annotation(result: RowResult) -> tuple[str, str, str, str]:
    """*result*'s ``ANNOTATION_COLUMNS`` values: its outcome (as text), error code, error message and request id."""
    return OUTCOME_TEXT[result.outcome], result.error_code, result.error_msg, result.request_id


def annotation_slots(headers: Sequence[str]) -> tuple[list[int], bool]:
    """The 0-based column of each of ``ANNOTATION_COLUMNS``: a header of that name, else one after the headers;
    and whether any already existed (an annotated manifest annotated again)."""
    folded = [header.strip().casefold() for header in headers]
    slots: list[int] = []
    found = False
    after = len(headers)
    for name in ANNOTATION_COLUMNS:
        if name in folded:
            slots.append(folded.index(name))
            found = True
        else:
            slots.append(after)
            after += 1
    return slots, found


def changed(info: ManifestInfo, why: str) -> Skip:
    """The reason not to annotate a manifest that no longer matches the journal (*why*: what differs)."""
    return Skip(say(MANIFEST_CHANGED, why=why, file=Path(info.path).name))


def holds_another_group(info: ManifestInfo, row: int, held: str, result: RowResult) -> Skip:
    """The reason not to annotate a manifest whose *row* holds the group *held*, not *result*'s (both quoted, their
    first 60 characters)."""
    return changed(info, say(CHANGED_GROUP, row=row, held=repr(held[:60]), wanted=repr(result.group_id[:60])))


def header_of(cells: Sequence[str]) -> tuple[str, ...]:
    """A header row's cells as the manifest reader keeps them: no BOM, trimmed, no empty cells at the end."""
    trimmed = [cell.replace("\ufeff", "").strip() for cell in cells]
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    return tuple(trimmed)
