"""The credentials after the environment, in the SDK's order (credentials file, KooCLI profile, ECS agency), with
the official SDK's providers as the oracle where it has them; and the SDK's endpoint override variables."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from huaweicloudsdkcore.auth.provider import ProfileCredentialProvider
from huaweicloudsdkcore.exceptions.exceptions import ApiValueError
from huaweicloudsdkcore.region.provider import EnvRegionProvider

from bulkretry.errors import ConfigError, CredentialsError
from bulkretry.oms.credentials import AkSk, CredentialOptions, EcsAgency
from bulkretry.oms.endpoint import endpoint_for_region, region_overrides
from bulkretry.oms.sources import credentials_file, koocli_profile, load_credentials
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import clear_credentials, run_argv, run_cli

SK = "sdk-file-secret-0123456789"
TOKEN = "sdk-file-sts-abcdef"

#: Credentials files as the SDK writes and reads them; each is read by the SDK and by bulkretry.
SDK_FILES = {
    "keys and project": "[basic]\nak = FILEAK00000000000001\nsk = " + SK + "\nproject_id = 0a1b2c\n",
    "temporary keys": "[basic]\nak = FILEAK00000000000002\nsk = " + SK + "\nsecurity_token = " + TOKEN + "\n",
    "upper-case keys, iam_endpoint": "[basic]\nAK=FILEAK3\nSK=" + SK + "\niam_endpoint = https://iam.example\n",
    "a global section too": "[global]\nak = G\nsk = G\n\n[basic]\nak = FILEAK4\nsk = " + SK + "\n",
    "no basic section": "[global]\nak = G\nsk = G\ndomain_id = d\n",
    "basic without keys": "[basic]\nproject_id = only-a-project\n",
}


def _sdk_answer(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str | None, str | None] | None:
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", str(path))
    try:
        c = ProfileCredentialProvider.get_basic().get_credentials()
    except ApiValueError:
        return None
    return c.ak, c.sk, c.security_token, c.project_id


@pytest.mark.parametrize("case", list(SDK_FILES))
def test_the_credentials_file_reads_as_the_sdk_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Same file, same answer as the SDK's ProfileCredentialProvider: keys, security token, project id; a file
    the SDK finds no keys in gives none here either (and its project id still serves as a default)."""
    path = tmp_path / "credentials"
    path.write_text(SDK_FILES[case])
    expected = _sdk_answer(path, monkeypatch)
    keys, project_id = credentials_file({"HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(path)})
    got = (keys.ak, keys.sk, keys.security_token, keys.project_id) if keys else None
    assert got == expected
    if keys is None and "project_id" in SDK_FILES[case]:
        assert project_id == "only-a-project"


def test_the_default_credentials_file_is_in_home(no_ambient_credentials: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without HUAWEICLOUD_SDK_CREDENTIALS_FILE the file is ~/.huaweicloud/credentials, as for the SDK; the
    environment's keys still come first, the file before a KooCLI profile."""
    folder = no_ambient_credentials / ".huaweicloud"
    folder.mkdir()
    (folder / "credentials").write_text(SDK_FILES["keys and project"])
    env = {"HOME": str(no_ambient_credentials)}
    sdk = ProfileCredentialProvider.get_basic().get_credentials()
    got = load_credentials(env)
    assert isinstance(got, AkSk) and (got.ak, got.sk, got.project_id) == (sdk.ak, sdk.sk, sdk.project_id)
    assert got.source == f"credentials file {folder / 'credentials'}"
    _write_profiles(no_ambient_credentials, {"current": "default", "profiles": [_profile("default")]})
    assert load_credentials(env).source.startswith("credentials file")  # type: ignore[union-attr]
    assert load_credentials({**env, "HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s"}) == AkSk("a", "s")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[basic]\nak = A\n", "has ak but no sk"),
        ("[basic]\nidp_id = i\nid_token_file = /f\n", "federated login"),
        ("ak = A\nsk = B\n", "not an INI file"),
        ("[basic]\nak = A\nsk = two\\x00\n", None),
    ],
)
def test_a_broken_credentials_file_is_refused_naming_it(tmp_path: Path, text: str, words: str | None) -> None:
    """A credentials file that is there but cannot be used stops the run (exit 2) with what to fix, never
    skipped in silence; no secret is quoted."""
    path = tmp_path / "credentials"
    path.write_text(text.replace("\\x00", "\x07"))
    with pytest.raises(CredentialsError) as info:
        load_credentials({"HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(path)})
    assert str(path) in str(info.value)
    assert words is None or words in str(info.value)
    assert "two" not in str(info.value)


def test_a_named_credentials_file_must_exist(tmp_path: Path) -> None:
    """HUAWEICLOUD_SDK_CREDENTIALS_FILE naming no file is an error (the SDK would go on to the metadata service)."""
    with pytest.raises(CredentialsError, match="does not exist"):
        load_credentials({"HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(tmp_path / "nope")})


def _profile(name: str, **fields: object) -> dict[str, object]:
    return {
        "name": name,
        "mode": "AKSK",
        "accessKeyId": f"KOOAK-{name}",
        "secretAccessKey": f"koo-sk-{name}",
        "region": "cn-north-4",
        "projectId": f"project-{name}",
        **fields,
    }


def _write_profiles(home: Path, config: dict[str, object]) -> Path:
    folder = home / ".hcloud"
    folder.mkdir(exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_the_current_koocli_profile_or_the_one_named(tmp_path: Path) -> None:
    """The current profile, or --profile NAME (which wins over the environment's keys); its projectId and region
    come along as defaults."""
    _write_profiles(tmp_path, {"current": "b", "profiles": [_profile("a"), _profile("b", securityToken="st")]})
    env = {"HOME": str(tmp_path)}
    current = load_credentials(env)
    assert current == AkSk("KOOAK-b", "koo-sk-b", "st")
    assert (current.source, current.project_id, current.region) == ("KooCLI profile 'b'", "project-b", "cn-north-4")
    named = load_credentials(
        {**env, "HUAWEICLOUD_SDK_AK": "x", "HUAWEICLOUD_SDK_SK": "y"}, CredentialOptions(profile="a")
    )
    assert named == AkSk("KOOAK-a", "koo-sk-a") and named.project_id == "project-a"
    with pytest.raises(CredentialsError, match=r"no such profile.*'a', 'b'"):
        load_credentials(env, CredentialOptions(profile="c"))
    with pytest.raises(CredentialsError, match="does not go with --auth token"):
        load_credentials(env, CredentialOptions(profile="a", auth="token"))


def test_an_encrypted_or_unusable_profile_says_which_other_source_to_use(tmp_path: Path) -> None:
    """KooCLI's encrypted profiles, other modes and profiles without keys stop with exit 2, naming the
    environment variables and the SDK's credentials file as the way out; no key is quoted."""
    env = {"HOME": str(tmp_path)}
    for config, words in [
        ({"current": "a", "authEncrypt": "true", "profiles": [_profile("a")]}, "encrypted"),
        ({"current": "a", "authEncrypt": True, "profiles": [_profile("a")]}, "encrypted"),
        ({"current": "a", "profiles": [_profile("a", mode="SSO")]}, "mode SSO"),
        ({"current": "a", "profiles": [_profile("a", secretAccessKey="")]}, "no secretAccessKey"),
    ]:
        _write_profiles(tmp_path, config)
        with pytest.raises(CredentialsError) as info:
            load_credentials(env)
        text = str(info.value)
        assert words in text and "HUAWEICLOUD_SDK_AK" in text and "~/.huaweicloud/credentials" in text
        assert "KOOAK" not in text and "koo-sk" not in text
        assert info.value.exit_status == 2


def test_a_profile_in_ecs_agency_mode_is_the_metadata_service(tmp_path: Path) -> None:
    """Mode ecsAgency: the agency's keys, with the profile's project and region as defaults."""
    _write_profiles(tmp_path, {"current": "ecs", "profiles": [_profile("ecs", mode="ecsAgency", accessKeyId="")]})
    got = koocli_profile({"HOME": str(tmp_path)})
    assert isinstance(got, EcsAgency) and (got.project_id, got.region) == ("project-ecs", "cn-north-4")
    with pytest.raises(CredentialsError, match="BULKRETRY_NO_METADATA"):
        koocli_profile({"HOME": str(tmp_path), "BULKRETRY_NO_METADATA": "1"})


def test_no_profile_and_no_file_end_at_the_agency_with_the_files_project(tmp_path: Path) -> None:
    """A current profile that is not in the config is skipped; a credentials file without keys lends its project
    to the ECS agency."""
    _write_profiles(tmp_path, {"current": "gone", "profiles": [_profile("a")]})
    path = tmp_path / "credentials"
    path.write_text(SDK_FILES["basic without keys"])
    got = load_credentials({"HOME": str(tmp_path), "HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(path)})
    assert got == EcsAgency(project_id="only-a-project")


def test_region_overrides_as_the_sdk_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """HUAWEICLOUD_SDK_REGION_OMS_<REGION>: the same endpoint the SDK's EnvRegionProvider finds (the first of a
    comma list); another region keeps oms.{region}."""
    value = "https://oms-vpc.example.com:8443,https://backup.example.com"
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_OMS_AP_SOUTHEAST_1", value)
    sdk = EnvRegionProvider("OMS").get_region("ap-southeast-1")
    overrides = region_overrides({"HUAWEICLOUD_SDK_REGION_OMS_AP_SOUTHEAST_1": value})
    assert endpoint_for_region("ap-southeast-1", overrides).origin == sdk.endpoints[0]
    assert endpoint_for_region("cn-north-4", overrides).origin == "https://oms.cn-north-4.myhuaweicloud.com"
    with pytest.raises(ConfigError, match=r"HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4.*path"):
        region_overrides({"HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4": "https://evil.example/x"})


def _manifest(tmp_path: Path, rows: int = 3) -> Path:
    from bulkretry.sim.groups import FAILED, generate_groups

    config = SimConfig(groups=20)
    failed = [
        g["group_id"]
        for g in generate_groups(config.seed, 20, config.failed_ratio, config.project_id)
        if g["status"] == FAILED
    ][:rows]
    path = tmp_path / "m.csv"
    path.write_text("group_id\n" + "".join(f"{g}\n" for g in failed))
    return path


@pytest.mark.parametrize("source", ["credentials file", "KooCLI profile"])
def test_a_run_with_only_a_file_or_a_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_credentials: Path, source: str
) -> None:
    """Nothing in the environment but a credentials file, or a KooCLI profile, and the SDK's endpoint override:
    the run finds keys, project (and the profile's region) there, succeeds, and names the source in
    summary.json, never a secret."""
    clear_credentials(monkeypatch)
    config = SimConfig(groups=20)
    home = no_ambient_credentials
    with SimulatorThread(config) as sim:
        monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4", sim.url)
        if source == "credentials file":
            (home / ".huaweicloud").mkdir()
            (home / ".huaweicloud" / "credentials").write_text(
                f"[basic]\nak = {config.ak}\nsk = {config.sk}\nproject_id = {config.project_id}\n"
            )
            where, expected = ["--region", "cn-north-4"], f"credentials file {home / '.huaweicloud' / 'credentials'}"
        else:
            _write_profiles(
                home,
                {
                    "current": "ops",
                    "profiles": [
                        _profile("ops", accessKeyId=config.ak, secretAccessKey=config.sk, projectId=config.project_id)
                    ],
                },
            )
            where, expected = [], "KooCLI profile 'ops'"
        code, out, err = run_cli("run", str(_manifest(tmp_path)), *where, "--out", str(tmp_path / "run"), "--quiet")
    assert code == 0, out + err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["by_outcome"] == {"succeeded": 3}
    assert summary["credentials_source"] == expected
    assert html.escape(expected) in (tmp_path / "run" / "report.html").read_text()
    for path in (tmp_path / "run").iterdir():
        if path.is_file():
            assert config.sk.encode() not in path.read_bytes(), path


def test_a_bad_endpoint_override_stops_before_any_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An override that is not http(s)://host[:port] is exit 2, naming the variable; --endpoint wins over it."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4", "ftp://x")
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "a")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "s")
    code, _, err = run_cli(
        "run", str(_manifest(tmp_path)), "--region", "cn-north-4", "--project-id", "p", "--out", str(tmp_path / "run")
    )
    assert code == 2 and "HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4" in err and not (tmp_path / "run").exists()
    code, _, err = run_cli(
        *run_argv(_manifest(tmp_path), "http://127.0.0.1:9", "p", tmp_path / "dry", "--dry-run", "--quiet")
    )
    assert code == 0, err


def test_validate_takes_the_project_and_region_of_a_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_credentials: Path
) -> None:
    """`validate --profile NAME` plans the rows as `run --profile NAME` would: with the profile's project and
    region, where without them there is no endpoint at all."""
    clear_credentials(monkeypatch)
    _write_profiles(no_ambient_credentials, {"current": "default", "profiles": [_profile("ops")]})
    manifest = _manifest(tmp_path)
    code, _, err = run_cli("validate", str(manifest))
    assert code == 2 and "no project id" in err and "--profile" in err
    code, out, err = run_cli("validate", str(manifest), "--profile", "ops")
    assert code == 0, out + err
    assert "3 to call" in out
    code, out, err = run_cli("validate", str(manifest), "--profile", "nope")
    assert code == 2 and "--profile nope" in err and "no such profile" in err


def test_a_profile_region_is_held_to_the_region_rule(tmp_path: Path) -> None:
    """A profile's region goes into the endpoint's host name: one that is not a region id is refused, naming the
    profile, before any call."""
    _write_profiles(tmp_path, {"current": "a", "profiles": [_profile("a", region="evil.example#")]})
    with pytest.raises(CredentialsError, match=r"region in KooCLI profile 'a'.*not a region id"):
        load_credentials({"HOME": str(tmp_path)})


def test_discover_with_only_a_koocli_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_credentials: Path
) -> None:
    """`discover --profile NAME`: keys, project and region from the profile, the endpoint from the SDK's
    override variable; nothing else configured."""
    clear_credentials(monkeypatch)
    config = SimConfig(groups=20)
    _write_profiles(
        no_ambient_credentials,
        {
            "current": "x",
            "profiles": [
                _profile("ops", accessKeyId=config.ak, secretAccessKey=config.sk, projectId=config.project_id)
            ],
        },
    )
    with SimulatorThread(config) as sim:
        monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4", sim.url)
        code, out, err = run_cli("discover", "--profile", "ops", "--out", str(tmp_path / "found.csv"))
    assert code == 0, out + err
    assert "12 task groups in status 5" in out
