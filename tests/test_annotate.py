"""annotated.xlsx / annotated.csv: the manifest with each row's outcome, secrets masked, nothing runnable added."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from bulkretry.manifest import annotate_xlsx, package
from bulkretry.manifest.annotate import (
    ANNOTATION_COLUMNS,
    OUTCOME_COLOURS,
    Annotated,
    AnnotatedWriter,
    write_annotated,
)
from bulkretry.manifest.read import iter_rows, open_manifest
from bulkretry.masking import MASKED, mask
from bulkretry.records import Outcome, RowResult
from bulkretry.run.journal import Journal
from tests.clitools import SAMPLES

HOSTILE_MSG = "=cmd|'/C calc'!A0"
HOSTILE_ID = "</t><script>\x07"

# Secrets of the generated manifests: none of them may appear in an annotated file.
SRC_SK = "SK-SECRET-SRC-7f3a9c"
DST_SK = "SK-SECRET-DST-b81e44"
KEY_JSON = '{"type": "service_account", "private_key": "PRIVKEY-SECRET-1d2e"}'
CONN = "Server=db;Password=CONNPW-SECRET-99"
SECRETS = (SRC_SK, DST_SK, "PRIVKEY-SECRET-1d2e", "CONNPW-SECRET-99")
AK = "AKIAREALACCESSKEY0001"


def result(row: int, group_id: str, outcome: Outcome = Outcome.SUCCEEDED, **fields) -> RowResult:
    """A row result; ``fields`` add error_code, error_msg, request_id..."""
    return RowResult(row=row, project_id="p-0001", group_id=group_id, outcome=outcome, **fields)


def all_parts(path: Path) -> bytes:
    """Every part of an xlsx, decompressed and joined, to scan for bytes that must not be there."""
    with zipfile.ZipFile(path) as archive:
        return b"\n".join(archive.read(name) for name in archive.namelist())


def rgb(cell) -> str | None:
    """A cell's solid fill colour as RRGGBB, or None without a fill."""
    return str(cell.fill.fgColor.rgb)[-6:] if cell.fill.fill_type == "solid" else None


def make_workbook(path: Path) -> None:
    """A workbook whose manifest is its second sheet: header on row 2, a blank row 5, secrets, a formula elsewhere."""
    book = openpyxl.Workbook()
    intro = book.active
    intro.title = "说明"
    intro["A1"] = "read me first"
    intro["B1"] = 2
    intro["B2"] = 3
    intro["C1"] = "=SUM(B1:B2)"
    ws = book.create_sheet("清单")
    ws.append([])
    ws.append(["group_id", "src_ak", "源端SK", "dst_sk", "json_auth_file", "connection_string", "owner"])
    ws.append(["g-0001", AK, SRC_SK, "env:DST_SK", KEY_JSON, CONN, "alice"])
    ws.append(["g-0002", "env:SRC_AK", "env:SRC_SK", DST_SK, "", "", "bob"])
    ws.append([])
    ws.append(["g-0004", AK, SRC_SK, "=说明!A1", "", "", "carol"])
    ws.column_dimensions["A"].width = 41
    ws.freeze_panes = "B3"
    ws.auto_filter.ref = "A2:G6"
    book.create_sheet("Notes")["A1"] = "kept"
    book.save(path)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """The generated workbook, with its manifest on sheet 清单."""
    path = tmp_path / "in" / "manifest.xlsx"
    path.parent.mkdir()
    make_workbook(path)
    return path


def workbook_results() -> list[RowResult]:
    """Row 3 succeeded, row 4 failed with hostile server text, row 6 invalid; row 5 is blank."""
    return [
        result(3, "g-0001", request_id="req-3"),
        result(4, "g-0002", Outcome.FAILED, error_code="OMS.1015", error_msg=HOSTILE_MSG, request_id=HOSTILE_ID),
        result(6, "g-0004", Outcome.INVALID, error_code="@SUM(1)", error_msg="dst_sk env not set"),
    ]


# ---------------------------------------------------------------------------------------------- Excel


