"""csms: credential cells: references parsed, secrets read once from the simulator's CSMS stand-in, the rows of a
secret that cannot be read invalid, and no value anywhere but in the call's body."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkretry.manifest import csvfile
from bulkretry.manifest.body import CallSpec
from bulkretry.manifest.read import may_hold, open_manifest
from bulkretry.masking import CSMS_PREFIX
from bulkretry.oms.csms import csms_endpoint
from bulkretry.oms.csmsref import LATEST, SecretPlace, SecretProblem, SecretRef, Secrets, parse_reference
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import SAMPLES, read_report, run_cli, run_manifest, use_sim_credentials

SRC_SK = "csms-src-secret-key-0001"
DST_SK = "csms-dst-secret-key-0002"
SRC_AK = "CSMSSRCAK00000000001"
KEYS = json.dumps({"src_ak": SRC_AK, "src_sk": SRC_SK})
SECRETS = (("oms-keys", KEYS), ("dst-sk", DST_SK), ("plain", "not json"))
VALUES = (SRC_SK, DST_SK, SRC_AK)


@pytest.fixture
def sim_config() -> SimConfig:
    """A small simulator whose CSMS stand-in holds the test's secrets, one of them refused."""
    return SimConfig(groups=8, failed_ratio=1.0, secrets=(*SECRETS, ("locked", "x")), secrets_denied=("locked",))


def _manifest(path: Path, sim_thread: SimulatorThread, cells: list[tuple[str, str, str]]) -> Path:
    """A manifest of failed groups, one per row of *cells* (``src_ak``, ``src_sk``, ``dst_sk``)."""
    ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]]
    lines = ["group_id,src_ak,src_sk,dst_ak,dst_sk"]
    lines += [f"{gid},{ak},{sk},DSTAK0000000000000001,{dsk}" for gid, (ak, sk, dsk) in zip(ids, cells)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _csms_requests(sim_thread: SimulatorThread) -> list[str]:
    return [r.raw_path for r in sim_thread.simulator.received if r.raw_path.startswith("/v1/")]


def _run(sim_thread: SimulatorThread, manifest: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return run_manifest(
        manifest, sim_thread.url, sim_thread.config.project_id, out, "--csms-endpoint", sim_thread.url, *extra
    )


def _every_file_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("csms:keys", SecretRef("keys", "", LATEST)),
        ("CSMS:keys#src_sk", SecretRef("keys", "src_sk", LATEST)),
        ("csms:keys@v3", SecretRef("keys", "", "v3")),
        ("csms:my.keys-1#a@b#c@v2", SecretRef("my.keys-1", "a@b#c", "v2")),
    ],
)
def test_references_are_parsed(text: str, ref: SecretRef) -> None:
    """A name, an optional JSON key after # (which may hold # and @) and an optional version after the last @."""
    assert parse_reference(text) == ref


@pytest.mark.parametrize("text", ["csms:", "csms:a/b", "csms:keys#", "csms:keys@", "csms:keys@v 1", "env:X"])
def test_bad_references_are_refused(text: str) -> None:
    """No name, a name CSMS cannot have, an empty key or version: refused with what to write."""
    with pytest.raises(ValueError):
        parse_reference(text)


def test_endpoint_from_option_then_sdk_variable_then_region() -> None:
    """--csms-endpoint wins; else HUAWEICLOUD_SDK_REGION_CSMS_<REGION>; else kms.{region}."""
    env = {"HUAWEICLOUD_SDK_REGION_CSMS_CN_NORTH_4": "http://127.0.0.1:81,http://127.0.0.1:82"}
    assert csms_endpoint("cn-north-4", env, "http://127.0.0.1:80").origin == "http://127.0.0.1:80"
    assert csms_endpoint("cn-north-4", env).origin == "http://127.0.0.1:81"
    assert csms_endpoint("ap-southeast-1", env).origin == "https://kms.ap-southeast-1.myhuaweicloud.com"


def test_values_are_never_in_a_repr() -> None:
    """Secrets and the CallSpec that carries them name no value; a key's problem names the reference only."""
    place = SecretPlace("p", "r")
    secrets = Secrets({(place, "keys", LATEST): KEYS})
    assert secrets.value(SecretRef("keys", "src_sk"), ("p", "r")) == SRC_SK
    spec = CallSpec(secrets=secrets)
    for text in (repr(secrets), repr(spec), str(spec)):
        assert SRC_SK not in text and SRC_AK not in text
    with pytest.raises(SecretProblem) as caught:
        secrets.value(SecretRef("keys", "nope"), place)
    assert caught.value.code == "secret_format" and SRC_SK not in str(caught.value)


