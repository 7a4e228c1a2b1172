"""Manifests as offices keep them: ``.xls`` and ``.ods`` read through pandas (xlrd, odfpy), Chinese intact; a file
renamed to another spreadsheet's suffix named for what it is; formats not read (WPS ``.et``, ``.numbers``, ``.xlsb``)
told to be saved as ``.xlsx`` or ``.csv``.

``tests/data/manifest-zh.xls`` is a real BIFF8 workbook written by xlwt 1.3.0 (see ``tests/data/README.md``);
``.ods`` files are written here by pandas with odfpy."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from bulkretry.errors import ManifestError
from bulkretry.sim import SimulatorThread
from tests.clitools import PROJECT, run_argv, run_cli, use_sim_credentials
from tests.manifests import read_all

XLS = Path(__file__).parent / "data" / "manifest-zh.xls"


def error_of(path: Path, **kw: object) -> str:
    with pytest.raises(ManifestError) as caught:
        read_all(path, **kw)
    assert path.name in str(caught.value) and "Traceback" not in str(caught.value)
    return str(caught.value)


def write_ods(path: Path, rows: list[list[object]], sheet: str = "迁移任务组") -> Path:
    with pd.ExcelWriter(path, engine="odf") as writer:
        pd.DataFrame(rows).to_excel(writer, sheet_name=sheet, header=False, index=False)
        pd.DataFrame([["这一页不是清单"]]).to_excel(writer, sheet_name="说明", header=False, index=False)
    return path


def write_xlsx(path: Path) -> Path:
    book = Workbook()
    book.active.append(["group_id"])
    book.active.append(["g1"])
    book.save(path)
    return path


ODS_ROWS: list[list[object]] = [
    ["任务组ID", "项目ID", "备注", "数量", "日期"],
    ["tg-1", PROJECT, "第一批：华北", 12345, dt.date(2026, 11, 24)],
    [None, None, None, None, None],
    ["0012", PROJECT, "前导零要保留", 1.5, None],
]


def test_an_xls_workbook_is_read_cell_for_cell_with_chinese_intact() -> None:
    """The first sheet of a real .xls: the header on row 2 (a blank row above), a blank row kept in the count,
    numbers, a date and a boolean as the user sees them, Chinese headers matched by alias and cells unchanged."""
    info, rows = read_all(XLS)
    assert (info.kind, info.sheet, info.header_row) == ("xls", "迁移任务组", 2)
    assert info.headers == ("任务组ID", "项目ID", "区域", "备注", "数量", "日期")
    assert info.columns == ("group_id", "project_id", "region", "备注", "数量", "日期")
    assert [r.row for r in rows] == [3, 5, 6]
    assert [list(r.values.values()) for r in rows] == [
        ["tg-0001", PROJECT, "cn-north-4", "第一批：华北", "12345", "2026-11-24"],
        ["0012", PROJECT, "cn-north-4", "前导零要保留", "1.5", ""],
        ["tg-0003", PROJECT, "cn-east-3", "", "TRUE", ""],
    ]


def test_an_xls_sheet_is_picked_by_name() -> None:
    """--sheet names another sheet (one without a group_id column here), or one that is not there."""
    assert "no group_id column" in error_of(XLS, sheet="说明")
    assert "has no sheet 'nope'; its sheets are '迁移任务组', '说明'" in error_of(XLS, sheet="nope")
    assert "is for a CSV file and this is a workbook" in error_of(XLS, encoding="gbk")


def test_an_ods_spreadsheet_is_read_with_chinese_intact(tmp_path: Path) -> None:
    """An .ods written by pandas/odfpy: the same cells as text, row numbers as the spreadsheet shows them."""
    info, rows = read_all(write_ods(tmp_path / "清单.ods", ODS_ROWS))
    assert (info.kind, info.sheet, info.header_row) == ("ods", "迁移任务组", 1)
    assert info.columns == ("group_id", "project_id", "备注", "数量", "日期")
    assert [(r.row, list(r.values.values())) for r in rows] == [
        (2, ["tg-1", PROJECT, "第一批：华北", "12345", "2026-11-24"]),
        (4, ["0012", PROJECT, "前导零要保留", "1.5", ""]),
    ]


def test_renamed_spreadsheets_are_named_for_what_they_are(tmp_path: Path) -> None:
    """An .ods or .xls renamed .xlsx, an .xlsx renamed .xls/.ods/.csv: a message naming the real format and the
    fix, never a KeyError from the wrong reader."""
    ods = write_ods(tmp_path / "a.ods", ODS_ROWS)
    xlsx = write_xlsx(tmp_path / "a.xlsx")
    cases = {
        (ods, "m.xlsx"): "is an OpenDocument spreadsheet (.ods, LibreOffice or WPS) saved with the name .xlsx: "
        "rename it to .ods, or save it as .xlsx",
        (ods, "m.xls"): "is an OpenDocument spreadsheet (.ods, LibreOffice or WPS) saved with the name .xls: "
        "rename it to .ods",
        (XLS, "m.xlsx"): "is an Excel 97-2003 workbook (.xls, or a WPS .et) saved with the name .xlsx: rename it "
        "to .xls",
        (XLS, "m.ods"): "saved with the name .ods: rename it to .xls",
        (xlsx, "m.xls"): "is an Excel workbook (.xlsx) saved with the name .xls: rename it to .xlsx",
        (xlsx, "m.ods"): "is an Excel workbook (.xlsx) saved with the name .ods: rename it to .xlsx",
        (xlsx, "m.csv"): "is an Excel workbook (.xlsx) saved with the name .csv: rename it to .xlsx",
        (XLS, "m.csv"): "saved with the name .csv: rename it to .xls",
    }
    for (source, name), message in cases.items():
        target = tmp_path / "renamed" / name
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
        assert message in error_of(target), (source.name, name)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.xls", b"group_id\ng1\n", "is not an Excel 97-2003 workbook (.xls): it looks like text (a CSV renamed?)"),
        (
            "m.xls",
            b"<html><body><table><tr><td>group_id</td></tr></table></body></html>",
            "is not an Excel 97-2003 workbook (.xls): it is a web page (HTML",
        ),
        ("m.ods", b"group_id\ng1\n", "is not an OpenDocument spreadsheet (.ods): it looks like text"),
        ("m.ods", b"\x00\x01\x02binary", "is not an OpenDocument spreadsheet (.ods): it is not a zip archive"),
    ],
)
def test_text_saved_under_a_spreadsheet_name_says_so(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert message in error_of(path)


def test_other_zip_formats_named_as_spreadsheets_say_what_they_are(tmp_path: Path) -> None:
    """An .xlsb, a Numbers file or an OpenDocument text named .xlsx/.ods: not read, save it as .xlsx or .csv."""
    for name, members, what in [
        ("b.xlsx", {"[Content_Types].xml": "", "xl/workbook.bin": ""}, "an Excel binary workbook (.xlsb)"),
        ("n.xlsx", {"Index/Document.iwa": ""}, "an Apple Numbers file"),
        (
            "t.ods",
            {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": ""},
            "an OpenDocument file that is not a spreadsheet",
        ),
    ]:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for member, text in members.items():
                archive.writestr(member, text)
        assert (
            f"it is {what}, saved with the name {path.suffix}; open it in its program and save it as .xlsx or "
            ".csv" in error_of(path)
        )


@pytest.mark.parametrize(
    ("suffix", "hint"),
    [
        (".et", "a WPS Spreadsheets workbook: in WPS, File > Save As > Excel workbook (.xlsx), or CSV"),
        (".numbers", "an Apple Numbers file"),
        (".xlsb", "an Excel binary workbook"),
        (".wps", "save it as .xlsx or .csv"),
    ],
)
def test_formats_not_read_say_save_as_xlsx_or_csv(tmp_path: Path, suffix: str, hint: str) -> None:
    path = tmp_path / f"m{suffix}"
    shutil.copyfile(XLS, path)  # a WPS .et is an OLE2 file much like an .xls: refused by its name all the same
    message = error_of(path)
    assert hint in message and "save it as .xlsx or .csv" in message and ".ods" in message, message


def test_an_ods_manifest_runs_end_to_end_and_its_chinese_columns_reach_the_report(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bulkretry run on an .ods against the simulator: every group retried, the Chinese column in report.csv, and
    no annotated copy but a note saying why and where the rows are."""
    use_sim_credentials(monkeypatch, sim_thread.simulator.config)
    groups = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]][:3]
    rows: list[list[object]] = [["任务组ID", "备注"], *([g, f"第{i}批"] for i, g in enumerate(groups))]
    manifest = write_ods(tmp_path / "清单.ods", rows)
    code, out, err = run_cli(*run_argv(manifest, sim_thread.url, PROJECT, tmp_path / "run", "--quiet"))
    assert code == 0, (out, err)
    with open(tmp_path / "run" / "report.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["group_id"], r["outcome"], r["备注"]) for r in rows] == [
        (g, "succeeded", f"第{i}批") for i, g in enumerate(groups)
    ]
    assert "no annotated manifest: an .ods manifest is not annotated" in err and "report.xlsx" in err, err
    assert not list((tmp_path / "run").glob("annotated*"))
    code, out, err = run_cli("validate", str(XLS), "--project-id", PROJECT)
    assert code == 0 and "(xls, sheet '迁移任务组'): 3 rows" in out, (out, err)


def test_a_sheet_read_again_after_it_changed_gives_the_new_cells(tmp_path: Path) -> None:
    """The last sheet read is kept for the run's later passes, but never once the file changed."""
    path = write_ods(tmp_path / "m.ods", [["group_id"], ["g1"]])
    assert [r.values["group_id"] for r in read_all(path)[1]] == ["g1"]
    write_ods(path, [["group_id"], ["g2"], ["g3"]])
    assert [r.values["group_id"] for r in read_all(path)[1]] == ["g2", "g3"]
    assert [r.values["group_id"] for r in read_all(path)[1]] == ["g2", "g3"]
    assert "no group_id column" in error_of(path, sheet="说明")
