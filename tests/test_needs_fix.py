"""Groups no retry can fix (``--check-status`` skips them as ``needs_fix:TRF.xxxx``, ``--call-anyway`` calls them)
and half key pairs from a manifest with one column of a pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkretry.columns import KEY_PAIRS
from bulkretry.manifest.plan import Planner
from bulkretry.oms.codes import CODES, NEEDS_FIX, explain, needs_fix
from bulkretry.records import Outcome, Tally
from bulkretry.run.rerun import load_selection
from bulkretry.run.rundir import read_params
from bulkretry.run.settings import rerun_settings
from bulkretry.sim import SimConfig, SimulatorThread
from bulkretry.sim.seeded import NEEDS_FIX_REASONS, RETRY_REASONS
from bulkretry.sim.state import SimState
from tests.clitools import csv_dicts, failed_group_ids, run_cli, run_manifest, use_sim_credentials

DST_AK, DST_SK = "NEWDSTAK000000000001", "new-dst-secret-key-0001"


def test_every_code_that_needs_a_fix_is_explained_and_names_its_keys() -> None:
    """Each code of the table has its advice in CODES; the key codes name the pair of their side, the others none."""
    assert all(CODES[code] == (fix.meaning, fix.fix) for code, fix in NEEDS_FIX.items())
    sides = {code: fix.keys for code, fix in NEEDS_FIX.items()}
    assert (sides["TRF.0057"], sides["TRF.0151"], sides["TRF.0058"], sides["TRF.0055"]) == (
        KEY_PAIRS[1],
        KEY_PAIRS[0],
        (),
        (),
    )
    assert needs_fix(" trf.0063 ") is NEEDS_FIX["TRF.0063"] and needs_fix("TRF.0001") is None


def test_only_whole_keys_of_the_codes_side_bring_the_fix() -> None:
    """TRF.0057 is fixed by dst_ak and dst_sk sent together; half a pair, the other side's keys, or none do not."""
    fix = NEEDS_FIX["TRF.0057"]
    assert fix.brought_by({"dst_ak": "a", "dst_sk": "s"})
    assert not fix.brought_by({"dst_ak": "a"}) and not fix.brought_by({"src_ak": "a", "src_sk": "s"})
    assert not NEEDS_FIX["TRF.0058"].brought_by({"dst_ak": "a", "dst_sk": "s"})


def test_a_needs_fix_code_says_what_to_fix_in_the_reports_language() -> None:
    """needs_fix:TRF.0058 is explained with the bucket to create and --call-anyway, in English and in Chinese."""
    meaning, action = explain("needs_fix:TRF.0058")
    assert meaning.startswith("Not called: the group failed with TRF.0058") and "does not exist" in meaning
    assert "create the bucket" in action and "--call-anyway" in action
    zh_meaning, zh_action = explain("needs_fix:TRF.0058", "zh-CN")
    assert "未调用" in zh_meaning and "目的端桶不存在" in zh_meaning and "--call-anyway" in zh_action


def test_a_needs_fix_code_is_set_aside_never_an_error() -> None:
    """The skipped rows' needs_fix codes are not among a run's errors."""
    tally = Tally.of(3, {"skipped": 2, "failed": 1}, {"needs_fix:TRF.0058": 2, "OMS.1009": 1})
    assert tally.errors == (("OMS.1009", 1),)


def test_the_sim_seeds_reasons_that_need_a_fix_only_when_asked() -> None:
    """By default every failed group carries a reason a retry fixes; needs_fix_ratio gives that share another,
    the groups otherwise the same."""
    plain = SimState.from_config(SimConfig(groups=40, failed_ratio=1.0))
    mixed = SimState.from_config(SimConfig(groups=40, failed_ratio=1.0, needs_fix_ratio=0.5))
    assert plain.ids() == mixed.ids()
    retry_codes = {code for code, _ in RETRY_REASONS}
    fix_codes = {code for code, _ in NEEDS_FIX_REASONS}
    assert all(plain.get(gid)["error_reason"]["error_code"] in retry_codes for gid in plain.ids())
    codes = [mixed.get(gid)["error_reason"]["error_code"] for gid in mixed.ids()]
    assert sum(code in fix_codes for code in codes) == 20 and all(code in retry_codes | fix_codes for code in codes)
    assert fix_codes <= set(NEEDS_FIX)  # the simulator's reading of the table agrees with bulkretry's


def _give_reason(sim_thread: SimulatorThread, group_id: str, code: str) -> None:
    state = sim_thread.simulator.state
    group = state.get(group_id)
    group["error_reason"] = {"error_code": code, "error_msg": f"simulated {code}"}
    state.add_group(group)


