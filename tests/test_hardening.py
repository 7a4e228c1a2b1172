"""Hardening, end to end through the CLI: bad input is refused before any call, ids stay in their path segment,
a misbehaving server gives per-row errors, and formula text is neutralised in csv and xlsx."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
from aiohttp import web

from bulkretry.oms.errorbody import MAX_BODY_BYTES
from bulkretry.report.common import neutralise
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import clear_credentials, run_cli, run_manifest, use_sim_credentials

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServerThread:
    """An aiohttp server answering every request with *handler*, in a background thread (the CLI blocks)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[web.Request] = []
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _record(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        return await self.handler(request)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(10), "the test server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _run(url: str, manifest: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return run_manifest(manifest, url, PROJECT, out, *extra, rate="200")


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _report(run: Path) -> list[dict[str, str]]:
    with open(run / "report.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# -- 1. bad input: one line naming what and where, exit 2, nothing sent --------------------------------------


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
    code, out, err = _run(sim_thread.url, manifest, tmp_path / "run")
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
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    before = len(sim_thread.simulator.received)
    code, _, err = _run(sim_thread.url, manifest, tmp_path / "run", option, value)
    err += capsys.readouterr().err  # argparse prints to sys.stderr
    assert code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"argument {option}" in errors[0], err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists()


def test_no_credentials_is_one_line_exit_2_and_nothing_sent(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No credential of any kind in the environment: one line saying what to set, exit 2, no call."""
    clear_credentials(monkeypatch)
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    before = len(sim_thread.simulator.received)
    code, _, err = _run(sim_thread.url, manifest, tmp_path / "run")
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
        str(_write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])),
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
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whitespace around a token file's content (its final newline, a BOM) is not part of the token."""
    clear_credentials(monkeypatch)
    (tmp_path / "token").write_text(f"\ufeff  {sim_thread.config.token}\r\n\n", encoding="utf-8")
    _, out, err = run_cli(
        "run",
        str(_write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])),
        "--endpoint",
        sim_thread.url,
        "--project-id",
        sim_thread.config.project_id,
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--token-file",
        str(tmp_path / "token"),
    )
    assert "HTTP 401" not in out + err and "401" not in _report(tmp_path / "run")[0]["http_status"], (out, err)


@pytest.mark.parametrize("encoding", ["rot13", "hex", "base64", "punycode", "utf-16"])
def test_encoding_that_cannot_read_the_file_is_one_line_exit_2(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, encoding: str
) -> None:
    """--encoding naming a codec that is no text file's charset (or utf-16 without a BOM): exit 2, one line, no call."""
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    before = len(sim_thread.simulator.received)
    code, out, err = _run(sim_thread.url, manifest, tmp_path / "run", "--encoding", encoding)
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
    code, out, err = _run(sim_thread.url, tmp_path / "m.xlsx", tmp_path / "run")
    assert code == 1, (out, err)
    rows = {row["group_id"]: row for row in _report(tmp_path / "run")}
    assert rows["g1"]["outcome"] == "invalid" and "formula" in rows["g1"]["error_code"], rows["g1"]
    assert rows["g2"]["outcome"] != "invalid"
    assert len(sim_thread.simulator.received) - before == 1


# -- 2. ids never leave their path segment ------------------------------------------------------------------

ODD_GROUPS = [
    "a/b",
    "a/../../b",
    "..",
    ".",
    "x?y=1",
    "x#frag",
    "100%",
    "a%2Fb",
    "%2e%2e",
    "a\r\nb",
    "a\nb",
    "组/1",
    "?",
    "#",
    "/",
]
ODD_PROJECTS = ["p/q", "p?x=1", "项目#1", "..", ".", "p%2F", "p\rq"]
NEVER_SENT = {"..", ".", "a\r\nb", "a\nb", "p\rq"}


def test_odd_ids_stay_in_their_path_segment(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """Ids holding / .. ? # % CR/LF or unicode arrive as one decoded segment each, or are refused as invalid."""
    pairs = [(PROJECT, g) for g in ODD_GROUPS] + [(p, "g1") for p in ODD_PROJECTS]
    manifest = _write_csv(tmp_path / "odd.csv", [["project_id", "group_id"], *map(list, pairs)])
    before = len(sim_thread.simulator.received)
    _run(sim_thread.url, manifest, tmp_path / "run", "--max-attempts", "1")
    sent = Counter()
    for request in sim_thread.simulator.received[before:]:
        raw = request.raw_path.split("/")
        assert len(raw) == 6 and raw[:2] == ["", "v2"] and raw[3] == "taskgroups" and raw[5] == "retry", raw
        assert not {raw[2], raw[4]} & {".", ".."}, raw
        sent[unquote(raw[2]), unquote(raw[4])] += 1
    rows = _report(tmp_path / "run")
    assert len(rows) == len(pairs)
    for (project, group), row in zip(pairs, rows):
        if row["outcome"] == "invalid":
            assert sent[project, group] == 0
        else:
            assert sent[project, group] == 1, (project, group, row["outcome"], row["error_code"])
    refused = {p if p != PROJECT else g for (p, g), row in zip(pairs, rows) if row["outcome"] == "invalid"}
    assert refused == NEVER_SENT


# -- 3. a misbehaving server: per-row errors, never a crashed run -------------------------------------------

EXPECTED = {  # group id (its behaviour) -> (outcome, http_status, error_code, attempts) with --max-attempts 2
    "garbage-500": ("failed", "500", "500", "2"),
    "huge-500": ("failed", "500", "invalid_response", "2"),
    "deep-json-500": ("failed", "500", "500", "2"),
    "hostile-code": ("failed", "400", "X [2JX [2JX [2J", "1"),  # the code: one short line without ESC, a prefix
    "slow": ("failed", "", "timeout", "2"),
    "reset": ("failed", "", "connection", "2"),
    "not-http": ("failed", "", "connection", "2"),
    "redirect-away": ("failed", "302", "302", "1"),
    "redirect-same": ("failed", "301", "301", "1"),
    "bad-location": ("failed", "302", "302", "1"),
    "garbage-200": ("failed", "200", "invalid_response", "1"),  # a 2xx page that is not JSON: a proxy, not OMS
    "deep-json-200": ("failed", "200", "invalid_response", "1"),
    "json-array": ("succeeded", "200", "", "1"),
    "json-null": ("succeeded", "200", "", "1"),
    "ok": ("succeeded", "200", "", "1"),
}


def _misbehaving(elsewhere: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        group = unquote(request.raw_path.split("/")[4])
        assert request.transport is not None
        if group == "garbage-500":
            return web.Response(status=500, body=b"\x00\xff<html>\r\n  oops \x1b[31m not json")
        if group == "huge-500":
            return web.Response(status=500, body=b"x" * (MAX_BODY_BYTES + 4096))
        if group.startswith("deep-json"):
            return web.Response(status=int(group[-3:]), text="[" * 100_000, content_type="application/json")
        if group == "hostile-code":
            return web.json_response({"error_code": "X\n\x1b[2J" * 500, "error_msg": "a\x00b\x1b[31mc"}, status=400)
        if group == "slow":
            await asyncio.sleep(30)
        if group in ("reset", "not-http"):
            if group == "not-http":
                request.transport.write(b"NOT HTTP\x00\r\n\r\n")
            request.transport.abort()
            return web.Response()
        if group == "redirect-away":
            raise web.HTTPFound(f"{elsewhere}/v2/{PROJECT}/taskgroups/ok/retry")
        if group == "redirect-same":
            raise web.HTTPMovedPermanently(f"/v2/{PROJECT}/taskgroups/ok/retry")
        if group == "bad-location":
            return web.Response(status=302, headers={"Location": "http://[oops/"})
        if group == "garbage-200":
            return web.Response(status=200, body=b"<html>\x00 fine?", content_type="text/html")
        if group == "json-array":
            return web.json_response([1, 2])
        if group == "json-null":
            return web.json_response(None)
        return web.json_response({})

    return handle


async def _record_only(request: web.Request) -> web.Response:
    return web.json_response({})


def test_misbehaving_server_gives_per_row_errors(env: dict, tmp_path: Path) -> None:
    """Garbage, huge, slow, dropped, redirecting and odd 2xx answers each end as that row's outcome, not a crash."""
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in EXPECTED)])
    with ServerThread(_record_only) as other, ServerThread(_misbehaving(other.url)) as server:
        code, out, err = _run(server.url, manifest, tmp_path / "run", "--max-attempts", "2", "--timeout", "0.5")
        hits = Counter(unquote(r.raw_path.split("/")[4]) for r in server.requests)
        assert other.requests == []  # the redirect to another host was not followed: no credentials went there
    assert code == 1, (out, err)
    assert err == "" and out.count("\n") == 1 and "\x1b" not in out, (out, err)
    rows = {r["group_id"]: r for r in _report(tmp_path / "run")}
    assert list(rows) == list(EXPECTED)
    hostile = rows["hostile-code"]["error_code"]
    assert hostile.isprintable() and len(hostile) <= 64, hostile
    rows["hostile-code"]["error_code"] = hostile[: len(EXPECTED["hostile-code"][2])]
    assert {g: (r["outcome"], r["http_status"], r["error_code"], r["attempts"]) for g, r in rows.items()} == EXPECTED
    assert {g: hits[g] for g in EXPECTED} == {g: int(r["attempts"]) for g, r in rows.items()}
    assert "oops" in rows["garbage-500"]["error_msg"] and rows["hostile-code"]["error_msg"] == "a b [31mc"
    assert rows["not-http"]["error_msg"].startswith("the answer is not valid HTTP: ")
    assert "proxy or captive page" in rows["garbage-200"]["error_msg"]
    assert other.url.removeprefix("http://") in rows["redirect-away"]["error_msg"]
    for row in rows.values():
        assert row["error_msg"].isprintable() and len(row["error_msg"]) <= 300, row
    summary_json = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary_json["rows"] == len(EXPECTED) and summary_json["calls"] == sum(hits.values())


