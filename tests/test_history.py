"""`bulkretry history`: every run of a manifest, round by round (history.csv, history.html)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from bulkretry.run.runlock import RunLock
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import failed_group_ids, run_cli, run_manifest, use_sim_credentials, write_group_manifest

#: A group id a spreadsheet would run as a formula and a browser would read as markup.
ODD = "=<i>odd</i>"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of *folder*: its bytes and mtime."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runs root with two runs of one manifest: `zz-first` (transient 5xx, one attempt, and an unknown group)
    then `aa-second` (a clean server: the transient ones fixed, the unknown group failing again)."""
    use_sim_credentials(monkeypatch, SimConfig())
    with SimulatorThread(SimConfig(failed_ratio=1.0)) as sim_thread:
        ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]][:30]
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\n" + "\n".join([*ids, "no-such-group", ODD, ids[0]]) + "\n", encoding="utf-8")
    root = tmp_path / "runs"
    for name, config, extra in (
        ("zz-first", SimConfig(failed_ratio=1.0, error_rate=0.3, seed=42), ["--max-attempts", "1"]),
        ("aa-second", SimConfig(failed_ratio=1.0, seed=42), []),
    ):
        with SimulatorThread(config) as sim_thread:
            code, _, err = run_manifest(manifest, sim_thread.url, config.project_id, root / name, *extra)
        assert code == 1, err
    return root