def test_sample_workbook_gets_four_columns_values_and_fills(tmp_path: Path) -> None:
    """samples/manifest.xlsx: Chinese headers kept, four columns after them, values and colours by row."""
    info = open_manifest(SAMPLES / "manifest.xlsx")
    rows = list(iter_rows(info))
    outcomes = [
        Outcome.SUCCEEDED,
        Outcome.FAILED,
        Outcome.INVALID,
        Outcome.DUPLICATE,
        Outcome.INTERRUPTED,
        Outcome.SKIPPED,
        Outcome.DRY_RUN,
    ]
    results = [
        result(
            raw.row,
            raw.values["group_id"],
            outcomes[i % len(outcomes)],
            error_code="OMS.1015" if i % len(outcomes) == 1 else "",
            request_id=f"req-{raw.row}",
        )
        for i, raw in enumerate(rows)
    ]

    done = write_annotated(info, iter(results), tmp_path)

    assert done == Annotated(tmp_path / "annotated.xlsx", "", len(rows))
    book = openpyxl.load_workbook(done.path)
    assert book.sheetnames == ["迁移任务组"]
    ws = book["迁移任务组"]
    header = [cell.value for cell in ws[1]]
    assert header == [*info.headers, *ANNOTATION_COLUMNS]
    assert all(cell.font.b for cell in ws[1][len(info.headers) :])
    assert "succeeded" in ws.cell(row=1, column=len(info.headers) + 1).comment.text
    for res in results:
        cells = ws[res.row]
        assert cells[0].value == res.group_id
        assert [c.value for c in cells[-4:]] == [res.outcome.value, res.error_code or None, None, res.request_id]
        assert {rgb(c) for c in cells} == {OUTCOME_COLOURS[res.outcome]}
        assert cells[1].value == mask(rows[res.row - 2].values["src_ak"])  # 源端AK masked
        assert cells[2].value == "env:DEMO_SRC_SK"  # an env: reference is no secret: kept
    assert OUTCOME_COLOURS[Outcome.SUCCEEDED] == "C6EFCE" and OUTCOME_COLOURS[Outcome.FAILED] == "FFC7CE"
    assert ws.freeze_panes == "A2"  # the sample has none: the header is frozen
    assert b"SRCAKEXAMPLE0000" not in all_parts(done.path)


def test_generated_workbook_keeps_sheets_formulas_layout_and_masks_secrets(workbook: Path, tmp_path: Path) -> None:
    """Every sheet, formula, width, filter and frozen pane of the user's is kept; secrets become ***."""
    info = open_manifest(workbook, sheet="清单")
    assert info.header_row == 2

    done = write_annotated(info, workbook_results(), tmp_path / "run")

    assert done.path == tmp_path / "run" / "annotated.xlsx" and done.rows == 3
    assert not (tmp_path / "run" / "annotated.xlsx.tmp").exists()
    book = openpyxl.load_workbook(done.path)
    assert book.sheetnames == ["说明", "清单", "Notes"]
    assert book["说明"]["C1"].value == "=SUM(B1:B2)" and book["说明"]["B2"].value == 3
    assert book["Notes"]["A1"].value == "kept"
    ws = book["清单"]
    assert ws.freeze_panes == "B3" and ws.auto_filter.ref == "A2:G6"
    assert ws.column_dimensions["A"].width == 41
    assert [c.value for c in ws[2]] == [
        "group_id",
        "src_ak",
        "源端SK",
        "dst_sk",
        "json_auth_file",
        "connection_string",
        "owner",
        *ANNOTATION_COLUMNS,
    ]
    values = {row: [c.value for c in ws[row]] for row in (3, 4, 5, 6)}
    assert values[3] == [
        "g-0001",
        mask(AK),
        MASKED,
        "env:DST_SK",
        MASKED,
        MASKED,
        "alice",
        "succeeded",
        None,
        None,
        "req-3",
    ]
    assert values[4][:7] == ["g-0002", "env:SRC_AK", "env:SRC_SK", MASKED, None, None, "bob"]
    assert values[5] == [None] * 11  # blank, no result: stays empty
    assert values[6][:4] == ["g-0004", mask(AK), MASKED, MASKED]  # a formula in a secret column: masked too
    assert [rgb(c) for c in ws[5]] == [None] * 11
    assert {rgb(c) for c in ws[6]} == {OUTCOME_COLOURS[Outcome.INVALID]}
    data = all_parts(done.path)
    assert all(secret.encode() in all_parts(workbook) for secret in SECRETS)  # the test could fail
    assert not [secret for secret in (*SECRETS, AK) if secret.encode() in data]


