"""``--shard I/N`` and ``bulkretry merge``: three shards of a 300-row manifest call each row once, and their merge
is the report one process writes; the refusals of merge."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bulkretry.manifest.shard import Shard, parse_shard, stable_hash
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import PROJECT, read_report, run_argv, run_cli, run_manifest, sim_run_argv

#: Columns that differ between two runs of the same rows (times, the service's request ids, latencies).
VOLATILE = ("started_at", "finished_at", "request_id", "latency_ms")
SHARDS = 3


@pytest.fixture
def sim_config() -> SimConfig:
    """300 groups, every one failed, so each row's retry succeeds the first time."""
    return SimConfig(groups=300, failed_ratio=1.0)


def _manifest(path: Path, sim_thread: SimulatorThread) -> Path:
    """300 rows: 270 groups of the simulator, 20 of them again (duplicates), 5 unknown groups (404), 5 invalid."""
    groups = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=1000)[1]][:270]
    ids = groups + groups[:20] + [f"no-such-group-{n}" for n in range(5)] + [" padded "] * 5
    path.write_text("group_id,note\n" + "".join(f"{gid},n{i}\n" for i, gid in enumerate(ids)), encoding="utf-8")
    return path


def _retried(sim_thread: SimulatorThread) -> Counter[str]:
    """How many retry calls the simulator received for each group id."""
    return Counter(r.path_segments[-2] for r in sim_thread.simulator.received if r.path_segments[-1:] == ("retry",))


def _stable(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in rows]


def _run_shards(sim_thread: SimulatorThread, manifest: Path, tmp_path: Path, *extra: str) -> list[Path]:
    folders = []
    for index in range(SHARDS):
        out = tmp_path / f"shard-{index}"
        code, _, err = run_manifest(
            manifest, sim_thread.url, sim_thread.config.project_id, out, "--shard", f"{index}/{SHARDS}", *extra
        )
        assert code == 1, err  # the unknown and invalid rows fail, in whichever shard they fall
        folders.append(out)
    return folders


def test_the_stable_hash_is_the_same_in_another_python_process() -> None:
    """The hash does not depend on the process (``hash()`` would: it is keyed per process)."""
    code = "from bulkretry.manifest.shard import stable_hash; print(stable_hash('p', 'g-1'), stable_hash('项目', '组'))"
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "7"}
    )
    assert child.stdout.split() == [str(stable_hash("p", "g-1")), str(stable_hash("项目", "组"))]
    assert stable_hash("p", "g-1") == 0x042574199EDD0104  # pinned: a new hash would move rows between shards


def test_shard_parsing_says_the_form() -> None:
    """``I/N`` with I from 0 to N-1; anything else is refused with the form."""
    assert parse_shard(" 2/3 ") == Shard(2, 3) and str(Shard(2, 3)) == "2/3"
    for bad in ("3/3", "-1/3", "1", "a/3", "1/0", "１/3", "1/3/4"):
        with pytest.raises(ValueError, match="I/N"):
            parse_shard(bad)


def test_every_row_is_in_exactly_one_shard() -> None:
    """N shards cover every key once, and split them roughly evenly."""
    keys = [("p", f"group-{n}") for n in range(3000)]
    homes = [[i for i in range(SHARDS) if Shard(i, SHARDS).holds(*key)] for key in keys]
    assert all(len(home) == 1 for home in homes)
    sizes = Counter(home[0] for home in homes)
    assert min(sizes.values()) > 800, sizes


def test_an_invalid_shard_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--shard 3/3`` stops before anything is read, with exit 2."""
    code, _, _ = run_cli("run", str(tmp_path / "m.csv"), "--shard", "3/3", "--region", "cn-north-4")
    err = capsys.readouterr().err
    assert code == 2 and "--shard: invalid shard 3/3: expected I/N" in err, err


def test_three_shards_call_each_row_once_and_merge_to_one_process_report(
    env: dict[str, str], sim_config: SimConfig, tmp_path: Path
) -> None:
    """Three shards call every group exactly once (duplicates in the shard of their first row), report only their
    own rows, record their shard, and `merge` writes the report one process writes of the same manifest."""
    with SimulatorThread(sim_config) as sim_thread:
        manifest = _manifest(tmp_path / "groups.csv", sim_thread)
        folders = _run_shards(sim_thread, manifest, tmp_path)
        retried = _retried(sim_thread)
    assert len(retried) == 275 and set(retried.values()) == {1}, retried.most_common(3)
    shard_rows = [[int(row["row"]) for row in read_report(folder)] for folder in folders]
    assert sorted(row for rows in shard_rows for row in rows) == list(
        range(2, 302)
    )  # every row reported by one shard only
    assert all(rows == sorted(rows) and 50 < len(rows) < 150 for rows in shard_rows)
    summaries = [json.loads((folder / "summary.json").read_text(encoding="utf-8")) for folder in folders]
    assert [s["shard"] for s in summaries] == ["0/3", "1/3", "2/3"]

    code, out, err = run_cli("merge", *map(str, folders), "--out", str(tmp_path / "merged"))
    assert code == 1, out + err
    assert "merged shards 0/3, 1/3, 2/3" in out and "300 rows" in out, out

    with SimulatorThread(sim_config) as sim_thread:  # the same groups, all failed again
        code, _, err = run_manifest(manifest, sim_thread.url, sim_thread.config.project_id, tmp_path / "one")
    assert code == 1, err
    merged, one = read_report(tmp_path / "merged"), read_report(tmp_path / "one")
    assert _stable(merged) == _stable(one)
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text(encoding="utf-8"))
    alone = json.loads((tmp_path / "one" / "summary.json").read_text(encoding="utf-8"))
    assert summary["by_outcome"] == alone["by_outcome"] and summary["by_error_code"] == alone["by_error_code"]
    assert summary["rows"] == 300 and summary["calls"] == alone["calls"] and "shard" not in summary
    for name in ("report.xlsx", "report.json", "report.html"):
        assert (tmp_path / "merged" / name).is_file(), name


def test_resume_keeps_the_shard_and_refuses_another(env: dict[str, str], sim_config: SimConfig, tmp_path: Path) -> None:
    """``--resume`` of a shard's folder continues that shard (no row called again); another --shard is refused."""
    with SimulatorThread(sim_config) as sim_thread:
        manifest = _manifest(tmp_path / "groups.csv", sim_thread)
        argv = sim_run_argv(sim_thread, manifest, tmp_path / "s1", "--rate", "500", "--quiet")
        code, _, err = run_cli(*argv, "--shard", "1/3")
        assert code == 1, err
        calls = len(sim_thread.simulator.received)
        code, _, err = run_cli(*argv, "--resume")
        assert code == 1, err
        assert len(sim_thread.simulator.received) == calls  # every row of the shard was finished
        code, _, err = run_cli(*argv, "--resume", "--shard", "2/3")
    assert code == 2 and "shard was '1/3', now '2/3'" in err, err
    summary = json.loads((tmp_path / "s1" / "summary.json").read_text(encoding="utf-8"))
    assert summary["shard"] == "1/3" and summary["sessions"] == 2


