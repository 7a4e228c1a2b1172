"""Where credentials come from, and that no secret shows in any repr, message or log line."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bulkretry.errors import ApiError, CredentialsError
from bulkretry.masking import mask
from bulkretry.oms.actions import ACTIONS, GROUPS
from bulkretry.oms.auth import AkSkAuth, IamPasswordAuth, TokenAuth, authenticator_for
from bulkretry.oms.client import OmsClient
from bulkretry.oms.credentials import AkSk, CredentialOptions, EcsAgency, IamPassword, Token
from bulkretry.oms.sources import load_credentials
from tests.servers import serve

RETRY = ACTIONS["retry", GROUPS]

SECRETS = ["sk-very-secret-0123456789", "tok-very-secret-abcdef", "pw-very-secret-123", "sts-very-secret-xyz"]
AK = "HPUAVISIBLEAKEND7Q2M"


def test_token_wins_then_aksk_then_password() -> None:
    """The first configured scheme wins: token, then AK/SK, then IAM password."""
    env = {
        "OMS_AUTH_TOKEN": "t",
        "HUAWEICLOUD_SDK_AK": "a",
        "HUAWEICLOUD_SDK_SK": "s",
        "OMS_IAM_USER": "u",
        "OMS_IAM_PASSWORD": "p",
    }
    assert load_credentials(env) == Token("t")
    assert load_credentials({k: v for k, v in env.items() if k != "OMS_AUTH_TOKEN"}) == AkSk("a", "s")
    only_password = {"OMS_IAM_USER": "u", "OMS_IAM_PASSWORD": "p", "OMS_IAM_ENDPOINT": "http://iam:1/"}
    assert load_credentials(only_password) == IamPassword("http://iam:1", "u", "u", "p")


def test_auth_flag_forces_a_scheme() -> None:
    """--auth picks one scheme even when another is configured, and says what is missing."""
    env = {"OMS_AUTH_TOKEN": "t", "HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s"}
    assert load_credentials(env, CredentialOptions(auth="aksk")) == AkSk("a", "s")
    with pytest.raises(CredentialsError, match="OMS_IAM_USER"):
        load_credentials(env, CredentialOptions(auth="password"))
    with pytest.raises(CredentialsError, match="--auth must be one of"):
        load_credentials(env, CredentialOptions(auth="kerberos"))


def test_sdk_environment_names_are_honoured() -> None:
    """CLOUD_SDK_AK/SK and HUAWEICLOUD_SDK_SECURITY_TOKEN work as in the SDK's examples."""
    got = load_credentials({"CLOUD_SDK_AK": "a", "CLOUD_SDK_SK": "s", "HUAWEICLOUD_SDK_SECURITY_TOKEN": "st"})
    assert got == AkSk("a", "s", "st")


def test_half_configured_aksk_names_the_missing_variable() -> None:
    """An AK without an SK is an error that names HUAWEICLOUD_SDK_SK."""
    with pytest.raises(CredentialsError, match="HUAWEICLOUD_SDK_SK") as info:
        load_credentials({"HUAWEICLOUD_SDK_AK": "a"})
    assert "HUAWEICLOUD_SDK_AK " not in str(info.value)


def test_nothing_configured_ends_at_the_ecs_agency_or_says_what_to_set() -> None:
    """With nothing configured the chain ends at the ECS agency (asked later); with the metadata step left out,
    the message lists every way to provide credentials."""
    assert load_credentials({}) == EcsAgency()
    with pytest.raises(CredentialsError) as info:
        load_credentials({"BULKRETRY_NO_METADATA": "1"})
    for name in (
        "HUAWEICLOUD_SDK_AK",
        "OMS_AUTH_TOKEN",
        "OMS_IAM_USER",
        "~/.huaweicloud/credentials",
        "--profile",
        "BULKRETRY_NO_METADATA",
    ):
        assert name in str(info.value)


def test_secret_files(tmp_path: Path) -> None:
    """Token and password can come from files; a missing or empty file is a clear error."""
    (tmp_path / "tok").write_text("file-token\n")
    (tmp_path / "pw").write_text("file-pw\n")
    (tmp_path / "empty").write_text("  \n")
    assert load_credentials({}, CredentialOptions(token_file=str(tmp_path / "tok"))) == Token("file-token")
    env = {"OMS_IAM_USER": "u", "OMS_IAM_PASSWORD_FILE": str(tmp_path / "pw")}
    assert load_credentials(env).password == "file-pw"  # type: ignore[union-attr]
    with pytest.raises(CredentialsError, match="empty"):
        load_credentials({}, CredentialOptions(token_file=str(tmp_path / "empty")))
    with pytest.raises(CredentialsError, match="cannot read"):
        load_credentials({}, CredentialOptions(token_file=str(tmp_path / "missing")))


