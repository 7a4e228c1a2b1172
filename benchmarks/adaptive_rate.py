"""``--rate auto`` against an unknown limit: goodput and 429 share of a whole run against the simulator.

The simulator runs in its own process (``bulkretry sim --rate-limit 50 --latency-ms 20``: a sliding
1-second window in which refused calls count too, answered 429 with no Retry-After), every group
failed; ``bulkretry run MANIFEST --rate auto --concurrency 64`` retries enough of them for ~40 s.

* goodput: succeeded calls per second over the run's call span, against the limit (target ≥ 90 %);
* 429 share: calls answered 429 out of all calls (target ≤ 5 %); every group is failed and the sim
  injects no errors, so every call that did not succeed was a 429.

Should the CLI not know ``--rate auto`` (an older checkout), the same run is made in this process
with :class:`bulkretry.run.engine.Engine` and an :class:`~bulkretry.run.adaptive.AdaptivePacer` per project,
still against the simulator's separate process; the figure's detail says which path ran.

``python -m benchmarks.adaptive_rate [--quick] [--limits 5,50,500]`` (or ``python benchmarks/adaptive_rate.py``)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

try:
    from benchmarks.common import PYTHON, ROOT, Figure, bulkretry_argv, free_port, wait_for_port
except ModuleNotFoundError:  # run as a script: python benchmarks/adaptive_rate.py
    # mypy sees benchmarks as a package; the bare module exists only on a script's sys.path
    from common import (  # type: ignore[no-redef, import-not-found]
        PYTHON,
        ROOT,
        Figure,
        bulkretry_argv,
        free_port,
        wait_for_port,
    )

if TYPE_CHECKING:  # for annotations only: the bulkretry modules are imported inside the functions
    from bulkretry.records import RowResult
    from bulkretry.sim.config import SimConfig

LIMIT = 50
GOODPUT_TARGET = 0.90
THROTTLED_TARGET = 0.05
CONCURRENCY = 64
LATENCY_MS = 20


def measure(quick: bool = False) -> list[Figure]:
    """Goodput and 429 share at a 50/s limit, over a ~40 s run (~20 s when *quick*)."""
    return measure_limit(LIMIT, seconds=20.0 if quick else 40.0)


def measure_limit(limit: float, seconds: float = 40.0) -> list[Figure]:
    """The two figures of one run against a simulator allowing *limit* calls per second."""
    rows = max(20, round(limit * seconds))
    with tempfile.TemporaryDirectory(prefix="bench-adaptive-") as tmp, _simulator(limit, rows) as (url, config):
        manifest = Path(tmp) / "manifest.csv"
        manifest.write_text("group_id\n" + "\n".join(_failed_ids(config, rows)) + "\n", encoding="utf-8")
        if cli_has_auto():
            path, res = "cli", _run_cli(url, config, manifest, Path(tmp) / "run")
        else:
            path, res = "in-process engine (CLI lacks --rate auto)", _run_engine(url, config, manifest)
    goodput = res["succeeded"] / res["span_s"] if res["span_s"] > 0 else 0.0
    throttled = (res["calls"] - res["succeeded"]) / res["calls"] if res["calls"] else 1.0
    detail = (
        f"{res['succeeded']}/{rows} rows ok, {res['calls']} calls in {res['span_s']:.1f} s, "
        f"{goodput:.1f}/s vs limit {limit:g}/s; {path}"
    )
    return [
        Figure(
            f"rate auto @{limit:g}/s: goodput / limit",
            goodput / limit,
            "ratio",
            f">= {GOODPUT_TARGET:.2f}",
            goodput >= GOODPUT_TARGET * limit,
            detail,
        ),
        Figure(
            f"rate auto @{limit:g}/s: calls answered 429",
            throttled,
            "share",
            f"<= {THROTTLED_TARGET:.2f}",
            throttled <= THROTTLED_TARGET,
            f"{res['calls'] - res['succeeded']} of {res['calls']} calls",
        ),
    ]


def cli_has_auto() -> bool:
    """Whether ``bulkretry run`` accepts ``--rate auto`` yet (argparse checks it before acting on --help)."""
    argv = [PYTHON, "-m", "bulkretry", "run", "manifest.csv", "--rate", "auto", "--help"]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=60).returncode == 0


# -- the simulator ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _simulator(limit: float, groups: int) -> Iterator[tuple[str, SimConfig]]:
    from bulkretry.sim.config import SimConfig

    port = free_port()
    argv = [
        PYTHON,
        "-m",
        "bulkretry",
        "sim",
        "--port",
        str(port),
        "--groups",
        str(groups),
        "--failed-ratio",
        "1.0",
        "--rate-limit",
        f"{limit:g}",
        "--latency-ms",
        str(LATENCY_MS),
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if "listening on" not in line:
            raise RuntimeError(f"the simulator did not start: {line.strip()}")
        wait_for_port(port)
        yield line.split("listening on", 1)[1].strip(), SimConfig(port=port, groups=groups, failed_ratio=1.0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def _failed_ids(config: SimConfig, rows: int) -> list[str]:
    """The simulator's groups, rebuilt from its seed (every one failed: --failed-ratio 1.0)."""
    from bulkretry.sim.groups import FAILED, generate_groups

    groups = generate_groups(config.seed, config.groups, config.failed_ratio, config.project_id)
    ids = [g["group_id"] for g in groups if g["status"] == FAILED]
    return ids[:rows]


