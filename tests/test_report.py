"""The run's report: report.csv, report.xlsx, report.json, report.html and summary.json, from one pass over the results.

report.html has its own tests in test_html_report.py.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import random
import struct
import tempfile
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from bulkretry.records import REPORT_COLUMNS, Outcome, RowResult, RunSummary
from bulkretry.report import BATCH_ROWS, FORMATS, neutralise, parse_formats, write_reports, xlsx_package
from bulkretry.report import common as report_common
from bulkretry.report.xlsx_report import XlsxReport

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


@pytest.fixture
def summary() -> RunSummary:
    """A run summary with outcome and error-code counts and a Chinese manifest name."""
    return RunSummary(
        run_id="20240501-080000-abcd",
        manifest="清单/任务组.csv",
        started_at="2024-05-01T08:00:00Z",
        finished_at="2024-05-01T08:01:00Z",
        duration_s=60.25,
        rows=3,
        by_outcome={"succeeded": 1, "failed": 1, "invalid": 1},
        by_error_code={"OMS.0001": 1, "invalid:group_id": 1},
        calls=4,
        achieved_rate=0.07,
        out_dir="runs/x",
    )


@pytest.fixture
def results() -> list[RowResult]:
    """Three results: a success, a server failure with Chinese text, and a local one with no HTTP status."""
    return [
        result(2, extra=(("owner", "alice"), ("备注", "第一批"))),
        result(
            3,
            outcome=Outcome.FAILED,
            http_status=400,
            error_code="OMS.0001",
            error_msg="任务组状态不允许重试",
            attempts=3,
            latency_ms=101.0,
            extra=(("备注", "第二批"),),
        ),
        result(
            4,
            group_id="",
            outcome=Outcome.INVALID,
            http_status=None,
            error_code="invalid:group_id",
            error_msg="group_id is empty",
            attempts=0,
            request_id="",
            latency_ms=None,
            started_at="",
            finished_at="",
            extra=(("owner", "bob"), ("ignored", "not a report column")),
        ),
    ]


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


# --- formats ---------------------------------------------------------------------------------------------------


def test_parse_formats_accepts_lists_with_spaces_case_and_repeats():
    """A comma list is read in order, spaces and case ignored, repeats dropped."""
    assert parse_formats("csv,xlsx") == ("csv", "xlsx")
    assert parse_formats(" json , CSV,json, ") == ("json", "csv")
    assert parse_formats("csv,xlsx,json,html") == FORMATS


@pytest.mark.parametrize("text", ["", " ", ",", " , "])
def test_parse_formats_rejects_empty(text):
    """An empty list is an error that lists the formats to choose from."""
    with pytest.raises(ValueError, match="csv, xlsx, json, html"):
        parse_formats(text)


def test_parse_formats_rejects_unknown_naming_it_and_the_allowed_list():
    """An unknown format is named in the error, with the allowed ones."""
    with pytest.raises(ValueError, match=r"'pdf'.*csv, xlsx, json, html") as info:
        parse_formats("csv,pdf")
    assert "in 'csv,pdf'" in str(info.value)


def test_write_reports_rejects_unknown_format_before_writing(tmp_path, results, summary):
    """An unknown format passed to write_reports writes nothing."""
    with pytest.raises(ValueError, match="'xls'"):
        write(tmp_path, iter(results), summary, formats=("csv", "xls"))
    assert not (tmp_path / "run").exists()


# --- what is written -------------------------------------------------------------------------------------------


def test_returns_reports_in_format_order_then_summary(tmp_path, results, summary):
    """The paths come back in the formats' order, then summary.json, and exist; nothing else is left."""
    paths = write(tmp_path, results, summary, formats=("json", "csv"))
    run = tmp_path / "run"
    assert paths == [run / "report.json", run / "report.csv", run / "summary.json"]
    assert sorted(p.name for p in run.iterdir()) == ["report.csv", "report.json", "summary.json"]


def test_no_formats_writes_only_the_summary_and_still_reads_the_results(tmp_path, summary):
    """With no formats only summary.json is written, and the results are still read to the end, once."""
    source = Counting(10)
    paths = write(tmp_path, source, summary, formats=())
    assert paths == [tmp_path / "run" / "summary.json"]
    assert (source.passes, source.given) == (1, 10)


def test_formats_may_be_given_as_text(tmp_path, results, summary):
    """formats="json, csv" is read like --format, not as a sequence of letters."""
    paths = write(tmp_path, results, summary, formats="json, csv")
    assert [p.name for p in paths] == ["report.json", "report.csv", "summary.json"]


def test_default_formats_write_all_four(tmp_path, results, summary):
    """Without formats, csv, xlsx, json and html are all written."""
    paths = write(tmp_path, results, summary)
    assert [p.name for p in paths] == ["report.csv", "report.xlsx", "report.json", "report.html", "summary.json"]


