"""Credential records, and the credentials the options and the environment give (flags, token and password
files, the SDK's own environment names). The SDK's credentials file, a KooCLI profile and the ECS metadata
service come after these, in :mod:`bulkretry.oms.sources`.

Secrets live only in these objects and in the requests that need them: every ``repr`` here masks
the access key and leaves the secret out. Each record also says where it came from (``source``, shown in the
run's summary; never a secret) and the project and region that source gives as defaults, if any.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from bulkretry.errors import ConfigError, CredentialsError
from bulkretry.masking import mask

__all__ = [
    "AUTH_KINDS",
    "AkSk",
    "Credentials",
    "EcsAgency",
    "IamPassword",
    "Token",
    "check_setting",
    "from_environment",
    "read_small_file",
]

AUTH_KINDS = ("token", "aksk", "password")

ENV_TOKEN = "OMS_AUTH_TOKEN"
ENV_AK = ("HUAWEICLOUD_SDK_AK", "CLOUD_SDK_AK")
ENV_SK = ("HUAWEICLOUD_SDK_SK", "CLOUD_SDK_SK")
ENV_SECURITY_TOKEN = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
ENV_IAM_ENDPOINT = "OMS_IAM_ENDPOINT"
ENV_IAM_USER = "OMS_IAM_USER"
ENV_IAM_DOMAIN = "OMS_IAM_DOMAIN"
ENV_IAM_PASSWORD = "OMS_IAM_PASSWORD"
ENV_IAM_PASSWORD_FILE = "OMS_IAM_PASSWORD_FILE"
DEFAULT_IAM_ENDPOINT = "https://iam.myhuaweicloud.com"


@dataclass(frozen=True)
class AkSk:
    """Permanent or temporary AK/SK for request signing."""

    ak: str
    sk: str
    security_token: str | None = None
    #: Where the keys came from, for the run's summary (never a secret).
    source: str = field(default="environment (HUAWEICLOUD_SDK_AK)", compare=False)
    #: The project and region the source gives as defaults (a credentials file, a KooCLI profile).
    project_id: str | None = field(default=None, compare=False)
    region: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        temp = ", temporary" if self.security_token else ""
        return f"AkSk(ak={mask(self.ak)!r}{temp}, source={self.source!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class Token:
    """A ready IAM token, sent as ``X-Auth-Token``."""

    token: str
    source: str = field(default=f"environment ({ENV_TOKEN})", compare=False)
    project_id: str | None = field(default=None, compare=False)
    region: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Token(<{len(self.token)} chars>, source={self.source!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class IamPassword:
    """IAM user/password; a project-scoped token is fetched from ``POST /v3/auth/tokens``."""

    iam_endpoint: str
    user: str
    domain: str
    password: str
    source: str = field(default=f"IAM password ({ENV_IAM_USER})", compare=False)
    project_id: str | None = field(default=None, compare=False)
    region: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"IamPassword(iam_endpoint={self.iam_endpoint!r}, user={self.user!r}, domain={self.domain!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class EcsAgency:
    """The ECS's agency: temporary AK/SK and a security token from the metadata service (``169.254.169.254``),
    fetched when the run starts and again before they expire (:mod:`bulkretry.oms.metadata`)."""

    source: str = "ECS metadata (agency)"
    project_id: str | None = None
    region: str | None = None


Credentials = Union[AkSk, Token, IamPassword, EcsAgency]


#: What may not stand anywhere in a setting: control and format characters, line and paragraph separators.
_UNSEEN = frozenset(("Cc", "Cf", "Zl", "Zp"))


def check_setting(value: str, what: str, *, secret: bool = False, error: type[ConfigError] = ConfigError) -> str:
    """*value* when it is one clean line: no line break or other control character anywhere, no whitespace
    around it. Otherwise *error*, naming *what* (an option, a variable, a file) and the character's position;
    the value itself is shown only when it is not *secret*. Such a value would go into a URL path or a header
    of every call, where it fails each row (or splits the header), so it is refused before any call."""
    if value.isprintable() and value.strip() == value:  # the usual value: one look, no loop
        return value
    shown = "" if secret else f" ({value!r})"
    for index, char in enumerate(value, 1):
        if unicodedata.category(char) in _UNSEEN:
            kind = "a line break" if char in "\r\n" else "a control character"
            raise error(
                f"{what}{shown} holds {kind} (U+{ord(char):04X}) at character {index}: "
                "give the value alone, on one line"
            )
    if value.strip() != value:
        raise error(f"{what}{shown} has spaces around it: give the value without them")
    return value


def _first(env: Mapping[str, str], *names: str) -> str:
    """The first of the variables *names* that is set (surrounding whitespace dropped), checked as a secret."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return check_setting(value, name, secret=True, error=CredentialsError)
    return ""


#: The largest token or password file read: a token is a few KB, a password far less.
MAX_SECRET_FILE_BYTES = 64 * 1024


