"""report.xlsx: its sheets, cells read back like the csv, the package, limits and memory."""

from __future__ import annotations

import json
import struct
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

import openpyxl
import pytest

from bulkretry.records import REPORT_COLUMNS, RowResult, RunSummary
from bulkretry.report import xlsx_package
from bulkretry.report.xlsx_report import XlsxReport
from tests.reports import HEADER, read_csv, read_xlsx_rows, result, write, xml_parts

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
