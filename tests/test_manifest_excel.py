"""Reading Excel manifests: cells as the user sees them, sheets, hidden sheets, formulas, zip bombs."""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

from bulkretry.errors import ManifestError
from bulkretry.manifest.read import (
    count_rows,
    iter_rows,
    open_manifest,
)
from tests.manifests import manifest_error, read_all, write_csv, write_xlsx

# ---------------------------------------------------------------------------------------------- Excel


def _typed_cells_workbook(path: Path) -> Path:
    """A workbook of one header and two rows of Excel's own types: numbers (some zero-padded by their format),
    booleans, dates, times, an empty cell, text that looks like a number, a formula."""
    wb = Workbook()
    ws = wb.active
    ws.append(
        [
            "group_id",
            "int",
            "float",
            "whole",
            "padded",
            "bool",
            "date",
            "datetime",
            "time",
            "empty",
            "text",
            "big",
            "formula",
        ]
    )
    ws.append(
        [
            12345,
            42,
            1.5,
            3.0,
            12345,
            True,
            dt.date(2024, 1, 1),
            dt.datetime(2024, 1, 2, 13, 45, 6),
            dt.time(8, 30),
            None,
            "0012345",
            123456789012345.0,
            "=1+1",
        ]
    )
    ws.append(["g2", -7, 0.1 + 0.2, 1e20, -42, False, None, None, None, None, " keep spaces ", 0, None])
    ws["E2"].number_format = "000000000"
    ws["E3"].number_format = "00000"
    wb.save(path)
    return path


def test_xlsx_cells_read_as_the_user_sees_them(tmp_path: Path) -> None:
    """Numbers, zero-padded formats, booleans, dates and times in Excel come back as text."""
    path = _typed_cells_workbook(tmp_path / "m.xlsx")
    info, rows = read_all(path)
    assert info.kind == "xlsx" and info.sheet == "Sheet" and info.encoding is None and info.delimiter is None
    assert list(rows[0].values.values()) == [
        "12345",
        "42",
        "1.5",
        "3",
        "000012345",
        "TRUE",
        "2024-01-01",
        "2024-01-02T13:45:06",
        "08:30:00",
        "",
        "0012345",
        "123456789012345",
        "",
    ]
    assert list(rows[1].values.values()) == [
        "g2",
        "-7",
        "0.3",
        "100000000000000000000",
        "-00042",
        "FALSE",
        "",
        "",
        "",
        "",
        " keep spaces ",
        "0",
        "",
    ]


def test_xlsx_chinese_headers_and_unknown_columns(tmp_path: Path) -> None:
    """Chinese alias headers map to canonical names; other columns keep theirs, in order."""
    path = write_xlsx(tmp_path / "m.xlsx", [["负责人", "迁移任务组ID", "源端AK", "源端SK"], ["王伟", "g1", "AK", "SK"]])
    info, rows = read_all(path)
    assert info.columns == ("负责人", "group_id", "src_ak", "src_sk")
    assert rows[0].values == {"负责人": "王伟", "group_id": "g1", "src_ak": "AK", "src_sk": "SK"}


def test_xlsx_row_numbers_are_the_sheets(tmp_path: Path) -> None:
    """Blank rows (missing or with empty cells) are skipped but the sheet's row numbers are kept."""
    path = tmp_path / "m.xlsx"
    wb = Workbook()
    ws = wb.active
    ws["B3"], ws["C3"] = "group_id", "note"
    ws["B4"] = "g1"
    ws["B5"] = ""  # an empty string cell is blank too
    ws["C6"].number_format = "0.00"  # a styled, empty cell
    ws["B9"], ws["C9"] = "g2", "x"
    ws["C10"] = "only a note"
    wb.save(path)
    info, rows = read_all(path)
    assert info.header_row == 3
    assert info.columns == ("column A", "group_id", "note")  # the table starts in column B
    assert [(r.row, r.values) for r in rows] == [
        (4, {"column A": "", "group_id": "g1", "note": ""}),
        (9, {"column A": "", "group_id": "g2", "note": "x"}),
        (10, {"column A": "", "group_id": "", "note": "only a note"}),
    ]


def test_xlsx_trailing_empty_headers_are_ignored_and_stray_values_rejected(tmp_path: Path) -> None:
    """Empty header cells at the end are dropped; a value under no header is a ManifestError with row/column."""
    path = write_xlsx(tmp_path / "m.xlsx", [["group_id", "note", None, ""], ["g1", "a", None, ""], ["g2", "b", "x"]])
    info = open_manifest(path)
    assert info.headers == ("group_id", "note")
    rows = iter_rows(info)
    assert next(rows).values == {"group_id": "g1", "note": "a"}
    with pytest.raises(ManifestError) as caught:
        next(rows)
    assert (caught.value.row, caught.value.column) == (3, "C")


