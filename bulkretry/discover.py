"""From OMS to a manifest: list the task groups in a status (all pages) and write them as a manifest
that ``bulkretry run`` reads, with the group's own error reason and empty credential columns to fill
(or ``env:`` references).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from bulkretry.errors import ApiError, ConfigError
from bulkretry.oms.client import MAX_PAGE_SIZE, OmsClient
from bulkretry.report import neutralise
from bulkretry.report.common import csv_writer, open_csv

__all__ = [
    "CREDENTIAL_ENV",
    "MANIFEST_COLUMNS",
    "MAX_DISCOVERED_GROUPS",
    "discover_groups",
    "manifest_row",
    "write_manifest",
]

MANIFEST_COLUMNS = (
    "group_id",
    "project_id",
    "description",
    "src_bucket",
    "dst_bucket",
    "status",
    "error_code",
    "error_msg",
    "src_ak",
    "src_sk",
    "dst_ak",
    "dst_sk",
)
#: ``--credentials-from-env``: what the credential cells say.
CREDENTIAL_ENV = {"src_ak": "env:SRC_AK", "src_sk": "env:SRC_SK", "dst_ak": "env:DST_AK", "dst_sk": "env:DST_SK"}


#: The most task groups one listing returns: past it, the server's list does not end (each page new ids).
MAX_DISCOVERED_GROUPS = 100_000


async def discover_groups(
    client: OmsClient, project_id: str, *, status: int | None = 5, region: str | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every task group of *project_id* in *status* (``None``: every status), through all list pages, each once.

    A server that ignores ``offset`` sends the same page again and again, and one that never ends sends new
    pages forever: when a whole page's worth of groups in a row were all listed before, or past
    ``MAX_DISCOVERED_GROUPS`` groups, the listing stops with :class:`ApiError` (``invalid_response``). A group
    listed twice (the list shifted while it was read) is given once.
    """
    seen: set[str] = set()
    stale = 0  # groups in a row that brought nothing new
    async for group in client.list_task_groups(project_id, status=status, region=region):
        group_id = group.get("group_id") if isinstance(group, dict) else None
        if not group_id or str(group_id) in seen:
            stale += 1
            if stale >= MAX_PAGE_SIZE:
                raise ApiError(
                    200,
                    "invalid_response",
                    f"the task group list repeats itself: the last {stale} entries listed were listed "
                    f"before or had no group_id (does the server ignore the list's offset?); stopped "
                    f"after {len(seen)} groups",
                )
            continue
        stale = 0
        seen.add(str(group_id))
        if len(seen) > MAX_DISCOVERED_GROUPS:
            raise ApiError(
                200,
                "invalid_response",
                f"the task group list does not end: more than {MAX_DISCOVERED_GROUPS} groups; stopped "
                "(list fewer with --status)",
            )
        yield group


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def manifest_row(group: dict[str, Any], project_id: str, *, credentials_from_env: bool) -> list[str]:
    """One manifest row for *group*, in ``MANIFEST_COLUMNS`` order."""
    src, dst = group.get("src_node") or {}, group.get("dst_node") or {}
    reason = group.get("error_reason") or {}
    credentials = CREDENTIAL_ENV if credentials_from_env else {}
    return [
        _text(group.get("group_id")),
        project_id,
        _text(group.get("description")),
        _text(src.get("bucket") if isinstance(src, dict) else ""),
        _text(dst.get("bucket") if isinstance(dst, dict) else ""),
        _text(group.get("status")),
        _text(reason.get("error_code") if isinstance(reason, dict) else ""),
        _text(reason.get("error_msg") if isinstance(reason, dict) else ""),
        *(credentials.get(column, "") for column in ("src_ak", "src_sk", "dst_ak", "dst_sk")),
    ]


def write_manifest(path: Path, rows: Iterable[list[str]]) -> int:
    """Write *rows* under ``MANIFEST_COLUMNS`` to *path* (``.csv``: UTF-8 with BOM; ``.xlsx``), atomically.
    Never overwrites a file (it may hold credentials someone typed in). Returns the number of rows."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ConfigError(f"--out {path}: give a .csv or .xlsx file name")
    if path.exists():
        raise ConfigError(f"{path} already exists; choose another --out (a manifest is never overwritten)")
    temp = path.with_name(path.name + ".tmp")
    count = 0
    try:
        if suffix == ".csv":
            with open_csv(temp) as fh:
                writer = csv_writer(fh)
                writer.writerow(MANIFEST_COLUMNS)
                for row in rows:
                    writer.writerow([neutralise(cell) for cell in row])
                    count += 1
        else:
            from bulkretry.report.xlsx_writer import BOLD, StreamingWorkbook

            with StreamingWorkbook(temp) as book:
                sheet = book.add_sheet(
                    "task groups",
                    widths=[38, 34, 30, 24, 24, 8, 12, 40, 22, 22, 22, 22],
                    freeze_rows=1,
                    autofilter=True,
                )
                sheet.write_row(MANIFEST_COLUMNS, style=BOLD)
                for row in rows:
                    sheet.write_row([neutralise(cell) for cell in row])
                    count += 1
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return count
