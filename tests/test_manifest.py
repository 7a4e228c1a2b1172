"""Reading manifests: encodings, delimiters, Excel cells as text, headers and aliases, row numbers, errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

from bulkretry.errors import ManifestError
from bulkretry.manifest import csvfile
from bulkretry.manifest import read as manifest
from bulkretry.manifest.read import (
    CANONICAL_COLUMNS,
    ManifestInfo,
    RawRow,
    canonical_name,
    count_rows,
    iter_rows,
    open_manifest,
    read_manifest,
)
from tests.clitools import SAMPLES


def write_csv(path: Path, rows: Sequence[Sequence[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """Write *rows* with the csv module and encode them with a real encoder."""
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    title: str = "Sheet1",
    more: dict[str, Sequence[Sequence[object]]] | None = None,
) -> Path:
    """Write an openpyxl workbook: *rows* from A1 of the first sheet, *more* as further sheets."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(list(row))
    for name, sheet_rows in (more or {}).items():
        extra = wb.create_sheet(name)
        for row in sheet_rows:
            extra.append(list(row))
    wb.save(path)
    return path


def read_all(path: Path, **kw: object) -> tuple[ManifestInfo, list[RawRow]]:
    """open + read every row."""
    info, rows = read_manifest(path, **kw)  # type: ignore[arg-type]
    return info, list(rows)


def manifest_error(path: Path, **kw: object) -> ManifestError:
    """The ManifestError that reading *path* raises (opening or iterating), checking it names the file."""
    with pytest.raises(ManifestError) as caught:
        read_all(path, **kw)
    assert path.name in str(caught.value)
    assert caught.value.path == str(path)
    return caught.value


# ---------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("group_id", "group_id"),
        ("Group-ID", "group_id"),
        (" task group id ", "group_id"),
        ("TASK_GROUP_ID", "group_id"),
        ("groupId", "group_id"),
        ("任务组ID", "group_id"),
        ("迁移任务组ID", "group_id"),
        ("任务组id", "group_id"),
        ("\ufeffgroup_id", "group_id"),
        ("projectId", "project_id"),
        ("Project ID", "project_id"),
        ("项目ID", "project_id"),
        ("区域", "region"),
        ("REGION", "region"),
        ("源端AK", "src_ak"),
        ("源端SK", "src_sk"),
        ("目的端AK", "dst_ak"),
        ("目的端 sk", "dst_sk"),
        ("Json-Auth-File", "json_auth_file"),
        ("source cdn authentication key", "source_cdn_authentication_key"),
        ("connection_string", "connection_string"),
        ("Migrate Failed Object", "migrate_failed_object"),
    ],
)
def test_canonical_name_matches_aliases_ignoring_case_spaces_and_dashes(header: str, expected: str) -> None:
    """Every contract alias, in odd case and spacing, maps to its canonical column."""
    assert canonical_name(header) == expected


@pytest.mark.parametrize("header", ["owner", "group", "id", "", "src", "group_id_2"])
def test_canonical_name_of_unknown_header_is_none(header: str) -> None:
    """Headers that are no alias stay unknown."""
    assert canonical_name(header) is None


def test_canonical_columns_are_the_contracts() -> None:
    """The canonical columns and their order are the contract's."""
    assert CANONICAL_COLUMNS[0] == "group_id"
    assert set(CANONICAL_COLUMNS) == {
        "group_id",
        "project_id",
        "region",
        "src_ak",
        "src_sk",
        "dst_ak",
        "dst_sk",
        "json_auth_file",
        "source_cdn_authentication_key",
        "connection_string",
        "migrate_failed_object",
    }


# ---------------------------------------------------------------------------------------------- CSV encodings


CHINESE_ROWS = [["任务组ID", "源端AK", "负责人"], ["g-1", "AK1", "王伟"], ["g-2", "AK2", "李娜"]]


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
    ],
)
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str, reported: str) -> None:
    """UTF-8, UTF-8 with BOM, GBK and GB18030 files read back the same Chinese text."""
    path = write_csv(tmp_path / "m.csv", CHINESE_ROWS, encoding=encoding)
    info, rows = read_all(path)
    assert info.encoding == reported
    assert info.headers == ("任务组ID", "源端AK", "负责人")
    assert info.columns == ("group_id", "src_ak", "负责人")
    assert [r.values for r in rows] == [
        {"group_id": "g-1", "src_ak": "AK1", "负责人": "王伟"},
        {"group_id": "g-2", "src_ak": "AK2", "负责人": "李娜"},
    ]


