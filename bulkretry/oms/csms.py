"""Secrets from Huawei Cloud's secret manager, CSMS: ``csms:NAME[#JSON_KEY][@VERSION]`` manifest cells.

A reference names a secret, and optionally one key of the JSON object it holds and a version (``latest`` when
none). Each distinct secret version is fetched once per run, before the first OMS call, through
``GET /v1/{project_id}/secrets/{NAME}/versions/{VERSION}`` on ``https://kms.{region}.myhuaweicloud.com`` (or the
SDK's ``HUAWEICLOUD_SDK_REGION_CSMS_<REGION>``, or ``--csms-endpoint``), signed with the run's AK/SK or temporary
keys by the OMS client's own machinery (:class:`CsmsClient`: the same session, proxy, CA, redaction and error
names). The values live in memory only (:class:`Secrets`, whose repr names no value); a reference that cannot be
resolved is a :class:`SecretProblem` (a code and a message naming the reference, never the value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import anyio

from bulkretry.errors import ApiError, ConfigError, CredentialsError, TransportError
from bulkretry.masking import CSMS_PREFIX, is_csms_reference
from bulkretry.oms.auth import Authenticator
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.endpoint import Endpoint, check_region, parse_endpoint
from bulkretry.oms.network import Network

__all__ = [
    "CSMS_ENV_PREFIX",
    "LATEST",
    "MAX_SECRETS",
    "SECRET_CODES",
    "CsmsClient",
    "CsmsSettings",
    "SecretPlace",
    "SecretProblem",
    "SecretRef",
    "Secrets",
    "check_signing",
    "csms_endpoint",
    "fetch_secrets",
    "parse_reference",
]

#: The SDK's variables that set a region's CSMS endpoint: this prefix, then the region id upper-cased, ``-`` as ``_``.
CSMS_ENV_PREFIX = "HUAWEICLOUD_SDK_REGION_CSMS_"
#: The version a reference without ``@VERSION`` reads.
LATEST = "latest"
#: The error codes of a row whose reference could not be resolved.
SECRET_CODES = ("secret_not_found", "secret_denied", "secret_format", "secret_unavailable")
#: A secret's name or version id as CSMS allows them: letters, digits, ``_ . -``, 1..64 characters.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: The most secret versions one run fetches (a bound against a hostile manifest; a real one names a few).
MAX_SECRETS = 1000
#: How many times a secret is asked for when CSMS is throttled, busy or out of reach, and the pause between.
_ATTEMPTS = 3
_PAUSE_S = 1.0


@dataclass(frozen=True)
class SecretRef:
    """A parsed ``csms:`` reference: the secret's name, the JSON key of its value (or ``""``), its version."""

    name: str
    key: str = ""
    version: str = LATEST

    def __str__(self) -> str:
        return CSMS_PREFIX + self.name + (f"#{self.key}" if self.key else "") + f"@{self.version}"


def parse_reference(text: str) -> SecretRef:
    """``csms:NAME[#JSON_KEY][@VERSION]`` (the prefix in any case) as a :class:`SecretRef`; ValueError saying
    what is wrong with it (a reference is never a secret, so the message may quote it)."""
    if not is_csms_reference(text):
        raise ValueError(f"{text[:40]!r} is not a csms: reference")
    rest = text[len(CSMS_PREFIX) :].strip()
    body, at, version = rest.rpartition("@") if "@" in rest else (rest, "", LATEST)
    name, _, key = body.partition("#")
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{text[:80]!r} names no secret: write csms:NAME[#JSON_KEY][@VERSION], NAME being 1..64 letters, "
            "digits, _ . -"
        )
    if at and not _NAME.fullmatch(version):
        raise ValueError(f"{text[:80]!r} has a bad version after @ (a version id such as v1, or latest)")
    if "#" in body and not key:
        raise ValueError(f"{text[:80]!r} has an empty JSON key after #")
    return SecretRef(name, key, version)


class SecretPlace(NamedTuple):
    """Where a secret is read: the project and region of the rows that name it (a named tuple, so the planner's
    plain ``(project_id, region)`` finds it)."""

    project_id: str
    region: str