# -- 4. formula injection ----------------------------------------------------------------------------------

EVIL_MSG = "=cmd|' /C calc'!A0"
TRIGGERS = ("=", "+", "-", "@")


async def _evil_error(request: web.Request) -> web.Response:
    return web.json_response({"error_code": "@OMS.1015", "error_msg": EVIL_MSG}, status=400)


def test_formula_text_is_neutralised_in_csv_and_xlsx(env: dict, tmp_path: Path) -> None:
    """Text starting with = + - @ (ids, extra cells and headers, the service's answer): neutralised in csv/xlsx only."""
    raw_rows = [["=1+2", '=HYPERLINK("http://x","y")', "@SUM(1)"], ["+cmd", "-2+3", "plain"], ["-g", "@SUM(1)", "=A1"]]
    manifest = _write_csv(tmp_path / "m.csv", [["group_id", "note", "@owner"], *raw_rows])
    with ServerThread(_evil_error) as server:
        code, _, err = _run(server.url, manifest, tmp_path / "run", "--max-attempts", "1")
    assert code == 1, err
    rows = _report(tmp_path / "run")
    assert "'@owner" in rows[0]
    assert len(rows) == len(raw_rows)
    for raw, row in zip(raw_rows, rows):
        assert [row["group_id"], row["note"], row["'@owner"]] == [neutralise(v) for v in raw]
        assert (row["error_code"], row["error_msg"]) == ("'@OMS.1015", "'" + EVIL_MSG)
        assert not any(v.startswith(TRIGGERS) for v in row.values()), row
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    texts = [c.value for ws in book.worksheets for line in ws.iter_rows() for c in line if isinstance(c.value, str)]
    assert not [c.coordinate for ws in book.worksheets for line in ws.iter_rows() for c in line if c.data_type == "f"]
    assert not [t for t in texts if t.startswith(TRIGGERS)]
    sheet = book["Rows"]
    header = [c.value for c in sheet[1]]
    xlsx_rows = [dict(zip(header, (c.value for c in line))) for line in sheet.iter_rows(min_row=2)]
    assert len(xlsx_rows) == len(rows)
    for csv_row, xlsx_row in zip(rows, xlsx_rows):
        for key in ("group_id", "note", "'@owner", "error_code", "error_msg"):
            assert xlsx_row[key] == csv_row[key]
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert len(report["rows"]) == len(raw_rows)
    for raw, row in zip(raw_rows, report["rows"]):
        assert [row["group_id"], row["note"], row["@owner"]] == raw
        assert (row["error_code"], row["error_msg"]) == ("@OMS.1015", EVIL_MSG)


