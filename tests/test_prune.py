"""`bulkretry prune`: retention of run folders, by count or by age, never a run going on; `history` works on
what is left. Real folders, real journals, real locks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bulkretry.run.journal import JOURNAL_NAME, Journal
from bulkretry.run.retention import parse_age
from bulkretry.run.runlock import RunLock
from tests.clitools import run_cli


def _runs(root: Path, days_ago: list[int]) -> list[Path]:
    """A finished (empty) run per entry of *days_ago*, started that many days ago, named by its age."""
    folders = []
    for days in days_ago:
        folder = root / f"run-{days:03d}d"
        folder.mkdir(parents=True)
        started = datetime.now(timezone.utc) - timedelta(days=days, minutes=1)
        with Journal(folder / JOURNAL_NAME) as journal:
            journal.set_params({"run_id": folder.name, "started_at": started.strftime("%Y-%m-%dT%H:%M:%S.000Z")})
        folders.append(folder)
    return folders


def test_prune_lists_then_removes_with_yes_keeping_the_newest(tmp_path: Path) -> None:
    """--keep 2 lists the older runs and removes nothing; with --yes it removes exactly them."""
    runs = _runs(tmp_path / "runs", [1, 40, 3, 90])
    code, out, err = run_cli("prune", str(tmp_path / "runs"), "--keep", "2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"would remove {runs[3]} (started ") and lines[1].startswith(f"would remove {runs[1]} ")
    assert str(runs[3]) in out and str(runs[1]) in out and str(runs[0]) not in out and str(runs[2]) not in out
    assert "2 run folders would be removed, 2 kept; add --yes" in out
    assert all(run.is_dir() for run in runs)
    code, out, err = run_cli("prune", str(tmp_path / "runs"), "--keep", "2", "--yes")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["run-001d", "run-003d"]


def test_prune_by_age_never_removes_a_live_run_or_follows_a_symlink(tmp_path: Path) -> None:
    """--older-than 30d removes the old runs but the one whose lock is held (noted) and the one behind a symlink."""
    root = tmp_path / "runs"
    young, old, live = _runs(root, [2, 45, 60])
    elsewhere = _runs(tmp_path / "archive", [100])[0]
    (root / "link").symlink_to(elsewhere, target_is_directory=True)
    with RunLock(live):
        code, out, err = run_cli("prune", str(root), "--older-than", "30d", "--yes")
    assert code == 0, err
    assert f"note: {live} kept: a run is still going on there" in err
    assert "1 run folders removed" in out
    assert not old.exists() and young.is_dir() and live.is_dir() and (elsewhere / JOURNAL_NAME).is_file()
    code, out, err = run_cli("history", str(root), "--out", str(tmp_path / "h"))
    assert code == 0, err
    assert out.startswith("3 runs, 0 groups")  # the young one, the live one, the one behind the link


@pytest.mark.parametrize("text", ["30", "d", "0d", "1.5d", "-3d", "3y"])
def test_an_age_is_a_whole_number_with_a_unit(text: str) -> None:
    """--older-than takes 30d, 12h, 2w...: anything else is a usage error naming the forms."""
    with pytest.raises(ValueError, match=r"e\.g\. 30d or 12h"):
        parse_age(text)
    assert run_cli("prune", ".", "--older-than", text)[0] == 2


def test_prune_needs_keep_or_older_than(tmp_path: Path) -> None:
    """Without --keep or --older-than nothing is chosen: a usage error."""
    assert run_cli("prune", str(tmp_path))[0] == 2
    assert parse_age("2w") == timedelta(days=14)
