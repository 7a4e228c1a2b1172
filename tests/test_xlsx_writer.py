"""The streaming xlsx writer on its own: characters XML cannot hold, and the zip member limit."""

from __future__ import annotations

import openpyxl
import pytest

from bulkretry.report import xlsx_writer
from bulkretry.report.xlsx_writer import StreamingWorkbook
from tests.test_report import read_xlsx_rows, xml_parts


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