# -- 5. login and 401 storms: a systematic failure stops the run, not one row at a time -----------------------

IAM_PATH = "/v3/auth/tokens"


def _failed_groups(sim: SimulatorThread, n: int) -> list[str]:
    return [g["group_id"] for g in sim.simulator.state.list(status=5, offset=0, limit=1000)[1]][:n]


def _use_password(monkeypatch: pytest.MonkeyPatch, user: str, password: str) -> None:
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_IAM_USER", user)
    monkeypatch.setenv("OMS_IAM_PASSWORD", password)


def _iam_answering(status: int, message: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": status, "message": message}}, status=status)

    return handler


def _iam_logins(sim: SimulatorThread) -> int:
    return sum(r.raw_path == IAM_PATH for r in sim.simulator.received)


@pytest.mark.parametrize("case", ["wrong-password", "unknown-user", 400, 403])
def test_a_refused_iam_login_stops_the_run_at_once_exit_2(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: object
) -> None:
    """IAM refusing the login (4xx) is asked once, not once per row: no OMS call, one line, exit 2."""
    _use_password(
        monkeypatch,
        "nobody" if case == "unknown-user" else "sim-user",
        "sim-password" if isinstance(case, int) else "not-the-password",
    )
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in _failed_groups(sim_thread, 8))])
    iam = ServerThread(_iam_answering(case, "The account is locked.")) if isinstance(case, int) else None
    with iam or ServerThread(_record_only):
        code, out, err = _run(
            sim_thread.url,
            manifest,
            tmp_path / "run",
            "--concurrency",
            "4",
            "--iam-endpoint",
            iam.url if iam else sim_thread.url,
            "--iam-domain",
            "sim-domain",
        )
    logins = len(iam.requests) if iam else _iam_logins(sim_thread)
    assert (code, logins, sim_thread.simulator.calls) == (2, 1, 0), (out, err)
    assert err.startswith("bulkretry: error: IAM") and err.count("\n") == 1, err
    assert "refused the login" in err and "nothing was called" in err and "--resume" in err, err
    assert "not-the-password" not in out + err and "Traceback" not in err