def test_check_status_skips_the_groups_no_retry_fixes_and_call_anyway_calls_them(
    tmp_path: Path, sim_thread: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run with --check-status: TRF.0058 and TRF.0151 (no src keys) skipped with what to fix, TRF.0057 with new
    dst keys and TRF.0001 called; a rerun of the skipped rows with --call-anyway calls them, and its own rerun
    keeps --call-anyway."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    ids = failed_group_ids(sim_thread, 4)
    for group_id, code in zip(ids, ("TRF.0058", "TRF.0057", "TRF.0151", "TRF.0001")):
        _give_reason(sim_thread, group_id, code)
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "group_id,dst_ak,dst_sk\n"
        + "".join(f"{gid},,\n" for gid in ids).replace(f"{ids[1]},,", f"{ids[1]},{DST_AK},{DST_SK}"),
        encoding="utf-8",
    )
    project = sim_thread.config.project_id
    code, _, err = run_manifest(manifest, sim_thread.url, project, tmp_path / "a", "--check-status", "--lang", "zh-CN")
    assert code == 0, err
    rows = {row["group_id"]: row for row in csv_dicts(tmp_path / "a" / "report.csv")}
    got = [(rows[gid]["outcome"], rows[gid]["error_code"]) for gid in ids]
    assert got == [
        ("skipped", "needs_fix:TRF.0058"),
        ("succeeded", ""),
        ("skipped", "needs_fix:TRF.0151"),
        ("succeeded", ""),
    ]
    assert "create the bucket" in rows[ids[0]]["error_msg"] and "--call-anyway" in rows[ids[0]]["error_msg"]
    puts = [r.path_segments[3] for r in sim_thread.simulator.received if r.method == "PUT"]
    assert sorted(puts) == sorted([ids[1], ids[3]])
    page = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "重启前需先处理的任务组" in page and "目的端桶不存在" in page

    again = tmp_path / "b"
    argv = ("rerun", str(tmp_path / "a"), "--only", "skipped", "--check-status", "--call-anyway", "--out", str(again))
    code, _, err = run_cli(*argv)
    assert code == 0, err
    outcomes = {row["group_id"]: row["outcome"] for row in csv_dicts(again / "report.csv")}
    assert outcomes == {ids[0]: "succeeded", ids[2]: "succeeded"}
    assert read_params(again)["call_anyway"] is True
    assert rerun_settings(load_selection(again, ("succeeded",))).checks.call_anyway


def test_a_manifest_with_one_column_of_a_pair_makes_each_half_row_invalid() -> None:
    """src_sk without a src_ak column: a row that fills src_sk is invalid and the manifest said so once; a
    BULKRETRY_SRC_AK default gives the other half."""
    planner = Planner(columns=["group_id", "src_sk"], project_id="p", endpoint="http://x", env={})
    plan = planner.plan(2, {"group_id": "g1", "src_sk": "sk"})
    assert (plan.verdict, plan.error_code) == (Outcome.INVALID, "invalid:src_ak missing")
    assert "the manifest has no src_ak column" in plan.error_msg
    assert planner.plan(3, {"group_id": "g2", "src_sk": ""}).callable
    assert planner.half_pairs == (
        "the manifest has src_sk but no src_ak column, and BULKRETRY_SRC_AK is not set: each row that fills src_sk "
        "is invalid (a key pair is sent whole); add a src_ak column or set BULKRETRY_SRC_AK",
    )
    defaulted = Planner(
        columns=["group_id", "src_sk"], project_id="p", endpoint="http://x", env={"BULKRETRY_SRC_AK": "AK1"}
    )
    assert defaulted.plan(2, {"group_id": "g1", "src_sk": "sk"}).callable and defaulted.half_pairs == ()


def test_validate_says_once_that_the_manifest_has_half_a_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """validate of a manifest with dst_ak but no dst_sk column: one warning, and each row that fills it invalid."""
    monkeypatch.delenv("BULKRETRY_DST_SK", raising=False)
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id,dst_ak\ng1,AK1\ng2,AK2\n", encoding="utf-8")
    code, out, err = run_cli("validate", str(manifest), "--endpoint", "https://oms.example.com", "--project-id", "p")
    assert code == 1, out
    assert err.count("the manifest has dst_ak but no dst_sk column") == 1, err
    assert out.count("invalid:dst_sk missing") == 2 and "add a dst_sk column" in out, out


@pytest.mark.usefixtures("env")
def test_validate_online_predicts_the_skip_a_run_would_make(tmp_path: Path, sim_thread: SimulatorThread) -> None:
    """validate --online --check-status reads each group's error_reason by the run's own rule: the TRF.0058 group
    would be skipped (what to fix said), the TRF.0001 one called; GETs only."""
    ids = failed_group_ids(sim_thread, 2)
    _give_reason(sim_thread, ids[0], "TRF.0058")
    _give_reason(sim_thread, ids[1], "TRF.0001")
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\n" + "".join(f"{gid}\n" for gid in ids), encoding="utf-8")
    argv = ("validate", str(manifest), "--online", "--check-status", "--json")
    code, out, err = run_cli(*argv, "--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id)
    assert code == 0, out + err
    lookups = {lookup["row"]: lookup for lookup in json.loads(out)["online"]["lookups"]}
    assert (lookups[2]["verdict"], lookups[3]["verdict"]) == ("skip", "call")
    assert "needs_fix:TRF.0058" in lookups[2]["detail"] and "bucket" in lookups[2]["detail"]
    assert {request.method for request in sim_thread.simulator.received} == {"GET"}
