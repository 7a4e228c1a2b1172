"""Secrets from Huawei Cloud's secret manager, CSMS, for ``csms:NAME[#JSON_KEY][@VERSION]`` manifest cells (the
references and values: :mod:`bulkretry.oms.csmsref`).

A reference names a secret, and optionally one key of the JSON object it holds and a version (``latest`` when
none). Each distinct secret version is fetched once per run, before the first OMS call, through
``GET /v1/{project_id}/secrets/{NAME}/versions/{VERSION}`` on ``https://kms.{region}.myhuaweicloud.com`` (or the
SDK's ``HUAWEICLOUD_SDK_REGION_CSMS_<REGION>``, or ``--csms-endpoint``), signed with the run's AK/SK or temporary
keys by the OMS client's own machinery (:class:`CsmsClient`: the same session, proxy, CA, redaction and error
names). The values live in memory only (:class:`Secrets`, whose repr names no value); a reference that cannot be
resolved is a :class:`SecretProblem` (a code and a message naming the reference, never the value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from bulkretry.errors import ApiError, ConfigError, CredentialsError, TransportError
from bulkretry.masking import CSMS_PREFIX
from bulkretry.oms.auth import Authenticator
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.csmsref import SecretPlace, SecretProblem, SecretRef, Secrets
from bulkretry.oms.endpoint import Endpoint, check_region, parse_endpoint
from bulkretry.oms.network import Network

__all__ = [
    "CSMS_ENV_PREFIX",
    "CsmsClient",
    "CsmsSettings",
    "check_signing",
    "csms_endpoint",
    "fetch_secrets",
]

#: The SDK's variables that set a region's CSMS endpoint: this prefix, then the region id upper-cased, ``-`` as ``_``.
CSMS_ENV_PREFIX = "HUAWEICLOUD_SDK_REGION_CSMS_"
#: How many times a secret is asked for when CSMS is throttled, busy or out of reach, and the pause between.
_ATTEMPTS = 3
_PAUSE_S = 1.0


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