def test_a_refused_login_after_calls_for_another_project_exits_1(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM refusing a second project stops the run there; the calls made are kept and the exit is 1."""
    _use_password(monkeypatch, "sim-user", "sim-password")
    g = _failed_groups(sim_thread, 5)
    rows = [[PROJECT, g[0]], [PROJECT, g[1]], ["other-project", g[2]], ["other-project", g[3]], [PROJECT, g[4]]]
    manifest = _write_csv(tmp_path / "m.csv", [["project_id", "group_id"], *rows])
    code, out, err = _run(
        sim_thread.url,
        manifest,
        tmp_path / "run",
        "--concurrency",
        "1",
        "--iam-endpoint",
        sim_thread.url,
        "--iam-domain",
        "sim-domain",
    )
    assert (code, _iam_logins(sim_thread), sim_thread.simulator.calls) == (1, 2, 2), (out, err)
    assert err.startswith("bulkretry: error: IAM") and "other-project" in err, err
    assert "2 calls were made before" in err and "--resume" in err, err
    assert [(r["group_id"], r["outcome"]) for r in _report(tmp_path / "run")] == [
        (g[0], "succeeded"),
        (g[1], "succeeded"),
    ]


class SilentListener:
    """A loopback port that accepts connections and never answers; counts the connections."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[object] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:  # socket.timeout, not yet TimeoutError on Python 3.9
                continue

    def __enter__(self) -> SilentListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()  # type: ignore[attr-defined]
        self.sock.close()


def _closed_port_url() -> str:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as sock:
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("case", ["silent", "closed", 429, 503])
def test_an_iam_that_gives_no_token_is_asked_once_and_halts_the_run(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: object
) -> None:
    """IAM silent, closed, throttling or failing: one login attempt for the run, every row halted, exit 1."""
    _use_password(monkeypatch, "sim-user", "sim-password")
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in _failed_groups(sim_thread, 6))])
    server: SilentListener | ServerThread | None = (
        SilentListener()
        if case == "silent"
        else ServerThread(_iam_answering(case, "busy"))
        if isinstance(case, int)
        else None
    )
    with server or ServerThread(_record_only):
        url = server.url if server else _closed_port_url()
        code, out, err = _run(
            sim_thread.url,
            manifest,
            tmp_path / "run",
            "--concurrency",
            "3",
            "--max-attempts",
            "3",
            "--timeout",
            "0.3",
            "--iam-endpoint",
            url,
            "--iam-domain",
            "sim-domain",
        )
    attempts = len(server.accepted) if isinstance(server, SilentListener) else len(server.requests) if server else 1
    assert (code, attempts, sim_thread.simulator.calls) == (1, 1, 0), (out, err)
    rows = _report(tmp_path / "run")
    assert len(rows) == 6
    assert {(r["outcome"], r["error_code"], r["attempts"]) for r in rows} == {("interrupted", "halted", "0")}
    assert all(r["error_msg"].startswith("halted: IAM") and url in r["error_msg"] for r in rows), rows[0]
    assert "halted" in err and "--resume" in err, err


