"""`bulkretry discover --target tasks`: the tasks the official SDK lists (every page, the status and group
filters), written as a task manifest that the reader reads back with its task_id column; and the client's
list_tasks."""

from __future__ import annotations

import csv
from pathlib import Path

import aiohttp
import pytest
from huaweicloudsdkoms.v2 import ListTasksRequest

from bulkretry.manifest.read import iter_rows, open_manifest
from bulkretry.oms.auth import AkSkAuth
from bulkretry.oms.client import OmsClient
from bulkretry.oms.credentials import AkSk
from bulkretry.sim import SimConfig, Simulator, SimulatorThread
from tests.clitools import run_cli
from tests.test_sim_sdk import sdk_client

TASK_COLUMNS = [
    "task_id",
    "group_id",
    "project_id",
    "region",
    "name",
    "src_bucket",
    "dst_bucket",
    "status",
    "error_code",
    "error_msg",
    "src_ak",
    "src_sk",
    "dst_ak",
    "dst_sk",
]


@pytest.fixture
def sim_config() -> SimConfig:
    """250 tasks, half of them failed: more than one list page of 100 failed tasks."""
    return SimConfig(groups=10, tasks=250, failed_ratio=0.5, seed=7)


def _sdk_tasks(sim_thread: SimulatorThread, **filters: object) -> list:
    oms = sdk_client(sim_thread.url, sim_thread.config)
    tasks, offset = [], 0
    while True:
        page = oms.list_tasks(ListTasksRequest(limit=50, offset=offset, **filters))
        if not page.tasks:
            return tasks
        tasks.extend(page.tasks)
        offset += 50


def _discover(sim_thread: SimulatorThread, out: Path, *extra: str) -> tuple[int, str, str]:
    project = sim_thread.config.project_id
    return run_cli(
        "discover", "--endpoint", sim_thread.url, "--project-id", project, "--out", str(out), "--target", "tasks",
        *extra,
    )  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_discover_tasks_writes_every_failed_task_the_sdk_lists(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """Default status 4 (failed), every page, in the API's order: ids, groups, names, buckets, the TRF reason."""
    out = tmp_path / "tasks.csv"
    code, stdout, err = _discover(sim_thread, out, "--region", "cn-north-4")
    assert code == 0, err
    expected = _sdk_tasks(sim_thread, status=4)
    assert len(expected) > 100 and f"{len(expected)} tasks in status 4 · manifest: {out}" in stdout
    with open(out, encoding="utf-8-sig", newline="") as fh:
        assert next(csv.reader(fh)) == TASK_COLUMNS
    rows = _rows(out)
    assert [r["task_id"] for r in rows] == [str(t.id) for t in expected]
    assert [r["group_id"] for r in rows] == [t.group_id or "" for t in expected]
    assert any(r["group_id"] for r in rows) and any(not r["group_id"] for r in rows)
    first, task = rows[0], expected[0]
    assert (first["name"], first["src_bucket"], first["dst_bucket"]) == (
        task.name,
        task.src_node.bucket,
        task.dst_node.bucket,
    )
    assert first["error_code"] == task.error_reason.error_code and first["error_code"].startswith("TRF.")
    assert all(r["status"] == "4" and r["region"] == "cn-north-4" for r in rows)
    assert all(r["project_id"] == sim_thread.config.project_id for r in rows)
    assert all(r[c] == "" for r in rows for c in ("src_ak", "src_sk", "dst_ak", "dst_sk"))


def test_discover_tasks_filters_by_status_and_group(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """--status 3 --group-id G: exactly the stopped tasks of G, as the SDK lists them with the same filters."""
    group_id = next(t.group_id for t in _sdk_tasks(sim_thread) if t.group_id)
    out = tmp_path / "stopped.csv"
    code, stdout, err = _discover(sim_thread, out, "--status", "3", "--group-id", group_id)
    assert code == 0, err
    expected = _sdk_tasks(sim_thread, status=3, group_id=group_id)
    rows = _rows(out)
    assert [r["task_id"] for r in rows] == [str(t.id) for t in expected]
    assert all(r["status"] == "3" and r["group_id"] == group_id for r in rows)
    assert f"{len(rows)} tasks in status 3" in stdout


def test_discovered_task_workbook_reads_back_as_a_task_manifest(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """.xlsx with --credentials-from-env: the reader finds the task_id column, integer ids, env: references."""
    out = tmp_path / "tasks.xlsx"
    code, _, err = _discover(sim_thread, out, "--credentials-from-env")
    assert code == 0, err
    info = open_manifest(out)
    assert info.columns[0] == "task_id"
    rows = list(iter_rows(info))
    assert [int(r.values["task_id"]) for r in rows] == [t.id for t in _sdk_tasks(sim_thread, status=4)]
    assert rows[0].values["src_ak"] == "env:SRC_AK" and rows[0].values["dst_sk"] == "env:DST_SK"


def test_default_file_name_and_group_id_only_with_tasks(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --out: tasks-<project>-status<N>.csv; --group-id with --target groups is a usage error."""
    monkeypatch.chdir(tmp_path)
    project = sim_thread.config.project_id
    code, _, err = run_cli("discover", "--endpoint", sim_thread.url, "--project-id", project, "--target", "tasks")
    assert code == 0, err
    assert (tmp_path / f"tasks-{project[:12]}-status4.csv").is_file()
    code, _, err = run_cli("discover", "--endpoint", sim_thread.url, "--project-id", project, "--group-id", "g")
    assert code == 2 and "--target tasks" in err


async def test_list_tasks_walks_every_page_with_the_filters(sim: Simulator, sim_config: SimConfig) -> None:
    """OmsClient.list_tasks: limit/offset until a short page, status and group_id in every query."""
    async with aiohttp.ClientSession() as session:
        client = OmsClient(session, AkSkAuth(AkSk(sim_config.ak, sim_config.sk)), endpoint=sim.url)
        every = [t async for t in client.list_tasks(sim_config.project_id, page_size=30)]
        group_id = next(t["group_id"] for t in every if t["group_id"] and t["status"] == 4)
        sim.received.clear()
        failed = [t async for t in client.list_tasks(sim_config.project_id, status=4, group_id=group_id, page_size=3)]
    assert len(every) == sim_config.tasks and len({t["id"] for t in every}) == sim_config.tasks
    assert failed and failed == [t for t in every if t["status"] == 4 and t["group_id"] == group_id]
    queries = [dict(r.query) for r in sim.received]
    assert [q["offset"] for q in queries] == [str(3 * i) for i in range(len(failed) // 3 + 1)]
    assert all(q["status"] == "4" and q["group_id"] == group_id and q["limit"] == "3" for q in queries)
