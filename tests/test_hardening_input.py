"""Hardening against bad input, end to end through the CLI: a manifest, an option, a setting or credentials
that cannot be used are refused before any call, in one line naming what and where, with exit status 2."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from bulkretry.sim import SimulatorThread
from tests.clitools import PROJECT, clear_credentials, read_report, run_at, run_cli, sim_run_argv
from tests.manifests import write_csv

# -- bad input: one line naming what and where, exit 2, nothing sent --------------------------------------


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.append(["group_id"])
    book.active.append(["g1"])
    book.save(path)
    return path


def _truncated_workbook(path: Path) -> Path:
    data = _workbook(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _zip_not_workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    return path


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


ENCRYPTED = (
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    + b"\0" * 600
    + "EncryptionInfo".encode("utf-16-le")
    + b"\0" * 50
    + "EncryptedPackage".encode("utf-16-le")
)
BAD_MANIFESTS = {
    "missing": ("missing.csv", lambda p: p, ["no such file"]),
    "empty": ("empty.csv", _bytes(b""), ["empty"]),
    "binary": ("binary.csv", _bytes(bytes(range(256)) * 8), ["binary"]),
    "text named xlsx": ("text.xlsx", _bytes(b"group_id\ng1\n"), ["not an Excel workbook"]),
    "encrypted": ("locked.xlsx", _bytes(ENCRYPTED), ["password"]),
    "zip not workbook": ("zip.xlsx", _zip_not_workbook, ["not an Excel workbook"]),
    "truncated xlsx": ("cut.xlsx", _truncated_workbook, ["damaged"]),
    "no group_id": ("nogroup.csv", _bytes(b"name,owner\nx,y\n"), ["no group_id column"]),
    "header only": ("header.csv", _bytes(b"group_id,note\n"), ["no rows"]),
    "stray cell": ("stray.csv", _bytes(b"group_id,note\ng1,a\ng2,b,oops\n"), ["row 3", "column 'C'"]),
}


@pytest.mark.parametrize("case", list(BAD_MANIFESTS))
def test_bad_manifest_is_one_line_exit_2_and_nothing_sent(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, case: str
) -> None:
    """An unusable manifest: exit 2, one line naming the file (and row/column), no traceback, no call."""
    name, make, words = BAD_MANIFESTS[case]
    manifest = make(tmp_path / name)
    before = len(sim_thread.simulator.received)
    code, out, err = run_at(sim_thread.url, manifest, tmp_path / "run")
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: ") and err.count("\n") == 1, err
    assert name in err and "Traceback" not in err
    assert all(word in err for word in words), err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists()


ABSURD_NUMBERS = [
    ("--concurrency", "1025"),
    ("--concurrency", "99999999999999999999"),
    ("--max-attempts", "101"),
    ("--max-attempts", "1025"),
    ("--timeout", "1e308"),
    ("--timeout", "3601"),
    ("--verify-timeout", "1e308"),
    ("--verify-timeout", "inf"),
    ("--rate", "1e-320"),
    ("--rate", "1e308"),
    ("--rate", "auto:1:1e308"),
    ("--rate", "auto:0.001"),
]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--rate", "0"),
        ("--concurrency", "-1"),
        ("--timeout", "nan"),
        ("--format", "pdf"),
        ("--max-attempts", "0"),
        ("--rate", "inf"),
        *ABSURD_NUMBERS,
    ],
)
def test_bad_option_is_named_exit_2_and_nothing_sent(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    """A bad option value: argparse's usage and one error line naming the option, exit 2, no call."""
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    before = len(sim_thread.simulator.received)
    code, _, err = run_at(sim_thread.url, manifest, tmp_path / "run", option, value)
    err += capsys.readouterr().err  # argparse prints to sys.stderr
    assert code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"argument {option}" in errors[0], err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists()


def test_no_credentials_is_one_line_exit_2_and_nothing_sent(
    sim_thread: SimulatorThread, tmp_path: Path, no_credentials: None
) -> None:
    """No credential of any kind in the environment: one line saying what to set, exit 2, no call."""
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    before = len(sim_thread.simulator.received)
    code, _, err = run_at(sim_thread.url, manifest, tmp_path / "run")
    assert code == 2
    assert err.startswith("bulkretry: error: ") and err.count("\n") == 1, err
    assert "HUAWEICLOUD_SDK_AK" in err and "Traceback" not in err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists()


SECRET_PART = "sekr3t-part"
#: A global value that is not one clean line -> (what the message names, the argv or environment that says it).
DIRTY_GLOBALS = {
    "project id CRLF": ("--project-id", {"argv": ["--project-id", "p\r\nX-Injected: 1"]}),
    "project id NUL": ("--project-id", {"argv": ["--project-id", "p\x00q"]}),
    "project id spaces": ("--project-id", {"argv": ["--project-id", f" {PROJECT} "]}),
    "project id env ESC": ("HUAWEICLOUD_SDK_PROJECT_ID", {"env": {"HUAWEICLOUD_SDK_PROJECT_ID": "p\x1b[2Jq"}}),
    "token env LF": ("OMS_AUTH_TOKEN", {"env": {"OMS_AUTH_TOKEN": f"tok\n{SECRET_PART}"}}),
    "token file CRLF": ("token file", {"token_file": f"tok\r\n{SECRET_PART}\n"}),
    "token file BEL": ("token file", {"token_file": f"tok\x07{SECRET_PART}"}),
    "AK env LF": ("HUAWEICLOUD_SDK_AK", {"env": {"HUAWEICLOUD_SDK_AK": f"AK\n{SECRET_PART}"}}),
    "SK env TAB": ("HUAWEICLOUD_SDK_SK", {"env": {"HUAWEICLOUD_SDK_SK": f"sk\t{SECRET_PART}"}}),
    "security token env U+2028": (
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        {"env": {"HUAWEICLOUD_SDK_SECURITY_TOKEN": f"sts\u2028{SECRET_PART}"}},
    ),
    "IAM user env CR": ("OMS_IAM_USER", {"iam": True, "env": {"OMS_IAM_USER": "bob\rmallory"}}),
    "IAM domain flag DEL": ("--iam-domain", {"iam": True, "argv": ["--iam-domain", "acme\x7fcorp"]}),
}


