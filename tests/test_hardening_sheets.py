"""Hostile spreadsheets: a few KB that declare millions of cells (or of shared strings), a hidden first sheet,
error values, and ids a spreadsheet stored as numbers and lost digits of; read by ``bulkretry validate`` through
the real readers.

The files under ``tests/data/libreoffice/`` were saved by LibreOffice 7.4 (see ``tests/data/README.md``)."""

from __future__ import annotations

import json
import lzma
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font

from bulkretry.manifest.excel import MAX_EXACT_INTEGER, MAX_XLSX_CELLS, NotAnId, cell_text
from bulkretry.manifest.extent import MAX_ODS_ELEMENTS, MAX_SHEET_CELLS
from bulkretry.manifest.package import MAX_SHARED_STRINGS
from tests.clitools import PROJECT, run_cli

DATA = Path(__file__).parent / "data" / "libreoffice"
#: What a child reading a hostile file may take at its peak: generous (the interpreter and pandas are ~100 MB).
RSS_CEILING_MB = 400

# LibreOffice's row for a formatted column: a million empty rows, each of 16,384 empty cells.
_EMPTY_ROWS = (
    '<table:table-row table:style-name="ro1" table:number-rows-repeated="1048572">'
    '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
)


def validate(manifest: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("validate", str(manifest), "--project-id", PROJECT, "--region", "cn-north-4", *extra)


def rewritten_ods(source: Path, target: Path, old: str, new: str) -> Path:
    """A copy of the .ods *source* with *old* in its content.xml replaced by *new* (every other part as it was)."""
    return rewritten_part(source, target, "content.xml", re.escape(old.encode()), new)


def rewritten_part(source: Path, target: Path, part: str, pattern: bytes, new: str) -> Path:
    """A copy of the zipped *source* with what the regex *pattern* matches in its *part* replaced by *new*."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == part:
                assert re.search(pattern, data, re.DOTALL), (part, pattern)
                data = re.sub(pattern, lambda _: new.encode(), data, flags=re.DOTALL)
            copy.writestr(item, data)
    return target


def validate_in_child(manifest: Path) -> tuple[int, str, int]:
    """``bulkretry validate`` in a child process: its exit status, stderr and peak RSS in MB (the child's own,
    measured by a wrapper process that has no other children)."""
    command = [sys.executable, "-m", "bulkretry", "validate", str(manifest), "--project-id", PROJECT]
    wrapper = (
        "import json, resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
        "print(json.dumps([done.returncode, done.stderr, peak]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *command, "--region", "cn-north-4"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    code, err, peak = json.loads(out)
    return code, err, peak


@pytest.mark.slow
def test_an_ods_repeat_count_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A few-KB .ods whose repeated rows and cells would make a billion cells: exit 2 naming the file and the
    limit, the child's peak memory far below what expanding it takes."""
    bomb_row = (
        '<table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="string" '
        'table:number-columns-repeated="1000"><text:p>x</text:p></table:table-cell></table:table-row>'
    )
    bomb = rewritten_ods(DATA / "lo-formatted-column.ods", tmp_path / "bomb.ods", _EMPTY_ROWS, bomb_row)
    assert bomb.stat().st_size < 16 * 1024
    code, err, peak = validate_in_child(bomb)
    assert code == 2, err
    assert "bomb.ods" in err and f"over the limit of {MAX_SHEET_CELLS:,} cells" in err, err
    assert peak < RSS_CEILING_MB, f"peak RSS {peak} MB"


@pytest.mark.slow
def test_libreoffices_million_empty_rows_of_a_formatted_column_stay_free(tmp_path: Path) -> None:
    """The .ods LibreOffice saves for a sheet with a formatted column (a million empty rows repeated, 16,384 empty
    cells each) reads as its two rows; so does one whose empty rows come between rows of values."""
    code, out, err = validate(DATA / "lo-formatted-column.ods")
    assert code == 0 and "2 rows" in out and "2 to call" in out, (out, err)
    gap = '<table:table-row table:number-rows-repeated="1000"><table:table-cell table:number-columns-repeated="16384"/>'
    gap += "</table:table-row>"
    spaced = rewritten_ods(
        DATA / "lo-formatted-column.ods", tmp_path / "spaced.ods", "<table:table-row", gap + "<table:table-row"
    )
    code, out, err = validate(spaced)
    assert code == 0 and "2 rows" in out, (out, err)


def test_an_xls_whose_cells_reach_far_to_the_right_is_refused_before_it_is_padded(tmp_path: Path) -> None:
    """An .xls of 8,000 rows with a value in column IV (256) of each becomes more than the limit's cells once read:
    exit 2 naming the file and the limit, never a sheet padded to 256 columns."""
    wide = tmp_path / "wide.xls"
    wide.write_bytes(lzma.decompress((DATA / "lo-wide.xls.xz").read_bytes()))
    code, out, err = validate(wide)
    assert code == 2 and "wide.xls" in err and f"over the limit of {MAX_SHEET_CELLS:,} cells" in err, (out, err)


def test_an_xls_hidden_first_sheet_is_passed_over_and_said() -> None:
    """Without --sheet, an .xls whose first sheet is hidden is read from its first visible sheet, and the user is
    told which hidden sheet was not read; --sheet still reads the hidden one."""
    code, out, err = validate(DATA / "lo-hidden-first.xls")
    assert code == 1 and "(xls, sheet 'Current')" in out and "old-1" not in out, (out, err)
    assert "hidden sheet(s) 'Old' not read" in err, err
    code, out, err = validate(DATA / "lo-hidden-first.xls", "--sheet", "Old")
    assert code == 0 and "old-1" in out, (out, err)


def test_an_xls_formula_that_failed_makes_its_row_invalid_not_nan() -> None:
    """A formula whose value is an error (=1/0, #DIV/0!) is read as the error, and an id that is one is invalid
    with a message that says so (never the id 'nan'); a formula's computed text and number are read as values."""
    code, out, _ = validate(DATA / "lo-hidden-first.xls")
    assert code == 1 and "nan" not in out, out
    assert "invalid:group_id error value: group_id '#DIV/0!' is an error value (a formula that failed)" in out, out
    assert "tg-2 " in out and "12346 " in out, out


@pytest.mark.parametrize("suffix", ["xlsx", "xls", "ods"])
def test_an_id_stored_as_a_number_that_lost_digits_is_never_sent(suffix: str) -> None:
    """LibreOffice saves a 20-digit group id typed as a number with 15 significant digits: the row is invalid
    with a message to format the column as text, never sent as 12345678901234599936; a fraction too; a 13-digit
    number is read as its digits."""
    code, out, err = validate(DATA / f"lo-group-ids.{suffix}")
    assert code == 1, (out, err)  # validate's status for a manifest with invalid rows
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert "invalid:group_id stored as a number" in lines["2"] and "format the column as text" in lines["2"], out
    assert "invalid:group_id stored as a number" in lines["4"] and "not a whole number" in lines["4"], out
    assert lines["3"].split()[1:3] == ["tg-0001", "ok"] and lines["5"].split()[1:3] == ["1712345678901", "ok"], out
    assert "2 to call" in out and "2 invalid" in out, out


@pytest.mark.parametrize("suffix", ["xlsx", "xls", "ods"])
def test_a_13_digit_task_id_stored_as_a_number_is_read_as_its_digits(suffix: str) -> None:
    """Task ids LibreOffice stored as numbers (13 digits, which a float holds exactly) are called as their digits,
    never 1.7e12 or 1712345678901.0."""
    code, out, err = validate(DATA / f"lo-task-ids.{suffix}", "--action", "start", "--target", "tasks")
    assert code == 0 and "2 to call" in out, (out, err)
    assert "1712345678901 " in out and "1712345678902 " in out and "e+" not in out and ".0 " not in out, out


def test_numbers_that_hold_no_id_exactly_are_marked_and_keep_their_text() -> None:
    """cell_text marks an integer from 2**53 up, and a fraction, as no id (its text as before); an integer below
    2**53 is plain digits."""
    assert type(cell_text(float(MAX_EXACT_INTEGER - 1), None)) is str
    assert cell_text(1712345678901.0, None) == "1712345678901"
    for value, text in [(float(MAX_EXACT_INTEGER), "9007199254740992"), (1e20, "100000000000000000000"), (1.5, "1.5")]:
        cell = cell_text(value, None)
        assert isinstance(cell, NotAnId) and cell == text and cell.code == "stored as a number"


def test_the_fixtures_are_what_libreoffice_wrote() -> None:
    """The committed files are the office suite's own (its XML and its BIFF), not openpyxl's."""
    with zipfile.ZipFile(DATA / "lo-group-ids.ods") as ods:
        assert b"LibreOffice" in ods.read("meta.xml")
    with zipfile.ZipFile(DATA / "lo-group-ids.xlsx") as xlsx:
        assert b"LibreOffice" in xlsx.read("docProps/app.xml")


@pytest.mark.slow
def test_an_ods_of_too_many_xml_elements_is_refused_before_odfpy_loads_it(tmp_path: Path) -> None:
    """An .ods of 300,000 distinct empty-looking cells (text without a value type: no content, but odfpy keeps every
    element in memory) is refused by its element count, in bounded memory, before odfpy loads it."""
    cell = "<table:table-cell><text:p>{}</text:p></table:table-cell>"
    rows = "".join(
        "<table:table-row>"
        + "".join(cell.format(f"{row:x}{column:x}") for column in range(1000))
        + "</table:table-row>"
        for row in range(300)
    )
    crowded = rewritten_ods(DATA / "lo-formatted-column.ods", tmp_path / "crowded.ods", _EMPTY_ROWS, rows)
    code, err, peak = validate_in_child(crowded)
    assert code == 2 and "crowded.ods" in err and f"more than {MAX_ODS_ELEMENTS:,} XML elements" in err, err
    assert peak < RSS_CEILING_MB, f"peak RSS {peak} MB"


def test_an_ods_without_its_content_is_named_damaged(tmp_path: Path) -> None:
    """An .ods whose content.xml is missing or not XML: 'is damaged or not an OpenDocument spreadsheet', exit 2."""
    for name, content in [("missing.ods", None), ("broken.ods", b"<office:document-content")]:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
            if content is not None:
                archive.writestr("content.xml", content)
        code, out, err = validate(path)
        assert code == 2 and f"{name}: is damaged or not an OpenDocument spreadsheet" in err, (out, err)


def xlsx_with_rows(target: Path, rows: str) -> Path:
    """A workbook openpyxl saved with its first sheet's rows replaced by the XML *rows* (cells written inline;
    ``s="1"`` is a bold style)."""
    template = target.with_name(f"template-{target.name}")
    book = Workbook()
    book.active["A1"] = "group_id"
    book.active["A1"].font = Font(bold=True)
    book.save(template)
    return rewritten_part(template, target, "xl/worksheets/sheet1.xml", rb"<sheetData>.*</sheetData>", rows)


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def test_an_xlsx_with_a_styled_empty_cell_at_xfd_on_every_row_reads_as_its_values(tmp_path: Path) -> None:
    """A formatted column far to the right (a styled empty cell in XFD, the 16,384th, on each of 20,000 rows)
    pads no row out to it: the rows read as their one value each, as from a sheet without the style."""
    rows = "".join(
        f'<row r="{n}">{inline(f"A{n}", "group_id" if n == 1 else f"tg-{n}")}<c r="XFD{n}" s="1"/></row>'
        for n in range(1, 20_002)
    )
    code, out, err = validate(xlsx_with_rows(tmp_path / "styled.xlsx", f"<sheetData>{rows}</sheetData>"))
    assert code == 0 and "20000 rows" in out and "20000 to call" in out, (out, err)


def test_an_xlsx_with_a_value_at_xfd_on_every_row_is_refused_by_its_cells(tmp_path: Path) -> None:
    """A header and 1,300 rows with a value in column XFD: each row becomes 16,384 cells, and the sheet more than
    the limit's by row 1,222: exit 2 naming the file, the row and the limit, in bounded memory."""
    rows = "".join(
        f'<row r="{n}">{inline(f"A{n}", "group_id" if n == 1 else f"tg-{n}")}'
        f"{inline(f'XFD{n}', 'note' if n == 1 else 'far')}</row>"
        for n in range(1, 1_302)
    )
    wide = xlsx_with_rows(tmp_path / "wide.xlsx", f"<sheetData>{rows}</sheetData>")
    assert wide.stat().st_size < 64 * 1024
    code, err, peak = validate_in_child(wide)
    assert code == 2, err
    assert "wide.xlsx" in err and f"more than {MAX_XLSX_CELLS:,} cells" in err, err
    assert f"row {1 + MAX_XLSX_CELLS // 16_384 + 1}" in err, err  # the header's row, read apart, is not counted
    assert peak < RSS_CEILING_MB, f"peak RSS {peak} MB"


@pytest.mark.slow
def test_an_xlsx_of_too_many_shared_strings_is_refused_before_openpyxl_loads_them(tmp_path: Path) -> None:
    """A LibreOffice workbook given 1,000,001 distinct shared strings (openpyxl would keep them all, about 300 MB):
    they are counted as the part is inflated and refused at the limit, exit 2 naming the file and the limit, the
    child's peak memory far below what loading them takes."""
    strings = "".join(f"<si><t>{n:x}</t></si>" for n in range(MAX_SHARED_STRINGS + 1))
    source = DATA / "lo-group-ids.xlsx"
    crowded = rewritten_part(source, tmp_path / "strings.xlsx", "xl/sharedStrings.xml", rb"<si>.*</si>", strings)
    code, err, peak = validate_in_child(crowded)
    assert code == 2, err
    assert "strings.xlsx" in err and f"more than {MAX_SHARED_STRINGS:,} different texts" in err, err
    assert peak < 150, f"peak RSS {peak} MB"
