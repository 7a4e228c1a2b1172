"""Credential records and where they come from (flags, files, the SDK's own environment names).

Secrets live only in these objects and in the requests that need them: every ``repr`` here masks
the access key and leaves the secret out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bulkretry.errors import CredentialsError
from bulkretry.masking import mask

__all__ = [
    "AUTH_KINDS",
    "AkSk",
    "IamPassword",
    "Token",
    "load_credentials",
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



@dataclass(frozen=True, slots=True)
class AkSk:
    """Permanent or temporary AK/SK for request signing."""

    ak: str
    sk: str
    security_token: str | None = None

    def __repr__(self) -> str:
        temp = ", temporary" if self.security_token else ""
        return f"AkSk(ak={mask(self.ak)!r}{temp})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Token:
    """A ready IAM token, sent as ``X-Auth-Token``."""

    token: str

    def __repr__(self) -> str:
        return f"Token(<{len(self.token)} chars>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class IamPassword:
    """IAM user/password; a project-scoped token is fetched from ``POST /v3/auth/tokens``."""

    iam_endpoint: str
    user: str
    domain: str
    password: str

    def __repr__(self) -> str:
        return f"IamPassword(iam_endpoint={self.iam_endpoint!r}, user={self.user!r}, domain={self.domain!r})"

    __str__ = __repr__


Credentials = AkSk | Token | IamPassword


def _first(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return ""


def _read_secret_file(path: str, what: str) -> str:
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(f"cannot read the {what} file {path!r}: {exc.strerror or exc}") from None
    if not value:
        raise CredentialsError(f"the {what} file {path!r} is empty")
    return value


def load_credentials(
    env: Mapping[str, str] | None = None,
    *,
    auth: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    iam_endpoint: str | None = None,
    iam_user: str | None = None,
    iam_domain: str | None = None,
) -> Credentials:
    """Pick the first configured scheme (token, then AK/SK, then IAM password), or the one *auth* forces.

    Raises :class:`CredentialsError` with what to set when nothing usable is configured.
    """
    env = os.environ if env is None else env
    if auth is not None and auth not in AUTH_KINDS:
        raise CredentialsError(f"--auth must be one of {', '.join(AUTH_KINDS)}, not {auth!r}")

    def want(kind: str) -> bool:
        return auth is None or auth == kind

    if want("token"):
        value = (token or "").strip()
        if not value and token_file:
            value = _read_secret_file(token_file, "token")
        value = value or _first(env, ENV_TOKEN)
        if value:
            return Token(value)
        if auth == "token":
            raise CredentialsError(f"--auth token: give --token-file FILE or set {ENV_TOKEN}")

    if want("aksk"):
        ak, sk = _first(env, *ENV_AK), _first(env, *ENV_SK)
        if ak and sk:
            return AkSk(ak, sk, _first(env, ENV_SECURITY_TOKEN) or None)
        if ak or sk or auth == "aksk":
            missing = " and ".join(
                f"{names[0]} (or {names[1]})" for names, value in ((ENV_AK, ak), (ENV_SK, sk)) if not value
            )
            raise CredentialsError(f"AK/SK signing needs {missing} in the environment")

    if want("password"):
        user = (iam_user or "").strip() or _first(env, ENV_IAM_USER)
        domain = (iam_domain or "").strip() or _first(env, ENV_IAM_DOMAIN) or user
        password = _first(env, ENV_IAM_PASSWORD)
        password_file = _first(env, ENV_IAM_PASSWORD_FILE)
        if not password and password_file:
            password = _read_secret_file(password_file, "IAM password")
        if user and password:
            endpoint = (iam_endpoint or "").strip() or _first(env, ENV_IAM_ENDPOINT) or DEFAULT_IAM_ENDPOINT
            return IamPassword(endpoint.rstrip("/"), user, domain, password)
        if user or auth == "password":
            raise CredentialsError(
                f"IAM password auth needs {ENV_IAM_USER} and {ENV_IAM_PASSWORD} (or {ENV_IAM_PASSWORD_FILE})"
            )

    raise CredentialsError(
        "no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (AK/SK signing), "
        f"or {ENV_TOKEN} / --token-file (IAM token), or {ENV_IAM_USER} and {ENV_IAM_PASSWORD} (IAM password)"
    )
