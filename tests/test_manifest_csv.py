"""Reading CSV manifests: encodings, delimiters, cells as text, row numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkretry.errors import ManifestError
from bulkretry.manifest import csvfile
from bulkretry.manifest.read import (
    count_rows,
    iter_rows,
    open_manifest,
)
from tests.manifests import manifest_error, read_all, write_csv, write_xlsx

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
