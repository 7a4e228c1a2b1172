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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union

from bulkretry.errors import ConfigError, CredentialsError
from bulkretry.i18n.messages import SOURCE_AGENCY, SOURCE_ENV, SOURCE_IAM, SOURCE_TOKEN_FILE, SOURCE_TOKEN_OPTION, say
from bulkretry.masking import mask

__all__ = [
    "AUTH_KINDS",
    "MAX_SECRET_FILE_BYTES",
    "AkSk",
    "CredentialOptions",
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


def _aside(default: str | None = None) -> Any:
    """A record's field that says where its credentials came from, or what they give as defaults: never
    compared, so two records with the same keys are equal whatever their source."""
    return field(default=default, compare=False)


@dataclass(frozen=True)
class AkSk:
    """Permanent or temporary AK/SK for request signing."""

    ak: str
    sk: str
    security_token: str | None = None
    #: Where the keys came from, for the run's summary (never a secret).
    source: str = _aside(say(SOURCE_ENV, name="HUAWEICLOUD_SDK_AK"))
    #: The project and region the source gives as defaults (a credentials file, a KooCLI profile).
    project_id: str | None = _aside()
    region: str | None = _aside()

    # str() is object's, which calls this repr: neither shows the secret
    def __repr__(self) -> str:
        temp = ", temporary" if self.security_token else ""
        return f"AkSk(ak={mask(self.ak)!r}{temp}, source={self.source!r})"


@dataclass(frozen=True)
class Token:
    """A ready IAM token, sent as ``X-Auth-Token``."""

    token: str
    source: str = _aside(say(SOURCE_ENV, name=ENV_TOKEN))
    project_id: str | None = _aside()
    region: str | None = _aside()

    def __repr__(self) -> str:
        return f"Token(<{len(self.token)} chars>, source={self.source!r})"


@dataclass(frozen=True)
class IamPassword:
    """IAM user/password; a project-scoped token is fetched from ``POST /v3/auth/tokens``."""

    iam_endpoint: str
    user: str
    domain: str
    password: str
    source: str = _aside(say(SOURCE_IAM, where=ENV_IAM_USER))
    project_id: str | None = _aside()
    region: str | None = _aside()

    def __repr__(self) -> str:
        return f"IamPassword(iam_endpoint={self.iam_endpoint!r}, user={self.user!r}, domain={self.domain!r})"


@dataclass(frozen=True)
class EcsAgency:
    """The ECS's agency: temporary AK/SK and a security token from the metadata service (``169.254.169.254``),
    fetched when the run starts and again before they expire (:mod:`bulkretry.oms.metadata`)."""

    source: str = SOURCE_AGENCY
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


@dataclass(frozen=True)
class CredentialOptions:
    """What the command line says about credentials (``--auth``, ``--token``, ``--token-file``,
    ``--iam-endpoint``, ``--iam-user``, ``--iam-domain``, ``--profile``), each None when not given: the one
    value every step of the chain takes. The environment fills in the rest, step by step
    (:func:`from_environment`). The token is left out of the repr."""

    #: The scheme to use (one of :data:`AUTH_KINDS`), whatever else is configured.
    auth: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    iam_endpoint: str | None = None
    iam_user: str | None = None
    iam_domain: str | None = None
    #: The KooCLI profile whose keys sign the calls (:func:`bulkretry.oms.sources.load_credentials`).
    profile: str | None = None

    def __post_init__(self) -> None:
        if self.auth is not None and self.auth not in AUTH_KINDS:
            raise CredentialsError(f"--auth must be one of {', '.join(AUTH_KINDS)}, not {self.auth!r}")

    @classmethod
    def from_options(cls, options: object) -> CredentialOptions:
        """The attributes of the same names on *options* (parsed arguments; one a command lacks is None)."""
        return cls(**{f.name: getattr(options, f.name, None) for f in fields(cls)})

    def wants(self, kind: str) -> bool:
        """Whether the scheme *kind* may be used: *auth* forces none, or forces this one."""
        return self.auth is None or self.auth == kind


def _option(value: str | None, name: str, *, secret: bool = False) -> str:
    """The option *name*'s *value* as one clean line, ``""`` when not given."""
    return check_setting((value or "").strip(), name, secret=secret, error=CredentialsError)


def _given_token(options: CredentialOptions) -> tuple[str, str]:
    """``(token, source)`` from ``--token``, else from ``--token-file``; ``("", ...)`` when neither gives one."""
    value = _option(options.token, "--token", secret=True)
    path = options.token_file
    if value or not path:
        return value, SOURCE_TOKEN_OPTION
    text = check_setting(
        _read_secret_file(path, "token"), f"the token file {path!r}", secret=True, error=CredentialsError
    )
    return text, say(SOURCE_TOKEN_FILE, path=path)


def _token(env: Mapping[str, str], options: CredentialOptions) -> Token | None:
    """A token from the options, else from ``$OMS_AUTH_TOKEN``."""
    value, source = _given_token(options)
    if not value:
        value, source = _first(env, ENV_TOKEN), say(SOURCE_ENV, name=ENV_TOKEN)
    if value:
        return Token(value, source)
    if options.auth == "token":
        raise CredentialsError(f"--auth token: give --token-file FILE or set {ENV_TOKEN}")
    return None


def _aksk(env: Mapping[str, str], options: CredentialOptions) -> AkSk | None:
    """Keys from the SDK's environment variables (no option gives keys: they would show in the process list)."""
    ak, sk = _first(env, *ENV_AK), _first(env, *ENV_SK)
    if ak and sk:
        return AkSk(ak, sk, _first(env, ENV_SECURITY_TOKEN) or None, say(SOURCE_ENV, name=_first_name(env, *ENV_AK)))
    if ak or sk:
        missing = " and ".join(
            f"{names[0]} (or {names[1]})" for names, value in ((ENV_AK, ak), (ENV_SK, sk)) if not value
        )
        raise CredentialsError(f"AK/SK signing needs {missing} in the environment")
    return None


def _env_password(env: Mapping[str, str]) -> str:
    """``$OMS_IAM_PASSWORD``, else the content of the file ``$OMS_IAM_PASSWORD_FILE`` names; ``""`` for neither."""
    password, path = _first(env, ENV_IAM_PASSWORD), _first(env, ENV_IAM_PASSWORD_FILE)
    if not password and path:
        return _read_secret_file(path, "IAM password")
    return password


def _iam_password(env: Mapping[str, str], options: CredentialOptions) -> IamPassword | None:
    """An IAM user and password: the user and domain from the options, else the environment (the domain defaults
    to the user's name); the password from the environment only."""
    user = _option(options.iam_user, "--iam-user") or _first(env, ENV_IAM_USER)
    domain = _option(options.iam_domain, "--iam-domain") or _first(env, ENV_IAM_DOMAIN) or user
    password = _env_password(env)
    if user and password:
        endpoint = (options.iam_endpoint or "").strip() or _first(env, ENV_IAM_ENDPOINT) or DEFAULT_IAM_ENDPOINT
        where = "--iam-user" if (options.iam_user or "").strip() else ENV_IAM_USER
        return IamPassword(endpoint.rstrip("/"), user, domain, password, say(SOURCE_IAM, where=where))
    if user or options.auth == "password":
        raise CredentialsError(
            f"IAM password auth needs {ENV_IAM_USER} and {ENV_IAM_PASSWORD} (or {ENV_IAM_PASSWORD_FILE})"
        )
    return None


#: The schemes the options and the environment may configure, in the order they are looked for.
_SCHEMES: tuple[tuple[str, Callable[[Mapping[str, str], CredentialOptions], Credentials | None]], ...] = (
    ("token", _token),
    ("aksk", _aksk),
    ("password", _iam_password),
)


def from_environment(env: Mapping[str, str], options: CredentialOptions | None = None) -> Credentials | None:
    """The first scheme *options* and the environment configure (token, then AK/SK, then IAM password), or
    the one ``options.auth`` forces; None when none is (the chain of :func:`bulkretry.oms.sources.load_credentials`
    goes on). Raises :class:`CredentialsError` for what is half configured or unreadable, and for a forced token
    or password scheme that is not configured."""
    options = options or CredentialOptions()
    for kind, scheme in _SCHEMES:
        found = scheme(env, options) if options.wants(kind) else None
        if found is not None:
            return found
    return None