@pytest.mark.parametrize("case", ["wrong-sk", "wrong-token", "wrong-project"])
def test_refused_first_calls_halt_the_run_and_resume_calls_the_rest(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The first 5 calls all refused (401/403): no more calls start, the rest are halted, --resume calls them."""
    config = sim_thread.simulator.config
    clear_credentials(monkeypatch)
    if case == "wrong-token":
        monkeypatch.setenv("OMS_AUTH_TOKEN", "not-the-token")
    else:
        monkeypatch.setenv("HUAWEICLOUD_SDK_AK", config.ak)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "not-the-sk" if case == "wrong-sk" else config.sk)
    project = "other-project" if case == "wrong-project" else PROJECT
    groups = _failed_groups(sim_thread, 12)
    manifest = _write_csv(tmp_path / "m.csv", [["project_id", "group_id"], *([project, g] for g in groups)])
    code, out, err = _run(sim_thread.url, manifest, tmp_path / "run", "--concurrency", "2")
    calls = sim_thread.simulator.calls
    assert code == 1 and 5 <= calls <= 6, (calls, out, err)
    rows = _report(tmp_path / "run")
    refused = ("403", "OMS.0003") if case == "wrong-project" else ("401", "APIGW.0301")
    failed = [r for r in rows if r["outcome"] == "failed"]
    halted = [r for r in rows if r["outcome"] == "interrupted"]
    assert len(failed) == calls and {(r["http_status"], r["error_code"]) for r in failed} == {refused}
    assert len(halted) == 12 - calls and {r["error_code"] for r in halted} == {"halted"}
    reason = f"halted: the first 5 calls were refused with {refused[0]} {refused[1]}; check the credentials"
    assert all(r["error_msg"].startswith(reason) for r in halted), halted[0]["error_msg"]
    assert "halted" in err and "--resume" in err, err
    if case == "wrong-project":
        return
    use_sim_credentials(monkeypatch, config)
    code, out, err = _run(sim_thread.url, manifest, tmp_path / "run", "--concurrency", "2", "--resume")
    assert code == 1 and sim_thread.simulator.calls == 12, (out, err)
    after = {r["group_id"]: r["outcome"] for r in _report(tmp_path / "run")}
    assert after == {g: "failed" if g in {r["group_id"] for r in failed} else "succeeded" for g in groups}


# -- 6. stop signals before the first call and after the last one ----------------------------------------------------


def _bulkretry(*argv: str, env: dict[str, str], ignore_sigint: bool = False) -> subprocess.Popen[str]:
    """``python -m bulkretry ARGV`` as a child process (with SIGINT ignored, as a shell's background job has it)."""

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [sys.executable, "-m", "bulkretry", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore if ignore_sigint else None,
    )


def _wait_until(found: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Poll (bounded) until *found*; fail the test if the child ends first or it never happens."""
    deadline = time.monotonic() + 60
    while not found():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"never saw {what} (exit {proc.returncode}): {err[-2000:]}")
        time.sleep(0.002)


def _has_open(pid: int, path: Path) -> bool:
    """Whether process *pid* has *path* open (Linux: /proc/PID/fd)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see when the manifest is being read")
@pytest.mark.parametrize(
    ("signame", "expected", "ignored"), [("SIGINT", 130, False), ("SIGTERM", 143, False), ("SIGINT", 130, True)]
)
def test_a_signal_while_the_manifest_is_read_stops_before_any_call(
    tmp_path: Path, signame: str, expected: int, ignored: bool
) -> None:
    """A stop signal while a large workbook is still being read: no call ever starts, exit 130/143, one line."""
    manifest = tmp_path / "big.xlsx"
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("groups")
    sheet.append(["group_id"])
    for n in range(6000):
        sheet.append([f"{n:08x}-0000-4000-8000-000000000000"])
    book.save(manifest)
    config = SimConfig(groups=5)
    with SimulatorThread(config) as sim_thread:
        env = {**os.environ, "HUAWEICLOUD_SDK_AK": config.ak, "HUAWEICLOUD_SDK_SK": config.sk}
        proc = _bulkretry(
            "run",
            str(manifest),
            "--endpoint",
            sim_thread.url,
            "--project-id",
            config.project_id,
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            env=env,
            ignore_sigint=ignored,
        )
        _wait_until(lambda: _has_open(proc.pid, manifest), proc, "the manifest being read")
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=60)
        received = len(sim_thread.simulator.received)
    assert proc.returncode == expected, err
    assert received == 0  # nothing was called, then or later
    assert "Traceback" not in err and f"stopped by {signame}" in err and "nothing was called" in err


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux only, as the test above")
@pytest.mark.parametrize(("signame", "expected"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_while_the_reports_are_written_ends_with_its_status(
    tmp_path: Path, signame: str, expected: int
) -> None:
    """A stop signal while the reports are written: they are finished (whole, consistent), and the exit
    status is the signal's, not 0."""
    rows = 8000
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"]] + [[f"g-{n:06d}"] for n in range(rows)])
    out = tmp_path / "run"
    proc = _bulkretry(
        "run",
        str(manifest),
        "--endpoint",
        "http://127.0.0.1:9",
        "--project-id",
        PROJECT,
        "--out",
        str(out),
        "--dry-run",
        "--quiet",
        env=dict(os.environ),
    )
    _wait_until(
        lambda: out.is_dir() and any(p.suffix == ".tmp" for p in out.iterdir()), proc, "the reports being written"
    )
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == expected, err
    assert "Traceback" not in err and f"stopped by {signame}" in err
    assert not [p.name for p in out.iterdir() if p.suffix == ".tmp"]
    assert len(_report(out)) == rows and {r["outcome"] for r in _report(out)} == {"dry_run"}
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["by_outcome"] == {"dry_run": rows}
    for name in ("report.json", "report.xlsx", "report.html", "annotated.csv"):
        assert (out / name).stat().st_size > 0


# -- 7. full disks and read-only archives -------------------------------------------------------------------


@contextmanager
def _mounted(folder: Path, *options: str) -> Iterator[Path]:
    """*folder* as a real mount for the block (``mount OPTIONS``), unmounted after; skips unless root can mount."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) to mount a small tmpfs or a read-only bind mount")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *options, str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}): a container without CAP_SYS_ADMIN?")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of *size* (e.g. ``256k``) on *folder*."""
    return _mounted(folder, "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs")


def _unsaved_lines(err: str) -> list[dict[str, object]]:
    """The results a run could not journal, as printed on stderr (one JSON object per line)."""
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_full_disk_loses_no_answer_and_a_resume_counts_every_session(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """The run folder's disk fills mid-run: exit 1, every answer journalled or printed, the session survives."""
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], *([f"g{i:04d}"] for i in range(300))])
    with _tmpfs(tmp_path / "disk", "256k") as disk:
        out = disk / "run"
        code, _, err = _run(sim_thread.url, manifest, out, "--concurrency", "4", "--rate", "2000")
        sent = [r.path_segments[3] for r in sim_thread.simulator.received if r.method == "PUT"]
        assert code == 1, err
        assert 0 < len(sent) < 300 and "Traceback" not in err
        assert "database or disk is full" in err and str(out / "journal.sqlite") in err
        printed = {str(row["group_id"]) for row in _unsaved_lines(err)}
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        with closing(sqlite3.connect(out / "journal.sqlite")) as db:
            journalled = {g for (g,) in db.execute("SELECT group_id FROM rows WHERE attempts > 0")}
            sessions = json.loads(db.execute("SELECT value FROM run WHERE key = 'sessions'").fetchone()[0])
        assert set(sent) <= journalled | printed, set(sent) - journalled - printed
        assert len(sessions) == 1
        code, _, err = _run(sim_thread.url, manifest, out, "--resume", "--rate", "2000")
        assert code == 1, err  # the groups are unknown to the simulator: each one fails (404)
        summary_json = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary_json["sessions"] == 2 and summary_json["by_outcome"] == {"failed": 300}


@pytest.mark.parametrize("disk", ["dev-full", "tmpfs"])
def test_a_full_disk_under_the_log_file_is_one_warning_and_the_run_goes_on(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], disk: str
) -> None:
    """--log-file whose disk is full (at once, or after a few records): one warning, no traceback, exit 0."""
    ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]]
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in ids)])
    if disk == "dev-full":
        if not os.path.exists("/dev/full"):
            pytest.skip("needs /dev/full to fake a full disk")
        code, out, err = _run(sim_thread.url, manifest, tmp_path / "run", "--log-file", "/dev/full")
    else:
        with _tmpfs(tmp_path / "disk", "64k") as mounted:
            (mounted / "filler").write_bytes(b"x" * 60 * 1024)  # one page left: a few records fit, then ENOSPC
            log = mounted / "run.jsonl"
            code, out, err = _run(sim_thread.url, manifest, tmp_path / "run", "--log-file", str(log))
            assert 0 < log.stat().st_size <= 4096
    err += capsys.readouterr().err  # logging's own error handler writes to sys.stderr
    assert code == 0, err
    assert f"{len(ids)} rows: {len(ids)} succeeded" in out
    assert err.count("warning: --log-file") == 1 and "No space left on device" in err, err
    assert "Traceback" not in err and "Logging error" not in err, err
    assert [r["outcome"] for r in _report(tmp_path / "run")] == ["succeeded"] * len(ids)


