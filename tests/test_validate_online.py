"""``bulkretry validate --online``: the regions checked offline, the credentials and the endpoint with read-only
calls to the simulator, each row's status with --check-status, and the result as JSON; never a write call."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from bulkretry.sim import SimulatorThread
from tests.clitools import failed_group_ids, run_cli, write_group_manifest


def validate_online(sim_thread: SimulatorThread, manifest: Path, *extra: str) -> tuple[int, str, str]:
    """``bulkretry validate MANIFEST --online`` against the simulator, for its own project."""
    return run_cli(
        "validate",
        str(manifest),
        "--online",
        "--endpoint",
        sim_thread.url,
        "--project-id",
        sim_thread.config.project_id,
        *extra,
    )


def methods(sim_thread: SimulatorThread) -> list[str]:
    """The method of every request the simulator received."""
    return [request.method for request in sim_thread.simulator.received]


def other_groups(sim_thread: SimulatorThread, n: int) -> list[str]:
    """The first *n* groups of the simulator that are not failed (a retry would be refused)."""
    groups = sim_thread.simulator.state.list(status=None, offset=0, limit=1000)[1]
    return [g["group_id"] for g in groups if g["status"] != 5][:n]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("env")
def test_good_credentials_are_accepted_with_one_list_call(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """Accepted credentials and a reachable endpoint: exit 0 after one GET of the project's groups, and nothing
    else."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 3))
    code, out, err = validate_online(sim_thread, manifest)
    assert code == 0, out + err
    assert "credentials accepted" in out
    assert "regions not checked: --endpoint" in out
    assert "3 rows would be called" in out
    assert methods(sim_thread) == ["GET"]
    assert sim_thread.simulator.received[0].path_segments[-1] == "taskgroups"


def test_a_wrong_secret_key_is_refused_without_a_write(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """A wrong SK: the simulator refuses the signature, validate exits 2 saying the credentials were refused,
    and the SK is never shown."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "a-wrong-secret-key-0123")
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 3))
    code, out, err = validate_online(sim_thread, manifest, "--check-status")
    assert code == 2, out + err
    assert "credentials refused" in err
    assert "a-wrong-secret-key-0123" not in out + err
    assert methods(sim_thread) == ["GET"]  # the list call only: no lookup after a refusal


@pytest.mark.usefixtures("no_credentials")
def test_a_region_typo_is_named_before_credentials_or_calls(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """A misspelt region cell: exit 2 naming its row and the closest region, before the credentials are looked
    for (there are none) and before any call."""
    manifest = tmp_path / "m.csv"
    ids = failed_group_ids(sim_thread, 2)
    manifest.write_text(f"group_id,region\n{ids[0]},cn-north-4\n{ids[1]},cn-nort-4\n", encoding="utf-8")
    code, out, err = run_cli(
        "validate", str(manifest), "--online", "--project-id", sim_thread.config.project_id, "--region", "cn-north-4"
    )
    assert code == 2, out + err
    assert "row 3, column region: 'cn-nort-4' is not a region OMS serves: did you mean cn-north-4?" in err
    assert sim_thread.simulator.received == []


@pytest.mark.usefixtures("no_credentials")
def test_a_region_option_typo_names_the_option(tmp_path: Path) -> None:
    """A misspelt --region is named as the option, with the closest region."""
    manifest = write_group_manifest(tmp_path / "m.csv", ["g-1"])
    code, out, err = run_cli("validate", str(manifest), "--online", "--project-id", "p1", "--region", "ap-southeast1")
    assert code == 2, out + err
    assert "--region: 'ap-southeast1' is not a region OMS serves: did you mean ap-southeast-1?" in err


@pytest.mark.usefixtures("env")
def test_a_region_set_by_the_sdks_variable_is_not_checked(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A region whose endpoint the SDK's variable sets is called there, its name not checked (and said so)."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_OMS_MY_LAB_1", sim_thread.url)
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, 1))
    code, out, err = run_cli(
        "validate", str(manifest), "--online", "--project-id", sim_thread.config.project_id, "--region", "my-lab-1"
    )
    assert code == 0, out + err
    assert "not checked, the endpoint set by the SDK's variable: my-lab-1" in out
    assert methods(sim_thread) == ["GET"]


@pytest.mark.usefixtures("env")
def test_an_unreachable_endpoint_is_named(tmp_path: Path) -> None:
    """An endpoint nothing listens on: exit 2, saying the endpoint is not reachable and how it was reached."""
    manifest = write_group_manifest(tmp_path / "m.csv", ["g-1"])
    url = f"http://127.0.0.1:{closed_port()}"
    code, out, err = run_cli("validate", str(manifest), "--online", "--endpoint", url, "--project-id", "p1")
    assert code == 2, out + err
    assert f"endpoint not reachable for project p1 at {url} (directly)" in err
    assert "credentials accepted" not in out


@pytest.mark.usefixtures("env")
def test_check_status_says_which_rows_would_be_called(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """With --check-status each row is looked up (GETs only): failed groups would be retried, the others
    skipped, an unknown one fails its lookup (exit 1)."""
    failed, others = failed_group_ids(sim_thread, 2), other_groups(sim_thread, 2)
    manifest = write_group_manifest(tmp_path / "m.csv", [*failed, *others, "no-such-group"])
    code, out, err = validate_online(sim_thread, manifest, "--check-status")
    assert code == 1, out + err
    assert "2 rows would be called · 2 skipped" in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert " skip " in lines[others[0]] and " call " in lines[failed[0]]
    assert " failed " in lines["no-such-group"]
    assert set(methods(sim_thread)) == {"GET"}
    assert len(methods(sim_thread)) == 1 + 5


@pytest.mark.usefixtures("env")
def test_json_holds_the_online_result(sim_thread: SimulatorThread, tmp_path: Path) -> None:
    """--json prints one document: the manifest's verdicts and what --online found, each row's lookup too."""
    failed, others = failed_group_ids(sim_thread, 1), other_groups(sim_thread, 1)
    manifest = write_group_manifest(tmp_path / "m.csv", [*failed, *others, failed[0]])
    code, out, err = validate_online(sim_thread, manifest, "--check-status", "--json")
    assert code == 0, out + err
    document = json.loads(out)
    assert document["verdicts"] == {"ok": 2, "duplicate": 1, "invalid": 0}
    assert document["problems"][0]["verdict"] == "duplicate"
    online = document["online"]
    assert online["refusal"] is None
    assert online["rows"] == {"call": 1, "skip": 1, "unknown": 0, "failed": 0}
    assert [lookup["verdict"] for lookup in online["lookups"]] == ["call", "skip"]
    assert online["credentials"] and online["network"]["proxy"] is None
    assert document["exit_status"] == 0


@pytest.mark.usefixtures("no_credentials")
def test_json_of_a_refused_region_is_an_error_document(tmp_path: Path) -> None:
    """--json with a region typo: exit 2 and a JSON document that says why."""
    manifest = write_group_manifest(tmp_path / "m.csv", ["g-1"])
    code, out, err = run_cli("validate", str(manifest), "--online", "--json", "--project-id", "p", "--region", "cn-x")
    assert code == 2, out + err
    assert json.loads(out)["exit_status"] == 2


def test_check_status_needs_online(tmp_path: Path) -> None:
    """--check-status without --online is a usage error: validate alone calls nothing."""
    manifest = write_group_manifest(tmp_path / "m.csv", ["g-1"])
    code, out, err = run_cli("validate", str(manifest), "--check-status", "--endpoint", "http://127.0.0.1:1")
    assert code == 2, out + err
    assert "give it with --online" in err
