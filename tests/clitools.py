"""Running the CLI in-process, the environment a run against the simulator needs, and the shipped samples."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulkretry.cli import main
from bulkretry.sim import SimConfig, Simulator, SimulatorThread

#: The shipped sample manifests (``bulkretry/samples/``, package data).
SAMPLES = Path(__file__).resolve().parent.parent / "bulkretry" / "samples"

#: The simulator's project (``SimConfig``'s default), also for the servers that stand in for OMS.
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

#: The token ``token_env`` gives a run.
TOKEN = "the-run-token-0123456789"

#: The secrets the samples' ``env:`` cells name.
DEMO_SECRETS = {"DEMO_SRC_SK": "demo-source-secret-value", "DEMO_DST_SK": "demo-destination-secret-value"}

#: Every environment variable that could give a run credentials (or a project) from the caller's shell.
CREDENTIAL_ENV = (
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "CLOUD_SDK_AK",
    "CLOUD_SDK_SK",
    "OMS_AUTH_TOKEN",
    "OMS_IAM_USER",
    "OMS_IAM_PASSWORD",
    "OMS_IAM_PASSWORD_FILE",
    "HUAWEICLOUD_SDK_PROJECT_ID",
    "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
)


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``bulkretry ARGV`` in this process: ``(exit status, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def clear_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credential of any kind from the caller's environment."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)


def use_sim_credentials(monkeypatch: pytest.MonkeyPatch, config: SimConfig, **extra: str) -> dict[str, str]:
    """Only the simulator's AK/SK as credentials, plus *extra* variables (e.g. ``DEMO_SRC_SK``); returns what
    was set."""
    clear_credentials(monkeypatch)
    values = {"HUAWEICLOUD_SDK_AK": config.ak, "HUAWEICLOUD_SDK_SK": config.sk, **extra}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run_argv(manifest: Path, endpoint: str, project_id: str, out: Path, *extra: str) -> list[str]:
    """The argv of ``bulkretry run MANIFEST`` against *endpoint* for *project_id* into *out*, with *extra* options."""
    return ["run", str(manifest), "--endpoint", endpoint, "--project-id", project_id, "--out", str(out), *extra]


def sim_run_argv(sim_thread: SimulatorThread, manifest: Path, out: Path, *extra: str) -> list[str]:
    """The argv of ``bulkretry run MANIFEST`` against the simulator for its own project, into *out*."""
    return run_argv(manifest, sim_thread.url, sim_thread.config.project_id, out, *extra)


def run_manifest(
    manifest: Path, endpoint: str, project_id: str, out: Path, *extra: str, rate: str = "500"
) -> tuple[int, str, str]:
    """``bulkretry run MANIFEST`` against *endpoint* for *project_id* into *out*, quiet, at *rate* calls a second,
    with *extra* options: ``(exit status, stdout, stderr)``."""
    return run_cli(*run_argv(manifest, endpoint, project_id, out, "--rate", rate, "--quiet", *extra))


def csv_dicts(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV the run wrote (UTF-8, with or without a BOM), as dicts by header."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def run_at(url: str, manifest: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    """``bulkretry run MANIFEST`` for PROJECT against the server at *url*, into *out*, at 200 calls a second."""
    return run_manifest(manifest, url, PROJECT, out, *extra, rate="200")


def read_report(run: Path) -> list[dict[str, str]]:
    """The rows of a run folder's report.csv."""
    return csv_dicts(run / "report.csv")


def discover_at(sim_thread: SimulatorThread, out: Path) -> tuple[int, str, str]:
    """``bulkretry discover`` of the simulator's failed groups in its own project, written to *out*."""
    return run_cli(
        "discover", "--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id, "--out", str(out)
    )


def discover_and_run(sim_thread: SimulatorThread, tmp_path: Path, *extra: str) -> Path:
    """``discover`` into tmp_path/failed.csv, then a quiet ``run`` of it with *extra* options into tmp_path/run;
    each must exit 0. Returns the run folder."""
    manifest = tmp_path / "failed.csv"
    code, _, err = discover_at(sim_thread, manifest)
    assert code == 0, err
    code, _, err = run_manifest(manifest, sim_thread.url, sim_thread.config.project_id, tmp_path / "run", *extra)
    assert code == 0, err
    return tmp_path / "run"


def failed_group_ids(sim_thread: SimulatorThread, n: int) -> list[str]:
    """The first *n* failed groups of the simulator (at most 1,000), in the order it lists them."""
    return [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=1000)[1]][:n]


def write_group_manifest(path: Path, ids: list[str]) -> Path:
    """A one-column manifest of *ids*."""
    path.write_text("group_id\n" + "".join(f"{gid}\n" for gid in ids), encoding="utf-8")
    return path


def child_run_argv(manifest: Path, endpoint: str, project_id: str, out: Path, *extra: str) -> list[str]:
    """The argv of ``python -m bulkretry run MANIFEST`` in a child process, against *endpoint* into *out*."""
    return [sys.executable, "-m", "bulkretry", *run_argv(manifest, endpoint, project_id, out, *extra)]


def child_env(config: SimConfig) -> dict[str, str]:
    """This process's environment with the simulator's AK/SK, for a child ``bulkretry``."""
    return {**os.environ, "HUAWEICLOUD_SDK_AK": config.ak, "HUAWEICLOUD_SDK_SK": config.sk}


def start_child(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """A child process of *argv* in *env*, its stdout and stderr captured as text."""
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_requests(simulator: Simulator, n: int, seconds: float = 20.0) -> None:
    """Poll until *simulator* has received *n* requests, for *seconds* at the most (the caller asserts what follows)."""
    deadline = time.monotonic() + seconds
    while len(simulator.received) < n and time.monotonic() < deadline:
        time.sleep(0.05)