def test_an_archived_run_on_a_read_only_mount_is_read_not_written(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """rerun and diff --out work from a read-only run folder; report and diff's default say where to write instead."""
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], ["g1"], ["g2"]])
    code, _, err = _run(sim_thread.url, manifest, tmp_path / "run")
    assert code == 1, err  # unknown groups: failed, to rerun
    with _mounted(tmp_path / "archive", "-o", "bind,ro", str(tmp_path / "run")) as archive:
        before = sorted(p.name for p in archive.iterdir())
        code, _, err = run_cli("rerun", str(archive), "--out", str(tmp_path / "again"), "--quiet")
        assert code == 1 and "Traceback" not in err, err
        assert [r["group_id"] for r in _report(tmp_path / "again")] == ["g1", "g2"]
        code, out, err = run_cli("diff", str(archive), str(tmp_path / "again"), "--out", str(tmp_path / "d.csv"))
        assert code == 0 and "still failing: 2" in out, err
        code, _, err = run_cli("diff", str(tmp_path / "again"), str(archive))
        assert code == 2 and "--out" in err and str(archive) in err and "Traceback" not in err, err
        code, _, err = run_cli("report", str(archive))
        assert code == 2 and "cannot write" in err and str(archive) in err and "Traceback" not in err, err
        assert "copy" in err, err
        assert sorted(p.name for p in archive.iterdir()) == before


