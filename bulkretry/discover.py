"""From OMS to a manifest: list the task groups, or the tasks, in a status (all pages) and write them as a
manifest that ``bulkretry run`` reads, with the service's own error reason and empty credential columns to fill
(or ``env:`` references).

What each target lists, and the manifest it makes, is one :class:`Listing` in :data:`LISTINGS`; the listing, the
rows and the file are the same code for both.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkretry.errors import ApiError, ConfigError
from bulkretry.i18n import N_
from bulkretry.oms.actions import GROUPS, TASKS
from bulkretry.oms.client import MAX_PAGE_SIZE, OmsClient
from bulkretry.report import neutralise
from bulkretry.report.common import csv_writer, open_csv

__all__ = [
    "CREDENTIAL_ENV",
    "LISTINGS",
    "MAX_DISCOVERED",
    "Cell",
    "Listing",
    "RowContext",
    "discover",
    "manifest_row",
    "write_manifest",
]

#: ``--credentials-from-env``: what the credential cells say.
CREDENTIAL_ENV = {"src_ak": "env:SRC_AK", "src_sk": "env:SRC_SK", "dst_ak": "env:DST_AK", "dst_sk": "env:DST_SK"}

#: The most entries one listing returns: past it, the server's list does not end (each page new ids).
MAX_DISCOVERED = 100_000


@dataclass(frozen=True)
class RowContext:
    """What a manifest row holds besides the listed entry: the project and region listed, and the credential
    cells (empty, or ``env:`` references with ``--credentials-from-env``)."""

    project_id: str
    region: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One column of a discovered manifest: its name, its width in a workbook, and its value for an entry."""

    name: str
    width: int
    value: Callable[[dict[str, Any], RowContext], Any]


def _field(*path: str) -> Callable[[dict[str, Any], RowContext], Any]:
    """The entry's field at *path* (``("src_node", "bucket")``), or None where any step is missing."""

    def value(entry: dict[str, Any], context: RowContext) -> Any:
        found: Any = entry
        for name in path:
            found = found.get(name) if isinstance(found, dict) else None
        return found

    return value


def _credential(column: str) -> Cell:
    return Cell(column, 22, lambda entry, context: context.credentials.get(column, ""))


_PROJECT = Cell("project_id", 34, lambda entry, context: context.project_id)
_WHERE_AND_WHY = (
    Cell("src_bucket", 24, _field("src_node", "bucket")),
    Cell("dst_bucket", 24, _field("dst_node", "bucket")),
    Cell("status", 8, _field("status")),
    Cell("error_code", 12, _field("error_reason", "error_code")),
    Cell("error_msg", 40, _field("error_reason", "error_msg")),
)
_CREDENTIALS = tuple(_credential(column) for column in ("src_ak", "src_sk", "dst_ak", "dst_sk"))


