"""Manifests for tests: written with real encoders (csv, openpyxl) and read back the way a run reads them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

from bulkretry.errors import ManifestError
from bulkretry.manifest.read import ManifestInfo, RawRow, read_manifest


def write_csv(path: Path, rows: Sequence[Sequence[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """Write *rows* with the csv module and encode them with a real encoder."""
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    title: str = "Sheet1",
    more: dict[str, Sequence[Sequence[object]]] | None = None,
) -> Path:
    """Write an openpyxl workbook: *rows* from A1 of the first sheet, *more* as further sheets."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(list(row))
    for name, sheet_rows in (more or {}).items():
        extra = wb.create_sheet(name)
        for row in sheet_rows:
            extra.append(list(row))
    wb.save(path)
    return path


def read_all(path: Path, **kw: object) -> tuple[ManifestInfo, list[RawRow]]:
    """open + read every row."""
    info, rows = read_manifest(path, **kw)  # type: ignore[arg-type]
    return info, list(rows)


def manifest_error(path: Path, **kw: object) -> ManifestError:
    """The ManifestError that reading *path* raises (opening or iterating), checking it names the file."""
    with pytest.raises(ManifestError) as caught:
        read_all(path, **kw)
    assert path.name in str(caught.value)
    assert caught.value.path == str(path)
    return caught.value