# -- 8. the host a call goes to is the one the user named ------------------------------------------------------


class Listener:
    """A loopback TCP port that counts the connections made to it (and closes each at once)."""

    def __init__(self) -> None:
        import socket

        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


#: Regions that splice another host into https://oms.{region}.myhuaweicloud.com (all on loopback, so the code
#: before the fix reached the listener and nothing else).
HOSTILE_REGIONS = ["x@127.0.0.1:{port}#", "x@127.0.0.1:{port}/", "x@127.0.0.1:{port}?", "a:b@127.0.0.1:{port}#x"]
TOKEN = "the-run-token-0123456789"


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """Only a token as credentials (sent as X-Auth-Token, so nothing in aiohttp stops a URL with a user name)."""
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_AUTH_TOKEN", TOKEN)
    return TOKEN


@pytest.mark.parametrize("region", HOSTILE_REGIONS)
def test_a_region_cell_naming_another_host_is_invalid_and_never_called(
    token_env: str, tmp_path: Path, region: str
) -> None:
    """A region cell with @ : / ? # is invalid:region in validate and run; no connection goes anywhere."""
    with Listener() as listener:
        cell = region.format(port=listener.port)
        manifest = _write_csv(tmp_path / "m.csv", [["group_id", "region"], ["g1", cell]])
        vcode, vout, _ = run_cli("validate", str(manifest), "--project-id", PROJECT)
        code, out, err = run_cli(
            "run",
            str(manifest),
            "--project-id",
            PROJECT,
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--max-attempts",
            "1",
            "--timeout",
            "2",
        )
        assert listener.connections == 0
    assert vcode == 1 and "invalid:region" in vout, vout
    assert code == 1, (out, err)
    [row] = _report(tmp_path / "run")
    assert (row["outcome"], row["error_code"]) == ("invalid", "invalid:region not a region id"), row
    assert "cn-north-4" in row["error_msg"]  # says what a region looks like


@pytest.mark.parametrize("command", ["validate", "run", "discover"])
@pytest.mark.parametrize("region", HOSTILE_REGIONS)
def test_a_region_option_naming_another_host_is_exit_2_and_never_called(
    token_env: str, tmp_path: Path, command: str, region: str
) -> None:
    """--region with @ : / ? # (run, validate, discover): exit 2, one line naming --region, no connection."""
    with Listener() as listener:
        value = region.format(port=listener.port)
        manifest = _write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
        args = {
            "validate": ["validate", str(manifest)],
            "run": ["run", str(manifest), "--out", str(tmp_path / "run"), "--quiet", "--max-attempts", "1"],
            "discover": ["discover", "--out", str(tmp_path / "found.csv")],
        }[command]
        timeout = [] if command == "validate" else ["--timeout", "2"]
        code, out, err = run_cli(*args, "--region", value, "--project-id", PROJECT, *timeout)
        assert listener.connections == 0
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: ") and err.count("\n") == 1 and "--region" in err, err
    assert not (tmp_path / "run").exists() and not (tmp_path / "found.csv").exists()


#: --endpoint values refused before any call ({url} is a live simulator's http://127.0.0.1:PORT).
BAD_ENDPOINTS = [
    "{hostport}",
    "ftp://{hostport}",
    "http://",
    "http://:{port}",
    "http://127.0.0.1 :{port}",
    " {url}",
    "http://127.0.0.1:{port}0000",
    "{url}/v2",
    "{url}/prefix/",
    "{url}?x=1",
    "{url}#f",
    "http://127.0.0.1:",
]