def test_xlsx_sheet_selection(tmp_path: Path) -> None:
    """The first sheet by default; sheet= picks another by name (case-insensitive if unambiguous)."""
    path = write_xlsx(
        tmp_path / "m.xlsx", [["group_id"], ["first"]], title="One", more={"迁移任务组": [["任务组ID"], ["second"]]}
    )
    info, rows = read_all(path)
    assert (info.sheet, rows[0].values["group_id"]) == ("One", "first")
    info, rows = read_all(path, sheet="迁移任务组")
    assert (info.sheet, rows[0].values["group_id"]) == ("迁移任务组", "second")
    info, _ = read_all(path, sheet="one")
    assert info.sheet == "One"


def _hidden_workbook(path: Path, states: Sequence[str]) -> Path:
    """A workbook whose sheets S0, S1… have the given states, each with one row naming its sheet."""
    wb = Workbook()
    for index, state in enumerate(states):
        ws = wb.active if index == 0 else wb.create_sheet()
        ws.title = f"S{index}"
        ws.append(["group_id"])
        ws.append([f"from-S{index}"])
        ws.sheet_state = "visible" if index == len(states) - 1 else state
    wb.active = len(states) - 1
    wb.save(path)  # openpyxl saves only a workbook with a visible sheet: the last one is given its state after
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    last = f'name="S{len(states) - 1}" sheetId="{len(states)}" state="visible"'.encode()
    assert last in parts["xl/workbook.xml"]
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(last, last.replace(b"visible", states[-1].encode()))
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_xlsx_hidden_sheets_are_passed_over_and_said(tmp_path: Path) -> None:
    """Without sheet=, hidden and very hidden sheets are not read: the first visible one is, and info names the
    hidden sheets passed over; sheet= naming a hidden sheet still reads it."""
    path = _hidden_workbook(tmp_path / "m.xlsx", ["hidden", "veryHidden", "visible", "visible"])
    info, rows = read_all(path)
    assert (info.sheet, info.hidden_sheets) == ("S2", ("S0", "S1"))
    assert [r.values["group_id"] for r in rows] == ["from-S2"]
    info, rows = read_all(path, sheet="S1")
    assert (info.sheet, info.hidden_sheets, rows[0].values["group_id"]) == ("S1", (), "from-S1")
    info, _ = read_all(write_xlsx(tmp_path / "plain.xlsx", [["group_id"], ["g1"]]))
    assert info.hidden_sheets == ()


def test_xlsx_with_only_hidden_sheets_is_an_error_naming_them(tmp_path: Path) -> None:
    """Every worksheet hidden: a ManifestError naming the hidden sheets and --sheet, never a hidden sheet read."""
    path = _hidden_workbook(tmp_path / "m.xlsx", ["hidden", "veryHidden"])
    err = manifest_error(path)
    assert "'S0'" in str(err) and "'S1'" in str(err) and "--sheet" in str(err)


def test_an_option_for_the_other_kind_of_file_is_an_error_not_ignored(tmp_path: Path) -> None:
    """sheet= on a CSV, and encoding=/delimiter= on a workbook, are refused naming the option, not silently ignored."""
    csv_path = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    assert "--sheet" in str(manifest_error(csv_path, sheet="Sheet1"))
    book = write_xlsx(tmp_path / "m.xlsx", [["group_id"], ["g1"]])
    assert "--encoding" in str(manifest_error(book, encoding="utf-8"))
    assert "--delimiter" in str(manifest_error(book, delimiter=";"))


def test_messages_quote_a_short_prefix_of_a_huge_header_or_cell(tmp_path: Path) -> None:
    """A 1 MB header or stray cell is quoted by a short prefix in the error message, not whole."""
    huge = "h" * 100_000  # under the csv module's 131072-character field limit
    no_group = write_csv(tmp_path / "a.csv", [[huge, "x"], ["1", "2"]])
    assert len(str(manifest_error(no_group))) < 1000
    stray = write_csv(tmp_path / "b.csv", [["group_id"], ["g1", huge]])
    assert len(str(manifest_error(stray))) < 1000
    clash = write_csv(tmp_path / "c.csv", [["group_id", " group id" + " " * 100_000], ["g1", "g1"]])
    assert len(str(manifest_error(clash))) < 1000


def test_xlsx_missing_sheet_lists_the_sheets(tmp_path: Path) -> None:
    """An unknown sheet name is a ManifestError listing the workbook's sheets."""
    path = write_xlsx(tmp_path / "m.xlsx", [["group_id"], ["g"]], title="One", more={"Two": []})
    err = manifest_error(path, sheet="Three")
    assert "'Three'" in str(err)
    assert "'One', 'Two'" in str(err)