def test_summary_json_equals_as_dict(tmp_path, results, summary):
    """summary.json is RunSummary.as_dict(), pretty-printed UTF-8 with Chinese kept as is."""
    write(tmp_path, results, summary, formats=("csv",))
    raw = (tmp_path / "run" / "summary.json").read_bytes()
    assert json.loads(raw.decode("utf-8")) == summary.as_dict()
    assert "清单/任务组.csv".encode() in raw
    assert b'\n  "run_id"' in raw


def test_summary_json_turns_nan_rate_into_null(tmp_path, summary):
    """A non-finite rate does not make summary.json invalid JSON."""
    odd = RunSummary(**(summary.as_dict() | {"achieved_rate": float("nan")}))
    write(tmp_path, [], odd, formats=("json",))
    assert json.loads((tmp_path / "run" / "summary.json").read_text("utf-8"))["achieved_rate"] is None
    assert json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))["summary"]["achieved_rate"] is None


# --- csv -------------------------------------------------------------------------------------------------------


def test_csv_has_bom_crlf_header_and_rows_in_order(tmp_path, results, summary):
    """report.csv starts with a UTF-8 BOM, uses CRLF, has the exact header and one row per result in order."""
    write(tmp_path, results, summary, formats=("csv",))
    path = tmp_path / "run" / "report.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfrow,project_id,group_id,outcome,")
    assert raw.count(b"\r\n") == 4 and b"\n" not in raw.replace(b"\r\n", b"")
    rows = read_csv(path)
    assert rows[0] == HEADER
    assert [r[0] for r in rows[1:]] == ["2", "3", "4"]
    assert rows[1] == [
        "2",
        "p-0001",
        "g-0002",
        "succeeded",
        "200",
        "",
        "",
        "1",
        "req-2",
        "12.5",
        "2024-05-01T08:00:00.000Z",
        "2024-05-01T08:00:00.013Z",
        "alice",
        "第一批",
    ]
    assert rows[2][6] == "任务组状态不允许重试"
    assert rows[2][-2:] == ["", "第二批"]  # a missing extra is empty
    assert rows[3][4] == "" and rows[3][9] == ""  # None is empty
    assert "not a report column" not in raw.decode("utf-8-sig")


def test_extra_column_clashing_with_a_report_column_is_renamed(tmp_path, summary):
    """A manifest column named like a report column (an old report as manifest) is kept as manifest.NAME."""
    rows = [result(2, extra=(("outcome", "failed"), ("note", "n")))]
    write(tmp_path, rows, summary, formats=("csv", "json"), extra_columns=("outcome", "note", "outcome"))
    header, row = read_csv(tmp_path / "run" / "report.csv")
    assert header == [*REPORT_COLUMNS, "manifest.outcome", "note"]
    assert row[3] == "succeeded" and row[-2:] == ["failed", "n"]
    data = json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))
    assert data["rows"][0]["outcome"] == "succeeded" and data["rows"][0]["manifest.outcome"] == "failed"


# --- xlsx ------------------------------------------------------------------------------------------------------