def test_history_csv_has_a_column_per_run_in_start_order(campaign: Path, tmp_path: Path) -> None:
    """Columns by start time (not by name), each cell the run's outcome; last_outcome, runs_failed, first fine run."""
    first, second = _rows(campaign / "zz-first" / "report.csv"), _rows(campaign / "aa-second" / "report.csv")
    transient = {
        r["group_id"] for r in first if r["outcome"] == "failed" and r["group_id"] not in ("no-such-group", "'" + ODD)
    }
    assert transient
    code, out, err = run_cli(
        "history", str(campaign / "aa-second"), str(campaign / "zz-first"), "--out", str(tmp_path / "h")
    )
    assert code == 1, err
    groups = len({r["group_id"] for r in first if r["outcome"] != "duplicate"})
    assert out == (
        f"2 runs, {groups} groups: 2 never succeeded, {len(transient)} fixed along the way · history.csv, "
        f"history.html in {tmp_path / 'h'}\n"
    )
    with open(tmp_path / "h" / "history.csv", encoding="utf-8-sig", newline="") as fh:
        header, *body = list(csv.reader(fh))
    assert header == [
        "project_id",
        "group_id",
        "zz-first",
        "aa-second",
        "last_outcome",
        "runs_failed",
        "first_succeeded_run",
    ]
    assert (tmp_path / "h" / "history.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    outcome = {r["group_id"]: r["outcome"] for r in second if r["outcome"] != "duplicate"}
    expected = []
    for r in first:
        if r["outcome"] == "duplicate":
            continue
        gid = r["group_id"]
        cells = [r["outcome"], outcome[gid]]
        failed = sum(c == "failed" for c in cells)
        fine = next((run for run, c in zip(("zz-first", "aa-second"), cells) if c == "succeeded"), "")
        expected.append([r["project_id"], gid, *cells, cells[1], str(failed), fine])
    assert body == expected
    assert [row[2:] for row in body if row[1] in ("no-such-group", "'" + ODD)] == [
        ["failed", "failed", "failed", "2", ""]
    ] * 2
    assert {row[1] for row in body if row[2:] == ["failed", "succeeded", "succeeded", "1", "aa-second"]} == transient


def test_history_html_is_self_contained_and_lists_the_never_succeeded_first(campaign: Path, tmp_path: Path) -> None:
    """history.html: CSP, no external URL, no script; the never-succeeded table (with its code) before the rounds."""
    code, _, err = run_cli("history", str(campaign), "--out", str(tmp_path / "h"))
    assert code == 1, err
    page = (tmp_path / "h" / "history.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page.lower() and "<svg" in page
    assert "<i>" not in page and "<td>=&lt;i&gt;odd&lt;/i&gt;</td>" in page
    assert "<h1>History of 2 runs, 32 groups</h1>" in page and "2 still failing" in page
    never = page.index("Never succeeded")
    assert never < page.index("Fixed, round by round") < page.index("2. aa-second")
    assert never < page.index("<td>no-such-group</td><td>failed</td><td>OMS.1009</td>") < page.index("Fixed, round")


def test_history_of_a_runs_root_orders_runs_by_start_and_leaves_them_untouched(
    campaign: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runs root: each subfolder with a journal is a run; default --out is the cwd; run folders unmodified."""
    (campaign / "notes").mkdir()  # a subfolder without a journal is not a run
    before = {name: _snapshot(campaign / name) for name in ("zz-first", "aa-second")}
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run_cli("history", str(campaign))
    assert code == 1, err
    assert out.startswith("2 runs, 32 groups: ") and out.endswith(f"in {work}\n")
    assert sorted(p.name for p in work.iterdir()) == ["history.csv", "history.html"]
    assert list(_rows(work / "history.csv")[0])[2:4] == ["zz-first", "aa-second"]
    assert {name: _snapshot(campaign / name) for name in ("zz-first", "aa-second")} == before
    code, _, _ = run_cli("history", str(campaign))  # written again over the earlier files: fine, they are derived
    assert code == 1
    assert sorted(p.name for p in work.iterdir()) == ["history.csv", "history.html"]


def test_history_exits_0_when_every_group_ends_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One clean run: every group succeeded, none never succeeded, exit 0."""
    config = SimConfig(failed_ratio=1.0)
    use_sim_credentials(monkeypatch, config)
    with SimulatorThread(config) as sim_thread:
        ids = failed_group_ids(sim_thread, 3)
        manifest = write_group_manifest(tmp_path / "m.csv", ids)
        code, _, err = run_manifest(manifest, sim_thread.url, config.project_id, tmp_path / "run")
    assert code == 0, err
    code, out, err = run_cli("history", str(tmp_path / "run"), "--out", str(tmp_path / "h"))
    assert code == 0, err
    assert out.startswith("1 runs, 3 groups: 0 never succeeded, 0 fixed along the way")
    assert [r["first_succeeded_run"] for r in _rows(tmp_path / "h" / "history.csv")] == ["run"] * 3


def test_history_of_no_runs_or_a_folder_that_is_not_a_run_exits_2(tmp_path: Path) -> None:
    """An empty folder, a missing one, a journal that is not one, a run given twice: exit 2 naming the folder."""
    code, _, err = run_cli("history", str(tmp_path), "--out", str(tmp_path / "h"))
    assert code == 2 and f"{tmp_path} holds no run" in err
    code, _, err = run_cli("history", str(tmp_path / "missing"), str(tmp_path), "--out", str(tmp_path / "h"))
    assert code == 2 and f"{tmp_path / 'missing'} holds no run" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "journal.sqlite").write_bytes(b"not a database\n" * 100)
    code, _, err = run_cli("history", str(bad), "--out", str(tmp_path / "h"))
    assert code == 2 and f"{bad} is not a run" in err and "Traceback" not in err
    code, _, err = run_cli("history", str(tmp_path), "--out", str(tmp_path / "h"))  # a root whose only run is bad
    assert code == 2 and f"{bad} is not a run" in err
    assert not (tmp_path / "h").exists()


def test_history_leaves_out_a_live_run_with_a_note(campaign: Path, tmp_path: Path) -> None:
    """A run whose folder's lock is held (a run going on) is left out with a note; the others make the history."""
    with RunLock(campaign / "aa-second"):
        code, out, err = run_cli("history", str(campaign), "--out", str(tmp_path / "h"))
    assert code == 1, err
    assert f"note: {campaign / 'aa-second'} left out: a run is still going on there (pid {os.getpid()})" in err
    assert out.startswith("1 runs, "), out
    with open(tmp_path / "h" / "history.csv", encoding="utf-8-sig", newline="") as fh:
        assert next(csv.reader(fh))[2:-3] == ["zz-first"]


def test_history_counts_a_symlinked_run_folder_once(campaign: Path, tmp_path: Path) -> None:
    """A symlink to a run folder inside the runs root is the same run: counted once, the real folder named."""
    code, before, err = run_cli("history", str(campaign), "--out", str(tmp_path / "h1"))
    (campaign / "link-to-first").symlink_to(campaign / "zz-first", target_is_directory=True)
    code, after, err = run_cli("history", str(campaign), "--out", str(tmp_path / "h2"))
    assert code == 1, err
    assert after.startswith("2 runs, ") and after.replace("h2", "h1") == before
    assert (tmp_path / "h2" / "history.csv").read_bytes() == (tmp_path / "h1" / "history.csv").read_bytes()
