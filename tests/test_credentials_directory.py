"""systemd's credentials ($CREDENTIALS_DIRECTORY, LoadCredential=) stand for the environment variables of their
names: in the credential chain, in a manifest's env: cells, in --notify env:NAME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bulkretry.errors import CredentialsError
from bulkretry.oms.credentials import AkSk
from bulkretry.oms.sources import load_credentials, with_credentials_directory
from bulkretry.sim import SimulatorThread
from tests.clitools import DEMO_SECRETS, SAMPLES, clear_credentials, run_cli


def credentials_folder(tmp_path: Path, **values: str) -> Path:
    """A folder as systemd makes it for LoadCredential=: one file per credential, readable by the owner only."""
    folder = tmp_path / "credentials"
    folder.mkdir(mode=0o700)
    for name, value in values.items():
        (folder / name).write_text(value + "\n", encoding="utf-8")
        os.chmod(folder / name, 0o400)
    return folder


def test_the_chain_reads_keys_from_the_credentials_directory(tmp_path: Path) -> None:
    """HUAWEICLOUD_SDK_AK/SK as files sign the calls; a variable set in the environment wins over its file."""
    folder = credentials_folder(tmp_path, HUAWEICLOUD_SDK_AK="AKFROMFILE0001", HUAWEICLOUD_SDK_SK="sk-from-file")
    found = load_credentials({"CREDENTIALS_DIRECTORY": str(folder), "BULKRETRY_NO_METADATA": "1"})
    assert isinstance(found, AkSk) and found.ak == "AKFROMFILE0001" and found.sk == "sk-from-file"
    env = {"CREDENTIALS_DIRECTORY": str(folder), "HUAWEICLOUD_SDK_AK": "AKFROMENV0002"}
    assert with_credentials_directory(env)["HUAWEICLOUD_SDK_AK"] == "AKFROMENV0002"
    assert with_credentials_directory(env)["HUAWEICLOUD_SDK_SK"] == "sk-from-file"


def test_a_credential_that_is_not_named_as_a_variable_is_left_out(tmp_path: Path) -> None:
    """Only files named as environment variables stand for one (systemd allows other names)."""
    folder = credentials_folder(tmp_path, **{"OMS_AUTH_TOKEN": "tok"})
    (folder / "not.a-variable").write_text("x", encoding="utf-8")
    merged = with_credentials_directory({"CREDENTIALS_DIRECTORY": str(folder)})
    assert merged["OMS_AUTH_TOKEN"] == "tok" and "not.a-variable" not in merged


def test_an_unreadable_credentials_directory_is_a_credentials_error(tmp_path: Path) -> None:
    """A folder that is not there: CredentialsError (exit 2) naming the variable."""
    with pytest.raises(CredentialsError, match="CREDENTIALS_DIRECTORY"):
        with_credentials_directory({"CREDENTIALS_DIRECTORY": str(tmp_path / "missing")})


def test_a_run_takes_its_keys_and_env_cells_from_systemd_credentials(
    tmp_path: Path, sim_thread: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run with no credential in the environment: keys and the sample's env: secrets from the folder, and
    no secret in any file the run writes."""
    clear_credentials(monkeypatch)
    for name in DEMO_SECRETS:
        monkeypatch.delenv(name, raising=False)
    secrets = {"HUAWEICLOUD_SDK_AK": sim_thread.config.ak, "HUAWEICLOUD_SDK_SK": sim_thread.config.sk, **DEMO_SECRETS}
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials_folder(tmp_path, **secrets)))
    out_dir = tmp_path / "run"
    argv = ["run", str(SAMPLES / "manifest.csv"), "--endpoint", sim_thread.url, "--out", str(out_dir)]
    code, out, err = run_cli(*argv, "--project-id", sim_thread.config.project_id, "--quiet", "--rate", "500")
    assert code == 1, out + err  # the sample's deliberate failures, not a missing credential
    assert "not set" not in out + err and "no credentials" not in err
    written = "".join(p.read_text(encoding="utf-8", errors="replace") for p in out_dir.iterdir() if p.is_file())
    assert sim_thread.config.sk not in written + out + err and "env not set" not in written