def test_gb18030_only_characters_are_read(tmp_path: Path) -> None:
    """A character outside GBK (four-byte GB18030) decodes."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "note"], ["g1", "𠀀 and €"]], encoding="gb18030")
    info, rows = read_all(path)
    assert info.encoding == "gb18030"
    assert rows[0].values["note"] == "𠀀 and €"


def test_utf16_unicode_text_export_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode Text" (UTF-16 with BOM, tab-separated .txt) is read."""
    path = write_csv(tmp_path / "m.txt", CHINESE_ROWS, encoding="utf-16", delimiter="\t")
    info, rows = read_all(path)
    assert (info.encoding, info.delimiter) == ("utf-16", "\t")
    assert rows[1].values["负责人"] == "李娜"


def test_forced_encoding_is_used(tmp_path: Path) -> None:
    """encoding= overrides detection (and is reported under its codec name)."""
    path = write_csv(tmp_path / "m.csv", CHINESE_ROWS, encoding="gbk")
    info, rows = read_all(path, encoding="GBK")
    assert info.encoding == "gbk"
    assert rows[0].values["负责人"] == "王伟"
    path = write_csv(tmp_path / "l.csv", [["group_id", "note"], ["g-1", "café"]], encoding="latin-1")
    info, rows = read_all(path, encoding="latin-1")
    assert info.encoding == "iso8859-1"
    assert rows[0].values == {"group_id": "g-1", "note": "café"}


def test_forced_utf8_on_a_bom_file_drops_the_bom(tmp_path: Path) -> None:
    """encoding='utf-8' on a file with a BOM reads it as utf-8-sig, so the first header still matches."""
    path = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]], encoding="utf-8-sig")
    info, rows = read_all(path, encoding="utf-8")
    assert info.encoding == "utf-8-sig"
    assert info.headers == ("group_id",)
    assert rows[0].values == {"group_id": "g1"}


def test_unknown_encoding_name_is_an_error(tmp_path: Path) -> None:
    """An encoding name Python does not know is a ManifestError naming it."""
    path = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    err = manifest_error(path, encoding="klingon-8")
    assert "klingon-8" in str(err)


@pytest.mark.parametrize(
    "encoding", ["rot13", "hex", "base64", "zlib", "uu", "punycode", "undefined", "idna", "unicode_escape"]
)
def test_forced_encoding_that_is_not_a_text_codec_is_an_error(tmp_path: Path, encoding: str) -> None:
    """A codec that does not turn file bytes into text (bytes-to-bytes, punycode, undefined) is a ManifestError."""
    path = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    err = manifest_error(path, encoding=encoding)
    assert repr(encoding) in str(err) and "--encoding" in str(err)


@pytest.mark.parametrize(
    ("forced", "encoding", "hint"),
    [("utf-16", "utf-16-le", "utf-16-le"), ("UTF_16", "utf-16-be", "utf-16-be"), ("utf-32", "utf-32-le", "utf-32-le")],
)
def test_forced_utf16_without_a_bom_names_the_byte_order_to_give(
    tmp_path: Path, forced: str, encoding: str, hint: str
) -> None:
    """--encoding utf-16/utf-32 on a file without a byte-order mark says to give -le or -be, naming the likely one."""
    path = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]], encoding=encoding)
    err = manifest_error(path, encoding=forced)
    assert "byte-order mark" in str(err) and hint in str(err)
    _, rows = read_all(path, encoding=hint)
    assert rows[0].values == {"group_id": "g1"}
    bom = write_csv(tmp_path / "bom.csv", [["group_id"], ["g1"]], encoding=forced.lower().replace("_", "-"))
    _, rows = read_all(bom, encoding=forced)
    assert rows[0].values == {"group_id": "g1"}


def test_forced_encoding_that_does_not_fit_names_the_offset(tmp_path: Path) -> None:
    """A GBK file forced as UTF-8 fails with the byte offset of the first bad byte."""
    path = write_csv(tmp_path / "m.csv", [["group_id"], ["王"]], encoding="gbk")
    err = manifest_error(path, encoding="utf-8")
    assert "offset 10" in str(err)
    assert "--encoding" in str(err)