@dataclass(frozen=True)
class SecretProblem(Exception):
    """Why a reference gives no value: one of :data:`SECRET_CODES`, and a message naming the reference."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class Secrets:
    """The secret versions a run fetched, in memory only: :meth:`value` of a reference, or its
    :class:`SecretProblem`. The repr counts them and shows no value."""

    def __init__(self, fetched: Mapping[tuple[SecretPlace, str, str], str | SecretProblem] | None = None) -> None:
        self._fetched = dict(fetched or {})

    def __repr__(self) -> str:
        failed = sum(isinstance(found, SecretProblem) for found in self._fetched.values())
        return f"Secrets({len(self._fetched)} fetched, {failed} failed)"

    def __len__(self) -> int:
        return len(self._fetched)

    def problems(self) -> list[tuple[str, SecretProblem]]:
        """Each secret version that could not be read (``NAME@VERSION``), with why."""
        return [
            (f"{name}@{version}", found)
            for (_, name, version), found in self._fetched.items()
            if isinstance(found, SecretProblem)
        ]

    def value(self, ref: SecretRef, place: tuple[str, str]) -> str:
        """The value *ref* names (a key of the secret's JSON object with ``#KEY``); :class:`SecretProblem` if none."""
        found = self._fetched.get((SecretPlace(*place), ref.name, ref.version))
        if found is None:
            raise SecretProblem("secret_unavailable", f"{ref} was not fetched before the run")
        if isinstance(found, SecretProblem):
            raise found
        return _key_of(found, ref) if ref.key else found


def _key_of(text: str, ref: SecretRef) -> str:
    """The string at *ref*'s key of the JSON object *text*."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise SecretProblem("secret_format", f"{ref}: the secret is not a JSON object, so it has no key") from None
    if not isinstance(document, dict):
        raise SecretProblem("secret_format", f"{ref}: the secret is not a JSON object, so it has no key")
    value = document.get(ref.key)
    if value is None:
        raise SecretProblem("secret_format", f"{ref}: the secret's JSON object has no key {ref.key!r}")
    if not isinstance(value, str):
        raise SecretProblem("secret_format", f"{ref}: the secret's key {ref.key!r} holds no text")
    return value


def csms_endpoint(region: str, env: Mapping[str, str], given: str | None = None) -> Endpoint:
    """CSMS's endpoint for *region*: *given* (``--csms-endpoint``), else the SDK's
    ``HUAWEICLOUD_SDK_REGION_CSMS_<REGION>`` (its first, when a comma list), else
    ``https://kms.{region}.myhuaweicloud.com``; a :class:`ConfigError` for a bad one or no region."""
    if given:
        return parse_endpoint(given, option="--csms-endpoint")
    if not region:
        raise ConfigError(
            "a csms: cell is in a row without a region: give --region (or a region column), or --csms-endpoint URL"
        )
    check_region(region)
    variable = CSMS_ENV_PREFIX + region.replace("-", "_").upper()
    if env.get(variable, "").strip():
        return parse_endpoint(env[variable].split(",")[0].strip(), option=variable)
    host = f"kms.{region}.myhuaweicloud.com"
    return Endpoint("https", host, None, host, f"https://{host}")


class CsmsClient(OmsClient):
    """The OMS client's machinery on CSMS's ``/v1/{project_id}/`` paths (give it the CSMS *endpoint*)."""

    api_version = "v1"

    async def secret_version(self, project_id: str, name: str, version: str) -> Any:
        """The answer of ``GET /v1/{project_id}/secrets/{name}/versions/{version}`` (a dict when well formed)."""
        resp = await self.request("GET", project_id, ("secrets", name, "versions", version))
        return resp.body


@dataclass(frozen=True)
class CsmsSettings:
    """How a run reaches CSMS: ``--csms-endpoint`` (else each region's), the environment (the SDK's endpoint
    variables), the run's network and its call timeout."""

    endpoint: str | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    network: Network = field(default_factory=Network)
    timeout: float = 30.0


def _secret_text(answer: Any, shown: str) -> str:
    """``version.secret_string`` of an answer; :class:`SecretProblem` ``secret_format`` when it has none."""
    version = answer.get("version") if isinstance(answer, dict) else None
    text = version.get("secret_string") if isinstance(version, dict) else None
    if not isinstance(text, str):
        raise SecretProblem("secret_format", f"{shown}: CSMS's answer holds no secret_string (a binary secret?)")
    return text


def _problem(error: ApiError | TransportError, shown: str) -> SecretProblem:
    """A failed fetch as the rows' :class:`SecretProblem` (the service's code and message carry no value)."""
    if isinstance(error, TransportError):
        return SecretProblem(
            "secret_unavailable", f"{shown}: CSMS could not be reached ({error.code}: {error.message})"
        )
    said = f"HTTP {error.status} {error.error_code}: {error.error_msg}".rstrip(": ")
    if error.status == 404:
        return SecretProblem("secret_not_found", f"{shown}: no such secret or version ({said})")
    if error.status in (401, 403):
        return SecretProblem("secret_denied", f"{shown}: the run's credentials may not read it ({said})")
    return SecretProblem("secret_unavailable", f"{shown}: CSMS did not give it ({said})")


class _Fetcher:
    """One run's fetches: a client per CSMS endpoint, over one session."""

    def __init__(self, auth: Authenticator, settings: CsmsSettings) -> None:
        self.auth, self.settings = auth, settings
        self.clients: dict[Endpoint, CsmsClient] = {}

    def client(self, place: SecretPlace, session: Any) -> CsmsClient:
        settings = self.settings
        endpoint = csms_endpoint(place.region, settings.env, settings.endpoint)
        found = self.clients.get(endpoint)
        if found is None:
            found = self.clients[endpoint] = CsmsClient(
                session, self.auth, endpoint=endpoint.origin, timeout=settings.timeout, network=settings.network
            )
        return found

    async def fetch(self, client: CsmsClient, place: SecretPlace, name: str, version: str) -> str | SecretProblem:
        """The secret's text, or why there is none; a throttled, busy or unreachable CSMS asked again."""
        shown = f"{CSMS_PREFIX}{name}@{version}"
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return _secret_text(await client.secret_version(place.project_id, name, version), shown)
            except SecretProblem as problem:
                return problem
            except (ApiError, TransportError) as error:
                if attempt == _ATTEMPTS or not error.retryable:
                    return _problem(error, shown)
            await anyio.sleep(_PAUSE_S * attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def check_signing(auth: Authenticator) -> None:
    """A CSMS call is signed: a token alone cannot make one (a :class:`CredentialsError`, before any call)."""
    if auth.name != "aksk":
        raise CredentialsError(
            "the manifest has csms: cells, and a CSMS call must be signed with an access key (AK/SK, the SDK's "
            f"credentials file, a KooCLI profile in AK/SK mode, or an ECS agency); the run's credentials are "
            f"{auth.source}, a token, which cannot sign it"
        )


async def fetch_secrets(
    wanted: Iterable[tuple[SecretPlace, SecretRef]], auth: Authenticator, settings: CsmsSettings
) -> Secrets:
    """Every distinct secret version of *wanted* fetched once (one at a time: a run names a few), as
    :class:`Secrets`; a ConfigError or CredentialsError before any call when CSMS cannot be asked at all."""
    check_signing(auth)
    versions = sorted({(place, ref.name, ref.version) for place, ref in wanted}, key=repr)
    for place, _, _ in versions:
        csms_endpoint(place.region, settings.env, settings.endpoint)  # every endpoint checked before the first call
    fetched: dict[tuple[SecretPlace, str, str], str | SecretProblem] = {}
    if not versions:
        return Secrets(fetched)
    fetcher = _Fetcher(auth, settings)
    async with make_session(limit=4) as session:
        for place, name, version in versions:
            client = fetcher.client(place, session)
            fetched[(place, name, version)] = await fetcher.fetch(client, place, name, version)
    return Secrets(fetched)
