"""`bulkretry discover`: the failed groups, as the official SDK lists them, written as a manifest."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from huaweicloudsdkoms.v2 import ListTaskGroupRequest, ShowTaskGroupRequest

from bulkretry.discover import LISTINGS, MAX_DISCOVERED, discover
from bulkretry.errors import ApiError
from bulkretry.manifest.read import iter_rows, open_manifest
from bulkretry.oms.actions import GROUPS
from bulkretry.oms.auth import TokenAuth
from bulkretry.oms.client import OmsClient
from bulkretry.oms.credentials import Token
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import SAMPLES, discover_and_run, run_cli, run_manifest, use_sim_credentials
from tests.servers import serve
from tests.test_sim_sdk import sdk_client


@pytest.fixture
def sim_config() -> SimConfig:
    """230 groups, half of them failed: more than two list pages of 100."""
    return SimConfig(groups=230, failed_ratio=0.5, seed=7)


def _sdk_failed(sim_thread: SimulatorThread) -> list:
    oms = sdk_client(sim_thread.url, sim_thread.config)
    groups, offset = [], 0
    while True:
        page = oms.list_task_group(ListTaskGroupRequest(status=5, limit=50, offset=offset))
        if not page.taskgroups:
            return groups
        groups.extend(page.taskgroups)
        offset += 50


def test_discover_writes_exactly_the_failed_groups_the_sdk_lists(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """Every page, every failed group once, in the API's order, with buckets and the group's TRF reason."""
    out = tmp_path / "failed.csv"
    code, stdout, err = run_cli(
        "discover", "--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id, "--out", str(out)
    )
    assert code == 0, err
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = _sdk_failed(sim_thread)
    assert len(expected) > 100 and f"{len(expected)} task groups in status 5" in stdout
    assert [r["group_id"] for r in rows] == [g.group_id for g in expected]
    first, group = rows[0], expected[0]
    assert (first["src_bucket"], first["dst_bucket"]) == (group.src_node.bucket, group.dst_node.bucket)
    assert first["error_code"] == group.error_reason.error_code and first["error_code"].startswith("TRF.")
    assert all(r["project_id"] == sim_thread.config.project_id and r["status"] == "5" for r in rows)
    assert all(r[c] == "" for r in rows for c in ("src_ak", "src_sk", "dst_ak", "dst_sk"))


def test_discovered_xlsx_with_env_references_is_a_manifest_run_accepts(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """--out .xlsx --credentials-from-env: the manifest reader reads it, credential cells say env:NAME."""
    out = tmp_path / "failed.xlsx"
    code, _, err = run_cli(
        "discover",
        "--endpoint",
        sim_thread.url,
        "--project-id",
        sim_thread.config.project_id,
        "--out",
        str(out),
        "--credentials-from-env",
    )
    assert code == 0, err
    info = open_manifest(out)
    rows = list(iter_rows(info))
    assert len(rows) == len(_sdk_failed(sim_thread))
    assert {rows[0].values[c] for c in ("src_ak", "src_sk", "dst_ak", "dst_sk")} == {
        "env:SRC_AK",
        "env:SRC_SK",
        "env:DST_AK",
        "env:DST_SK",
    }


def test_discover_never_overwrites_and_needs_a_project(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """An existing --out is refused (it may hold typed-in keys); no project id is a usage error."""
    out = tmp_path / "m.csv"
    out.write_text("keep me", encoding="utf-8")
    code, _, err = run_cli(
        "discover", "--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id, "--out", str(out)
    )
    assert code == 2 and "already exists" in err and out.read_text(encoding="utf-8") == "keep me"
    code, _, err = run_cli("discover", "--endpoint", sim_thread.url, "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "--project-id" in err


def test_discover_with_bad_credentials_says_so(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 from the list API: exit 1, the code named, no file written."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "wrong-secret")
    out = tmp_path / "m.csv"
    code, _, err = run_cli(
        "discover", "--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id, "--out", str(out)
    )
    assert code == 1 and "APIGW.0301" in err and not out.exists()
    assert "wrong-secret" not in err


@pytest.mark.parametrize("settle_s", [0.0, 600.0])
def test_verify_records_the_status_the_sdk_then_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settle_s: float
) -> None:
    """discover, then run --verify: every succeeded row's status_after is what the SDK reads afterwards
    (executing while the group settles; migration finished once it has)."""
    config = SimConfig(groups=30, failed_ratio=0.5, seed=11, settle_s=settle_s)
    use_sim_credentials(monkeypatch, config)
    with SimulatorThread(config) as sim_thread:
        run = discover_and_run(sim_thread, tmp_path, "--verify")
        with open(run / "report.csv", encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        oms = sdk_client(sim_thread.url, config)
        seen = {r["group_id"]: oms.show_task_group(ShowTaskGroupRequest(group_id=r["group_id"])).status for r in rows}
    assert rows and all(r["outcome"] == "succeeded" for r in rows)
    assert all(r["status_after"] == str(seen[r["group_id"]]) for r in rows)
    expected = ("6", "migration finished") if settle_s == 0 else ("1", "executing")
    assert {(r["status_after"], r["status_after_meaning"]) for r in rows} == {expected}
    assert all(r["attempts"] == "1" for r in rows)  # the retry: its looks are status reads, not attempts


def test_check_status_skips_groups_that_are_not_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--check-status on the sample: finished and executing groups are skipped with their status in words and
    never retried; the unknown group fails on the lookup; only the failed groups get a PUT."""
    config = SimConfig()
    use_sim_credentials(monkeypatch, config, DEMO_SRC_SK="x-secret", DEMO_DST_SK="y-secret")
    with SimulatorThread(config) as sim_thread:
        code, _, err = run_manifest(
            SAMPLES / "manifest.csv", sim_thread.url, config.project_id, tmp_path / "run", "--check-status"
        )
        puts = [r.path_segments[3] for r in sim_thread.simulator.received if r.method == "PUT"]
    with open(tmp_path / "run" / "report.csv", encoding="utf-8-sig", newline="") as fh:
        rows = {r["row"]: r for r in csv.DictReader(fh)}
    assert code == 1, err  # the unknown group and the invalid row
    skipped = [r for r in rows.values() if r["outcome"] == "skipped"]
    assert {(r["error_code"], r["status_before_meaning"]) for r in skipped} == {
        ("status:6", "migration finished"),
        ("status:1", "executing"),
    }
    assert rows["13"]["outcome"] == "failed" and rows["13"]["error_code"] == "OMS.1009"
    succeeded = [r["group_id"] for r in rows.values() if r["outcome"] == "succeeded"]
    assert sorted(puts) == sorted(succeeded) and len(succeeded) == 8
    assert all(r["status_before"] == "5" for r in rows.values() if r["outcome"] == "succeeded")