def test_undecodable_file_names_offset_and_encoding_option(tmp_path: Path) -> None:
    """Bytes that are neither UTF-8 nor GB18030 give the offset and the --encoding hint."""
    path = tmp_path / "m.csv"
    path.write_bytes(b"group_id\r\nabc\x80\x80\r\n")
    err = manifest_error(path)
    assert "offset 13" in str(err)
    assert "--encoding" in str(err)


def test_encoding_offsets_are_exact_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny scan chunks, multi-byte characters split across chunks decode and offsets stay exact."""
    monkeypatch.setattr(csvfile, "_SCAN_CHUNK", 3)
    path = write_csv(tmp_path / "m.csv", CHINESE_ROWS, encoding="utf-8")
    assert open_manifest(path).encoding == "utf-8"
    path = write_csv(tmp_path / "g.csv", CHINESE_ROWS, encoding="gbk")
    assert open_manifest(path).encoding == "gb18030"
    data = "group_id\n王伟\n".encode()
    path.write_bytes(data + b"\xff" + b"x\n")
    err = manifest_error(path)
    assert f"UTF-8 text (invalid byte at offset {len(data)})" in str(err)


# ---------------------------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    """Comma, semicolon and tab files are split right, even with the other delimiters inside values."""
    rows = [["group_id", "project_id", "note"], ["g1", "p1", "a,b;c\td"], ["g2", "p2", "x; y, z"]]
    info, got = read_all(write_csv(tmp_path / "m.csv", rows, delimiter=delimiter))
    assert info.delimiter == delimiter
    assert info.columns == ("group_id", "project_id", "note")
    assert [list(r.values.values()) for r in got] == rows[1:]


def test_sniffing_prefers_the_consistent_split(tmp_path: Path) -> None:
    """A semicolon file whose header has a comma inside a quoted name is still read as semicolon-separated."""
    path = tmp_path / "m.csv"
    path.write_text('group_id;"owner, team";note\ng1;ops;a\ng2;dev;b\n', encoding="utf-8")
    info, rows = read_all(path)
    assert info.delimiter == ";"
    assert info.columns == ("group_id", "owner, team", "note")
    assert rows[1].values == {"group_id": "g2", "owner, team": "dev", "note": "b"}


@pytest.mark.parametrize(("given", "actual"), [("|", "|"), ("tab", "\t"), ("\\t", "\t"), ("\t", "\t"), (";", ";")])
def test_forced_delimiter_is_used(tmp_path: Path, given: str, actual: str) -> None:
    """delimiter= accepts the character or its name and overrides sniffing."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "note"], ["g1", "a,b"]], delimiter=actual)
    info, rows = read_all(path, delimiter=given)
    assert info.delimiter == actual
    assert rows[0].values == {"group_id": "g1", "note": "a,b"}


def test_unsupported_delimiter_is_an_error(tmp_path: Path) -> None:
    """A delimiter other than , ; tab | is a ManifestError naming it."""
    path = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    err = manifest_error(path, delimiter="::")
    assert "'::'" in str(err)


