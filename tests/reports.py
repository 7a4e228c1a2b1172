"""Furniture of the report tests: row results with plausible defaults, the extra columns, a results iterable
that counts its passes, the reports written and read back."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openpyxl

from bulkretry.records import REPORT_COLUMNS, Outcome, RowResult, RunSummary
from bulkretry.report import write_reports

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1:A2)", "\tx", "\r=1"]


def result(row: int, **fields) -> RowResult:
    """A row result with plausible defaults; ``fields`` override them."""
    base = dict(
        row=row,
        project_id="p-0001",
        group_id=f"g-{row:04d}",
        outcome=Outcome.SUCCEEDED,
        http_status=200,
        attempts=1,
        request_id=f"req-{row}",
        latency_ms=12.5,
        started_at="2024-05-01T08:00:00.000Z",
        finished_at="2024-05-01T08:00:00.013Z",
    )
    return RowResult(**(base | fields))


def run_summary(results: list[RowResult], **fields) -> RunSummary:
    """The summary a run would write for *results* (their counts by outcome and by error code), of a manifest with
    a Chinese name; ``fields`` override it."""
    by_outcome = Counter(str(r.outcome) for r in results)
    by_code = Counter(r.error_code for r in results if r.error_code)
    base = dict(
        run_id="20240501-080000-abcd",
        manifest="清单/任务组.csv",
        started_at="2024-05-01T08:00:00Z",
        finished_at="2024-05-01T08:01:00Z",
        duration_s=60.25,
        rows=len(results),
        by_outcome=dict(by_outcome.most_common()),
        by_error_code=dict(by_code.most_common()),
        calls=4,
        achieved_rate=0.07,
        out_dir="runs/x",
    )
    return RunSummary(**(base | fields))


EXTRAS = ("owner", "备注")
HEADER = [*REPORT_COLUMNS, *EXTRAS]


class Counting:
    """An iterable of results that counts how often it is iterated and how many results it gave."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at, self.passes, self.given = n, fail_at, 0, 0

    def __iter__(self) -> Iterator[RowResult]:
        self.passes += 1
        for i in range(self.n):
            if i == self.fail_at:
                raise RuntimeError("engine crashed")
            self.given += 1
            yield result(i + 2, extra=(("owner", f"o{i}"),))


def read_csv(path: Path) -> list[list[str]]:
    """The csv's rows, header first, read as Excel would (BOM stripped). csv.reader refuses NUL before Python
    3.11: a NUL is read through a stand-in."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(io.StringIO(fh.read().replace("\x00", "\U0010fffd")))
        return [[cell.replace("\U0010fffd", "\x00") for cell in row] for row in rows]


def read_xlsx_rows(path: Path, sheet: str = "Rows") -> list[list]:
    """The values of one sheet of an xlsx, header first."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [list(row) for row in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def write(tmp_path: Path, results, summary: RunSummary, **kw) -> list[Path]:
    """write_reports into tmp_path/run with the test's extra columns unless given."""
    kw.setdefault("extra_columns", EXTRAS)
    return write_reports(tmp_path / "run", results, summary, **kw)


def xml_parts(path: Path) -> dict[str, bytes]:
    """Every part of an xlsx, after checking that each is well-formed XML (expat refuses what XML 1.0 cannot hold)."""
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    for data in parts.values():
        ET.fromstring(data)  # raises ParseError on a character XML cannot hold
    return parts