@pytest.fixture
def shards(env: dict[str, str], sim_config: SimConfig, tmp_path: Path) -> list[Path]:
    """The three shard folders of one run of the 300-row manifest."""
    with SimulatorThread(sim_config) as sim_thread:
        return _run_shards(sim_thread, _manifest(tmp_path / "groups.csv", sim_thread), tmp_path)


def test_merge_names_the_missing_shard(shards: list[Path], tmp_path: Path) -> None:
    """A shard not given is named, and nothing is written."""
    code, _, err = run_cli("merge", str(shards[0]), str(shards[2]), "--out", str(tmp_path / "merged"))
    assert code == 2 and "shard 1/3 missing" in err, err
    assert not (tmp_path / "merged").exists()
    code, _, err = run_cli("merge", str(shards[0]), str(shards[0]), "--out", str(tmp_path / "merged"))
    assert code == 2 and "shard 0/3 is given twice" in err, err


def test_merge_refuses_a_shard_of_another_manifest(
    shards: list[Path], env: dict[str, str], sim_config: SimConfig, tmp_path: Path
) -> None:
    """A shard of another manifest is refused, naming both manifests."""
    other = tmp_path / "other.csv"
    other.write_text((tmp_path / "groups.csv").read_text(encoding="utf-8") + "extra-group,x\n", encoding="utf-8")
    with SimulatorThread(sim_config) as sim_thread:
        code, _, err = run_manifest(
            other, sim_thread.url, sim_thread.config.project_id, tmp_path / "x1", "--shard", "1/3"
        )
    assert code == 1, err
    code, _, err = run_cli("merge", str(shards[0]), str(tmp_path / "x1"), str(shards[2]), "--out", str(tmp_path / "m"))
    assert code == 2 and "their manifest differs" in err and "other.csv" in err, err


def test_merge_refuses_a_live_shard_and_a_run_without_shard(shards: list[Path], tmp_path: Path) -> None:
    """A shard whose folder a running bulkretry holds is 'still running'; a run of every row is no shard."""
    from bulkretry.run.runlock import RunLock

    with RunLock(shards[1]):  # as a live run holds it
        code, _, err = run_cli("merge", *map(str, shards), "--out", str(tmp_path / "merged"))
    assert code == 2 and "still running" in err and str(shards[1]) in err, err
    whole = tmp_path / "whole"
    code, _, err = run_cli(*run_argv(tmp_path / "groups.csv", "http://127.0.0.1:9", PROJECT, whole, "--dry-run"))
    assert code == 1, err  # the invalid rows
    code, _, err = run_cli("merge", *map(str, shards), str(whole), "--out", str(tmp_path / "merged"))
    assert code == 2 and "is not a shard" in err, err
    code, _, err = run_cli("merge", *map(str, shards), "--out", str(shards[0]))
    assert code == 2 and "one of the shards" in err, err


def test_merge_exits_3_when_a_shard_halted(
    env: dict[str, str], sim_config: SimConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard whose calls were all refused halted (exit 3): the merge reports its rows and exits 3, naming it."""
    with SimulatorThread(sim_config) as sim_thread:
        manifest = _manifest(tmp_path / "groups.csv", sim_thread)
        folders = []
        for index in range(SHARDS):
            if index == 1:
                monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "not-the-simulator-secret")
            out = tmp_path / f"shard-{index}"
            code, _, err = run_manifest(
                manifest, sim_thread.url, sim_thread.config.project_id, out, "--shard", f"{index}/{SHARDS}"
            )
            assert code == (3 if index == 1 else 1), err
            monkeypatch.setenv("HUAWEICLOUD_SDK_SK", sim_config.sk)
            folders.append(out)
    code, out, err = run_cli("merge", *map(str, folders), "--out", str(tmp_path / "merged"))
    assert code == 3 and "halted: shard 1/3:" in err, out + err
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows"] == 300 and summary["halt_code"] == "halted" and summary["by_outcome"]["interrupted"] > 0
