"""Hardening, end to end through the CLI: bad input is refused before any call, ids stay in their path segment,
a misbehaving server gives per-row errors, and formula text is neutralised in csv and xlsx."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
from aiohttp import web

from bulkretry.oms.client import MAX_BODY_BYTES
from bulkretry.report.common import neutralise
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import clear_credentials, run_cli, use_sim_credentials

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


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Only AK/SK credentials (the simulator's), nothing else from the caller's environment; returns what was set."""
    return use_sim_credentials(monkeypatch, SimConfig())


def _run(url: str, manifest: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("run", str(manifest), "--endpoint", url, "--project-id", PROJECT, "--out", str(out),
                "--rate", "200", "--quiet", *extra)


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


ENCRYPTED = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600 + "EncryptionInfo".encode("utf-16-le") + b"\0" * 50
             + "EncryptedPackage".encode("utf-16-le"))
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
def test_bad_manifest_is_one_line_exit_2_and_nothing_sent(sim_thread: SimulatorThread, env: dict, tmp_path: Path,
                                                          case: str) -> None:
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


ABSURD_NUMBERS = [("--concurrency", "1025"), ("--concurrency", "99999999999999999999"), ("--max-attempts", "101"),
                  ("--max-attempts", "1025"), ("--timeout", "1e308"), ("--timeout", "3601"),
                  ("--verify-timeout", "1e308"), ("--verify-timeout", "inf"), ("--rate", "1e-320"),
                  ("--rate", "1e308"), ("--rate", "auto:1:1e308"), ("--rate", "auto:0.001")]


@pytest.mark.parametrize(("option", "value"), [("--rate", "0"), ("--concurrency", "-1"), ("--timeout", "nan"),
                                               ("--format", "pdf"), ("--max-attempts", "0"), ("--rate", "inf"),
                                               *ABSURD_NUMBERS])
def test_bad_option_is_named_exit_2_and_nothing_sent(sim_thread: SimulatorThread, env: dict, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str], option: str,
                                                     value: str) -> None:
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


def test_no_credentials_is_one_line_exit_2_and_nothing_sent(sim_thread: SimulatorThread, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
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
    "security token env U+2028": ("HUAWEICLOUD_SDK_SECURITY_TOKEN",
                                  {"env": {"HUAWEICLOUD_SDK_SECURITY_TOKEN": f"sts\u2028{SECRET_PART}"}}),
    "IAM user env CR": ("OMS_IAM_USER", {"iam": True, "env": {"OMS_IAM_USER": "bob\rmallory"}}),
    "IAM domain flag DEL": ("--iam-domain", {"iam": True, "argv": ["--iam-domain", "acme\x7fcorp"]}),
}


@pytest.mark.parametrize("case", list(DIRTY_GLOBALS))
def test_global_values_with_control_characters_are_refused_before_any_call(
        sim_thread: SimulatorThread, env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """A global value with CR/LF, a control character or spaces around it: exit 2 naming it, no secret, no call."""
    where, given = DIRTY_GLOBALS[case]
    argv = ["run", str(_write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])), "--endpoint", sim_thread.url,
            "--out", str(tmp_path / "run"), "--quiet", *given.get("argv", [])]
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


def test_a_token_file_with_a_trailing_newline_still_works(sim_thread: SimulatorThread, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Whitespace around a token file's content (its final newline, a BOM) is not part of the token."""
    clear_credentials(monkeypatch)
    (tmp_path / "token").write_text(f"\ufeff  {sim_thread.config.token}\r\n\n", encoding="utf-8")
    _, out, err = run_cli("run", str(_write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])), "--endpoint",
                          sim_thread.url, "--project-id", sim_thread.config.project_id, "--out",
                          str(tmp_path / "run"), "--quiet", "--token-file", str(tmp_path / "token"))
    assert "HTTP 401" not in out + err and "401" not in _report(tmp_path / "run")[0]["http_status"], (out, err)


# -- 2. ids never leave their path segment ------------------------------------------------------------------

ODD_GROUPS = ["a/b", "a/../../b", "..", ".", "x?y=1", "x#frag", "100%", "a%2Fb", "%2e%2e", "a\r\nb", "a\nb",
              "组/1", "?", "#", "/"]
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
    for (project, group), row in zip(pairs, rows, strict=True):
        if row["outcome"] == "invalid":
            assert sent[project, group] == 0
        else:
            assert sent[project, group] == 1, (project, group, row["outcome"], row["error_code"])
    refused = {p if p != PROJECT else g for (p, g), row in zip(pairs, rows, strict=True) if row["outcome"] == "invalid"}
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
    "garbage-200": ("succeeded", "200", "", "1"),  # a 2xx is the service accepting the retry, whatever its body
    "deep-json-200": ("succeeded", "200", "", "1"),
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
    for raw, row in zip(raw_rows, rows, strict=True):
        assert [row["group_id"], row["note"], row["'@owner"]] == [neutralise(v) for v in raw]
        assert (row["error_code"], row["error_msg"]) == ("'@OMS.1015", "'" + EVIL_MSG)
        assert not any(v.startswith(TRIGGERS) for v in row.values()), row
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    texts = [c.value for ws in book.worksheets for line in ws.iter_rows() for c in line if isinstance(c.value, str)]
    assert not [c.coordinate for ws in book.worksheets for line in ws.iter_rows() for c in line if c.data_type == "f"]
    assert not [t for t in texts if t.startswith(TRIGGERS)]
    sheet = book["Rows"]
    header = [c.value for c in sheet[1]]
    xlsx_rows = [dict(zip(header, (c.value for c in line), strict=True)) for line in sheet.iter_rows(min_row=2)]
    for csv_row, xlsx_row in zip(rows, xlsx_rows, strict=True):
        for key in ("group_id", "note", "'@owner", "error_code", "error_msg"):
            assert xlsx_row[key] == csv_row[key]
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    for raw, row in zip(raw_rows, report["rows"], strict=True):
        assert [row["group_id"], row["note"], row["@owner"]] == raw
        assert (row["error_code"], row["error_msg"]) == ("@OMS.1015", EVIL_MSG)
