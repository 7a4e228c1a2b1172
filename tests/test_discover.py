"""`bulkretry discover`: the failed groups, as the official SDK lists them, written as a manifest."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from huaweicloudsdkoms.v2 import ListTaskGroupRequest

from bulkretry.cli import main
from bulkretry.manifest import iter_rows, open_manifest
from bulkretry.sim import SimConfig, SimulatorThread

from .test_sim_sdk import sdk_client


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch):
    config = SimConfig(groups=230, failed_ratio=0.5, seed=7)  # more than two list pages of 100
    for name in ("OMS_AUTH_TOKEN", "CLOUD_SDK_AK", "OMS_IAM_USER", "HUAWEICLOUD_SDK_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", config.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", config.sk)
    with SimulatorThread(config) as thread:
        yield thread


def _sdk_failed(sim: SimulatorThread) -> list:
    oms = sdk_client(sim.url, sim.config)
    groups, offset = [], 0
    while True:
        page = oms.list_task_group(ListTaskGroupRequest(status=5, limit=50, offset=offset))
        if not page.taskgroups:
            return groups
        groups.extend(page.taskgroups)
        offset += 50


def test_discover_writes_exactly_the_failed_groups_the_sdk_lists(sim: SimulatorThread, tmp_path: Path) -> None:
    """Every page, every failed group once, in the API's order, with buckets and the group's TRF reason."""
    out = tmp_path / "failed.csv"
    code, stdout, err = _cli("discover", "--endpoint", sim.url, "--project-id", sim.config.project_id,
                             "--out", str(out))
    assert code == 0, err
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = _sdk_failed(sim)
    assert len(expected) > 100 and f"{len(expected)} task groups in status 5" in stdout
    assert [r["group_id"] for r in rows] == [g.group_id for g in expected]
    first, group = rows[0], expected[0]
    assert (first["src_bucket"], first["dst_bucket"]) == (group.src_node.bucket, group.dst_node.bucket)
    assert first["error_code"] == group.error_reason.error_code and first["error_code"].startswith("TRF.")
    assert all(r["project_id"] == sim.config.project_id and r["status"] == "5" for r in rows)
    assert all(r[c] == "" for r in rows for c in ("src_ak", "src_sk", "dst_ak", "dst_sk"))


def test_discovered_xlsx_with_env_references_is_a_manifest_run_accepts(sim: SimulatorThread, tmp_path: Path) -> None:
    """--out .xlsx --credentials-from-env: the manifest reader reads it, credential cells say env:NAME."""
    out = tmp_path / "failed.xlsx"
    code, _, err = _cli("discover", "--endpoint", sim.url, "--project-id", sim.config.project_id, "--out", str(out),
                        "--credentials-from-env")
    assert code == 0, err
    info = open_manifest(out)
    rows = list(iter_rows(info))
    assert len(rows) == len(_sdk_failed(sim))
    assert {rows[0].values[c] for c in ("src_ak", "src_sk", "dst_ak", "dst_sk")} == {
        "env:SRC_AK", "env:SRC_SK", "env:DST_AK", "env:DST_SK"}


def test_discover_never_overwrites_and_needs_a_project(sim: SimulatorThread, tmp_path: Path) -> None:
    """An existing --out is refused (it may hold typed-in keys); no project id is a usage error."""
    out = tmp_path / "m.csv"
    out.write_text("keep me", encoding="utf-8")
    code, _, err = _cli("discover", "--endpoint", sim.url, "--project-id", sim.config.project_id, "--out", str(out))
    assert code == 2 and "already exists" in err and out.read_text(encoding="utf-8") == "keep me"
    code, _, err = _cli("discover", "--endpoint", sim.url, "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "--project-id" in err


def test_discover_with_bad_credentials_says_so(sim: SimulatorThread, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A 401 from the list API: exit 1, the code named, no file written."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "wrong-secret")
    out = tmp_path / "m.csv"
    code, _, err = _cli("discover", "--endpoint", sim.url, "--project-id", sim.config.project_id, "--out", str(out))
    assert code == 1 and "APIGW.0301" in err and not out.exists()
    assert "wrong-secret" not in err