@pytest.mark.parametrize("command", ["run", "validate", "discover"])
@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_a_bad_endpoint_is_exit_2_naming_the_option_and_the_form(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, command: str, endpoint: str
) -> None:
    """No scheme, another scheme, no host, spaces, a port over 65535, a path/query/fragment: exit 2, nothing sent."""
    url = sim_thread.url
    value = endpoint.format(url=url, hostport=url.removeprefix("http://"), port=url.rsplit(":", 1)[1])
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    args = {
        "validate": ["validate", str(manifest)],
        "run": ["run", str(manifest), "--out", str(tmp_path / "run"), "--quiet", "--max-attempts", "1"],
        "discover": ["discover", "--out", str(tmp_path / "found.csv")],
    }[command]
    before = len(sim_thread.simulator.received)
    code, out, err = run_cli(*args, "--endpoint", value, "--project-id", PROJECT)
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: --endpoint") and err.count("\n") == 1, err
    assert "https://host[:port]" in err and "Traceback" not in err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists() and not (tmp_path / "found.csv").exists()


# -- 9. the run's own credentials never reach a file or the screen ---------------------------------------------

ROW_SK = "row-src-sk-0123456789abcdef"


async def _quoting(request: web.Request) -> web.Response:
    """A server that quotes the token it was sent (and the row's SK) in its answers: ids, codes, messages."""
    token = request.headers.get("X-Auth-Token", "")
    body = await request.text()
    if request.method == "GET":
        return web.json_response(
            {"error_code": "APIGW.0301", "error_msg": f"token {token} refused"},
            status=401,
            headers={"X-Request-Id": token[:200]},
        )
    group = unquote(request.raw_path.split("/")[4])
    if group == "quote-ok":
        return web.json_response({}, headers={"X-Request-Id": f"{token} {ROW_SK}"})
    return web.json_response(
        {"error_code": "OMS.0002", "error_msg": f"{'x' * 280} token {token} body {body}"},
        status=400,
        headers={"X-Request-Id": token},
    )


def test_a_server_quoting_the_runs_token_leaves_it_in_no_file_or_output(token_env: str, tmp_path: Path) -> None:
    """The token (and a row's SK) quoted in error_msg and X-Request-Id: in no run file, stdout or stderr."""
    manifest = _write_csv(tmp_path / "m.csv", [["group_id", "src_sk"], ["quote-ok", ROW_SK], ["quote-err", ROW_SK]])
    with ServerThread(_quoting) as server:
        code, out, err = _run(server.url, manifest, tmp_path / "run", "--max-attempts", "1")
        dcode, dout, derr = run_cli(
            "discover", "--endpoint", server.url, "--project-id", PROJECT, "--out", str(tmp_path / "found.csv")
        )
    assert (code, dcode) == (1, 1), (out, err, dout, derr)
    assert "[redacted]" in derr
    rows = {r["group_id"]: r for r in _report(tmp_path / "run")}
    assert rows["quote-ok"]["outcome"] == "succeeded" and "[redacted]" in rows["quote-ok"]["request_id"]
    assert "[redacted]" in rows["quote-err"]["error_msg"], rows["quote-err"]
    texts = [out, err, dout, derr] + [
        p.read_bytes().decode("utf-8", "replace")
        for p in (tmp_path / "run").rglob("*")
        if p.is_file() and p.suffix != ".xlsx"
    ]
    with zipfile.ZipFile(tmp_path / "run" / "report.xlsx") as book:
        texts += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
    for secret in (TOKEN, TOKEN[:12], ROW_SK, ROW_SK[:12]):
        assert not [t[:200] for t in texts if secret in t], secret


@pytest.mark.parametrize("command", ["run", "validate", "discover"])
def test_an_endpoint_with_a_password_is_refused_without_echoing_it(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, command: str
) -> None:
    """--endpoint http://user:pass@host: exit 2 before any call, the password in no output and no file."""
    value = sim_thread.url.replace("http://", "http://admin:hunter2-pw@")
    manifest = _write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    args = {
        "validate": ["validate", str(manifest)],
        "run": ["run", str(manifest), "--out", str(tmp_path / "run")],
        "discover": ["discover", "--out", str(tmp_path / "found.csv")],
    }[command]
    before = len(sim_thread.simulator.received)
    code, out, err = run_cli(*args, "--endpoint", value, "--project-id", PROJECT)
    assert code == 2, (out, err)
    assert "--endpoint" in err and "user name or password" in err, err
    assert "hunter2" not in out + err
    assert len(sim_thread.simulator.received) == before
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and b"hunter2" in p.read_bytes()]