def _page_server(page_for: Callable[[int, int], list[dict]], requests: list[int]) -> Callable:
    async def handler(request: web.Request) -> web.Response:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        requests.append(offset)
        if len(requests) > 3000:  # a safety stop for the code under test, far past any limit it should keep
            return web.json_response({"taskgroups": []})
        return web.json_response({"taskgroups": page_for(offset, limit)})

    return handler


async def _discover(page_for: Callable[[int, int], list[dict]], requests: list[int]) -> list[dict]:
    async with serve(_page_server(page_for, requests)) as url, aiohttp.ClientSession() as session:
        client = OmsClient(session, TokenAuth(Token("t")), endpoint=url)
        return [group async for group in discover(client, LISTINGS[GROUPS], "p", {"status": 5})]


async def test_a_server_that_ignores_offset_stops_the_listing() -> None:
    """The same page again and again: an invalid_response error after the second page, not an endless loop."""
    requests: list[int] = []
    with pytest.raises(ApiError) as info:
        await _discover(lambda offset, limit: [{"group_id": f"g{i}"} for i in range(limit)], requests)
    assert info.value.error_code == "invalid_response" and "offset" in info.value.error_msg
    assert len(requests) == 2


async def test_a_list_that_shifts_gives_each_group_once() -> None:
    """A group listed on two pages (the list shifted while it was read) comes out once; the listing ends."""
    requests: list[int] = []
    groups = [{"group_id": f"g{i}"} for i in range(250)]
    got = await _discover(lambda offset, limit: groups[max(0, offset - 1) : max(0, offset - 1) + limit], requests)
    assert [g["group_id"] for g in got] == [g["group_id"] for g in groups]


async def test_a_list_that_never_ends_is_bounded() -> None:
    """A server with new groups on every page forever: the listing stops past MAX_DISCOVERED."""
    requests: list[int] = []
    with pytest.raises(ApiError) as info:
        await _discover(lambda offset, limit: [{"group_id": f"g{offset + i}"} for i in range(limit)], requests)
    assert "does not end" in info.value.error_msg
    assert len(requests) == MAX_DISCOVERED // 100 + 1