def test_hostile_server_text_is_neither_formula_nor_markup(workbook: Path, tmp_path: Path) -> None:
    """Server text starting like a formula is neutralised; markup is escaped; control characters dropped."""
    info = open_manifest(workbook, sheet="清单")
    done = write_annotated(info, workbook_results(), tmp_path)

    ws = openpyxl.load_workbook(done.path)["清单"]
    msg, request_id, code = ws["J4"], ws["K4"], ws["I6"]
    assert (msg.value, msg.data_type) == ("'" + HOSTILE_MSG, "s")
    assert (request_id.value, request_id.data_type) == ("</t><script>", "s")
    assert (code.value, code.data_type) == ("'@SUM(1)", "s")
    data = all_parts(done.path)
    assert b"&lt;/t&gt;&lt;script&gt;" in data and b"<script>" not in data
    assert b"<f>cmd" not in data and b"\x07" not in data


def test_annotating_an_annotated_workbook_overwrites_its_columns(workbook: Path, tmp_path: Path) -> None:
    """A rerun from annotated.xlsx: the four columns are reused, and rows without a result are cleared."""
    first = write_annotated(open_manifest(workbook, sheet="清单"), workbook_results(), tmp_path / "one")
    info = open_manifest(first.path, sheet="清单")
    assert info.columns[-4:] == ANNOTATION_COLUMNS

    again = write_annotated(info, [result(4, "g-0002", Outcome.SUCCEEDED, request_id="req-new")], tmp_path / "two")

    ws = openpyxl.load_workbook(again.path)["清单"]
    header = [c.value for c in ws[2]]
    assert header.count("outcome") == 1 and len(header) == 11
    assert [c.value for c in ws[4]][7:] == ["succeeded", None, None, "req-new"]
    assert {rgb(c) for c in ws[4]} == {OUTCOME_COLOURS[Outcome.SUCCEEDED]}
    assert [c.value for c in ws[3]][7:] == [None] * 4  # no result this time: the old outcome is gone
    assert [rgb(c) for c in ws[3]] == [None] * 11
    assert [c.value for c in ws[3]][:3] == ["g-0001", mask(AK), MASKED]


def _with_macros(path: Path) -> bytes:
    """Turn the .xlsx at *path* into a macro-enabled workbook with a (fake) VBA project; return its bytes."""
    vba = b"\xd0\xcf\x11\xe0 fake vba project"
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
                data = data.replace(
                    b"<Default ",
                    b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ',
                    1,
                )
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdVba" Type="http://schemas.microsoft'
                    b'.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                    b"</Relationships>",
                )
            target.writestr(item, data)
        target.writestr("xl/vbaProject.bin", vba)
    path.with_suffix(".xlsm").write_bytes(out.getvalue())
    return vba


def test_xlsm_stays_xlsm_with_its_macros(workbook: Path, tmp_path: Path) -> None:
    """A .xlsm manifest gives annotated.xlsm, still macro-enabled, its VBA project copied."""
    vba = _with_macros(workbook)
    info = open_manifest(workbook.with_suffix(".xlsm"), sheet="清单")

    done = write_annotated(info, workbook_results(), tmp_path / "run")

    assert done.path == tmp_path / "run" / "annotated.xlsm"
    assert not (tmp_path / "run" / "annotated.xlsx").exists()
    with zipfile.ZipFile(done.path) as archive:
        assert archive.read("xl/vbaProject.bin") == vba
        assert b"macroEnabled" in archive.read("[Content_Types].xml")
    book = openpyxl.load_workbook(done.path, keep_vba=True)
    try:
        assert book["清单"]["H3"].value == "succeeded"
    finally:  # openpyxl keeps the macros in an in-memory zip it never closes (its __del__ fails on 3.13)
        book.vba_archive.close()


