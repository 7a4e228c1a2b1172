"""Forgiving headers: the spellings offices use, the near-miss check (``--extra-column``), half key pairs, title
rows above the header, Office's lock file, and ``--project-id`` beside a project_id column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkretry.columns import GROUP, REPORT, names
from bulkretry.discover import LISTINGS
from bulkretry.manifest.annotate_common import ANNOTATION_COLUMNS
from bulkretry.manifest.columns import canonical_name, near_miss
from bulkretry.manifest.plan import Planner
from bulkretry.sim import SimulatorThread
from tests.clitools import PROJECT, csv_dicts, discover_at, read_report, run_cli, run_manifest
from tests.manifests import read_all, write_csv, write_xlsx


def validate(manifest: Path, *extra: str) -> tuple[int, str, str]:
    """``bulkretry validate MANIFEST`` for PROJECT in cn-north-4."""
    return run_cli("validate", str(manifest), "--region", "cn-north-4", *extra)


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("源AK", "src_ak"),
        ("源SK", "src_sk"),
        ("目的AK", "dst_ak"),
        ("目的SK", "dst_sk"),
        ("源端AK", "src_ak"),
        ("源访问密钥", "src_ak"),
        ("目的端访问密钥ID", "dst_ak"),
        ("源私有访问密钥", "src_sk"),
        ("目的 秘密访问密钥", "dst_sk"),
        ("是否迁移失败对象", "migrate_failed_object"),
        ("仅迁移失败对象", "migrate_failed_object"),
        ("任务ID", "task_id"),
        ("ＳＲＣ＿ＡＫ", "src_ak"),
        ("Src Sk", "src_sk"),
    ],
)
def test_office_spellings_name_their_column(header: str, column: str) -> None:
    """Each spelling offices use (case, spaces, '_' and full-width letters aside) names its column."""
    assert canonical_name(header) == column


def test_a_sheet_with_chinese_key_headers_sends_its_keys(tmp_path: Path) -> None:
    """源AK/源SK/目的AK/目的SK are read as the key columns and their cells go into the body."""
    path = write_csv(
        tmp_path / "m.csv", [["任务组ID", "源AK", "源SK", "目的AK", "目的SK"], ["g1", "A1", "S1", "A2", "S2"]]
    )
    info, rows = read_all(path)
    plan = Planner(columns=info.columns, project_id="p", endpoint="http://x", env={}).plan(2, rows[0].values)
    assert plan.callable, plan.error_msg
    assert {k: plan.body[k] for k in ("src_ak", "src_sk", "dst_ak", "dst_sk")} == {
        "src_ak": "A1",
        "src_sk": "S1",
        "dst_ak": "A2",
        "dst_sk": "S2",
    }


@pytest.mark.parametrize(
    ("header", "meant"),
    [("src_secret", "src_sk"), ("dst key", "dst_sk"), ("grup_id", "group_id"), ("源端私钥", "src_sk"), ("token", None)],
)
def test_a_header_that_looks_like_a_column_is_a_near_miss(header: str, meant: str | None) -> None:
    """A typo of a known spelling, or a header naming a key, secret or token, is taken for the column it means."""
    found = near_miss(header)
    assert found is not None
    assert meant is None or found == meant


def test_bulkretry_own_columns_are_no_near_miss() -> None:
    """No column that bulkretry's own files add (report, group story, status, annotation, discover) is a near miss."""
    status = ("status_before", "status_before_meaning", "status_after", "status_after_meaning")
    discovered = [column for listing in LISTINGS.values() for column in listing.columns]
    own = {*names(REPORT), *names(GROUP), *status, *ANNOTATION_COLUMNS, *discovered}
    assert {column for column in own if near_miss(column)} == set()
    assert near_miss("remark") is None and near_miss("备注") is None and near_miss("owner") is None


def test_validate_stops_at_a_near_miss_and_extra_column_declares_it(tmp_path: Path) -> None:
    """src_secret stops validate with exit 2 naming the column it probably means; --extra-column carries it."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "src_ak", "src_secret"], ["g1", "", "not-a-key"]])
    code, out, err = validate(path, "--project-id", PROJECT)
    assert code == 2, out + err
    assert "'src_secret' (column C) looks like src_sk" in err and "--extra-column 'src_secret'" in err
    assert "not-a-key" not in err
    code, out, err = validate(path, "--project-id", PROJECT, "--extra-column", "src_secret")
    assert code == 0, out + err
    assert "src_secret" in out


def test_run_stops_at_a_near_miss_before_any_call(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """A run of a manifest with a near-miss header exits 2 and the simulator is never called."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "SRC_SECRET_KEY"], ["g1", "x"]])
    before = len(sim_thread.simulator.received)
    code, out, err = run_manifest(path, sim_thread.url, sim_thread.config.project_id, tmp_path / "run")
    assert code == 2, out + err
    assert "looks like src_sk" in err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists()