def read_small_file(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """At most ``limit + 1`` bytes of the regular file *path* (more than *limit* back means it is too long); None
    when it is not a regular file (a FIFO, a device such as ``/dev/zero``, a folder). Never waits on a FIFO, never
    reads a device; an OSError when it cannot be opened or read. The one way a credential or key file is read."""
    # O_NONBLOCK: opening a FIFO with no writer would wait forever; a regular file ignores the flag.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # looked at before a file object, which refuses a folder
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit + 1)
    finally:
        os.close(fd)


def _read_secret_file(path: str, what: str) -> str:
    """The text of a small regular file, stripped; never blocks (a FIFO) and never reads past the limit
    (``/dev/zero``, a huge file)."""
    try:
        data = read_small_file(Path(path).expanduser(), MAX_SECRET_FILE_BYTES)
    except OSError as exc:
        raise CredentialsError(f"cannot read the {what} file {path!r}: {exc.strerror or exc}") from None
    if data is None:
        raise CredentialsError(
            f"the {what} file {path!r} is not a regular file (a device, FIFO or folder); "
            "put the value in an ordinary file"
        )
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise CredentialsError(
            f"the {what} file {path!r} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB; "
            f"it should hold only the {what}"
        )
    try:
        value = data.decode("utf-8-sig").strip()  # -sig: a byte-order mark (Notepad's) is no part of the value
    except UnicodeDecodeError:
        raise CredentialsError(f"the {what} file {path!r} is not UTF-8 text; save it as UTF-8") from None
    if not value:
        raise CredentialsError(f"the {what} file {path!r} is empty")
    return value


def _first_name(env: Mapping[str, str], *names: str) -> str:
    """The first of *names* set in *env* (for saying where a value came from)."""
    return next((name for name in names if env.get(name, "").strip()), names[0])


def from_environment(
    env: Mapping[str, str],
    *,
    auth: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    iam_endpoint: str | None = None,
    iam_user: str | None = None,
    iam_domain: str | None = None,
) -> Credentials | None:
    """The first scheme the options and the environment configure (token, then AK/SK, then IAM password), or
    the one *auth* forces; None when none is (the chain of :func:`bulkretry.oms.sources.load_credentials` goes
    on). Raises :class:`CredentialsError` for what is half configured or unreadable, and for a forced token or
    password scheme that is not configured."""
    if auth is not None and auth not in AUTH_KINDS:
        raise CredentialsError(f"--auth must be one of {', '.join(AUTH_KINDS)}, not {auth!r}")

    def want(kind: str) -> bool:
        return auth is None or auth == kind

    if want("token"):
        value = check_setting((token or "").strip(), "--token", secret=True, error=CredentialsError)
        source = "--token"
        if not value and token_file:
            value = check_setting(
                _read_secret_file(token_file, "token"),
                f"the token file {token_file!r}",
                secret=True,
                error=CredentialsError,
            )
            source = f"--token-file {token_file}"
        if not value:
            value, source = _first(env, ENV_TOKEN), f"environment ({ENV_TOKEN})"
        if value:
            return Token(value, source)
        if auth == "token":
            raise CredentialsError(f"--auth token: give --token-file FILE or set {ENV_TOKEN}")

    if want("aksk"):
        ak, sk = _first(env, *ENV_AK), _first(env, *ENV_SK)
        if ak and sk:
            return AkSk(ak, sk, _first(env, ENV_SECURITY_TOKEN) or None, f"environment ({_first_name(env, *ENV_AK)})")
        if ak or sk:
            missing = " and ".join(
                f"{names[0]} (or {names[1]})" for names, value in ((ENV_AK, ak), (ENV_SK, sk)) if not value
            )
            raise CredentialsError(f"AK/SK signing needs {missing} in the environment")

    if want("password"):
        user = check_setting((iam_user or "").strip(), "--iam-user", error=CredentialsError) or _first(
            env, ENV_IAM_USER
        )
        domain = (
            check_setting((iam_domain or "").strip(), "--iam-domain", error=CredentialsError)
            or _first(env, ENV_IAM_DOMAIN)
            or user
        )
        password = _first(env, ENV_IAM_PASSWORD)
        password_file = _first(env, ENV_IAM_PASSWORD_FILE)
        if not password and password_file:
            password = _read_secret_file(password_file, "IAM password")
        if user and password:
            endpoint = (iam_endpoint or "").strip() or _first(env, ENV_IAM_ENDPOINT) or DEFAULT_IAM_ENDPOINT
            where = "--iam-user" if (iam_user or "").strip() else ENV_IAM_USER
            return IamPassword(endpoint.rstrip("/"), user, domain, password, f"IAM password ({where})")
        if user or auth == "password":
            raise CredentialsError(
                f"IAM password auth needs {ENV_IAM_USER} and {ENV_IAM_PASSWORD} (or {ENV_IAM_PASSWORD_FILE})"
            )
    return None
