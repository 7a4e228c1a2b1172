"""The streaming xlsx writer on its own: characters XML cannot hold, and the zip member limit."""

from __future__ import annotations

import openpyxl
import pytest

from bulkretry.records import REPORT_COLUMNS, Outcome
from bulkretry.report import write_reports, xlsx_writer
from bulkretry.report.xlsx_writer import StreamingWorkbook
from tests.reports import read_xlsx_rows, xml_parts
from tests.test_html_report import result, summary_of


def test_xlsx_writer_itself_never_writes_what_xml_cannot_hold(tmp_path):
    """Given such characters directly, the writer drops them too, keeps CR and edge spaces, and cuts long text."""
    path = tmp_path / "w.xlsx"
    with StreamingWorkbook(path) as book:
        sheet = book.add_sheet("S & <T>", widths=(10, 20))
        sheet.write_row(["a\x0b\ufffe\ud800b\uffff\x00", "\r\n lead ", "😀" * 20_000, "\x0b", 1.5, float("nan"), True])
    xml_parts(path)
    ws = openpyxl.load_workbook(path)["S & <T>"]
    assert [c.value for c in ws[1]][:3] == ["ab", "\r\n lead ", "😀" * 16_383]  # 32,767 UTF-16 code units at most
    assert [c.value for c in ws[1]][3:] == [None, 1.5, None, True]


def test_xlsx_writer_refuses_a_sheet_a_plain_zip_member_cannot_hold(tmp_path, monkeypatch):
    """A sheet that would pass the zip member limit raises (clearly, early) unless the workbook is ZIP64."""
    monkeypatch.setattr(xlsx_writer, "MAX_SHEET_BYTES", 10_000)
    book = StreamingWorkbook(tmp_path / "plain.xlsx", buffer_size=1_000)
    sheet = book.add_sheet("S")
    with pytest.raises(ValueError, match="ZIP64"):
        for i in range(1_000):
            sheet.write_row([i, "x" * 100])
    book.abort()
    book.abort()  # again: still quiet

    with StreamingWorkbook(tmp_path / "zip64.xlsx", buffer_size=1_000, zip64=True) as book:
        sheet = book.add_sheet("S")
        for i in range(1_000):
            sheet.write_row([i, "x" * 100])
    assert len(read_xlsx_rows(tmp_path / "zip64.xlsx", "S")) == 1_000


def test_every_sheet_carries_its_dimension_for_readers_that_size_it_first(tmp_path):
    """openpyxl read-only takes max_row/max_column from <dimension>: right for every sheet, an empty one included,
    of a workbook written to a path and of report.xlsx (Summary and Rows); the spool files are gone afterwards."""
    path = tmp_path / "d.xlsx"
    with StreamingWorkbook(path, buffer_size=1_000) as book:
        wide = book.add_sheet("Wide")
        for i in range(2_500):
            wide.write_row([i, "x" * 30, None, ""] + ([1.5] * 27 if i == 1_234 else []))
        book.add_sheet("Empty")
        one = book.add_sheet("One")
        one.write_row(["only"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.xlsx"]
    book = openpyxl.load_workbook(path, read_only=True)
    assert [(ws.title, ws.max_row, ws.max_column) for ws in book] == [
        ("Wide", 2_500, 31),
        ("Empty", 1, 1),
        ("One", 1, 1),
    ]
    assert [b"<dimension" in xml for name, xml in xml_parts(path).items() if "worksheets/" in name] == [True] * 3
    book.close()

    rows = [result(i, Outcome.FAILED, error_code="OMS.1015", extra=(("备注", f"n{i}"),)) for i in range(2, 1_302)]
    write_reports(tmp_path / "run", rows, summary_of(rows), formats=("xlsx",), extra_columns=("备注",))
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx", read_only=True)
    full = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    for ws in book:
        assert (ws.max_row, ws.max_column) == (full[ws.title].max_row, full[ws.title].max_column), ws.title
    assert (book["Rows"].max_row, book["Rows"].max_column) == (1_301, len(REPORT_COLUMNS) + 1)
    book.close()
