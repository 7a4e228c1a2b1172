"""`bulkretry history` at scale: 300 runs of 1,000 groups each, read in bounded memory (issue 28, item 9). The
peak RSS of a child process is measured, never its time; the figures are in the CHANGELOG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bulkretry.records import Outcome, RowResult
from bulkretry.run.journal import JOURNAL_NAME, Journal

RUNS, GROUPS = 300, 1000
#: The most a history of RUNS x GROUPS may take (issue 28: 884 MB before, 200 MB the target).
PEAK_RSS_MB = 200
#: The child: the history of a runs root, then its peak RSS (kB) on the last line of stderr. VmHWM is this program's
#: own high-water mark: getrusage's ru_maxrss keeps the parent's across fork and exec (pytest's, late in a suite).
MEASURED = """\
import sys
from bulkretry.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as fh:
    print(next(line.split()[1] for line in fh if line.startswith("VmHWM:")), file=sys.stderr)
sys.exit(code)
"""


def build_campaign(root: Path, runs: int = RUNS, groups: int = GROUPS) -> None:
    """*runs* finished runs in *root*, each of *groups* groups of its own (every other one failed): the worst
    case for a history, whose groups are every run's."""
    for index in range(runs):
        folder = root / f"run-{index:04d}"
        folder.mkdir(parents=True)
        with Journal(folder / JOURNAL_NAME, commit_every=groups + 1) as journal:
            journal.set_params({"run_id": folder.name, "started_at": f"2026-01-01T00:00:00.{index:04d}Z"})
            for row in range(groups):
                failed = row % 2 == 0
                journal.record(
                    RowResult(
                        row + 2,
                        "p" * 32,
                        f"g-{index:04d}-{row:05d}",
                        Outcome.FAILED if failed else Outcome.SUCCEEDED,
                        400 if failed else 200,
                        "OMS.1015" if failed else "",
                        "",
                        1,
                        "req",
                        1.0,
                        "2026-01-01T00:00:00.000Z",
                        "2026-01-01T00:00:00.001Z",
                        (),
                    )
                )


def peak_rss_mb(argv: list[str]) -> tuple[int, float, str]:
    """``bulkretry ARGV`` in a child process: its exit status, peak RSS in MB and output."""
    proc = subprocess.run([sys.executable, "-c", MEASURED, *argv], capture_output=True, text=True, timeout=600)
    *err, rss = proc.stderr.strip().splitlines()
    return proc.returncode, int(rss) / 1024, proc.stdout + "\n".join(err)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM is read from /proc/self/status")
def test_history_of_300_runs_of_1000_groups_stays_within_200_mb(tmp_path: Path) -> None:
    """300 runs x 1,000 groups: history.csv holds every group, and the child's peak RSS is at most 200 MB."""
    build_campaign(tmp_path / "runs")
    code, peak, output = peak_rss_mb(["history", str(tmp_path / "runs"), "--out", str(tmp_path / "h")])
    assert code == 1, output
    assert f"{RUNS} runs, {RUNS * GROUPS} groups" in output
    with open(tmp_path / "h" / "history.csv", encoding="utf-8-sig") as fh:
        assert sum(1 for _ in fh) == RUNS * GROUPS + 1
    assert peak <= PEAK_RSS_MB, f"peak RSS {peak:.0f} MB"
