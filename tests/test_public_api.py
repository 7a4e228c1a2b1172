"""The documented Python API: a script that imports only ``bulkretry`` runs a manifest and reads the run back."""

from __future__ import annotations

from pathlib import Path

import pytest

import bulkretry
from bulkretry.sim import SimulatorThread
from tests.clitools import failed_group_ids, write_group_manifest


def test_the_exceptions_carry_their_exit_statuses() -> None:
    """Every exception a script may catch is public, with the exit status the CLI gives it."""
    assert bulkretry.UsageError.exit_status == 2
    refused = bulkretry.LoginRefused("no", status=401, error_code="IAM.0101", project_id="p")
    assert refused.exit_status == 2
    assert issubclass(bulkretry.LoginUnavailable, bulkretry.TransportError)
    assert bulkretry.Stopped("reading", signal="SIGTERM", exit_status=143).exit_status == 143
    assert all(issubclass(getattr(bulkretry, n), bulkretry.BulkRetryError) for n in ("LoginRefused", "Stopped"))


def test_every_public_name_is_there() -> None:
    """Each name of ``__all__`` is an attribute of the package (the lazy ones included)."""
    assert all(getattr(bulkretry, name) is not None for name in bulkretry.__all__)
    with pytest.raises(AttributeError):
        bulkretry.no_such_name  # noqa: B018


@pytest.mark.usefixtures("env")
def test_a_script_runs_a_manifest_and_reads_the_run_back(tmp_path: Path, sim_thread: SimulatorThread) -> None:
    """run_manifest against the simulator: the summary and files of the run; read_report gives the same rows."""
    ids = failed_group_ids(sim_thread, 3)
    manifest = write_group_manifest(tmp_path / "groups.csv", ids)
    seen: list[bulkretry.RowResult] = []
    settings = bulkretry.RunSettings(
        bulkretry.ManifestSource(manifest),
        target=bulkretry.ServiceTarget(endpoint=sim_thread.url, project_id=sim_thread.config.project_id),
        pacing=bulkretry.Pacing(rate=200.0),
        output=bulkretry.Output(out_dir=tmp_path / "run", formats=("csv",), tz="Asia/Shanghai"),
    )
    ending = bulkretry.run_manifest(settings, observer=bulkretry.SilentRun(seen.append))
    assert ending.exit_status == 0 and ending.summary is not None
    assert ending.summary.by_outcome == {"succeeded": 3}
    assert {p.name for p in ending.files} >= {"report.csv", "summary.json"}
    report = bulkretry.read_report(tmp_path / "run")
    assert report.summary.rows == 3
    rows = list(report.rows())
    assert [r.group_id for r in rows] == ids and {r.outcome for r in rows} == {bulkretry.Outcome.SUCCEEDED}
    assert sorted(r.group_id for r in seen) == sorted(ids)


@pytest.mark.usefixtures("no_credentials")
def test_a_run_without_credentials_raises_what_the_cli_exits_2_for(tmp_path: Path, sim_thread: SimulatorThread) -> None:
    """No credentials anywhere: CredentialsError, exit status 2, nothing called."""
    manifest = write_group_manifest(tmp_path / "groups.csv", failed_group_ids(sim_thread, 1))
    settings = bulkretry.RunSettings(
        bulkretry.ManifestSource(manifest),
        target=bulkretry.ServiceTarget(endpoint=sim_thread.url, project_id=sim_thread.config.project_id),
        output=bulkretry.Output(out_dir=tmp_path / "run"),
    )
    with pytest.raises(bulkretry.CredentialsError) as raised:
        bulkretry.run_manifest(settings, env={"BULKRETRY_NO_METADATA": "1"})
    assert raised.value.exit_status == 2