def test_wrong_forced_delimiter_hints_at_the_option(tmp_path: Path) -> None:
    """A semicolon file forced to comma finds no group_id column and says so with a --delimiter hint."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "note"], ["g1", "x"]], delimiter=";")
    err = manifest_error(path, delimiter=",")
    assert "group_id;note" in str(err)
    assert "--delimiter" in str(err)


# ---------------------------------------------------------------------------------------------- values


def test_csv_cells_stay_text_exactly_as_written(tmp_path: Path) -> None:
    """Ids with leading zeros, NaN, TRUE, dates, 1e5, NULL and spaces come back byte for byte."""
    values = ["0012345", "NaN", "TRUE", "2024-01-01", "1e5", "NULL", " spaced ", "N/A", "-", "=1+1", "00"]
    header = ["group_id"] + [f"c{i}" for i in range(1, len(values))]
    _, rows = read_all(write_csv(tmp_path / "m.csv", [header, values]))
    assert list(rows[0].values.values()) == values
    assert all(type(v) is str for v in rows[0].values.values())


def test_short_rows_are_padded_with_empty_text(tmp_path: Path) -> None:
    """A row with fewer cells than the header gets '' for the missing ones."""
    path = tmp_path / "m.csv"
    path.write_text("group_id,project_id,note\ng1\ng2,p2\n", encoding="utf-8")
    _, rows = read_all(path)
    assert [r.values for r in rows] == [
        {"group_id": "g1", "project_id": "", "note": ""},
        {"group_id": "g2", "project_id": "p2", "note": ""},
    ]


def test_one_column_manifest_with_a_stray_comma_is_an_error_not_an_id(tmp_path: Path) -> None:
    """A group_id-only file where one row says "g2,oops": that row is refused, not sent as the id "g2,oops"."""
    path = tmp_path / "m.csv"
    path.write_text("group_id\ng1\ng2,oops\ng3\n", encoding="utf-8")
    info = open_manifest(path)
    assert info.delimiter == ","
    with pytest.raises(ManifestError) as caught:
        list(iter_rows(info))
    assert caught.value.row == 3


@pytest.mark.parametrize("bad_row", [0, 25])
def test_row_with_more_cells_than_headers_is_an_error(tmp_path: Path, bad_row: int) -> None:
    """An extra non-empty cell (first row or a later chunk) is a ManifestError naming the row and column."""
    lines = ["group_id,note"] + [f"g{i},n{i}" for i in range(40)]
    lines[1 + bad_row] = "gX,unquoted, comma"
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = open_manifest(path)
    seen = []
    with pytest.raises(ManifestError) as caught:
        for r in iter_rows(info, chunk_rows=10):
            seen.append(r.row)
    assert caught.value.row == bad_row + 2
    assert caught.value.column == "C"
    assert f"row {bad_row + 2}" in str(caught.value)
    assert "m.csv" in str(caught.value)
    assert seen == list(range(2, bad_row + 2))


def test_trailing_empty_cells_beyond_the_header_are_fine(tmp_path: Path) -> None:
    """Trailing delimiters (empty extra cells) are ignored, in the header and in the rows."""
    path = tmp_path / "m.csv"
    path.write_text("group_id,note,\ng1,a,\ng2,b,,\ng3,c\n", encoding="utf-8")
    info, rows = read_all(path)
    assert info.headers == ("group_id", "note")
    assert [(r.row, r.values) for r in rows] == [
        (2, {"group_id": "g1", "note": "a"}),
        (3, {"group_id": "g2", "note": "b"}),
        (4, {"group_id": "g3", "note": "c"}),
    ]


def test_unclosed_quote_is_an_error_not_a_swallowed_file(tmp_path: Path) -> None:
    """A quote that is never closed is reported at its row instead of eating the rows after it."""
    path = tmp_path / "m.csv"
    path.write_text('group_id,note\ng1,ok\ng2,"oops\ng3,x\n', encoding="utf-8")
    err = manifest_error(path)
    assert err.row == 3
    assert "never closed" in str(err)


@pytest.mark.parametrize("seed", range(8))
def test_count_rows_is_the_number_of_rows_iter_rows_gives(tmp_path: Path, seed: int) -> None:
    """count_rows (the quick first pass) agrees with iter_rows on blank, whitespace-only, short and quoted
    rows, across chunk boundaries, and on the csv-module path after a row with empty extra cells."""
    import random

    rng = random.Random(seed)
    cells = ["", " ", "\t", "  \u3000", "g", " x ", "a,b", 'q"q', "two\nlines", "备注"]
    lines = ["group_id,note,owner"]
    for _ in range(rng.randint(0, 60)):
        shape = rng.random()
        if shape < 0.1:
            lines.append("")  # a blank line
        elif shape < 0.2:
            lines.append(",".join(rng.choice(["", " ", "\t"]) for _ in range(3)))  # whitespace only
        else:
            row = [rng.choice(cells) for _ in range(rng.randint(1, 3))]
            lines.append(
                ",".join(
                    f'"{c.replace(chr(34), chr(34) * 2)}"' if rng.random() < 0.5 or set(c) & set(',"\n') else c
                    for c in row
                )
            )
    if seed % 2:
        lines.insert(rng.randint(1, len(lines)), "g-extra,n,o,,")  # empty cells past the header: csv-module path
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = open_manifest(path)
    for chunk_rows in (1, 3, 10_000):
        assert count_rows(info, chunk_rows=chunk_rows) == len(list(iter_rows(info, chunk_rows=chunk_rows)))


def test_count_rows_raises_what_iter_rows_raises(tmp_path: Path) -> None:
    """A value in a column with no header is the same ManifestError from both passes; so is an xlsx count."""
    path = tmp_path / "m.csv"
    path.write_text("group_id,note\n" + "g,n\n" * 5 + "g,n,stray\n", encoding="utf-8")
    info = open_manifest(path)
    with pytest.raises(ManifestError) as counted:
        count_rows(info, chunk_rows=2)
    with pytest.raises(ManifestError) as iterated:
        list(iter_rows(info, chunk_rows=2))
    assert (
        (counted.value.row, counted.value.column, str(counted.value))
        == (iterated.value.row, iterated.value.column, str(iterated.value))
        == (7, "C", str(iterated.value))
    )
    book = write_xlsx(tmp_path / "m.xlsx", [["group_id"], ["g1"], [None], ["  "], ["g2"]])
    assert count_rows(open_manifest(book)) == 2


# ---------------------------------------------------------------------------------------------- row numbers


def test_csv_row_numbers_count_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    """Blank lines are skipped but counted; a quoted cell with newlines is one row (CRLF file)."""
    path = tmp_path / "m.csv"
    path.write_bytes(b'group_id,note\r\ng1,a\r\n\r\n   \r\n,\r\ng2,"two\r\nlines"\r\ng3,"x\ny\nz"\r\n\r\ng4,d\r\n')
    _, rows = read_all(path, chunk_rows=2)
    assert [(r.row, r.values["group_id"]) for r in rows] == [(2, "g1"), (6, "g2"), (7, "g3"), (9, "g4")]
    assert rows[1].values["note"] == "two\r\nlines"
    assert rows[2].values["note"] == "x\ny\nz"


def test_csv_leading_blank_lines_move_the_header(tmp_path: Path) -> None:
    """Blank lines above the header are counted: the header's row and the data rows keep their real numbers."""
    path = tmp_path / "m.csv"
    path.write_text("\n,,\ngroup_id,note\ng1,a\n\ng2,b\n", encoding="utf-8")
    info, rows = read_all(path)
    assert info.header_row == 3
    assert [(r.row, r.values["group_id"]) for r in rows] == [(4, "g1"), (6, "g2")]


