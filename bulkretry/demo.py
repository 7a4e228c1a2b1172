"""``bulkretry demo``: the simulator in this process, and a real run of the sample manifest against it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from bulkretry.defaults import DEFAULT_RUNS_ROOT
from bulkretry.errors import ConfigError
from bulkretry.i18n import DEFAULT_LANG
from bulkretry.oms.auth import AkSkAuth
from bulkretry.oms.credentials import AkSk
from bulkretry.records import RowResult
from bulkretry.run.prepare import prepare
from bulkretry.run.runner import RunResult, execute
from bulkretry.run.settings import ManifestSource, Output, Pacing, RunSettings, ServiceTarget

__all__ = ["DEMO_ENV", "DemoResult", "run_demo", "samples_dir"]

#: Fake source/destination secrets that the sample manifest references as ``env:NAME``.
DEMO_ENV = {"DEMO_SRC_SK": "demo-source-secret", "DEMO_DST_SK": "demo-destination-secret"}
DEMO_RATE = 50.0


def samples_dir() -> Path:
    """The sample manifests, package data (``bulkretry/samples/``): in a source checkout and an installed wheel."""
    path = Path(str(files("bulkretry").joinpath("samples")))
    if not (path / "manifest.csv").is_file():
        raise ConfigError(f"the sample manifests are not at {path}: reinstall bulkretry (pip install bulkretry)")
    return path


@dataclass(frozen=True)
class DemoResult:
    url: str
    seed: int
    groups: int
    failed_groups: int
    run: RunResult
    rows: list[RowResult]


async def run_demo(
    manifest: Path | None = None, *, runs_root: Path | None = None, lang: str = DEFAULT_LANG
) -> DemoResult:
    """Run *manifest* (default: the package's ``samples/manifest.csv``) against an in-process simulator; reports
    are written, in *lang*, to a new folder under *runs_root* (default ``./bulkretry-runs``)."""
    from bulkretry.sim import SimConfig, running_simulator

    manifest = manifest or samples_dir() / "manifest.csv"
    config = SimConfig()
    env = {**DEMO_ENV, **os.environ}
    rows: list[RowResult] = []
    async with running_simulator(config) as sim:
        settings = RunSettings(
            ManifestSource(manifest),
            ServiceTarget(endpoint=sim.url, project_id=config.project_id),
            Pacing(rate=DEMO_RATE),
            output=Output(runs_root=runs_root or DEFAULT_RUNS_ROOT, lang=lang),
        )
        prepared = prepare(settings, env)
        failed_groups = sim.state.list(status=5, offset=0, limit=1)[0]
        result = await execute(prepared, AkSkAuth(AkSk(config.ak, config.sk)), on_result=rows.append)
    return DemoResult(sim.url, config.seed, config.groups, failed_groups, result, sorted(rows, key=lambda r: r.row))