def test_big_workbook_is_skipped_with_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Above XLSX_MAX_ROWS rows no annotated.xlsx is written (nor left half-written), and the reason says why."""
    monkeypatch.setattr(annotate_xlsx, "XLSX_MAX_ROWS", 10)
    monkeypatch.setattr(package, "_SCAN_CHUNK", 64)  # <row> tags cut across chunks are counted once
    info = open_manifest(SAMPLES / "manifest.xlsx")  # 14 rows
    stale = tmp_path / "annotated.xlsx"
    stale.write_bytes(b"an earlier session's")

    done = write_annotated(info, (result(raw.row, raw.values["group_id"]) for raw in iter_rows(info)), tmp_path)

    assert done.path is None and done.rows == 0
    assert "more than 10 rows" in done.skipped_reason and "removed" in done.skipped_reason
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    monkeypatch.setattr(annotate_xlsx, "XLSX_MAX_ROWS", 14)
    assert write_annotated(info, [], tmp_path).path == stale


def test_a_manifest_changed_since_the_run_is_not_annotated(workbook: Path, tmp_path: Path) -> None:
    """A row holding another group than the journal says (rows inserted, sorted): no file, rather than a wrong one."""
    info = open_manifest(workbook, sheet="清单")
    moved = [result(3, "g-0001"), result(4, "g-0004")]

    done = write_annotated(info, moved, tmp_path / "run")

    assert done.path is None and "changed since the run" in done.skipped_reason and "row 4" in done.skipped_reason
    assert list((tmp_path / "run").iterdir()) == []
    beyond = write_annotated(info, [result(9, "g-0009")], tmp_path / "run")
    assert beyond.path is None and "before row 9" in beyond.skipped_reason


def test_results_out_of_order_are_an_error(workbook: Path, tmp_path: Path) -> None:
    """The merge-join needs results in row order: anything else is a ValueError, and no file is left."""
    info = open_manifest(workbook, sheet="清单")
    with pytest.raises(ValueError, match="row order"):
        write_annotated(info, [result(4, "g-0002"), result(3, "g-0001")], tmp_path / "run")
    assert list((tmp_path / "run").iterdir()) == []


def test_a_batch_out_of_order_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    """write_all (the run's batches): a result that goes back in the batch, or behind the batch before it, is the
    same ValueError as one at a time, and the copy begun is removed."""
    info = open_manifest(SAMPLES / "manifest.csv")
    rows = [raw.row for raw in iter_rows(info)]
    for batches in ([[rows[1], rows[0]]], [[rows[0], rows[1]], [rows[1]]]):
        writer = AnnotatedWriter(info, tmp_path / "run")
        writer.start()
        with pytest.raises(ValueError, match="row order"):
            for batch in batches:
                writer.write_all([result(row, "g") for row in batch])
        assert list((tmp_path / "run").iterdir()) == []


# ---------------------------------------------------------------------------------------------- CSV


def read_csv(path: Path) -> tuple[bytes, list[list[str]]]:
    """The file's bytes and its records."""
    data = path.read_bytes()
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_sample_csv_gets_bom_crlf_four_columns_and_masked_keys(tmp_path: Path) -> None:
    """samples/manifest.csv: UTF-8 BOM, CRLF, the rows in their order, the four columns, AKs masked, env: kept."""
    info = open_manifest(SAMPLES / "manifest.csv")
    rows = list(iter_rows(info))
    results = [
        result(
            raw.row,
            raw.values["group_id"],
            Outcome.FAILED if raw.row == 3 else Outcome.SUCCEEDED,
            error_code="OMS.1015" if raw.row == 3 else "",
            request_id=f"req-{raw.row}",
        )
        for raw in rows
    ]

    done = write_annotated(info, results, tmp_path)

    assert done == Annotated(tmp_path / "annotated.csv", "", len(rows))
    data, records = read_csv(done.path)
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == len(rows) + 1
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert records[0] == [*info.headers, *ANNOTATION_COLUMNS]
    assert [r[0] for r in records[1:]] == [raw.values["group_id"] for raw in rows]
    assert records[2][-4:] == ["failed", "OMS.1015", "", "req-3"]
    assert records[1][1:5] == [mask("SRCAKEXAMPLE0000"), "env:DEMO_SRC_SK", mask("DSTAKEXAMPLE0000"), "env:DEMO_DST_SK"]
    assert records[1][5:8] == ["false", "王伟", "TRF.0001"]
    assert b"SRCAKEXAMPLE" not in data


def test_journal_results_annotate_like_row_results(tmp_path: Path) -> None:
    """The results read back from the journal (without their extra columns) write the very bytes RowResults write."""
    info = open_manifest(SAMPLES / "manifest.csv")
    results = [
        result(
            raw.row,
            raw.values["group_id"],
            Outcome.FAILED if raw.row % 2 else Outcome.SUCCEEDED,
            error_code="OMS.1015" if raw.row % 2 else "",
            error_msg=HOSTILE_MSG if raw.row == 3 else "",
            request_id=f"req-{raw.row}",
            extra=(("owner", "x"),),
        )
        for raw in iter_rows(info)
    ]
    with Journal(tmp_path / "journal.sqlite") as journal:
        for one in results:
            journal.record(one)
        from_records = write_annotated(info, journal.results(extra=False), tmp_path / "records")
    from_results = write_annotated(info, results, tmp_path / "results")
    assert from_records.rows == from_results.rows == len(results)
    assert from_records.path.read_bytes() == from_results.path.read_bytes()
    assert b"'" + HOSTILE_MSG.encode() in from_records.path.read_bytes()


def test_gb18030_csv_keeps_blank_rows_aligned_masks_and_neutralises(tmp_path: Path) -> None:
    """A GB18030 ';' manifest with blank lines, a quoted line break and a formula: record n is still row n."""
    source = tmp_path / "清单.csv"
    lines = [
        "",
        "任务组ID;源端AK;源端SK;目的端SK;负责人;备注",
        f"g-0001;{AK};{SRC_SK};env:DST_SK;王伟;=1+2",
        "",
        f'g-0002;{AK};;{DST_SK};李娜;"两行\r\n备注"',
        ";;;;;",
        f"g-0003;env:SRC_AK;{SRC_SK};{DST_SK};张敏;-5",
    ]
    source.write_bytes("\r\n".join(lines).encode("gb18030") + b"\r\n")
    info = open_manifest(source)
    assert (info.encoding, info.delimiter, info.header_row) == ("gb18030", ";", 2)
    assert [raw.row for raw in iter_rows(info)] == [3, 5, 7]
    results = [
        result(3, "g-0001", request_id="req-3"),
        result(5, "g-0002", Outcome.FAILED, error_code="OMS.1015", error_msg=HOSTILE_MSG, request_id="+1"),
        result(7, "g-0003", Outcome.DUPLICATE, error_code="duplicate"),
    ]

    done = write_annotated(info, results, tmp_path / "run")

    data, records = read_csv(done.path)
    assert records == [
        [],
        ["任务组ID", "源端AK", "源端SK", "目的端SK", "负责人", "备注", *ANNOTATION_COLUMNS],
        ["g-0001", mask(AK), MASKED, "env:DST_SK", "王伟", "'=1+2", "succeeded", "", "", "req-3"],
        [],
        ["g-0002", mask(AK), "", MASKED, "李娜", "两行\r\n备注", "failed", "OMS.1015", "'" + HOSTILE_MSG, "'+1"],
        [],
        ["g-0003", "env:SRC_AK", MASKED, MASKED, "张敏", "'-5", "duplicate", "duplicate", "", ""],
    ]
    assert SRC_SK.encode("gb18030") in source.read_bytes()  # the test could fail
    assert not [secret for secret in (SRC_SK, DST_SK, AK) if secret.encode() in data]


def test_annotating_an_annotated_csv_overwrites_its_columns(tmp_path: Path) -> None:
    """annotated.csv read as a manifest and annotated again: no second set of columns; old outcomes cleared."""
    info = open_manifest(SAMPLES / "manifest.csv")
    groups = [raw.values["group_id"] for raw in iter_rows(info)]
    first = write_annotated(info, [result(2, groups[0]), result(3, groups[1])], tmp_path / "one")
    info2 = open_manifest(first.path)

    again = write_annotated(info2, [result(3, groups[1], Outcome.FAILED, error_code="OMS.0001")], tmp_path / "two")

    _, records = read_csv(again.path)
    assert records[0] == [*info.headers, *ANNOTATION_COLUMNS]
    assert records[1][-4:] == ["", "", "", ""] and records[1][1] == mask("SRCAKEXAMPLE0000")
    assert records[2][-4:] == ["failed", "OMS.0001", "", ""]
    assert len(records) == len(groups) + 1


def test_csv_changed_since_the_run_is_not_annotated(tmp_path: Path) -> None:
    """A CSV row holding another group than its result: nothing written, the reason names the row."""
    info = open_manifest(SAMPLES / "manifest.csv")

    done = write_annotated(info, [result(2, "not-the-group")], tmp_path)

    assert done.path is None and "row 2" in done.skipped_reason and "changed since the run" in done.skipped_reason
    assert list(tmp_path.iterdir()) == []


def test_an_unexpected_error_costs_the_file_and_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A result the writer cannot handle (an error code that is not text) is a bug, not a lost run: no file, no
    temporary file, the reason names the error, and the traceback is logged."""
    info = open_manifest(SAMPLES / "manifest.csv")
    group = next(iter_rows(info)).values["group_id"]

    done = write_annotated(info, [result(2, group, Outcome.FAILED, error_code=7)], tmp_path)  # type: ignore[arg-type]

    assert done.path is None and re.search(r"an unexpected error \((Type|Attribute)Error: ", done.skipped_reason)
    assert list(tmp_path.iterdir()) == []
    assert any(record.exc_info and "annotated manifest failed" in record.getMessage() for record in caplog.records)