@pytest.mark.parametrize("case", list(DIRTY_GLOBALS))
def test_global_values_with_control_characters_are_refused_before_any_call(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """A global value with CR/LF, a control character or spaces around it: exit 2 naming it, no secret, no call."""
    where, given = DIRTY_GLOBALS[case]
    argv = [
        "run",
        str(write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])),
        "--endpoint",
        sim_thread.url,
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        *given.get("argv", []),
    ]
    if "--project-id" not in argv and "HUAWEICLOUD_SDK_PROJECT_ID" not in given.get("env", {}):
        argv += ["--project-id", PROJECT]
    if given.get("iam"):  # password auth: the simulator's IAM
        clear_credentials(monkeypatch)
        monkeypatch.setenv("OMS_IAM_USER", "bob")
        monkeypatch.setenv("OMS_IAM_PASSWORD", "pw")
        argv += ["--auth", "password", "--iam-endpoint", sim_thread.url]
    for name, value in given.get("env", {}).items():
        monkeypatch.setenv(name, value)
    if "token_file" in given:
        (tmp_path / "token").write_text(given["token_file"], encoding="utf-8")
        argv += ["--token-file", str(tmp_path / "token")]
    before = len(sim_thread.simulator.received)
    code, out, err = run_cli(*argv)
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: ") and err.count("\n") == 1 and where in err, err
    assert SECRET_PART not in err + out and "Traceback" not in err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists()


def test_a_token_file_with_a_trailing_newline_still_works(
    sim_thread: SimulatorThread, tmp_path: Path, no_credentials: None
) -> None:
    """Whitespace around a token file's content (its final newline, a BOM) is not part of the token."""
    (tmp_path / "token").write_text(f"\ufeff  {sim_thread.config.token}\r\n\n", encoding="utf-8")
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    argv = sim_run_argv(sim_thread, manifest, tmp_path / "run", "--quiet", "--token-file", str(tmp_path / "token"))
    _, out, err = run_cli(*argv)
    assert "HTTP 401" not in out + err and "401" not in read_report(tmp_path / "run")[0]["http_status"], (out, err)


@pytest.mark.parametrize("encoding", ["rot13", "hex", "base64", "punycode", "utf-16"])
def test_encoding_that_cannot_read_the_file_is_one_line_exit_2(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, encoding: str
) -> None:
    """--encoding naming a codec that is no text file's charset (or utf-16 without a BOM): exit 2, one line, no call."""
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    before = len(sim_thread.simulator.received)
    code, out, err = run_at(sim_thread.url, manifest, tmp_path / "run", "--encoding", encoding)
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: ") and err.count("\n") == 1, err
    assert "m.csv" in err and "--encoding" in err and "Traceback" not in err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists()


def test_a_hidden_first_sheet_is_not_read_and_the_sheet_read_is_said(tmp_path: Path) -> None:
    """validate on a workbook whose first sheet is hidden: the visible sheet's rows, and a note naming both sheets."""
    book = openpyxl.Workbook()
    hidden = book.active
    hidden.title, hidden.sheet_state = "old", "hidden"
    hidden.append(["group_id"])
    hidden.append(["stale-group"])
    shown = book.create_sheet("current")
    shown.append(["group_id"])
    shown.append(["fresh-group"])
    book.active = 1
    book.save(tmp_path / "m.xlsx")
    code, out, err = run_cli("validate", str(tmp_path / "m.xlsx"), "--project-id", PROJECT, "--region", "cn-north-4")
    assert code == 0, (out, err)
    assert "fresh-group" in out and "stale-group" not in out
    assert "'current'" in err and "'old'" in err and "--sheet" in err


def test_uncomputed_formula_credentials_are_invalid_and_never_sent(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """A workbook saved by a tool that does not compute formulas: rows whose SK is such a formula are invalid and
    not called (never a body without its src_sk); the other rows are called."""
    book = openpyxl.Workbook()
    book.active.append(["group_id", "src_ak", "src_sk"])
    book.active.append(["g1", "SRCAK0001", '=CONCAT("sk-","1")'])
    book.active.append(["g2", "SRCAK0002", "sk-2"])
    book.save(tmp_path / "m.xlsx")
    before = len(sim_thread.simulator.received)
    code, out, err = run_at(sim_thread.url, tmp_path / "m.xlsx", tmp_path / "run")
    assert code == 1, (out, err)
    rows = {row["group_id"]: row for row in read_report(tmp_path / "run")}
    assert rows["g1"]["outcome"] == "invalid" and "formula" in rows["g1"]["error_code"], rows["g1"]
    assert rows["g2"]["outcome"] != "invalid"
    assert len(sim_thread.simulator.received) - before == 1
