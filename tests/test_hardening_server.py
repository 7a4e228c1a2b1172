"""Hardening against a misbehaving server, end to end through the CLI: per-row errors, never a crashed run, and
the formula text it sends neutralised in csv and xlsx."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote

import openpyxl
from aiohttp import web

from bulkretry.oms.errorbody import MAX_BODY_BYTES
from bulkretry.report.common import neutralise
from tests.clitools import PROJECT, read_report, run_at
from tests.manifests import write_csv
from tests.servers import Handler, ServerThread, empty_json

# -- a misbehaving server: per-row errors, never a crashed run -------------------------------------------

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


#: An answer to the retry call of one group: (request, group id, the URL of the other server) -> response.
Answer = Callable[[web.Request, str, str], Awaitable[web.StreamResponse]]


async def _dropped(request: web.Request, group: str, elsewhere: str) -> web.StreamResponse:
    """The connection closed without an answer (after a line that is not HTTP, for ``not-http``)."""
    assert request.transport is not None
    if group == "not-http":
        request.transport.write(b"NOT HTTP\x00\r\n\r\n")
    request.transport.abort()
    return web.Response()


async def _slow(request: web.Request, group: str, elsewhere: str) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.json_response({})


async def _deep_json(request: web.Request, group: str, elsewhere: str) -> web.StreamResponse:
    return web.Response(status=int(group[-3:]), text="[" * 100_000, content_type="application/json")


async def _redirect_away(request: web.Request, group: str, elsewhere: str) -> web.StreamResponse:
    raise web.HTTPFound(f"{elsewhere}/v2/{PROJECT}/taskgroups/ok/retry")


async def _redirect_same(request: web.Request, group: str, elsewhere: str) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(f"/v2/{PROJECT}/taskgroups/ok/retry")


def _answer(response: Callable[[], web.StreamResponse]) -> Answer:
    """A canned answer, built afresh for each request."""

    async def answer(request: web.Request, group: str, elsewhere: str) -> web.StreamResponse:
        return response()

    return answer


#: How the misbehaving server answers each group of EXPECTED (any other: ``{}``).
MISBEHAVIOUR: dict[str, Answer] = {
    "garbage-500": _answer(lambda: web.Response(status=500, body=b"\x00\xff<html>\r\n  oops \x1b[31m not json")),
    "huge-500": _answer(lambda: web.Response(status=500, body=b"x" * (MAX_BODY_BYTES + 4096))),
    "deep-json-500": _deep_json,
    "deep-json-200": _deep_json,
    "hostile-code": _answer(
        lambda: web.json_response({"error_code": "X\n\x1b[2J" * 500, "error_msg": "a\x00b\x1b[31mc"}, status=400)
    ),
    "slow": _slow,
    "reset": _dropped,
    "not-http": _dropped,
    "redirect-away": _redirect_away,
    "redirect-same": _redirect_same,
    "bad-location": _answer(lambda: web.Response(status=302, headers={"Location": "http://[oops/"})),
    "garbage-200": _answer(lambda: web.Response(status=200, body=b"<html>\x00 fine?", content_type="text/html")),
    "json-array": _answer(lambda: web.json_response([1, 2])),
    "json-null": _answer(lambda: web.json_response(None)),
}


def _misbehaving(elsewhere: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        group = unquote(request.raw_path.split("/")[4])
        return await MISBEHAVIOUR.get(group, _answer(lambda: web.json_response({})))(request, group, elsewhere)

    return handle


def test_misbehaving_server_gives_per_row_errors(env: dict, tmp_path: Path) -> None:
    """Garbage, huge, slow, dropped, redirecting and odd 2xx answers each end as that row's outcome, not a crash."""
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], *([g] for g in EXPECTED)])
    with ServerThread(empty_json) as other, ServerThread(_misbehaving(other.url)) as server:
        code, out, err = run_at(server.url, manifest, tmp_path / "run", "--max-attempts", "2", "--timeout", "0.5")
        hits = Counter(unquote(r.raw_path.split("/")[4]) for r in server.requests)
        assert other.requests == []  # the redirect to another host was not followed: no credentials went there
    assert code == 1, (out, err)
    assert err == "" and out.count("\n") == 1 and "\x1b" not in out, (out, err)
    rows = {r["group_id"]: r for r in read_report(tmp_path / "run")}
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


# -- formula injection ----------------------------------------------------------------------------------

EVIL_MSG = "=cmd|' /C calc'!A0"
TRIGGERS = ("=", "+", "-", "@")


async def _evil_error(request: web.Request) -> web.Response:
    return web.json_response({"error_code": "@OMS.1015", "error_msg": EVIL_MSG}, status=400)


def test_formula_text_is_neutralised_in_csv_and_xlsx(env: dict, tmp_path: Path) -> None:
    """Text starting with = + - @ (ids, extra cells and headers, the service's answer): neutralised in csv/xlsx only."""
    raw_rows = [["=1+2", '=HYPERLINK("http://x","y")', "@SUM(1)"], ["+cmd", "-2+3", "plain"], ["-g", "@SUM(1)", "=A1"]]
    manifest = write_csv(tmp_path / "m.csv", [["group_id", "note", "@owner"], *raw_rows])
    with ServerThread(_evil_error) as server:
        code, _, err = run_at(server.url, manifest, tmp_path / "run", "--max-attempts", "1")
    assert code == 1, err
    rows = read_report(tmp_path / "run")
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