def test_xlsx_sheets_header_freeze_filter_and_types(tmp_path, results, summary):
    """report.xlsx has Summary then Rows; Rows has a bold frozen header, a filter over the data, typed cells."""
    write(tmp_path, results, summary, formats=("xlsx",))
    wb = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    assert wb.sheetnames == ["Summary", "Rows"]
    ws = wb["Rows"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:N4"
    assert [c.value for c in ws[1]] == HEADER
    assert all(c.font.b for c in ws[1])
    assert ws.column_dimensions["G"].width >= 40  # error_msg is wide
    row2 = [c.value for c in ws[2]]
    assert row2 == [
        2,
        "p-0001",
        "g-0002",
        "succeeded",
        200,
        None,
        None,
        1,
        "req-2",
        12.5,
        "2024-05-01T08:00:00.000Z",
        "2024-05-01T08:00:00.013Z",
        "alice",
        "第一批",
    ]
    for name in ("row", "http_status", "attempts", "latency_ms"):
        cell = ws.cell(3, REPORT_COLUMNS.index(name) + 1)
        assert cell.data_type == "n" and isinstance(cell.value, (int, float)), name
    assert ws["G3"].value == "任务组状态不允许重试" and ws["G3"].data_type == "s"
    assert ws["E4"].value is None and ws["J4"].value is None
    assert ws.max_row == 4


def test_xlsx_summary_sheet_lists_fields_and_counts(tmp_path, results, summary):
    """The Summary sheet has the run's fields, then outcome counts and error-code counts under headings."""
    write(tmp_path, results, summary, formats=("xlsx",))
    rows = read_xlsx_rows(tmp_path / "run" / "report.xlsx", "Summary")
    pairs = {r[0]: r[1] for r in rows if r and r[0] is not None}
    assert pairs["run_id"] == "20240501-080000-abcd"
    assert pairs["manifest"] == "清单/任务组.csv"
    assert pairs["duration_s"] == 60.25 and pairs["rows"] == 3 and pairs["calls"] == 4
    assert pairs["achieved_rate"] == 0.07
    keys = [r[0] for r in rows if r and r[0] is not None]
    assert keys.index("outcome") < keys.index("succeeded") < keys.index("error_code") < keys.index("OMS.0001")
    assert pairs["failed"] == 1 and pairs["invalid:group_id"] == 1


def test_xlsx_control_characters_are_dropped_not_fatal(tmp_path, summary):
    """Text with characters XML cannot hold is written without them instead of failing."""
    rows = [result(2, error_msg="bad\x00\x07 msg\x1b[0m\x1f", group_id="\x01=1+1", request_id="tab\tand\r\nCRLF\rCR")]
    write(tmp_path, rows, summary, formats=("csv", "xlsx"))
    ws = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")["Rows"]
    assert ws["G2"].value == "bad msg[0m"
    assert ws["C2"].value == "'=1+1"  # cleaned, then neutralised
    assert ws["I2"].value == "tab\tand\nCRLF\nCR"
    assert read_csv(tmp_path / "run" / "report.csv")[1][6] == "bad\x00\x07 msg\x1b[0m\x1f"


def test_xlsx_error_literals_stay_text(tmp_path, summary):
    """A message such as '#N/A' is a text cell, not an Excel error value."""
    write(tmp_path, [result(2, error_msg="#N/A", error_code="#REF!")], summary, formats=("xlsx",))
    ws = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")["Rows"]
    assert (ws["F2"].value, ws["F2"].data_type) == ("#REF!", "s")
    assert (ws["G2"].value, ws["G2"].data_type) == ("#N/A", "s")


def test_xlsx_with_no_rows_has_header_and_filter(tmp_path, summary):
    """An empty run still gets a header row and a filter over it."""
    write(tmp_path, iter(()), summary, formats=("xlsx", "csv", "json"), extra_columns=())
    ws = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")["Rows"]
    assert ws.max_row == 1 and ws.auto_filter.ref == "A1:L1"
    assert read_csv(tmp_path / "run" / "report.csv") == [list(REPORT_COLUMNS)]
    assert json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))["rows"] == []


def test_xlsx_rows_beyond_a_sheet_continue_on_the_next(tmp_path, summary, monkeypatch):
    """Rows beyond a sheet's capacity continue on 'Rows 2', each sheet with its header, freeze and filter."""
    monkeypatch.setattr(XlsxReport, "rows_per_sheet", 3)
    write(tmp_path, (result(i) for i in range(2, 9)), summary, formats=("xlsx",), extra_columns=())
    wb = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    assert wb.sheetnames == ["Summary", "Rows", "Rows 2", "Rows 3"]
    assert [row[0].value for row in wb["Rows"].iter_rows()] == ["row", 2, 3, 4]
    assert [row[0].value for row in wb["Rows 3"].iter_rows()] == ["row", 8]
    assert wb["Rows 2"].freeze_panes == "A2" and wb["Rows 2"].auto_filter.ref == "A1:L4"
    assert wb["Rows 3"].auto_filter.ref == "A1:L2"


# The texts the xlsx round trip is tried with: Chinese, XML's special characters, spaces that Excel would
# trim without xml:space="preserve", tab and LF, long text, text that looks like a number, a boolean, an
# error value or a formula.
ROUND_TRIP_TEXTS = [
    "任务组状态不允许重试",
    "<&>\"'",
    "]]>",
    "&amp;",
    "  lead",
    "trail  ",
    " both ",
    "a\tb",
    "line1\nline2",
    "中文<b>&</b> 混合",
    "emoji 😀",
    "x" * 5_000 + "尾",
    "",
    "0012",
    "1e5",
    "TRUE",
    "#N/A",
    "=1+1",
    "\u00a0nbsp",
]
NUMBER_COLUMNS = [REPORT_COLUMNS.index(name) for name in ("row", "http_status", "attempts", "latency_ms")]


def round_trip_rows(n: int) -> list[RowResult]:
    """n results whose texts, numbers and empty cells cycle through ROUND_TRIP_TEXTS and a few numbers."""
    texts = ROUND_TRIP_TEXTS
    return [
        result(
            i + 2,
            project_id=texts[i % len(texts)],
            group_id=texts[(i + 3) % len(texts)],
            error_code=texts[(i + 5) % len(texts)][:40],
            error_msg=texts[(i + 7) % len(texts)],
            http_status=[200, None, 400][i % 3],
            attempts=i,
            request_id=texts[(i + 11) % len(texts)],
            latency_ms=[12.5, None, 101.0, 0.1 + 0.2, 1e-7][i % 5],
            started_at=texts[(i + 13) % len(texts)],
            extra=(("owner", texts[(i + 1) % len(texts)]), ("备注", texts[(i + 2) % len(texts)])),
        )
        for i in range(n)
    ]


