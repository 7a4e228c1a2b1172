"""Reading manifests: headers and aliases, file errors, streaming and the module's API."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bulkretry.errors import ManifestError
from bulkretry.manifest import read as manifest
from bulkretry.manifest.read import (
    CANONICAL_COLUMNS,
    canonical_name,
    iter_rows,
    open_manifest,
)
from tests.clitools import SAMPLES
from tests.manifests import manifest_error, read_all, write_csv

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
        "task_id",
        "src_crypto_type",
        "src_kms_key_id",
        "dst_crypto_type",
        "dst_kms_key_id",
        "source_cdn_crypto_type",
        "source_cdn_kms_key_id",
        "src_security_token",
        "dst_security_token",
        "priority",
    }


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
