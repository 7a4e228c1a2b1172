"""The simulator's IAM: ``POST /v3/auth/tokens`` with a password body, answered in IAM's own shapes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from bulkretry.sim.config import SimConfig
from bulkretry.sim.state import SimState

__all__ = ["PROJECT_NAME", "issue_token"]

#: IAM names a regional project after its region.
PROJECT_NAME = "cn-north-4"

_TITLES = {400: "Bad Request", 401: "Unauthorized"}


def _error(status: int, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"error": {"code": status, "message": message, "title": _TITLES[status]}}, {}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def issue_token(
    config: SimConfig, state: SimState, body: bytes, now: datetime | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``(status, JSON body, extra headers)`` for a token request.

    201 with ``X-Subject-Token`` for the configured user, password and domain scoped to the configured
    project; 401 for wrong credentials or another project; 400 for a body that is not a password request.
    """
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        data = None
    identity = _dig(data, "auth", "identity")
    methods = _dig(identity, "methods")
    user = _dig(identity, "password", "user")
    project_id = _dig(data, "auth", "scope", "project", "id")
    if not isinstance(methods, list) or "password" not in methods or not isinstance(user, dict):
        return _error(
            400,
            "The request body must be a password authentication request "
            "(auth.identity.methods=['password'], auth.identity.password.user).",
        )
    name, password, domain = user.get("name"), user.get("password"), _dig(user, "domain", "name")
    if not all(isinstance(value, str) for value in (name, password, domain)):
        return _error(400, "auth.identity.password.user needs name, password and domain.name as strings.")
    if not isinstance(project_id, str) or not project_id:
        return _error(400, "auth.scope.project.id is required: the simulator issues project-scoped tokens.")
    if (name, password, domain) != (config.iam_user, config.iam_password, config.iam_domain):
        return _error(401, "The username or password is wrong.")
    if project_id != config.project_id:
        return _error(401, "The request you have made requires authentication: unknown project.")
    token = state.issue_token(project_id, config.token_ttl_s)
    issued = now or datetime.now(timezone.utc)
    expires = issued + timedelta(seconds=config.token_ttl_s)
    payload = {
        "token": {
            "expires_at": _iso(expires),
            "issued_at": _iso(issued),
            "methods": ["password"],
            "project": {
                "id": project_id,
                "name": PROJECT_NAME,
                "domain": {"id": "sim-domain-id", "name": config.iam_domain},
            },
            "user": {
                "id": "sim-user-id",
                "name": config.iam_user,
                "domain": {"id": "sim-domain-id", "name": config.iam_domain},
            },
            "catalog": [],
            "roles": [{"id": "0", "name": "op_user"}],
        }
    }
    return 201, payload, {"X-Subject-Token": token}
