"""bulkretry on Airflow (2.4 or later): the manifest split across SHARDS mapped tasks (dynamic task mapping,
``.expand()``), each retried alone on exit 3 only, then one report (``bulkretry merge``), whatever the shards said.

Copy this file into the DAGs folder of workers that have bulkretry installed and a folder every worker can reach
(RUNS: a shared volume). Credentials as for any run: HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK in the workers'
environment, or a credentials file (see docs/deploy/README.md). Trigger it by hand or give it a schedule.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException, AirflowFailException

SHARDS = 5
MANIFEST = "/srv/bulkretry/manifest.csv"
RUNS = "/srv/bulkretry/runs"
#: The project's quota divided among the shards: 5 shards at 2 calls/s are 10 calls/s in all.
RATE = "2"
WHERE = ["--region", "cn-north-4", "--project-id", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"]


def shard_argv(index: int, out: str, resume: bool) -> list[str]:
    """The run of shard *index* into *out* (``--resume`` when a try before this one left its folder)."""
    argv = ["bulkretry", "run", MANIFEST, *WHERE, "--check-status", "--shard", f"{index}/{SHARDS}"]
    argv += ["--rate", RATE, "--out", out, "--quiet", "--yes", "--json-summary"]
    return argv + (["--resume"] if resume else [])


def merge_argv(folder: str) -> list[str]:
    """The merge of every shard of the run in *folder*."""
    shards = [f"{folder}/shard-{index}" for index in range(SHARDS)]
    return ["bulkretry", "merge", *shards, "--out", f"{folder}/merged"]


def verdict(status: int) -> None:
    """bulkretry's exit status as Airflow's: 0 done; 3 (halted: an endpoint, a proxy, IAM) an error Airflow
    retries; 1 (some rows failed: an answer) and 2 (nothing called: needs a person) fail with no retry."""
    if status == 3:
        raise AirflowException("bulkretry halted on a systematic failure (exit 3); retried, resuming its folder")
    if status:
        raise AirflowFailException(f"bulkretry exited {status}; not retried (see its report)")


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["bulkretry"])
def bulkretry_shards() -> None:
    @task(retries=2, retry_delay=timedelta(minutes=2), retry_exponential_backoff=True)
    def shard(index: int, run_id: str | None = None) -> None:
        out = f"{RUNS}/{run_id}/shard-{index}"
        verdict(subprocess.run(shard_argv(index, out, Path(out, "journal.sqlite").is_file())).returncode)

    @task(trigger_rule="all_done", retries=0)
    def merge(run_id: str | None = None) -> None:
        verdict(subprocess.run(merge_argv(f"{RUNS}/{run_id}")).returncode)

    shard.expand(index=list(range(SHARDS))) >> merge()


bulkretry_shards()
