"""CPU a row of each pass over a manifest, in one process: the count, the plan pass's rows, planning, and the
report pass (report.csv and the annotated copy, from a finished run's journal); optionally against another checkout.

    python -m benchmarks.passes                          # this checkout: µs a row of each pass
    python -m benchmarks.passes --against ../before      # alternated runs of both; the ratio after/before

A pass is timed with ``time.process_time`` in a process of its own (``PYTHONPATH`` the checkout), repeated
``--repeats`` times in turn with the other checkout; the figure is the median. Callgrind's instructions a row of a
live run move by ±3 % from run to run (how many answers one loop turn takes); these passes do not touch the
network, so they tell a change of a few percent in one of them apart.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from benchmarks.common import PYTHON, ROOT, bulkretry_argv
from benchmarks.run import PROJECT, QUIET_ENV, TOKEN, make_manifest

#: Run in the measured checkout: prints ``name us_a_row`` for each pass.
_MEASURE = """
import gc, sys, time
from pathlib import Path
from bulkretry.manifest.annotate import AnnotatedWriter
from bulkretry.manifest.plan import Planner
from bulkretry.manifest.read import count_rows, iter_rows, open_manifest
from bulkretry.report import write_reports
from bulkretry.run.journal import Journal
from bulkretry.run.runner import _tap
from bulkretry.run.summary import summarize

manifest, run, out, rows = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
gc.freeze(); gc.set_threshold(50_000)  # as a run sets it (run/job.py)
info = open_manifest(manifest)
journal = Journal.open_existing(run / "journal.sqlite")
params = journal.params()
summary = summarize(journal, params, run)

def plan():
    planner = Planner(columns=info.columns, project_id="p", endpoint="http://127.0.0.1:9", env={}, base_dir=Path("."))
    try:
        plans = planner.plan_all(iter_rows(info), expected=rows)
    except TypeError:  # a checkout from before plan_all(expected=)
        plans = planner.plan_all(iter_rows(info))
    for _ in plans:
        pass

def report():
    annotating = AnnotatedWriter(info, out)
    write_reports(out, _tap(journal.results(), annotating), summary, formats=("csv",),
                  extra_columns=params["extra_columns"])
    annotating.finish()

for name, work in (("count", lambda: count_rows(info)), ("rows", lambda: sum(1 for _ in iter_rows(info))),
                   ("plan", plan), ("report", report)):
    start = time.process_time()
    work()
    print(name, (time.process_time() - start) / rows * 1e6)
"""


def measure(tree: Path, manifest: Path, run: Path, out: Path, rows: int) -> dict[str, float]:
    """One process in *tree*: µs a row of each pass."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv = [PYTHON, "-c", _MEASURE, str(manifest), str(run), str(out), str(rows)]
    done = subprocess.run(argv, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return {name: float(value) for name, value in (line.split() for line in done.stdout.splitlines())}


def finished_run(tmp: Path, manifest: Path) -> Path:
    """A dry run of *manifest* (every row planned and journaled): the journal the report pass reads."""
    run = tmp / "run"
    argv = bulkretry_argv(manifest, "http://127.0.0.1:9", PROJECT, "--out", str(run), "--quiet", "--dry-run")
    env = {**os.environ, **QUIET_ENV, "OMS_AUTH_TOKEN": TOKEN}
    subprocess.run([*argv, "--format", "csv", "--auth", "token"], env=env, cwd=ROOT, check=True, capture_output=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout (e.g. a git worktree of the code before)")
    args = parser.parse_args()
    trees = [ROOT] if args.against is None else [args.against.resolve(), ROOT]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        manifest = make_manifest(tmp / "passes.csv", args.rows)
        run = finished_run(tmp, manifest)
        seen: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
        for n in range(args.repeats):
            for tree in trees if n % 2 == 0 else trees[::-1]:
                seen[tree].append(measure(tree, manifest, run, tmp / f"out-{n}-{len(seen[tree])}", args.rows))
    for name in seen[ROOT][0]:
        medians = [statistics.median(figures[name] for figures in seen[tree]) for tree in trees]
        ratio = f"   after/before {medians[1] / medians[0]:.3f}" if len(medians) == 2 else ""
        print(f"{name:<7} {'  ->  '.join(f'{m:6.2f}' for m in medians)} us a row{ratio}")


if __name__ == "__main__":
    main()