def test_mask_shows_only_the_ends() -> None:
    """Access keys are masked to their first and last four characters."""
    assert mask(AK) == "HPUA…7Q2M"
    assert mask("short") == "…rt"
    assert mask("abc") == "…"
    assert mask("") == ""


def test_no_secret_in_any_repr_or_str() -> None:
    """repr/str of credentials, authenticators and clients never hold a secret."""
    objects = [
        AkSk(AK, SECRETS[0], SECRETS[3]),
        Token(SECRETS[1]),
        IamPassword("http://iam", "u", "d", SECRETS[2]),
        AkSkAuth(AkSk(AK, SECRETS[0], SECRETS[3])),
        TokenAuth(Token(SECRETS[1])),
        IamPasswordAuth(IamPassword("http://iam", "u", "d", SECRETS[2])),
        OmsClient(None, authenticator_for(AkSk(AK, SECRETS[0])), region="cn-north-4"),  # type: ignore[arg-type]
    ]
    for obj in objects:
        for text in (repr(obj), str(obj)):
            assert not any(secret in text for secret in SECRETS), text
            assert AK not in text
    assert "HPUA…7Q2M" in repr(objects[0])


async def test_no_secret_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Failed calls under every scheme leave no secret in exception text or log records."""
    caplog.set_level(logging.DEBUG)

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/v3/auth/tokens":
            return web.json_response(
                {"token": {"expires_at": "2099-01-01T00:00:00Z"}}, status=201, headers={"X-Subject-Token": SECRETS[1]}
            )
        return web.json_response({"error_code": "APIGW.0301", "error_msg": "bad auth"}, status=401)

    messages: list[str] = []
    async with serve(handler) as url, aiohttp.ClientSession() as session:
        for creds in (AkSk(AK, SECRETS[0], SECRETS[3]), Token(SECRETS[1]), IamPassword(url, "u", "d", SECRETS[2])):
            client = OmsClient(session, authenticator_for(creds), endpoint=url)
            with pytest.raises(ApiError) as info:
                await client.call(RETRY, "p", "g", {"src_sk": SECRETS[0]})
            messages += [str(info.value), repr(info.value), repr(client)]
    messages += [record.getMessage() for record in caplog.records]
    assert messages
    for text in messages:
        assert not any(secret in text for secret in SECRETS), text


def _fifo(path: Path) -> str:
    import os

    os.mkfifo(path)
    return str(path)


def _sized(size: int) -> object:
    def make(path: Path) -> str:
        with open(path, "wb") as fh:
            fh.truncate(size)  # sparse: no disk used
        return str(path)

    return make


SECRET_FILES = {
    "over 64 KiB": (_sized(1024 * 1024), "larger than"),
    "a huge sparse file": (_sized(1 << 40), "larger than"),
    "not UTF-8": (lambda p: (p.write_bytes(b"tok\xff\xfe"), str(p))[1], "UTF-8"),
    "a FIFO": (_fifo, "not a regular file"),
    "/dev/zero": (lambda p: "/dev/zero", "not a regular file"),
    "a directory": (lambda p: str(p.parent), "not a regular file"),
}


@pytest.mark.parametrize("case", list(SECRET_FILES))
@pytest.mark.parametrize("where", ["--token-file", "OMS_IAM_PASSWORD_FILE"])
def test_secret_files_are_small_regular_files(tmp_path: Path, case: str, where: str) -> None:
    """A token or password file that is huge, endless, a FIFO or not UTF-8 is refused at once, naming the file."""
    make, words = SECRET_FILES[case]
    path = make(tmp_path / "secret")  # type: ignore[operator]
    with pytest.raises(CredentialsError) as info:
        if where == "--token-file":
            load_credentials({}, CredentialOptions(token_file=path))
        else:
            load_credentials({"OMS_IAM_USER": "u", "OMS_IAM_PASSWORD_FILE": path})
    assert words in str(info.value) and path in str(info.value)


def test_credential_options_hide_the_token_and_read_parsed_arguments() -> None:
    """CredentialOptions leaves the token out of its repr, takes the same-named attributes of parsed arguments
    (None for one a command lacks) and refuses an unknown --auth when made."""
    args = argparse.Namespace(auth="token", token=SECRETS[1], token_file=None, iam_user="u", unrelated=1)
    options = CredentialOptions.from_options(args)
    assert options == CredentialOptions(auth="token", token=SECRETS[1], iam_user="u")
    assert options.profile is None and options.iam_endpoint is None
    for text in (repr(options), str(options)):
        assert SECRETS[1] not in text and "iam_user='u'" in text
    assert options.wants("token") and not options.wants("aksk")
    assert CredentialOptions().wants("password")
    with pytest.raises(CredentialsError, match="--auth must be one of"):
        CredentialOptions.from_options(argparse.Namespace(auth="kerberos"))
