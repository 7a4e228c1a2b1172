"""Hardening where a call goes, end to end through the CLI: ids stay in their path segment, and the host a call
goes to is the one the user named (a region or endpoint naming another host is refused)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

from bulkretry.sim import SimulatorThread
from tests.clitools import PROJECT, read_report, run_at, run_cli
from tests.manifests import write_csv
from tests.servers import Listener

# -- ids never leave their path segment ------------------------------------------------------------------

ODD_GROUPS = [
    "a/b",
    "a/../../b",
    "..",
    ".",
    "x?y=1",
    "x#frag",
    "100%",
    "a%2Fb",
    "%2e%2e",
    "a\r\nb",
    "a\nb",
    "组/1",
    "?",
    "#",
    "/",
]
ODD_PROJECTS = ["p/q", "p?x=1", "项目#1", "..", ".", "p%2F", "p\rq"]
NEVER_SENT = {"..", ".", "a\r\nb", "a\nb", "p\rq"}


def test_odd_ids_stay_in_their_path_segment(sim_thread: SimulatorThread, env: dict, tmp_path: Path) -> None:
    """Ids holding / .. ? # % CR/LF or unicode arrive as one decoded segment each, or are refused as invalid."""
    pairs = [(PROJECT, g) for g in ODD_GROUPS] + [(p, "g1") for p in ODD_PROJECTS]
    manifest = write_csv(tmp_path / "odd.csv", [["project_id", "group_id"], *map(list, pairs)])
    before = len(sim_thread.simulator.received)
    run_at(sim_thread.url, manifest, tmp_path / "run", "--max-attempts", "1")
    sent = Counter()
    for request in sim_thread.simulator.received[before:]:
        raw = request.raw_path.split("/")
        assert len(raw) == 6 and raw[:2] == ["", "v2"] and raw[3] == "taskgroups" and raw[5] == "retry", raw
        assert not {raw[2], raw[4]} & {".", ".."}, raw
        sent[unquote(raw[2]), unquote(raw[4])] += 1
    rows = read_report(tmp_path / "run")
    assert len(rows) == len(pairs)
    for (project, group), row in zip(pairs, rows):
        if row["outcome"] == "invalid":
            assert sent[project, group] == 0
        else:
            assert sent[project, group] == 1, (project, group, row["outcome"], row["error_code"])
    refused = {p if p != PROJECT else g for (p, g), row in zip(pairs, rows) if row["outcome"] == "invalid"}
    assert refused == NEVER_SENT


# -- the host a call goes to is the one the user named ------------------------------------------------------


#: Regions that splice another host into https://oms.{region}.myhuaweicloud.com (all on loopback, so the code
#: before the fix reached the listener and nothing else).
HOSTILE_REGIONS = ["x@127.0.0.1:{port}#", "x@127.0.0.1:{port}/", "x@127.0.0.1:{port}?", "a:b@127.0.0.1:{port}#x"]


@pytest.mark.parametrize("region", HOSTILE_REGIONS)
def test_a_region_cell_naming_another_host_is_invalid_and_never_called(
    token_env: str, tmp_path: Path, region: str
) -> None:
    """A region cell with @ : / ? # is invalid:region in validate and run; no connection goes anywhere."""
    with Listener() as listener:
        cell = region.format(port=listener.port)
        manifest = write_csv(tmp_path / "m.csv", [["group_id", "region"], ["g1", cell]])
        vcode, vout, _ = run_cli("validate", str(manifest), "--project-id", PROJECT)
        code, out, err = run_cli(
            "run",
            str(manifest),
            "--project-id",
            PROJECT,
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--max-attempts",
            "1",
            "--timeout",
            "2",
        )
        assert listener.connections == 0
    assert vcode == 1 and "invalid:region" in vout, vout
    assert code == 1, (out, err)
    [row] = read_report(tmp_path / "run")
    assert (row["outcome"], row["error_code"]) == ("invalid", "invalid:region not a region id"), row
    assert "cn-north-4" in row["error_msg"]  # says what a region looks like


def _command_args(command: str, tmp_path: Path) -> list[str]:
    """The arguments of *command* (validate, run or discover) on a one-row manifest in *tmp_path*, writing into
    tmp_path/run or tmp_path/found.csv, one attempt a row."""
    manifest = write_csv(tmp_path / "m.csv", [["group_id"], ["g1"]])
    return {
        "validate": ["validate", str(manifest)],
        "run": ["run", str(manifest), "--out", str(tmp_path / "run"), "--quiet", "--max-attempts", "1"],
        "discover": ["discover", "--out", str(tmp_path / "found.csv")],
    }[command]


@pytest.mark.parametrize("command", ["validate", "run", "discover"])
@pytest.mark.parametrize("region", HOSTILE_REGIONS)
def test_a_region_option_naming_another_host_is_exit_2_and_never_called(
    token_env: str, tmp_path: Path, command: str, region: str
) -> None:
    """--region with @ : / ? # (run, validate, discover): exit 2, one line naming --region, no connection."""
    with Listener() as listener:
        value = region.format(port=listener.port)
        args = _command_args(command, tmp_path)
        timeout = [] if command == "validate" else ["--timeout", "2"]
        code, out, err = run_cli(*args, "--region", value, "--project-id", PROJECT, *timeout)
        assert listener.connections == 0
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: ") and err.count("\n") == 1 and "--region" in err, err
    assert not (tmp_path / "run").exists() and not (tmp_path / "found.csv").exists()


#: --endpoint values refused before any call ({url} is a live simulator's http://127.0.0.1:PORT).
BAD_ENDPOINTS = [
    "{hostport}",
    "ftp://{hostport}",
    "http://",
    "http://:{port}",
    "http://127.0.0.1 :{port}",
    " {url}",
    "http://127.0.0.1:{port}0000",
    "{url}/v2",
    "{url}/prefix/",
    "{url}?x=1",
    "{url}#f",
    "http://127.0.0.1:",
]


@pytest.mark.parametrize("command", ["run", "validate", "discover"])
@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_a_bad_endpoint_is_exit_2_naming_the_option_and_the_form(
    sim_thread: SimulatorThread, env: dict, tmp_path: Path, command: str, endpoint: str
) -> None:
    """No scheme, another scheme, no host, spaces, a port over 65535, a path/query/fragment: exit 2, nothing sent."""
    url = sim_thread.url
    value = endpoint.format(url=url, hostport=url.removeprefix("http://"), port=url.rsplit(":", 1)[1])
    args = _command_args(command, tmp_path)
    before = len(sim_thread.simulator.received)
    code, out, err = run_cli(*args, "--endpoint", value, "--project-id", PROJECT)
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: --endpoint") and err.count("\n") == 1, err
    assert "https://host[:port]" in err and "Traceback" not in err
    assert len(sim_thread.simulator.received) == before
    assert not (tmp_path / "run").exists() and not (tmp_path / "found.csv").exists()
