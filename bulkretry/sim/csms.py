"""The CSMS stand-in's secrets: ``GET /v1/{project_id}/secrets/{name}/versions/{version}`` answered from those of
:class:`~bulkretry.sim.config.SimConfig` (each with one version, ``v1``, which ``latest`` also names), in the
shape of the SDK's ``ShowSecretVersionResponse``. Authentication and the project are the gateway's, as for OMS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bulkretry.sim.errors import SimError

__all__ = ["SECRET_VERSION", "SecretStore"]

#: The one version each stand-in secret has.
SECRET_VERSION = "v1"
#: When the stand-in's secret versions were made (milliseconds since the epoch, as CSMS writes them).
_CREATED_MS = 1_700_000_000_000


class SecretStore:
    """The stand-in's secrets by name, and the names the credentials may not read. The repr shows names only."""

    def __init__(self, secrets: Iterable[tuple[str, str]] = (), denied: Iterable[str] = ()) -> None:
        self._secrets = dict(secrets)
        self._denied = frozenset(denied)

    def __repr__(self) -> str:
        return f"SecretStore(names={sorted(self._secrets)!r}, denied={sorted(self._denied)!r})"

    def version(self, name: str, version: str) -> dict[str, Any]:
        """The answer for the secret *name* at *version*; a 404 for a secret or version that does not exist, a
        403 for one the credentials may not read."""
        if name in self._denied:
            raise SimError(403, "CSMS.0403", "Access to the secret is denied")
        if name not in self._secrets or version not in ("latest", SECRET_VERSION):
            raise SimError(404, "CSMS.0201", "The secret or its version does not exist")
        metadata = {
            "id": SECRET_VERSION,
            "create_time": _CREATED_MS,
            "expire_time": None,
            "kms_key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
            "secret_name": name,
            "version_stages": ["SYSCURRENT"],
        }
        text = self._secrets[name]
        return {"version": {"version_metadata": metadata, "secret_string": text, "secret_binary": None}}
