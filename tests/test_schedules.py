"""Runs on a schedule: exit 3 for a halted run, a time box that ends after the last call, a proxy that wants
authentication."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import failed_group_ids, read_report, run_cli, sim_run_argv, write_group_manifest


@pytest.fixture
def slow_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorThread]:
    """A simulator that answers every OMS call after 1.5 s, with its own credentials in the environment."""
    config = SimConfig(groups=4, failed_ratio=1.0, latency_ms=1500)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", config.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", config.sk)
    with SimulatorThread(config) as thread:
        yield thread


@pytest.mark.slow
def test_a_time_box_that_ends_after_the_last_call_is_no_halt(slow_sim: SimulatorThread, tmp_path: Path) -> None:
    """--max-duration 1s with both calls in flight when it ends: every row succeeds, exit 0, and neither the
    summary nor stderr names a halt (issue 28, item 8)."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(slow_sim, 2))
    argv = sim_run_argv(slow_sim, manifest, tmp_path / "run", "--max-duration", "1s", "--concurrency", "2")
    code, out, err = run_cli(*argv, "--quiet", "--json-summary")
    assert code == 0, err
    assert {r["outcome"] for r in read_report(tmp_path / "run")} == {"succeeded"}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert "halted" not in summary and "halt_code" not in summary, summary
    assert json.loads(out)["halted"] is None and "time box" not in err, (out, err)