def test_xlsx_header_errors(tmp_path: Path) -> None:
    """Excel gets the same header checks: no rows, no group_id, an empty sheet."""
    assert "has a header but no rows" in str(manifest_error(write_xlsx(tmp_path / "a.xlsx", [["group_id"]])))
    assert "no group_id column" in str(manifest_error(write_xlsx(tmp_path / "b.xlsx", [["id"], ["g"]])))
    assert "no header row" in str(manifest_error(write_xlsx(tmp_path / "c.xlsx", [])))


def _open_handles(path: Path) -> int:
    """How many of this process's file descriptors point at *path*."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_xlsx_workbook_is_closed_after_reading(tmp_path: Path) -> None:
    """Neither open_manifest nor a finished or abandoned iteration leaves the workbook open."""
    path = write_xlsx(tmp_path / "m.xlsx", [["group_id"], *[[f"g{i}"] for i in range(5)]])
    info = open_manifest(path)
    assert _open_handles(path) == 0
    assert len(list(iter_rows(info))) == 5
    assert _open_handles(path) == 0
    rows = iter_rows(info)
    next(rows)
    assert _open_handles(path) == 1
    rows.close()
    assert _open_handles(path) == 0


def _padded_workbook(path: Path, padding: int, *, level: int = 9, fill: bytes = b" ") -> Path:
    """A valid one-row workbook whose sheet XML ends with *padding* bytes of *fill* (whitespace XML allows)."""
    write_xlsx(path, [["group_id"], ["g1"]])
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                archive.writestr(name, data)
                continue
            with archive.open(name, "w", force_zip64=True) as part:
                part.write(data)
                chunk = fill * (1 << 22)
                for _ in range(padding // len(chunk)):
                    part.write(chunk)
    return path


def test_xlsx_zip_bomb_part_is_refused_by_its_ratio(tmp_path: Path) -> None:
    """A sheet part of 32 MB of one byte (about 32 KB compressed) is refused up front, naming the part and ratio."""
    err = manifest_error(_padded_workbook(tmp_path / "bomb.xlsx", 32 << 20))
    assert "sheet1.xml" in str(err) and "250 times" in str(err)


@pytest.mark.slow
def test_xlsx_inflating_past_the_size_limit_is_refused(tmp_path: Path) -> None:
    """A workbook whose parts declare more than the limit (600 MB here) is refused naming the limit in MB."""
    err = manifest_error(_padded_workbook(tmp_path / "big.xlsx", 600 << 20, level=1))
    assert "512 MB" in str(err)


def test_xlsx_formulas_without_a_cached_value_are_named_per_row(tmp_path: Path) -> None:
    """Formula cells a tool saved without computing them (openpyxl) are named in RawRow.formulas; a row of only
    such cells is not skipped as blank; cells with values, and formulas in unknown columns, still read as text."""
    wb = Workbook()
    ws = wb.active
    ws.append(["group_id", "src_sk", "note"])
    ws.append(["g1", '=A2&"-sk"', "=1+1"])
    ws.append(["g2", "plain-sk", "n"])
    ws.append(['=CONCAT("g","3")', None, None])
    wb.save(tmp_path / "f.xlsx")
    info, rows = read_all(tmp_path / "f.xlsx")
    assert [(r.row, r.values["group_id"], r.values["src_sk"], r.formulas) for r in rows] == [
        (2, "g1", "", ("src_sk", "note")),
        (3, "g2", "plain-sk", ()),
        (4, "", "", ("group_id",)),
    ]
    assert count_rows(info) == 3
    _, rows = read_all(write_xlsx(tmp_path / "plain.xlsx", [["group_id"], ["g1"]]))
    assert rows[0].formulas == ()


def test_xlsx_read_in_step_with_its_formulas_gives_the_rows_a_csv_gives(tmp_path: Path) -> None:
    """A sheet the formula scan flags (here by a ':f ' in a note) is read twice in step: its rows are exactly those
    of the same table as CSV (blank rows, short rows, unknown columns), none with formulas."""
    table = [
        ["group_id", "src_sk", "note", "other"],
        ["g1", "sk1", "a:f b", ""],
        ["", "", "", ""],
        ["g2", "", "", "x"],
        ["", "", "only note", ""],
        ["g3", "sk3", "", ""],
    ]
    _, from_xlsx = read_all(write_xlsx(tmp_path / "m.xlsx", [[c or None for c in r] for r in table]))
    _, from_csv = read_all(write_csv(tmp_path / "m.csv", table))
    assert from_xlsx == from_csv
    assert [r.row for r in from_xlsx] == [2, 4, 5, 6]
