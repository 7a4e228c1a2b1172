"""A faithful OMS + IAM simulator (aiohttp.web), for tests, benchmarks and ``bulkretry sim``.

It serves the OMS v2 calls of ``ROUTES``: task groups (list, show, retry, start, stop), tasks (list, show,
start, stop, batch-update of their priority), and IAM's ``POST /v3/auth/tokens``, with the service's status
machines, limits, auth checks and error shapes, and can throttle, slow down and fail on purpose. It never
prints.

Names are loaded on first use, so ``SimConfig``, ``ROUTES`` or ``generate_groups`` do not import aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bulkretry.sim.config import SimConfig
    from bulkretry.sim.errors import SimError
    from bulkretry.sim.groups import STATUS_NAMES, generate_groups
    from bulkretry.sim.routes import ROUTES
    from bulkretry.sim.server import Simulator, SimulatorThread, running_simulator, serve_forever
    from bulkretry.sim.state import SimState
    from bulkretry.sim.tasks import TASK_STATUS_NAMES, generate_tasks
    from bulkretry.sim.traffic import ReceivedRequest

__all__ = [
    "ROUTES",
    "STATUS_NAMES",
    "TASK_STATUS_NAMES",
    "ReceivedRequest",
    "SimConfig",
    "SimError",
    "SimState",
    "Simulator",
    "SimulatorThread",
    "generate_groups",
    "generate_tasks",
    "running_simulator",
    "serve_forever",
]

_HOME = {
    "STATUS_NAMES": "groups",
    "generate_groups": "groups",
    "TASK_STATUS_NAMES": "tasks",
    "generate_tasks": "tasks",
    "ROUTES": "routes",
    "SimConfig": "config",
    "SimError": "errors",
    "SimState": "state",
    "ReceivedRequest": "traffic",
    "Simulator": "server",
    "SimulatorThread": "server",
    "running_simulator": "server",
    "serve_forever": "server",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