@dataclass(frozen=True)
class Listing:
    """What ``discover --target T`` lists: the list API (``GET /v2/{project_id}/{collection}``, whose answer's list
    has the same name), the field that identifies an entry, the filters it takes, the status listed by default,
    the default file's name (``{file_stem}-{project}-status{N}.csv``) and the manifest's columns."""

    target: str
    noun: str
    collection: str
    id_field: str
    filters: tuple[str, ...]
    default_status: int
    file_stem: str
    cells: tuple[Cell, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(cell.name for cell in self.cells)


LISTINGS: dict[str, Listing] = {
    GROUPS: Listing(
        target=GROUPS,
        noun=N_("task groups"),
        collection="taskgroups",
        id_field="group_id",
        filters=("status",),
        default_status=5,
        file_stem="manifest",
        cells=(
            Cell("group_id", 38, _field("group_id")),
            _PROJECT,
            Cell("description", 30, _field("description")),
            *_WHERE_AND_WHY,
            *_CREDENTIALS,
        ),
    ),
    TASKS: Listing(
        target=TASKS,
        noun=N_("tasks"),
        collection="tasks",
        id_field="id",
        filters=("status", "group_id"),
        default_status=4,
        file_stem="tasks",
        cells=(
            Cell("task_id", 17, _field("id")),
            Cell("group_id", 38, _field("group_id")),
            _PROJECT,
            Cell("region", 14, lambda entry, context: context.region),
            Cell("name", 30, _field("name")),
            *_WHERE_AND_WHY,
            *_CREDENTIALS,
        ),
    ),
}


async def discover(
    client: OmsClient,
    listing: Listing,
    project_id: str,
    filters: Mapping[str, object],
    *,
    region: str | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every entry of *listing* in *project_id* that *filters* keep (``status``, ``group_id``: None leaves one
    out), through all list pages, each once.

    A server that ignores ``offset`` sends the same page again and again, and one that never ends sends new
    pages forever: when a whole page's worth of entries in a row were all listed before, or past
    ``MAX_DISCOVERED`` entries, the listing stops with :class:`ApiError` (``invalid_response``). An entry listed
    twice (the list shifted while it was read) is given once.
    """
    seen: set[str] = set()
    stale = 0  # entries in a row that brought nothing new
    async for entry in client.list_pages(project_id, listing.collection, filters, region=region):
        entry_id = entry.get(listing.id_field) if isinstance(entry, dict) else None
        if entry_id is None or entry_id == "" or str(entry_id) in seen:
            stale += 1
            if stale >= MAX_PAGE_SIZE:
                raise _repeats(listing, stale, len(seen))
            continue
        stale = 0
        seen.add(str(entry_id))
        if len(seen) > MAX_DISCOVERED:
            raise ApiError(
                200,
                "invalid_response",
                f"the list of {listing.noun} does not end: more than {MAX_DISCOVERED} {listing.noun}; stopped "
                "(list fewer with --status)",
            )
        yield entry


def _repeats(listing: Listing, stale: int, seen: int) -> ApiError:
    return ApiError(
        200,
        "invalid_response",
        f"the list of {listing.noun} repeats itself: the last {stale} entries listed were listed before or had "
        f"no {listing.id_field} (does the server ignore the list's offset?); stopped after {seen} {listing.noun}",
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def manifest_row(entry: dict[str, Any], listing: Listing, context: RowContext) -> list[str]:
    """One manifest row for *entry*, in *listing*'s column order."""
    return [_text(cell.value(entry, context)) for cell in listing.cells]


def write_manifest(path: Path, listing: Listing, rows: Iterable[list[str]]) -> int:
    """Write *rows* under *listing*'s columns to *path* (``.csv``: UTF-8 with BOM; ``.xlsx``), atomically.
    Never overwrites a file (it may hold credentials someone typed in). Returns the number of rows."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ConfigError(f"--out {path}: give a .csv or .xlsx file name")
    if path.exists():
        raise ConfigError(f"{path} already exists; choose another --out (a manifest is never overwritten)")
    temp = path.with_name(path.name + ".tmp")
    try:
        write = _write_csv if suffix == ".csv" else _write_xlsx
        count = write(temp, listing, rows)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return count


def _write_csv(path: Path, listing: Listing, rows: Iterable[list[str]]) -> int:
    count = 0
    with open_csv(path) as fh:
        writer = csv_writer(fh)
        writer.writerow(listing.columns)
        for row in rows:
            writer.writerow([neutralise(cell) for cell in row])
            count += 1
    return count


def _write_xlsx(path: Path, listing: Listing, rows: Iterable[list[str]]) -> int:
    from bulkretry.report.xlsx_writer import BOLD, StreamingWorkbook

    count = 0
    with StreamingWorkbook(path) as book:
        widths = [cell.width for cell in listing.cells]
        sheet = book.add_sheet(listing.noun, widths=widths, freeze_rows=1, autofilter=True)
        sheet.write_row(listing.columns, style=BOLD)
        for row in rows:
            sheet.write_row([neutralise(cell) for cell in row])
            count += 1
    return count