def test_discovered_reported_and_annotated_manifests_read_back(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path
) -> None:
    """discover's manifest runs; its annotated copy and its report.csv (with the status and group columns) both
    validate, and a rerun reads report.csv as its manifest: the near-miss check fires on none of their columns."""
    manifest = tmp_path / "failed.csv"
    code, _, err = discover_at(sim_thread, manifest)
    assert code == 0, err
    run = tmp_path / "run"
    code, out, err = run_manifest(
        manifest, sim_thread.url, sim_thread.config.project_id, run, "--check-status", "--dry-run"
    )
    assert code == 0, out + err
    report = read_report(run)
    assert "group_error_code" in report[0] and "status_before" in report[0]
    for again in (run / "annotated.csv", run / "report.csv"):
        code, out, err = validate(again, "--endpoint", sim_thread.url)
        assert code == 0, f"{again.name}: {out}{err}"
    code, out, err = run_cli("rerun", str(run), "--manifest", str(run / "report.csv"), "--only", "dry_run", "--quiet")
    assert code == 0, out + err
    assert "looks like" not in err


def test_half_a_key_pair_is_an_invalid_row(tmp_path: Path) -> None:
    """src_ak without src_sk (or dst_sk without dst_ak) is invalid, named by row and column; a whole pair is fine."""
    rows = [
        ["group_id", "src_ak", "src_sk", "dst_ak", "dst_sk"],
        ["g1", "AK1", "", "", ""],
        ["g2", "AK1", "S1", "", "S2"],
    ]
    rows.append(["g3", "AK1", "S1", "AK2", "S2"])
    path = write_csv(tmp_path / "m.csv", rows)
    code, out, err = validate(path, "--project-id", PROJECT)
    assert code == 1, out + err
    assert "invalid:src_sk missing: row 2 has src_ak but no src_sk" in out
    assert "invalid:dst_ak missing: row 3 has dst_sk but no dst_ak" in out
    assert "AK1" not in out and "S2" not in out
    assert "summary: 3 rows · 1 to call" in out


def test_a_title_row_above_the_header_is_skipped_with_a_note(tmp_path: Path) -> None:
    """A caption above the header (a CSV's, with ';', and a workbook's) is skipped and said; row numbers stay."""
    csv_path = write_csv(
        tmp_path / "m.csv", [["迁移任务组清单 2024-05"], [], ["group_id", "project_id"], ["g1", "p1"]], delimiter=";"
    )
    xlsx_path = write_xlsx(tmp_path / "m.xlsx", [["Failed task groups"], ["任务组ID", "项目ID"], ["g1", "p1"]])
    for path, title_rows, header_row in ((csv_path, "row 1", 3), (xlsx_path, "row 1", 2)):
        info, rows = read_all(path)
        assert info.header_row == header_row and info.columns == ("group_id", "project_id")
        assert [row.row for row in rows] == [header_row + 1]
        code, out, err = validate(path)
        assert code == 0, out + err
        assert f"note: {path}: {title_rows} above the header (row {header_row}) taken for a title and skipped" in err


def test_a_one_cell_first_row_without_a_header_after_it_is_still_the_header(tmp_path: Path) -> None:
    """A one-cell first row is no title when no row after it names a column: the missing column is reported."""
    path = write_csv(tmp_path / "m.csv", [["groups"], ["g1"], ["g2"]])
    code, out, err = validate(path, "--project-id", PROJECT)
    assert code == 2, out + err
    assert "has no group_id column" in err and "did you mean group_id" in err


def test_an_office_lock_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    """~$groups.xlsx is refused as the lock file of the open workbook groups.xlsx."""
    lock = tmp_path / "~$groups.xlsx"
    lock.write_bytes(b"\x05alice" + b"\x00" * 160)
    code, out, err = validate(lock, "--project-id", PROJECT)
    assert code == 2, out + err
    assert "is the lock file Excel (or WPS) keeps beside the workbook 'groups.xlsx' while it is open" in err


def test_project_id_option_beside_a_project_id_column_is_warned(tmp_path: Path) -> None:
    """--project-id with a project_id column: the column wins (validate shows its project), and a warning says so."""
    path = write_csv(tmp_path / "m.csv", [["group_id", "project_id"], ["g1", "p-column"]])
    code, out, err = validate(path, "--project-id", "p-option")
    assert code == 0, out + err
    assert "warning:" in err and "its cells win over --project-id" in err
    info, rows = read_all(path)
    plan = Planner(columns=info.columns, project_id="p-option", endpoint="http://x", env={}).plan(2, rows[0].values)
    assert plan.project_id == "p-column"
    code, out, err = validate(path)
    assert code == 0, out + err
    assert "warning:" not in err
    assert csv_dicts(path)[0]["project_id"] == "p-column"
