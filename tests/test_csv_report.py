"""report.csv's writer: the fast path (a plain row is its cells joined) and the csv module's (a row with a cell to
quote or a formula) write the same bytes as the slow and obvious path (every cell rendered and neutralised one by
one); plain_line, shared with the annotated copy, gives the csv module's line or none."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from bulkretry.records import REPORT_COLUMNS, RunSummary
from bulkretry.report.common import TRIGGER_STARTS, Value, csv_writer, neutralise, plain_line
from bulkretry.report.csv_report import CsvReport

SUMMARY = RunSummary(run_id="r", manifest="m.csv", started_at="", finished_at="", duration_s=0.0, rows=0)
HEADER = (*REPORT_COLUMNS, "owner", "备注")
TEXTS = [
    "",
    "plain",
    "a,b",
    'say "hi"',
    "two\nlines",
    "cr\r\nlf",
    " edge ",
    "中文,逗号",
    "a-b",
    "x=1",
    "1+1",
    "=SUM(A1)",
    "+1",
    "-2",
    "@x",
    "\tx",
    "\rx",
    "'quoted",
    "new\n=line",
]


def plain_path(path: Path, rows: list[tuple[Value, ...]]) -> None:
    """What CsvReport writes, the slow and obvious way: every cell rendered and neutralised, one by one."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise(name) for name in HEADER])
        for values in rows:
            cells = []
            for name, value in zip(HEADER, values):
                if value is None:
                    cells.append("")
                elif isinstance(value, str):
                    cells.append(value if name in ("row", "outcome") else neutralise(value))
                else:
                    cells.append(repr(value) if isinstance(value, float) else str(value))
            writer.writerow(cells)


def random_rows(rng: random.Random, count: int) -> list[tuple[Value, ...]]:
    rows = []
    for row in range(2, count + 2):
        text = lambda: rng.choice(TEXTS)  # noqa: E731
        rows.append(
            (
                row,
                text(),
                text(),
                rng.choice(["succeeded", "failed", "invalid"]),
                rng.choice([None, 200, 400, 503]),
                text(),
                text(),
                rng.randint(0, 5),
                text(),
                rng.choice([None, 0.0, 12.5, 1234.0, 0.1 + 0.2]),
                text(),
                text(),
                text(),
                text(),
            )
        )
    return rows


def test_fast_path_writes_the_same_bytes_as_the_plain_path(tmp_path: Path) -> None:
    """Rows with and without a formula-like cell, quotes, commas, line breaks and floats: identical files."""
    rows = random_rows(random.Random(7), 3000)
    assert any(all(not (isinstance(v, str) and v[:1] in "=+-@\t\r") for v in r[1:]) for r in rows)  # fast rows
    assert any(any(isinstance(v, str) and v[:1] in "=+-@\t\r" for v in r[1:]) for r in rows)  # slow rows
    writer = CsvReport(tmp_path / "report.csv")
    writer.start(HEADER, SUMMARY)
    for values in rows:
        writer.write(values)
    writer.finish()
    plain_path(tmp_path / "plain.csv", rows)
    assert (tmp_path / "report.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


def test_a_nul_is_written_as_python_3_11_writes_it() -> None:
    """A NUL in a cell is written as it is and alone never quotes the cell, on every Python (3.9's csv quotes
    such a cell, 3.10's refuses it); quoting for other reasons and other cells are as csv.writer writes them."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["a\x00b", "c,d", 'e\x00"f', "\x00", None, 1.5, "\ue000\x00"])
    writer.writerow(["plain", 2])
    assert out.getvalue() == 'a\x00b,"c,d","e\x00""f",\x00,,1.5,\ue000\x00\r\nplain,2\r\n'


def test_plain_line_is_the_csv_modules_line_or_none() -> None:
    """Random rows of awkward cells: a line that plain_line gives is the one csv.writer writes; it gives none exactly
    when a cell needs quoting or starts like a formula (or the row is one empty cell, which csv writes as "")."""
    rng = random.Random(1205)
    alphabet = ["a", "中", ",", '"', "\n", "\r", "=", "+", "-", "@", "\t", " ", "'", "\x00", "…", "1"]
    given = none = 0
    for _ in range(20000):
        cells = ["".join(rng.choices(alphabet, k=rng.randint(0, 3))) for _ in range(rng.randint(1, 4))]
        out = io.StringIO()
        csv_writer(out).writerow(cells)
        line = plain_line(cells)
        quoted = any(c in cell for cell in cells for c in ',"\r\n') or cells == [""]
        formula = any(cell[:1] in TRIGGER_STARTS for cell in cells if cell)
        assert (line is None) == (quoted or formula), cells
        if line is not None:
            assert line == out.getvalue(), cells
            given += 1
        else:
            none += 1
    assert given > 1000 and none > 1000
