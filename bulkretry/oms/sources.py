"""Where the run's credentials come from, in the official SDK's order (``huaweicloudsdkcore/auth/provider.py``),
after the options and the environment (:func:`bulkretry.oms.credentials.from_environment`):

1. the SDK's credentials file: ``$HUAWEICLOUD_SDK_CREDENTIALS_FILE``, else ``~/.huaweicloud/credentials``; INI,
   section ``[basic]``: ``ak``, ``sk``, ``security_token``, ``project_id`` (and ``iam_endpoint``, read and unused:
   AK/SK signing never calls IAM);
2. a KooCLI profile: ``~/.hcloud/config.json``, the profile ``--profile`` names, else the ``current`` one; mode
   ``AKSK`` with plaintext keys, or ``ecsAgency`` (the metadata service below);
3. the ECS agency: temporary keys from the metadata service at ``169.254.169.254``, fetched when the run starts
   (:mod:`bulkretry.oms.metadata`); ``BULKRETRY_NO_METADATA=1`` leaves this step out.

Under systemd, the credentials the unit passes with ``LoadCredential=`` (files in ``$CREDENTIALS_DIRECTORY``,
readable by the service alone) stand for the environment variables of their names
(:func:`with_credentials_directory`): ``HUAWEICLOUD_SDK_SK`` is the file ``$CREDENTIALS_DIRECTORY/HUAWEICLOUD_SDK_SK``.

Nothing here reaches the network: the metadata step is an :class:`~bulkretry.oms.credentials.EcsAgency` record.
A file or profile that is there but cannot be used is a :class:`CredentialsError` (exit 2) saying what to do,
never skipped in silence; one that is not there is skipped, as the SDK does.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bulkretry.errors import CredentialsError
from bulkretry.i18n.messages import SOURCE_FILE, SOURCE_PROFILE, SOURCE_PROFILE_AGENCY, say
from bulkretry.oms.credentials import (
    ENV_AK,
    ENV_IAM_PASSWORD,
    ENV_IAM_USER,
    ENV_SK,
    ENV_TOKEN,
    MAX_SECRET_FILE_BYTES,
    AkSk,
    CredentialOptions,
    Credentials,
    EcsAgency,
    check_setting,
    from_environment,
    read_small_file,
)
from bulkretry.oms.endpoint import region_problem

__all__ = [
    "ENV_CREDENTIALS_DIRECTORY",
    "ENV_CREDENTIALS_FILE",
    "ENV_NO_METADATA",
    "credentials_file",
    "credentials_file_path",
    "koocli_config_path",
    "koocli_profile",
    "load_credentials",
    "metadata_enabled",
    "with_credentials_directory",
]

ENV_CREDENTIALS_FILE = "HUAWEICLOUD_SDK_CREDENTIALS_FILE"
#: systemd's folder of the service's credentials (``LoadCredential=``, ``SetCredential=``).
ENV_CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"
#: A credential that stands for an environment variable is named as one.
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Set (to anything but ``0``/``false``/``no``) to leave the ECS metadata step out of the chain: tests, and
#: machines that must never ask 169.254.169.254.
ENV_NO_METADATA = "BULKRETRY_NO_METADATA"
#: The SDK reads section ``basic`` for the credentials of regional services (``global`` is for global ones).
SECTION = "basic"
#: The largest credentials file or KooCLI config read (a KooCLI config holds every profile, a few KB each).
MAX_CONFIG_BYTES = 1024 * 1024
#: KooCLI's profile modes this tool can use.
MODE_AKSK, MODE_ECS_AGENCY = "aksk", "ecsagency"

_OTHER_SOURCES = (
    "give the keys as HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or in the SDK's credentials file "
    "~/.huaweicloud/credentials (section [basic]: ak, sk), or use a KooCLI profile in mode AKSK "
    "with plaintext keys"
)


def _home(env: Mapping[str, str]) -> str | None:
    """The home folder as the SDK finds it (``filepath_utils.get_home_path``): ``USERPROFILE`` on Windows,
    ``HOME`` elsewhere; None when unset."""
    return env.get("USERPROFILE" if sys.platform.startswith("win32") else "HOME") or None


def credentials_file_path(env: Mapping[str, str]) -> tuple[Path | None, bool]:
    """``(path, named)``: the SDK's credentials file, and whether ``$HUAWEICLOUD_SDK_CREDENTIALS_FILE`` named it
    (then it must exist); ``(None, False)`` with no home folder."""
    named = env.get(ENV_CREDENTIALS_FILE, "")
    if named:
        return Path(named).expanduser(), True
    home = _home(env)
    return (Path(home) / ".huaweicloud" / "credentials", False) if home else (None, False)


def koocli_config_path(env: Mapping[str, str]) -> Path | None:
    """KooCLI's configuration, ``~/.hcloud/config.json`` (None with no home folder)."""
    home = _home(env)
    return Path(home) / ".hcloud" / "config.json" if home else None