def test_a_manifest_of_references_runs_with_nothing_secret_on_the_machine(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the run's own AK/SK are set; the rows' keys come from CSMS, each secret read once, and reach the
    body of the calls and nothing else (no report, journal or output holds a value)."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    ref = "csms:oms-keys#src_ak"
    cells = [(ref, "csms:oms-keys#src_sk", "csms:dst-sk@v1")] * 3
    manifest = _manifest(tmp_path / "m.csv", sim_thread, cells)
    code, out, err = _run(sim_thread, manifest, tmp_path / "run")
    assert code == 0, out + err
    assert sorted(_csms_requests(sim_thread)) == [
        f"/v1/{sim_thread.config.project_id}/secrets/dst-sk/versions/v1",
        f"/v1/{sim_thread.config.project_id}/secrets/oms-keys/versions/latest",
    ]
    bodies = [json.loads(r.body) for r in sim_thread.simulator.received if r.raw_path.endswith("/retry")]
    assert len(bodies) == 3
    assert all((b["src_ak"], b["src_sk"], b["dst_sk"]) == (SRC_AK, SRC_SK, DST_SK) for b in bodies)
    written = _every_file_text(tmp_path / "run") + out + err
    assert not [value for value in VALUES if value in written]
    assert ref in (tmp_path / "run" / "report.csv").read_text(
        encoding="utf-8-sig"
    )  # a key's reference is shown, not masked


def test_secrets_that_cannot_be_read_make_their_rows_invalid(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not found, denied, not JSON and no such key: each row invalid with its code and the reference named;
    the row whose secret is read goes on."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    cells = [
        ("csms:oms-keys#src_ak", "csms:oms-keys#src_sk", "csms:dst-sk"),
        ("AK1", "csms:missing", "x"),
        ("AK2", "csms:locked", "x"),
        ("AK3", "csms:plain#sk", "x"),
        ("AK4", "csms:oms-keys#nope", "x"),
        ("AK5", "csms:dst-sk@v9", "x"),
    ]
    manifest = _manifest(tmp_path / "m.csv", sim_thread, cells)
    code, out, err = _run(sim_thread, manifest, tmp_path / "run")
    assert code == 1, out + err
    rows = read_report(tmp_path / "run")
    assert [(r["outcome"], r["error_code"]) for r in rows] == [
        ("succeeded", ""),
        ("invalid", "secret_not_found"),
        ("invalid", "secret_denied"),
        ("invalid", "secret_format"),
        ("invalid", "secret_format"),
        ("invalid", "secret_not_found"),
    ]
    assert "csms:missing@latest" in rows[1]["error_msg"] and "'nope'" in rows[4]["error_msg"]
    written = _every_file_text(tmp_path / "run") + out + err
    assert not [value for value in (*VALUES, "not json") if value in written]


def test_a_token_cannot_sign_a_csms_call(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_env: str
) -> None:
    """A run whose only credentials are a token stops before any call, exit 2, saying why."""
    manifest = _manifest(tmp_path / "m.csv", sim_thread, [("AK1", "csms:dst-sk", "x")])
    code, out, err = _run(sim_thread, manifest, tmp_path / "run")
    assert code == 2, out + err
    assert "cannot sign" in err
    assert sim_thread.simulator.received == []


def test_validate_online_names_the_secrets_that_fail_without_values(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate --online reads the secrets as a run would: the ones that fail named, no value printed."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    cells = [("csms:oms-keys#src_ak", "csms:oms-keys#src_sk", "csms:dst-sk"), ("AK1", "csms:locked", "x")]
    manifest = _manifest(tmp_path / "m.csv", sim_thread, cells)
    where = ["--endpoint", sim_thread.url, "--project-id", sim_thread.config.project_id]
    code, out, err = run_cli("validate", str(manifest), *where, "--csms-endpoint", sim_thread.url, "--online")
    assert code == 1, out + err
    assert "secrets from CSMS: 2 read, 1 not" in out
    assert "secret locked@latest: secret_denied" in out
    assert not [value for value in VALUES if value in out + err]
    code, out, _ = run_cli("validate", str(manifest), *where, "--csms-endpoint", sim_thread.url, "--online", "--json")
    document = json.loads(out)
    assert document["online"]["secrets"]["failed"][0]["code"] == "secret_denied"
    assert document["verdicts"]["invalid"] == 1


def test_a_dry_run_reads_no_secret(
    sim_thread: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run checks the references and calls nothing, CSMS included."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    manifest = _manifest(tmp_path / "m.csv", sim_thread, [("csms:oms-keys#src_ak", "csms:missing", "csms:")])
    code, out, err = _run(sim_thread, manifest, tmp_path / "run", "--dry-run")
    assert code == 1, out + err  # the bad reference csms: is invalid; nothing was read
    assert _csms_requests(sim_thread) == []
    assert read_report(tmp_path / "run")[0]["error_code"] == "invalid:dst_sk bad csms reference"


def test_a_quick_scan_tells_whether_a_csv_can_name_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run reads the rows for csms: cells only when the manifest's text holds one: found in any case, in UTF-16,
    across the scan's chunks; a CSV without one needs no pass; a workbook is always read."""
    monkeypatch.setattr(csvfile, "_SCAN_CHUNK", 7)  # the reference is cut across chunks
    for encoding in ("utf-8", "utf-16"):
        named = tmp_path / f"named-{encoding}.csv"
        named.write_text("group_id,src_sk\ng-1,CsMs:bucket-keys#sk\n", encoding=encoding)
        assert may_hold(open_manifest(named), CSMS_PREFIX)
    plain = tmp_path / "plain.csv"
    plain.write_text("group_id,src_sk\ng-1,csms-like but no colon\n", encoding="utf-8")
    assert not may_hold(open_manifest(plain), CSMS_PREFIX)
    assert may_hold(open_manifest(SAMPLES / "manifest.xlsx"), CSMS_PREFIX)