# -- the two ways to run ----------------------------------------------------------------------------


def _run_cli(url: str, config: SimConfig, manifest: Path, out_dir: Path) -> dict[str, float]:
    env = {**os.environ, "HUAWEICLOUD_SDK_AK": config.ak, "HUAWEICLOUD_SDK_SK": config.sk}
    for name in ("OMS_AUTH_TOKEN", "HUAWEICLOUD_SDK_PROJECT_ID"):
        env.pop(name, None)
    options = ("--rate", "auto", "--concurrency", str(CONCURRENCY), "--quiet", "--json-summary", "--format", "csv")
    argv = bulkretry_argv(manifest, url, config.project_id, *options, "--out", str(out_dir))
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    try:
        summary = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError(f"bulkretry run exited {proc.returncode}: {proc.stderr.strip()[-500:]}") from None
    calls = int(summary["calls"])
    rate = float(summary.get("achieved_rate") or 0.0)
    span = (calls - 1) / rate if rate > 0 and calls > 1 else float(summary["duration_s"])
    return {"succeeded": int(summary["by_outcome"].get("succeeded", 0)), "calls": calls, "span_s": span}


def _run_engine(url: str, config: SimConfig, manifest: Path) -> dict[str, float]:
    import anyio

    from bulkretry.manifest.plan import Planner
    from bulkretry.oms.auth import AkSkAuth
    from bulkretry.oms.client import OmsClient, make_session
    from bulkretry.oms.credentials import AkSk
    from bulkretry.records import Outcome
    from bulkretry.run.adaptive import AdaptivePacer
    from bulkretry.run.engine import Engine, EngineConfig
    from bulkretry.run.pacing import PacerPool
    from bulkretry.run.policy import RetryPolicy

    ids = manifest.read_text(encoding="utf-8").split()[1:]
    planner = Planner(columns=["group_id"], project_id=config.project_id, endpoint=url)
    plans = [planner.plan(i + 2, {"group_id": gid}) for i, gid in enumerate(ids)]
    succeeded = 0
    last_result = 0.0

    def on_result(result: RowResult) -> None:
        nonlocal succeeded, last_result
        succeeded += result.outcome is Outcome.SUCCEEDED
        last_result = time.monotonic()

    async def main() -> Engine:
        async with make_session(limit=CONCURRENCY) as session:
            client = OmsClient(session, AkSkAuth(AkSk(config.ak, config.sk)), endpoint=url)
            engine = Engine(
                client,
                EngineConfig(
                    rate=None,
                    concurrency=CONCURRENCY,
                    policy=RetryPolicy(),
                    pacers=PacerPool(lambda: AdaptivePacer(), shared=False),
                ),
            )
            await engine.run(plans, on_result)
            return engine

    engine = anyio.run(main)
    first = engine.stats.first_call_at or last_result
    return {"succeeded": succeeded, "calls": engine.stats.calls, "span_s": last_result - first}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="--rate auto against the simulator's unknown limit")
    parser.add_argument("--quick", action="store_true", help="~20 s runs instead of ~40 s")
    parser.add_argument("--limits", default=f"{LIMIT}", help="comma list of limits to try (default: %(default)s)")
    args = parser.parse_args()
    for value in args.limits.split(","):
        for figure in measure_limit(float(value), seconds=20.0 if args.quick else 40.0):
            print(figure.line(), flush=True)
