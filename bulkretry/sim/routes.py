"""The calls the simulator serves, as data: each route's name, method and path pattern.

A pattern is a tuple of path segments: a literal, or ``{project_id}`` / ``{id}`` / ``{version}`` that match one
non-empty segment. Segments are matched after the path is split on ``/`` and each segment decoded, so an encoded
slash (``%2F``) stays inside its segment. The first pattern that matches names the route; a wrong method
is the router's 405, not a search for another route.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROUTES", "Match", "Route", "resolve"]

PROJECT, ITEM, VERSION = "{project_id}", "{id}", "{version}"


@dataclass(frozen=True)
class Route:
    """One call: its name (which the handlers are keyed by), its method and its path pattern."""

    name: str
    method: str
    pattern: tuple[str, ...]

    @property
    def path(self) -> str:
        """The pattern as the API reference writes it, e.g. ``/v2/{project_id}/tasks/{id}/start``."""
        return "/" + "/".join(self.pattern)


_GROUPS, _TASKS = ("v2", PROJECT, "taskgroups"), ("v2", PROJECT, "tasks")

ROUTES: tuple[Route, ...] = (
    Route("iam", "POST", ("v3", "auth", "tokens")),
    Route("list_groups", "GET", _GROUPS),
    Route("show_group", "GET", (*_GROUPS, ITEM)),
    Route("retry_group", "PUT", (*_GROUPS, ITEM, "retry")),
    Route("start_group", "PUT", (*_GROUPS, ITEM, "start")),
    Route("stop_group", "PUT", (*_GROUPS, ITEM, "stop")),
    Route("list_tasks", "GET", _TASKS),
    Route("update_tasks", "POST", (*_TASKS, "batch-update")),
    Route("show_task", "GET", (*_TASKS, ITEM)),
    Route("start_task", "POST", (*_TASKS, ITEM, "start")),
    Route("stop_task", "POST", (*_TASKS, ITEM, "stop")),
    # The CSMS stand-in (sim/csms.py): a secret's version, for the manifests' csms: cells.
    Route("show_secret_version", "GET", ("v1", PROJECT, "secrets", ITEM, "versions", VERSION)),
)


@dataclass(frozen=True)
class Match:
    """A route and the values its pattern took from the path."""

    route: Route
    project_id: str = ""
    item_id: str = ""
    version: str = ""


def _bind(pattern: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    """The placeholders' values when *segments* fit *pattern*; None when they do not."""
    if len(pattern) != len(segments):
        return None
    values: dict[str, str] = {}
    for expected, segment in zip(pattern, segments):
        if expected in (PROJECT, ITEM, VERSION) and segment:
            values[expected] = segment
        elif expected != segment:
            return None
    return values


def resolve(segments: tuple[str, ...]) -> Match | None:
    """The first route whose pattern the decoded path *segments* fit, or None (no such API)."""
    for route in ROUTES:
        values = _bind(route.pattern, segments)
        if values is not None:
            return Match(route, values.get(PROJECT, ""), values.get(ITEM, ""), values.get(VERSION, ""))
    return None