def xml_parts(path: Path) -> dict[str, bytes]:
    """Every part of an xlsx, after checking that each is well-formed XML (expat refuses what XML 1.0 cannot hold)."""
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    for data in parts.values():
        ET.fromstring(data)  # raises ParseError on a character XML cannot hold
    return parts


def as_text(value) -> str:
    """A cell value read back, as the csv has it."""
    return "" if value is None else str(value)


def test_xlsx_reads_back_like_the_csv_in_openpyxl_and_pandas(tmp_path, summary):
    """openpyxl (normal and read-only) and pandas read report.xlsx back with the values of report.csv."""
    import pandas as pd

    write(tmp_path, round_trip_rows(300), summary, formats=("csv", "xlsx"))
    run = tmp_path / "run"
    expected = read_csv(run / "report.csv")
    assert len(expected) == 301

    wb = openpyxl.load_workbook(run / "report.xlsx")
    assert [[as_text(v) for v in row] for row in wb["Rows"].iter_rows(values_only=True)] == expected
    read_only = read_xlsx_rows(run / "report.xlsx")
    assert all(len(row) == len(HEADER) for row in read_only)  # every row at full width, empty last cells too
    assert [[as_text(v) for v in row] for row in read_only] == expected

    # Readers differ on whitespace at the ends of a text: Excel keeps it only under xml:space="preserve".
    with zipfile.ZipFile(run / "report.xlsx") as zf:
        texts = list(ET.fromstring(zf.read("xl/worksheets/sheet2.xml")).iter(f"{{{xlsx_package.MAIN_NS}}}t"))
    edged = [t for t in texts if t.text != t.text.strip()]
    assert edged and all(t.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve" for t in edged)

    frame = pd.read_excel(run / "report.xlsx", sheet_name="Rows", dtype=str, keep_default_na=False)
    assert list(frame.columns) == expected[0]
    got = frame.values.tolist()
    assert len(got) == len(expected) - 1
    for got_row, want_row in zip(got, expected[1:]):
        for col in NUMBER_COLUMNS:  # pandas reads 101.0 as 101: compare the numbers as numbers
            assert (float(got_row[col]) if got_row[col] else None) == (float(want_row[col]) if want_row[col] else None)
            got_row[col] = want_row[col]
        assert got_row == want_row


def test_xlsx_cuts_text_to_excels_cell_limit(tmp_path, summary):
    """Text longer than Excel's 32,767 characters a cell is cut there in report.xlsx, kept whole in report.csv."""
    write(tmp_path, [result(2, error_msg="消息" * 20_000)], summary, formats=("csv", "xlsx"))
    assert openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")["Rows"]["G2"].value == ("消息" * 20_000)[:32_767]
    assert read_csv(tmp_path / "run" / "report.csv")[1][6] == "消息" * 20_000


def test_xlsx_package_has_every_part_and_a_sound_zip(tmp_path, results, summary, monkeypatch):
    """The zip passes testzip, holds every part a workbook needs, and no member is marked ZIP64 (Excel is wary)."""
    monkeypatch.setattr(XlsxReport, "rows_per_sheet", 2)  # Summary, Rows and Rows 2
    write(tmp_path, results, summary, formats=("xlsx",))
    path = tmp_path / "run" / "report.xlsx"
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
    parts = xml_parts(path)
    assert {
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
        "xl/worksheets/sheet2.xml",
        "xl/worksheets/sheet3.xml",
        "docProps/core.xml",
        "docProps/app.xml",
    } <= set(parts)
    types = parts["[Content_Types].xml"].decode()
    for part in ("/xl/workbook.xml", "/xl/styles.xml", *(f"/xl/worksheets/sheet{i}.xml" for i in (1, 2, 3))):
        assert f'PartName="{part}"' in types
    for rels, base in (("_rels/.rels", ""), ("xl/_rels/workbook.xml.rels", "xl/")):
        for rel in ET.fromstring(parts[rels]):
            assert base + rel.get("Target") in parts, rel.get("Target")
    raw = path.read_bytes()
    for info in infos:
        assert info.extra == b"" and info.extract_version == 20, info.filename
        version, extra_length = (
            struct.unpack_from("<H", raw, info.header_offset + 4)[0],
            struct.unpack_from("<H", raw, info.header_offset + 28)[0],
        )
        assert (version, extra_length) == (20, 0), info.filename  # the local header too


def test_xlsx_header_is_bold_and_frozen_and_the_filter_covers_the_written_rows(tmp_path, summary, monkeypatch):
    """Each Rows sheet has a bold frozen header and a filter from A1 to its last written row, named in the workbook."""
    monkeypatch.setattr(XlsxReport, "rows_per_sheet", 200)
    write(tmp_path, (result(i) for i in range(2, 302)), summary, formats=("xlsx",))
    path = tmp_path / "run" / "report.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Rows", "Rows 2"]
    for name, last in (("Rows", 201), ("Rows 2", 101)):
        ws = wb[name]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:N{last}" and ws.max_row == last
        assert all(c.font.b for c in ws[1]) and not any(c.font.b for c in ws[2])
        assert [c.value for c in ws[1]] == HEADER
    parts = xml_parts(path)
    rows_2 = parts["xl/worksheets/sheet3.xml"].decode()
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' in rows_2
    assert rows_2.endswith('</sheetData><autoFilter ref="A1:N101"/>' + rows_2.split('<autoFilter ref="A1:N101"/>')[1])
    names = {
        (n.get("name"), n.get("localSheetId"), n.get("hidden")): n.text
        for n in ET.fromstring(parts["xl/workbook.xml"]).iter(f"{{{xlsx_package.MAIN_NS}}}definedName")
    }
    assert names == {
        ("_xlnm._FilterDatabase", "1", "1"): "'Rows'!$A$1:$N$201",
        ("_xlnm._FilterDatabase", "2", "1"): "'Rows 2'!$A$1:$N$101",
    }


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800", "\udfff"])
def test_xlsx_never_holds_a_character_xml_cannot(tmp_path, summary, bad):
    """Control characters, U+FFFE/U+FFFF and lone surrogates, in cells, headers or the summary, are dropped."""
    rows = [result(2, group_id=f"{bad}=1+1", error_msg=f"a{bad}b", request_id=bad, extra=((f"note{bad}", f"x{bad}"),))]
    # summary.json is written too, and it cannot hold a lone surrogate: the summary gets the others.
    in_summary = "" if "\ud800" <= bad <= "\udfff" else bad
    odd = RunSummary(**(summary.as_dict() | {"manifest": f"m{in_summary}.csv", "by_error_code": {f"E{in_summary}": 1}}))
    write(tmp_path, rows, odd, formats=("xlsx",), extra_columns=(f"note{bad}",))
    path = tmp_path / "run" / "report.xlsx"
    xml_parts(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Rows"]
    assert ws["C2"].value == "'=1+1"  # dropped before neutralising, so it is still neutralised
    assert (ws["G2"].value, ws["I2"].value, ws["M1"].value, ws["M2"].value) == ("ab", None, "note", "x")
    summary_values = [v for row in wb["Summary"].iter_rows(values_only=True) for v in row]
    assert "m.csv" in summary_values and "E" in summary_values


def test_xlsx_rows_continue_on_the_next_sheet_before_a_sheet_outgrows_a_zip_member(tmp_path, summary, monkeypatch):
    """Rows also continue on the next sheet when a sheet's XML nears what a zip member holds without ZIP64."""
    monkeypatch.setattr(XlsxReport, "bytes_per_sheet", 20_000)
    write(
        tmp_path, (result(i, error_msg="m" * 1_000) for i in range(2, 62)), summary, formats=("xlsx",), extra_columns=()
    )
    wb = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    sheets = wb.sheetnames[1:]
    assert len(sheets) > 2 and sheets == ["Rows"] + [f"Rows {i}" for i in range(2, len(sheets) + 1)]
    numbers = []
    for name in sheets:
        ws = wb[name]
        assert ws["A1"].value == "row" and ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:L{ws.max_row}"
        numbers += [row[0] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert numbers == list(range(2, 62))


@pytest.mark.slow
def test_xlsx_memory_stays_flat_over_200k_rows(tmp_path, summary):
    """Writing 200k rows keeps nothing per row: memory traced over the last 20k rows and the finish stays small."""
    traced = {}

    def many_results() -> Iterator[RowResult]:
        for i in range(200_000):
            if i == 180_000:  # tracemalloc slows this ~10x: trace the last 20k rows (~50 bytes kept a row = 1 MiB)
                tracemalloc.start()
                traced["start"] = tracemalloc.get_traced_memory()[0]
            yield result(i + 2, error_msg="任务组状态不允许重试 <&>", extra=(("owner", f"o{i}"), ("备注", "第一批")))

    try:
        write(tmp_path, many_results(), summary, formats=("xlsx",))
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - traced["start"] < 4 * 2**20  # the write buffer (256 Ki characters) and its encoded copy
    assert current - traced["start"] < 2**20  # nothing kept once written
    with zipfile.ZipFile(tmp_path / "run" / "report.xlsx") as zf, zf.open("xl/worksheets/sheet2.xml") as fh:
        tail = b""
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-300:]
    assert b'<c r="M200001" t="inlineStr"><is><t>o199999</t></is></c>' in tail
    assert b'</sheetData><autoFilter ref="A1:N200001"/>' in tail


def test_xlsx_discard_never_raises(tmp_path, summary):
    """discard() before start, after some rows, and twice, closes what is open and raises nothing."""
    XlsxReport(tmp_path / "a.xlsx").discard()
    assert not (tmp_path / "a.xlsx").exists()  # nothing was open, nothing is made
    report = XlsxReport(tmp_path / "b.xlsx")
    report.start(tuple(HEADER), summary)
    for _ in range(10):
        report.write(tuple(range(len(HEADER))))
    fh, book = report._fh, report._book
    assert fh is not None and book is not None and not fh.closed and not book.closed
    report.discard()
    assert fh.closed and book.closed
    report.discard()
    assert fh.closed and book.closed


# --- json ------------------------------------------------------------------------------------------------------


def test_json_round_trips_types(tmp_path, results, summary):
    """report.json is {"summary", "rows"}; numbers stay numbers, None is null, Chinese is kept as UTF-8."""
    write(tmp_path, results, summary, formats=("json",))
    raw = (tmp_path / "run" / "report.json").read_bytes()
    assert "任务组状态不允许重试".encode() in raw  # not \\u-escaped
    data = json.loads(raw.decode("utf-8"))
    assert list(data) == ["summary", "rows"]
    assert data["summary"] == summary.as_dict()
    assert [list(row) for row in data["rows"]] == [HEADER] * 3
    assert data["rows"][0] == results[0].as_dict()  # as RowResult itself renders it
    assert data["rows"][1]["latency_ms"] == 101.0 and data["rows"][1]["http_status"] == 400
    assert data["rows"][2]["http_status"] is None and data["rows"][2]["latency_ms"] is None
    assert data["rows"][2]["attempts"] == 0 and data["rows"][2]["owner"] == "bob" and data["rows"][2]["备注"] == ""


def test_json_rows_are_what_json_dumps_writes(tmp_path, summary):
    """Each row line is byte for byte json.dumps(row, ensure_ascii=False): floats of every form included."""
    latencies = [0.1, 25.8, -0.0, 1e-7, 1e300, 123456789.123, 5.0, float("nan"), float("inf"), None]
    results = [result(i + 1, latency_ms=value, error_msg='中文 "q"') for i, value in enumerate(latencies)]
    write(tmp_path, results, summary, formats=("json",), extra_columns=())
    lines = (tmp_path / "run" / "report.json").read_text(encoding="utf-8").splitlines()[2:-1]
    expected = [
        {**r.as_dict(), "latency_ms": r.latency_ms if r.latency_ms is None or math.isfinite(r.latency_ms) else None}
        for r in results
    ]
    assert [line.removesuffix(",") for line in lines] == [json.dumps(row, ensure_ascii=False) for row in expected]


def test_json_writer_takes_values_the_row_encoder_refuses(tmp_path, summary):
    """A row the one-call encoder refuses (a non-finite float given straight to the writer) is written by the
    value-by-value path, as json.dumps writes it; the rows around it keep the fast path, in order."""
    from bulkretry.report.json_report import JsonReport

    writer = JsonReport(tmp_path / "report.json")
    writer.start(("a", "b"), summary)
    rows = [(1, "x"), (2, float("inf")), (3, None), (True, -0.5)]
    for values in rows:
        writer.write(values)
    writer.finish()
    lines = (tmp_path / "report.json").read_text(encoding="utf-8").splitlines()[2:-1]
    expected = [json.dumps(dict(zip("ab", values))) for values in rows]
    assert [line.removesuffix(",") for line in lines] == expected


HOSTILE = ['say "hi" \\ {0} {} }{', "line\nbreak\ttab\r", "混合 text ✓ 😀", "\u2028\u0000\x7f", '{"json": 1}', ""]


def test_json_and_csv_carry_any_text_exactly(tmp_path, summary):
    """Quotes, backslashes, format braces, control characters and non-BMP text come back as they went in,
    in values and in extra column names alike (each row's JSON is one line)."""
    names = ["{0}", 'a "quoted" {name}', "备注"]
    results = [
        result(i + 1, error_msg=text, request_id=text[::-1], extra=tuple((name, text) for name in names))
        for i, text in enumerate(HOSTILE)
    ]
    write(tmp_path, results, summary, formats=("json", "csv"), extra_columns=names)
    raw = (tmp_path / "run" / "report.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    assert [row["error_msg"] for row in data["rows"]] == HOSTILE
    assert [row["request_id"] for row in data["rows"]] == [text[::-1] for text in HOSTILE]
    assert [[row[name] for name in names] for row in data["rows"]] == [[text] * 3 for text in HOSTILE]
    assert raw.count("\n") == 2 + len(HOSTILE) + 1  # the summary, "rows": [, one line per row, the closing
    header, *lines = read_csv(tmp_path / "run" / "report.csv")
    rows = [dict(zip(header, line)) for line in lines]
    assert [row["error_msg"] for row in rows] == HOSTILE
    assert [[row[name] for name in names] for row in rows] == [[text] * 3 for text in HOSTILE]


def test_results_read_back_from_the_journal_give_the_same_reports(tmp_path, summary):
    """The results as the journal gives them back write byte for byte what the RowResults recorded write,
    whatever the extras: in order, reordered, repeated (the first wins), missing, and NaN/inf latencies."""
    from bulkretry.run.journal import Journal

    extras = [
        (("owner", "ann"), ("备注", "x")),
        (("备注", "y"), ("owner", "bob")),
        (("owner", "c1"), ("owner", "c2")),
        (),
        (("备注", "=1"),),
        (("owner", "d"), ("备注", "e"), ("other", "f")),
    ]
    results = [
        result(i + 1, extra=extra, latency_ms=[1.5, float("nan"), float("inf"), None][i % 4])
        for i, extra in enumerate(extras)
    ]
    write_reports(tmp_path / "a", results, summary, formats=("csv", "json"), extra_columns=EXTRAS)
    with Journal(tmp_path / "journal.sqlite") as journal:
        for one in results:
            journal.record(one)
        write_reports(tmp_path / "b", journal.results(), summary, formats=("csv", "json"), extra_columns=EXTRAS)
    for name in ("report.csv", "report.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = read_csv(tmp_path / "b" / "report.csv")
    owner, note = rows[0].index("owner"), rows[0].index("备注")
    assert [(row[owner], row[note]) for row in rows[1:]] == [
        ("ann", "x"),
        ("bob", "y"),
        ("c1", ""),
        ("", ""),
        ("", "'=1"),
        ("d", "e"),
    ]
    assert [row[rows[0].index("latency_ms")] for row in rows[1:]] == ["1.5", "", "", "", "1.5", ""]


# --- formula neutralisation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_neutralise_prefixes_formula_triggers(text):
    """Text starting with = + - @ tab or CR gets a leading quote; other text is unchanged."""
    assert neutralise(text) == "'" + text
    assert neutralise("plain " + text) == "plain " + text
    assert neutralise("") == ""


def test_formulas_neutralised_in_csv_and_xlsx_but_not_json(tmp_path, summary):
    """Formula-looking text (ids, server messages, extra columns, headers) is quoted in csv/xlsx, kept in json."""
    rows = [
        result(i + 2, group_id=text, error_msg=text, error_code=text, extra=(("=cmd", text),))
        for i, text in enumerate(FORMULAS)
    ] + [result(len(FORMULAS) + 2, group_id="-abc", latency_ms=-1.0)]
    write(tmp_path, rows, summary, extra_columns=("=cmd",))
    run = tmp_path / "run"

    csv_rows = read_csv(run / "report.csv")
    xlsx_rows = read_xlsx_rows(run / "report.xlsx")
    json_rows = json.loads((run / "report.json").read_text("utf-8"))["rows"]
    assert csv_rows[0][-1] == "'=cmd" and xlsx_rows[0][-1] == "'=cmd" and "=cmd" in json_rows[0]
    for i, text in enumerate(FORMULAS, 1):
        for col in (2, 5, 6, 12):  # group_id, error_code, error_msg, the extra column
            assert csv_rows[i][col] == "'" + text
            assert xlsx_rows[i][col] == "'" + text.replace("\r", "\n")  # XML holds line breaks as LF
        assert json_rows[i - 1]["group_id"] == json_rows[i - 1]["error_msg"] == json_rows[i - 1]["=cmd"] == text
    last = len(FORMULAS) + 1
    assert csv_rows[last][2] == "'-abc" and xlsx_rows[last][2] == "'-abc" and json_rows[-1]["group_id"] == "-abc"
    # Numbers stay numbers, even negative ones.
    assert csv_rows[last][9] == "-1.0" and xlsx_rows[last][9] == -1.0 and json_rows[-1]["latency_ms"] == -1.0


def test_may_start_formula_tells_rows_that_need_a_look_cell_by_cell():
    """False only when no cell starts like a formula; any trigger in any cell, or a cell that is not text, is True."""
    assert not report_common.may_start_formula(["abc", "", "a-b", "x=1", "两行\n备注"])
    assert not report_common.may_start_formula([])
    for trigger in ("=", "+", "-", "@", "\t", "\r"):
        assert report_common.may_start_formula([trigger + "1", "b"])
        assert report_common.may_start_formula(["a", "", "b", trigger + "1"])
        assert report_common.may_start_formula(["a", "line\n" + trigger + "x"])  # may: then each cell is looked at
    assert report_common.may_start_formula(["a", None])


def test_csv_neutralises_a_formula_in_any_one_text_cell(tmp_path, summary):
    """Random rows with a formula in one random text cell (or none): each text cell reads back neutralised."""
    rng = random.Random(1130)
    texts = ["plain", "", "a-b", "两行\n=备注", "x@y", *FORMULAS, "-", "@"]
    rows = []
    for i in range(400):
        cells = {name: rng.choice(texts) for name in ("group_id", "error_code", "error_msg", "request_id")}
        rows.append(result(i + 2, **cells, extra=(("owner", rng.choice(texts)), ("备注", rng.choice(texts)))))
    write(tmp_path, rows, summary, formats=("csv",))
    read = read_csv(tmp_path / "run" / "report.csv")
    assert len(read) == len(rows) + 1
    for row, written in zip(rows, read[1:]):
        assert written[2] == neutralise(row.group_id) and written[5] == neutralise(row.error_code)
        assert written[6] == neutralise(row.error_msg) and written[8] == neutralise(row.request_id)
        assert written[12:] == [neutralise(value) for _, value in row.extra]
    assert sum(cell.startswith("'") for written in read[1:] for cell in written) > 100


def test_xlsx_never_holds_a_formula(tmp_path, summary):
    """No cell of report.xlsx is stored as a formula."""
    rows = [result(i + 2, group_id=text, error_msg=text) for i, text in enumerate(FORMULAS)]
    write(tmp_path, rows, summary, formats=("xlsx",))
    wb = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)


# --- streaming and atomicity -------------------------------------------------------------------------------------


def test_fifty_thousand_results_are_read_once(tmp_path, summary):
    """A 50k-result iterable is iterated once, and csv and json have every row in order."""
    source = Counting(50_000)
    write(tmp_path, source, summary, formats=("csv", "json"), extra_columns=("owner",))
    assert (source.passes, source.given) == (1, 50_000)
    rows = read_csv(tmp_path / "run" / "report.csv")
    assert len(rows) == 50_001 and rows[1][0] == "2" and rows[-1][0] == "50001" and rows[-1][-1] == "o49999"
    data = json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))
    assert len(data["rows"]) == 50_000 and data["rows"][-1]["row"] == 50_001


