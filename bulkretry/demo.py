"""``bulkretry demo``: the simulator in this process, the sample manifest retried against it."""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from .auth import AkSkAuth
from .client import OmsClient
from .credentials import AkSk
from .errors import ApiError, ConfigError, TransportError

__all__ = ["DemoResult", "DemoRow", "run_demo", "samples_dir"]

#: Fake source/destination secrets that the sample manifest references as ``env:NAME``.
DEMO_ENV = {"DEMO_SRC_SK": "demo-source-secret", "DEMO_DST_SK": "demo-destination-secret"}
BODY_FIELDS = ("src_ak", "src_sk", "dst_ak", "dst_sk")


def samples_dir() -> Path:
    """The ``samples/`` folder of the source checkout."""
    path = Path(__file__).resolve().parent.parent / "samples"
    if not (path / "manifest.csv").is_file():
        raise ConfigError(f"the sample manifests are not at {path}: run the demo from a source checkout "
                          "(pip install -e .)")
    return path


@dataclass(frozen=True, slots=True)
class DemoRow:
    row: int
    group_id: str
    outcome: str
    http_status: int | None
    error_code: str


@dataclass(frozen=True, slots=True)
class DemoResult:
    url: str
    seed: int
    groups: int
    failed_groups: int
    manifest: str
    duration_s: float
    rows: list[DemoRow] = field(default_factory=list)

    @property
    def by_outcome(self) -> dict[str, int]:
        return dict(Counter(r.outcome for r in self.rows))


def _resolve(value: str) -> str:
    if value.startswith("env:"):
        name = value[4:]
        return os.environ.get(name) or DEMO_ENV.get(name, "")
    return value


async def run_demo(manifest: Path | None = None) -> DemoResult:
    """Retry every row of *manifest* (default: ``samples/manifest.csv``) against an in-process simulator."""
    from .sim import SimConfig, running_simulator

    manifest = manifest or samples_dir() / "manifest.csv"
    config = SimConfig()
    with open(manifest, encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    started = time.perf_counter()
    rows: list[DemoRow] = []
    async with running_simulator(config) as sim, aiohttp.ClientSession() as session:
        client = OmsClient(session, AkSkAuth(AkSk(config.ak, config.sk)), endpoint=sim.url)
        failed_groups = sim.state.list(status=5, offset=0, limit=1)[0]
        for number, record in enumerate(records, start=2):
            body: dict[str, object] = {k: _resolve(record[k]) for k in BODY_FIELDS if record.get(k)}
            body["migrate_failed_object"] = record.get("migrate_failed_object", "").lower() == "true"
            try:
                resp = await client.retry_task_group(config.project_id, record["group_id"], body)
                rows.append(DemoRow(number, record["group_id"], "succeeded", resp.status, ""))
            except ApiError as exc:
                rows.append(DemoRow(number, record["group_id"], "failed", exc.status, exc.error_code))
            except TransportError as exc:
                rows.append(DemoRow(number, record["group_id"], "failed", None, exc.code))
        url = sim.url
    return DemoResult(url, config.seed, config.groups, failed_groups, str(manifest),
                      time.perf_counter() - started, rows)