# ---------------------------------------------------------------------------------------------- headers


def test_aliases_with_odd_spelling_map_to_canonical_columns(tmp_path: Path) -> None:
    """Headers like 'Group-ID', ' task group id ', 'ProjectId' become canonical; spelling is kept in headers."""
    path = tmp_path / "m.csv"
    path.write_text(" Group-ID ,ProjectId,区域,目的端SK\ng1,p1,cn-north-4,env:SK\n", encoding="utf-8")
    info, rows = read_all(path)
    assert info.headers == ("Group-ID", "ProjectId", "区域", "目的端SK")
    assert info.columns == ("group_id", "project_id", "region", "dst_sk")
    assert rows[0].values == {"group_id": "g1", "project_id": "p1", "region": "cn-north-4", "dst_sk": "env:SK"}


def test_unknown_columns_are_kept_in_order_and_made_unique(tmp_path: Path) -> None:
    """Unknown headers keep their place; repeats get ' (2)'; an empty header is named by its column letter."""
    path = tmp_path / "m.csv"
    path.write_text("note,task group id,,note,owner,note\nn1,g1,x,n2,o,n3\n", encoding="utf-8")
    info, rows = read_all(path)
    assert info.headers == ("note", "task group id", "", "note", "owner", "note")
    assert info.columns == ("note", "group_id", "column C", "note (2)", "owner", "note (3)")
    assert list(rows[0].values.items()) == [
        ("note", "n1"),
        ("group_id", "g1"),
        ("column C", "x"),
        ("note (2)", "n2"),
        ("owner", "o"),
        ("note (3)", "n3"),
    ]


def test_two_headers_for_the_same_column_are_an_error(tmp_path: Path) -> None:
    """'group_id' and '任务组ID' together are a ManifestError naming both."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "note", "任务组ID"], ["g1", "n", "g1"]])
    err = manifest_error(path)
    assert "'group_id' (A)" in str(err)
    assert "'任务组ID' (C)" in str(err)
    assert err.column == "任务组ID"


def test_missing_group_id_lists_accepted_names_and_found_headers(tmp_path: Path) -> None:
    """Without a group_id column the error lists its accepted names, the known columns found, and a typo's fix."""
    path = write_csv(tmp_path / "m.csv", [["grop_id", "project_id", "note"], ["g1", "p1", "x"]])
    err = str(manifest_error(path))
    for name in (
        "group_id",
        "task_group_id",
        "groupId",
        "任务组ID",
        "迁移任务组ID",
        "project_id (B)",
        "'grop_id' (A; did you mean group_id?)",
        "column C are not shown",
    ):
        assert name in err