def _read_text(path: Path, what: str) -> str:
    """The UTF-8 text of the small regular file *path* (a BOM dropped); CredentialsError naming it otherwise."""
    try:
        data = read_small_file(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise CredentialsError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    if data is None:
        raise CredentialsError(f"the {what} {path} is not a regular file (a device, FIFO or folder)")
    if len(data) > MAX_CONFIG_BYTES:
        raise CredentialsError(f"the {what} {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialsError(f"the {what} {path} is not UTF-8 text; save it as UTF-8") from None


def _credential(path: Path) -> str:
    """The value of the systemd credential *path*: its UTF-8 text, stripped; CredentialsError naming it."""
    try:
        data = read_small_file(path, MAX_SECRET_FILE_BYTES)
    except OSError as exc:
        raise CredentialsError(f"cannot read the systemd credential {path}: {exc.strerror or exc}") from None
    if data is None or len(data) > MAX_SECRET_FILE_BYTES:
        raise CredentialsError(f"the systemd credential {path} is not a small regular file")
    try:
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise CredentialsError(f"the systemd credential {path} is not UTF-8 text") from None


def with_credentials_directory(env: Mapping[str, str]) -> dict[str, str]:
    """*env* with each credential systemd gives the service (a file in ``$CREDENTIALS_DIRECTORY`` named as an
    environment variable) as that variable; a variable *env* sets itself wins. *env* as it is when the folder is
    not set; CredentialsError for a folder or credential that cannot be read."""
    folder = env.get(ENV_CREDENTIALS_DIRECTORY, "")
    if not folder:
        return dict(env)
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError as exc:
        raise CredentialsError(f"cannot read ${ENV_CREDENTIALS_DIRECTORY} ({folder}): {exc.strerror or exc}") from None
    merged = dict(env)
    for name in names:
        if _VARIABLE_NAME.fullmatch(name) and not merged.get(name, "").strip():
            merged[name] = _credential(Path(folder) / name)
    return merged


def _value(values: Mapping[str, Any], key: str, where: str, *, secret: bool = False) -> str:
    """*key* of *values* as one clean line ("" when absent or empty); CredentialsError naming *where*."""
    value = values.get(key)
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise CredentialsError(f"{key} in {where} is not text")
    return check_setting(value.strip(), f"{key} in {where}", secret=secret, error=CredentialsError)


def credentials_file(env: Mapping[str, str]) -> tuple[AkSk | None, str | None]:
    """``(keys, project_id)`` from the SDK's credentials file, section ``[basic]``, read as the SDK's
    ``ProfileCredentialProvider`` reads it; ``(None, None)`` when there is no such file or section.

    A section without ``ak`` and ``sk`` gives no keys but its ``project_id`` still serves as a default (for the
    ECS agency after it). Refused (CredentialsError): a file ``$HUAWEICLOUD_SDK_CREDENTIALS_FILE`` names that is
    not there, a file that is not INI, an ``ak`` without ``sk`` or the reverse, and federated login
    (``idp_id`` with ``id_token_file``), which bulkretry does not do.
    """
    path, named = credentials_file_path(env)
    if path is None:
        return None, None
    if not path.exists():
        if named:
            raise CredentialsError(
                f"{ENV_CREDENTIALS_FILE} names {path}, which does not exist: fix the path, or "
                f"unset {ENV_CREDENTIALS_FILE} to use ~/.huaweicloud/credentials"
            )
        return None, None
    where = f"the credentials file {path}"
    # interpolation=None: a '%' in a key is the key's, where the SDK's parser would stop on it
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(_read_text(path, "credentials file"), source=str(path))
    except configparser.Error as exc:
        why = str(exc).splitlines()[0]
        raise CredentialsError(
            f"{where} is not an INI file as the SDK writes it ([basic] then ak = ..., sk = ...): {why}"
        ) from None
    if not parser.has_section(SECTION):
        return None, None
    values = dict(parser.items(SECTION))
    where = f"section [{SECTION}] of {where}"
    project_id = _value(values, "project_id", where) or None
    _value(values, "iam_endpoint", where)  # the SDK's key, checked; AK/SK signing never calls IAM
    if values.get("idp_id") and values.get("id_token_file"):
        raise CredentialsError(
            f"{where} configures federated login (idp_id, id_token_file), which bulkretry does not do: {_OTHER_SOURCES}"
        )
    ak = _value(values, "ak", where, secret=True)
    sk = _value(values, "sk", where, secret=True)
    if ak and sk:
        token = _value(values, "security_token", where, secret=True) or None
        return AkSk(ak, sk, token, say(SOURCE_FILE, path=path), project_id), project_id
    if ak or sk:
        raise CredentialsError(f"{where} has {'ak' if ak else 'sk'} but no {'sk' if ak else 'ak'}: give both")
    return None, project_id


def _no_config(path: Path | None, name: str) -> CredentialsError:
    """The error for ``--profile NAME`` when there is no KooCLI configuration at *path*."""
    return CredentialsError(
        f"--profile {name}: there is no KooCLI configuration "
        f"({path or '~/.hcloud/config.json'}); create the profile with `hcloud configure "
        f"set --cli-profile={name}` or {_OTHER_SOURCES}"
    )


def _koocli_config(path: Path) -> dict[str, Any]:
    """KooCLI's configuration at *path* as a JSON object (``{}`` for any other JSON value)."""
    try:
        config = json.loads(_read_text(path, "KooCLI configuration"))
    except ValueError as exc:
        raise CredentialsError(
            f"the KooCLI configuration {path} is not JSON ({exc}); check it with `hcloud configure test`"
        ) from None
    return config if isinstance(config, dict) else {}


def _find_profile(config: Mapping[str, Any], name: str | None, path: Path) -> tuple[str, dict[str, Any] | None]:
    """``(wanted, profile)``: the name looked for (*name*, else the config's ``current``, else ``default``) and
    its profile, None when the current one is not there. A profile asked for by *name* and not there is a
    CredentialsError that lists the profiles there are."""
    profiles = [p for p in config.get("profiles") or [] if isinstance(p, dict)]
    wanted = name if name is not None else str(config.get("current") or "default")
    profile = next((p for p in profiles if p.get("name") == wanted), None)
    if profile is None and name is not None:
        known = ", ".join(repr(str(p.get("name"))) for p in profiles) or "none"
        raise CredentialsError(f"--profile {name}: {path} has no such profile (profiles: {known})")
    return wanted, profile


def _profile_keys(profile: Mapping[str, Any], where: str, wanted: str) -> tuple[str, str, str | None]:
    """``(ak, sk, security token)`` of an AKSK profile; CredentialsError naming the keys it lacks."""
    ak = _value(profile, "accessKeyId", where, secret=True)
    sk = _value(profile, "secretAccessKey", where, secret=True)
    if not (ak and sk):
        missing = " and ".join(k for k, v in (("accessKeyId", ak), ("secretAccessKey", sk)) if not v)
        raise CredentialsError(
            f"the {where} has no {missing}: set them with `hcloud configure set "
            f"--cli-profile={wanted}`, or {_OTHER_SOURCES}"
        )
    return ak, sk, _value(profile, "securityToken", where, secret=True) or None


def _escaped(text: str, limit: int = 60) -> str:
    """*text* as a message may quote it: control characters, backslashes and what is not ASCII escaped
    (``\\x1b``, ``\\u200b``), so a config file cannot write to the terminal; cut to *limit* characters."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _profile_credentials(
    env: Mapping[str, str], config: Mapping[str, Any], profile: Mapping[str, Any], where: str, wanted: str
) -> AkSk | EcsAgency:
    """What the profile *wanted* (described as *where*) gives: its keys, or the ECS agency, with its
    ``projectId`` and ``region`` as defaults; CredentialsError for a mode or a config bulkretry cannot use."""
    mode = str(profile.get("mode") or "AKSK")
    project_id = _value(profile, "projectId", where) or None
    region = _value(profile, "region", where) or None
    if region and region_problem(region):
        raise CredentialsError(f"region in {where}: {region_problem(region)}")
    if mode.lower() == MODE_ECS_AGENCY:
        if not metadata_enabled(env):
            raise CredentialsError(
                f"the {where} is in mode ecsAgency, but {ENV_NO_METADATA} is set: unset it, or {_OTHER_SOURCES}"
            )
        return EcsAgency(say(SOURCE_PROFILE_AGENCY, profile=repr(wanted)), project_id, region)
    if mode.lower() != MODE_AKSK:
        raise CredentialsError(
            f"the {where} is in mode {_escaped(mode)}, which bulkretry cannot use (only AKSK and "
            f"ecsAgency): {_OTHER_SOURCES}, or name another profile with --profile"
        )
    if config.get("authEncrypt") in (True, "true", "True"):
        raise CredentialsError(
            f"the {where} is encrypted (authEncrypt), and only KooCLI can read its keys: {_OTHER_SOURCES}"
        )
    ak, sk, token = _profile_keys(profile, where, wanted)
    return AkSk(ak, sk, token, say(SOURCE_PROFILE, profile=repr(wanted)), project_id, region)


def koocli_profile(env: Mapping[str, str], name: str | None = None) -> AkSk | EcsAgency | None:
    """The KooCLI profile *name* (else the config's ``current`` one) of ``~/.hcloud/config.json``: its keys and
    its ``projectId`` and ``region`` as defaults; an :class:`EcsAgency` for a profile in mode ``ecsAgency``.

    None when there is no config, or (no *name* given) the current profile is not in it. CredentialsError, saying
    which other source to use: a named profile or config that is not there, an encrypted config (KooCLI's
    ``authEncrypt``: the keys are ciphertext only KooCLI reads), another mode (SSO, token, agency), an AKSK
    profile without its keys.
    """
    path = koocli_config_path(env)
    if path is None or not path.exists():
        if name is not None:
            raise _no_config(path, name)
        return None
    config = _koocli_config(path)
    wanted, profile = _find_profile(config, name, path)
    if profile is None:
        return None
    return _profile_credentials(env, config, profile, f"KooCLI profile {wanted!r} of {path}", wanted)


def metadata_enabled(env: Mapping[str, str]) -> bool:
    """Whether the chain may end at the ECS metadata service (``BULKRETRY_NO_METADATA`` not set)."""
    return env.get(ENV_NO_METADATA, "").strip().lower() in ("", "0", "false", "no")


def _named_profile(env: Mapping[str, str], options: CredentialOptions) -> AkSk | EcsAgency:
    """The KooCLI profile ``--profile`` names, whatever else is configured; it goes with ``--auth aksk`` only."""
    if options.auth not in (None, "aksk"):
        raise CredentialsError(
            f"--profile names a KooCLI profile, whose keys sign the calls: it does not go with --auth {options.auth}"
        )
    name = check_setting(options.profile or "", "--profile", error=CredentialsError)
    named = koocli_profile(env, name)
    assert named is not None  # a named profile is there or refused
    return named


def _nothing_configured(auth: str | None) -> CredentialsError:
    """The error at the end of a chain that found nothing (the ECS agency left out): what to set."""
    if auth == "aksk":
        return CredentialsError(
            f"--auth aksk: set {ENV_AK[0]} and {ENV_SK[0]}, or give the keys in the SDK's "
            "credentials file or a KooCLI profile"
        )
    return CredentialsError(
        f"no credentials: set {ENV_AK[0]} and {ENV_SK[0]} (AK/SK signing), or {ENV_TOKEN} / --token-file (IAM "
        f"token), or {ENV_IAM_USER} and {ENV_IAM_PASSWORD} (IAM password), or write the SDK's credentials file "
        f"~/.huaweicloud/credentials, or name a KooCLI profile with --profile ({ENV_NO_METADATA} is set, so the "
        "ECS agency is not asked)"
    )


def load_credentials(env: Mapping[str, str] | None = None, options: CredentialOptions | None = None) -> Credentials:
    """The run's credentials: the first configured of the options and the environment (token, AK/SK, IAM
    password; systemd's credentials count as the environment), the SDK's credentials file, the current KooCLI
    profile, the ECS agency; or the one ``options.auth`` forces (``aksk``: any source of keys). ``options.profile``
    (``--profile``) names the KooCLI profile to use, whatever else is configured. Reads files only: the metadata
    service is asked when the authenticator is made.

    Raises :class:`CredentialsError` with what to set when nothing usable is configured.
    """
    env = with_credentials_directory(os.environ if env is None else env)
    options = options or CredentialOptions()
    if options.profile is not None:
        return _named_profile(env, options)
    found = from_environment(env, options)
    if found is not None:
        return found
    keys, project_id = credentials_file(env)
    if keys is not None:
        return keys
    current = koocli_profile(env)
    if current is not None:
        return current
    if metadata_enabled(env):
        return EcsAgency(project_id=project_id)
    raise _nothing_configured(options.auth)