def test_all_formats_share_one_pass(tmp_path, summary):
    """With every format chosen the results are still iterated once, and each file has every row."""
    source = Counting(3_000)
    write(tmp_path, source, summary, extra_columns=("owner",))
    assert (source.passes, source.given) == (1, 3_000)
    run = tmp_path / "run"
    assert BATCH_ROWS < 3_000 and 3_000 % BATCH_ROWS  # several batches and a part one
    rows = list(range(2, 3_002))  # every row once, in order
    csv_rows = read_csv(run / "report.csv")[1:]
    assert [int(r[0]) for r in csv_rows] == rows and csv_rows[-1][-1] == "o2999"
    assert [r["row"] for r in json.loads((run / "report.json").read_text("utf-8"))["rows"]] == rows
    xlsx_rows = read_xlsx_rows(run / "report.xlsx")[1:]
    assert [r[0] for r in xlsx_rows] == rows and xlsx_rows[-1][-1] == "o2999"
    assert "None: every row succeeded." in (run / "report.html").read_text("utf-8")


def test_failure_midway_leaves_no_report_and_no_temp_files(tmp_path, summary, monkeypatch):
    """Results that raise midway leave no new report, no .tmp file, no openpyxl temp file, and older files intact."""
    openpyxl_tmp = tmp_path / "openpyxl-tmp"
    openpyxl_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(openpyxl_tmp))
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.csv").write_text("an earlier report\n")

    with pytest.raises(RuntimeError, match="engine crashed"):
        write(tmp_path, Counting(1_000, fail_at=500), summary)
    assert sorted(p.name for p in run.iterdir()) == ["report.csv"]
    assert (run / "report.csv").read_text() == "an earlier report\n"
    assert list(openpyxl_tmp.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to fake a full disk")
@pytest.mark.parametrize("name", ["report.csv", "report.xlsx", "report.json", "report.html", "summary.json"])
def test_full_disk_raises_oserror_and_leaves_no_temp_file(tmp_path, summary, monkeypatch, name):
    """ENOSPC while writing any file propagates as the OSError it is, leaving no .tmp, report or openpyxl file."""
    openpyxl_tmp = tmp_path / "openpyxl-tmp"
    openpyxl_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(openpyxl_tmp))
    run = tmp_path / "run"
    run.mkdir()
    (run / f"{name}.tmp").symlink_to("/dev/full")  # every write to this file fails with ENOSPC
    with pytest.raises(OSError) as info:
        write(tmp_path, Counting(2_000), summary)
    assert info.value.errno == errno.ENOSPC
    assert list(run.iterdir()) == []
    assert list(openpyxl_tmp.iterdir()) == []