def test_a_manifest_without_a_header_row_never_echoes_its_first_row(tmp_path: Path) -> None:
    """A header-less manifest's first row is values (keys and secret keys): the error names columns, never cells,
    in the message and in --json-summary."""
    from tests.clitools import run_cli

    secret, key = "Zq8s7DkE0pLwX3vN5bR1tY6uI9oA2sD4fG7hJ0kQ", "HPUAKEYABCDEFGH12345"
    path = write_csv(
        tmp_path / "m.csv",
        [
            ["5c941cf0-dc98-42c1-a2ac-f72f9e574f7a", key, secret, "ok"],
            ["ed3049cf-43e4-48fc-a3f2-ae24fc3d3348", key, secret, "ok"],
        ],
    )
    err = str(manifest_error(path))
    assert "columns A, B, C, D are not shown" in err and "add a header row" in err
    code, out, errout = run_cli("validate", str(path), "--project-id", "p1", "--region", "cn-north-4")
    code2, out2, errout2 = run_cli(
        "run",
        str(path),
        "--project-id",
        "p1",
        "--region",
        "cn-north-4",
        "--quiet",
        "--json-summary",
        "--out",
        str(tmp_path / "run"),
    )
    assert code == code2 == 2, errout + errout2
    for text in (err, out, errout, out2, errout2):
        assert secret not in text and key not in text and "5c941cf0" not in text
    assert json.loads(out2)["exit_status"] == 2


@pytest.mark.parametrize("body", ["group_id,note\n", "group_id,note\n\n\n,\n", "\ufeffgroup_id\r\n"])
def test_header_without_rows_is_an_error(tmp_path: Path, body: str) -> None:
    """A header with no (or only blank) rows after it says 'has a header but no rows'."""
    path = tmp_path / "m.csv"
    path.write_text(body, encoding="utf-8")
    assert "has a header but no rows" in str(manifest_error(path))


@pytest.mark.parametrize("body", [b"\n\n\n", b"\xef\xbb\xbf", b" , \r\n"])
def test_no_header_is_an_error(tmp_path: Path, body: bytes) -> None:
    """A file of blank lines (or only a BOM) has no header row."""
    path = tmp_path / "m.csv"
    path.write_bytes(body)
    assert "no header" in str(manifest_error(path))


# ---------------------------------------------------------------------------------------------- file errors


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is a ManifestError naming it."""
    assert "no such file" in str(manifest_error(tmp_path / "nope.csv"))


def test_directory_is_an_error(tmp_path: Path) -> None:
    """A directory is a ManifestError, not IsADirectoryError."""
    (tmp_path / "d.csv").mkdir()
    assert "directory" in str(manifest_error(tmp_path / "d.csv"))


def test_permission_denied_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OSError while opening the file (as for a file we may not read) becomes a ManifestError."""
    path = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(manifest, "open", denied, raising=False)
    assert "cannot be read: Permission denied" in str(manifest_error(path))


@pytest.mark.parametrize("name", ["m.csv", "m.xlsx"])
def test_empty_file_is_an_error(tmp_path: Path, name: str) -> None:
    """A 0-byte file is a ManifestError saying it is empty."""
    path = tmp_path / name
    path.write_bytes(b"")
    assert "is empty" in str(manifest_error(path))


def test_binary_file_named_csv_is_an_error(tmp_path: Path) -> None:
    """NUL bytes mean binary garbage: a ManifestError with the offset, not a parser traceback."""
    path = tmp_path / "m.csv"
    path.write_bytes(b"group_id\ng1\n" + bytes(range(256)) * 4)
    err = manifest_error(path)
    assert "NUL byte (at byte 12)" in str(err)


@pytest.mark.parametrize(("name", "hint"), [("m.et", "save it as .xlsx or .csv"), ("m.json", ".csv"), ("m", ".xlsx")])
def test_unsupported_extension_is_an_error(tmp_path: Path, name: str, hint: str) -> None:
    """Other extensions are refused, naming the file and the supported kinds."""
    path = tmp_path / name
    path.write_text("group_id\ng1\n", encoding="utf-8")
    err = manifest_error(path)
    assert hint in str(err)
    assert ".tsv" in str(err)


def test_csv_renamed_to_xlsx_is_an_error(tmp_path: Path) -> None:
    """A text file named .xlsx is 'not an Excel workbook' with the save-as hint."""
    path = tmp_path / "m.xlsx"
    path.write_text("group_id\ng1\n", encoding="utf-8")
    err = manifest_error(path)
    assert "is not an Excel workbook (.xlsx)" in str(err)
    assert "save it as .xlsx or .csv" in str(err)


def test_password_protected_workbook_is_an_error(tmp_path: Path) -> None:
    """An encrypted workbook (OLE2 container with an EncryptedPackage stream) says to remove the password."""
    path = tmp_path / "m.xlsx"
    path.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 600
        + "EncryptionInfo".encode("utf-16-le")
        + b"\0" * 50
        + "EncryptedPackage".encode("utf-16-le")
    )
    err = manifest_error(path)
    assert "password-protected" in str(err)
    assert "without a password" in str(err)


def test_other_ole2_file_mentions_password_and_xls(tmp_path: Path) -> None:
    """An OLE2 file without encryption streams (an old .xls renamed) gets a message covering both causes."""
    path = tmp_path / "m.xlsm"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)
    err = manifest_error(path)
    assert "password" in str(err)
    assert ".xls" in str(err)


@pytest.mark.parametrize("content", [b"PK\x03\x04garbage that is not a zip", "zip-not-workbook"])
def test_damaged_workbook_is_an_error(tmp_path: Path, content: bytes | str) -> None:
    """A corrupt zip, or a zip that is no workbook, is a clear ManifestError."""
    path = tmp_path / "m.xlsx"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("hello.txt", "hi")
    assert "damaged or not an Excel workbook" in str(manifest_error(path))


# ---------------------------------------------------------------------------------------------- Excel


def test_xlsx_cells_read_as_the_user_sees_them(tmp_path: Path) -> None:
    """Numbers, zero-padded formats, booleans, dates and times in Excel come back as text."""
    path = tmp_path / "m.xlsx"
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


# ---------------------------------------------------------------------------------------------- streaming, API


def test_big_csv_streams_in_chunks(tmp_path: Path) -> None:
    """200k rows stream: the first row arrives before the file is parsed, and every row arrives once."""
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("group_id,project_id,note\n")
        fh.writelines(f"{i:08d},p{i % 7},note {i}\n" for i in range(200_000))
    info = open_manifest(path)
    rows = iter_rows(info, chunk_rows=1_000)
    first = next(rows)
    assert (first.row, first.values["group_id"]) == (2, "00000000")
    with open(path, "a", encoding="utf-8") as fh:  # an eager reader would never see this row
        fh.write("appended,p,late\n")
    count, last = 1, first
    for row in rows:
        count, last = count + 1, row
    assert count == 200_001
    assert (last.row, last.values["group_id"]) == (200_002, "appended")


def test_iter_rows_is_lazy_and_validates_chunk_rows(tmp_path: Path) -> None:
    """iter_rows returns a generator and refuses a chunk size below 1."""
    info = open_manifest(write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]]))
    with pytest.raises(ValueError, match="chunk_rows"):
        iter_rows(info, chunk_rows=0)
    assert iter(iter_rows(info)) is not None


def test_records_are_frozen(tmp_path: Path) -> None:
    """ManifestInfo and RawRow are immutable."""
    info, rows = read_all(write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]]))
    with pytest.raises(AttributeError):
        info.kind = "xlsx"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rows[0].row = 3  # type: ignore[misc]


def test_file_changed_between_open_and_read_is_an_error(tmp_path: Path) -> None:
    """If the header changes after open_manifest, iter_rows refuses to guess the columns."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "note"], ["g1", "a"]])
    info = open_manifest(path)
    write_csv(path, [["note", "group_id"], ["a", "g1"]])
    with pytest.raises(ManifestError, match="changed since it was opened"):
        list(iter_rows(info))


@pytest.mark.parametrize("name", ["manifest.csv", "manifest.xlsx"])
def test_samples_are_read(name: str) -> None:
    """The shipped samples read as 13 rows numbered 2..14 with a group_id each."""
    info, rows = read_all(SAMPLES / name)
    assert [r.row for r in rows] == list(range(2, 15))
    assert all(r.values["group_id"] for r in rows)
    assert "src_sk" in info.columns


def test_importing_the_module_does_not_import_pandas_or_openpyxl() -> None:
    """pandas and openpyxl load only when a manifest of their kind is read (fast --help)."""
    code = "import sys, bulkretry.manifest.read; print('pandas' in sys.modules, 'openpyxl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


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
