"""The simulator's world: task groups and tasks, their status machines, and the IAM tokens and temporary keys it
issued.

Time comes from an injectable ``clock`` (seconds, monotonic), so tests move a group from "executing"
to "finished", or expire a token, by advancing a fake clock instead of sleeping. Every method is
thread-safe: a test may inspect the state while a :class:`~bulkretry.sim.server.SimulatorThread`
serves requests.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bulkretry.sim.actions import GROUP_RETRY, GROUP_START, GROUP_STOP, TASK_PRIORITY, TASK_START, TASK_STOP
from bulkretry.sim.bodies import TaskQuery, TaskUpdate
from bulkretry.sim.config import SimConfig
from bulkretry.sim.csms import SecretStore
from bulkretry.sim.errors import SimError, not_found
from bulkretry.sim.groups import STATUS_NAMES, generate_groups
from bulkretry.sim.store import Clock, Store
from bulkretry.sim.tasks import MAX_TASK_ID, TASK_STATUS_NAMES, generate_tasks

__all__ = ["IssuedKey", "IssuedToken", "SimError", "SimState"]


@dataclass(frozen=True)
class IssuedToken:
    """An IAM token the simulator issued: its project scope and its expiry on the state's clock."""

    project_id: str
    expires_at: float


@dataclass(frozen=True)
class IssuedKey:
    """Temporary AK/SK and security token the simulator issued (as IAM does for an ECS agency); they expire
    at ``expires_at`` on the state's clock. Secrets not in ``repr``."""

    ak: str
    sk: str = field(repr=False)
    security_token: str = field(repr=False)
    expires_at: float


class SimState:
    """Task groups and tasks by id (in generation order), their status machines, and what IAM issued.

    Attributes:
        clock: seconds on a monotonic scale; ``time.monotonic`` unless injected.
        settle_s: how long a status in passing lasts (see :class:`~bulkretry.sim.config.SimConfig`).
        retries_by_group: successful retries per group id.
        tokens_issued: how many IAM tokens :meth:`issue_token` handed out.
        keys_issued: how many temporary keys :meth:`issue_key` handed out.
    """

    def __init__(
        self,
        groups: Iterable[dict[str, Any]] = (),
        *,
        settle_s: float = 2.0,
        clock: Clock = time.monotonic,
        tasks: Iterable[dict[str, Any]] = (),
        secret_store: SecretStore | None = None,
    ) -> None:
        self.clock = clock
        #: The CSMS stand-in's secrets (none unless given).
        self.secret_store = secret_store if secret_store is not None else SecretStore()
        self.settle_s = settle_s
        self.retries_by_group: Counter[str] = Counter()
        self.tokens_issued = 0
        self.keys_issued = 0
        self._keys: dict[str, IssuedKey] = {}
        self._lock = threading.RLock()
        self._groups: Store[str] = Store("task group", clock, settle_s)
        self._tasks: Store[int] = Store("task", clock, settle_s)
        self._tokens: dict[str, IssuedToken] = {}
        for group in groups:
            self.add_group(group)
        for task in tasks:
            self.add_task(task)

    @classmethod
    def from_config(cls, config: SimConfig, *, clock: Clock = time.monotonic) -> SimState:
        """The state *config* describes: its generated groups and tasks, its ``settle_s`` and its secrets."""
        groups = generate_groups(
            config.seed, config.groups, config.failed_ratio, config.project_id, config.needs_fix_ratio
        )
        group_ids = [group["group_id"] for group in groups]
        tasks = generate_tasks(config.seed, config.tasks, config.failed_ratio, config.project_id, group_ids)
        store = SecretStore(config.secrets, config.secrets_denied)
        return cls(groups, settle_s=config.settle_s, clock=clock, tasks=tasks, secret_store=store)

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, group_id: object) -> bool:
        return group_id in self._groups

    def __repr__(self) -> str:
        with self._lock:
            groups, tasks = self._groups.by_status(), self._tasks.by_status()
        return (
            f"<SimState {len(self)} groups, by status {dict(sorted(groups.items()))}; "
            f"{len(self._tasks)} tasks, by status {dict(sorted(tasks.items()))}>"
        )

    # --- task groups -------------------------------------------------------------------------------

    def ids(self) -> list[str]:
        """Every group id, in the order the groups were added."""
        with self._lock:
            return self._groups.keys()

    def add_group(self, group: dict[str, Any]) -> None:
        """Add (or replace) a group; it needs at least ``group_id`` and ``status``. The dict is copied."""
        if not isinstance(group.get("group_id"), str) or not group["group_id"]:
            raise ValueError("a group needs a non-empty string group_id")
        if group.get("status") not in STATUS_NAMES:
            raise ValueError(f"a group's status must be one of {sorted(STATUS_NAMES)}")
        with self._lock:
            self._groups.add(group["group_id"], group)

    def get(self, group_id: str) -> dict[str, Any]:
        """A copy of the group as OMS would show it now; :class:`SimError` 404 ``OMS.1009`` if unknown."""
        with self._lock:
            return copy.deepcopy(self._groups.current(group_id))

    def retry(self, group_id: str, body: dict[str, Any] | None = None) -> None:
        """Restart a failed group: it becomes "executing", its error and failure counters are cleared, and it
        finishes ``settle_s`` later.

        Raises :class:`SimError`: 404 ``OMS.1009`` for an unknown group, 400 ``OMS.1015`` for a group
        that is not in status 5 (migration failed). *body* (the validated request) is not used yet.
        """
        del body
        with self._lock:
            self._groups.apply(GROUP_RETRY, group_id)
            self.retries_by_group[group_id] += 1

    def start_group(self, group_id: str, body: dict[str, Any] | None = None) -> None:
        """Resume a paused group (3): "executing" (1), then "monitoring" (2) ``settle_s`` later; 400 ``OMS.1015``
        from any other status. *body* (the validated request) is not used yet."""
        del body
        with self._lock:
            self._groups.apply(GROUP_START, group_id)

    def stop_group(self, group_id: str) -> None:
        """Pause an executing or monitoring group (1, 2): "pausing" (7), then "paused" (3) ``settle_s`` later;
        400 ``OMS.1015`` from any other status."""
        with self._lock:
            self._groups.apply(GROUP_STOP, group_id)

    # --- tasks -------------------------------------------------------------------------------------

    def task_ids(self) -> list[int]:
        """Every task id, in the order the tasks were added."""
        with self._lock:
            return self._tasks.keys()

    def add_task(self, task: dict[str, Any]) -> None:
        """Add (or replace) a task; it needs at least an integer ``id`` and a ``status``. The dict is copied."""
        task_id = task.get("id")
        if not isinstance(task_id, int) or isinstance(task_id, bool) or not 0 <= task_id <= MAX_TASK_ID:
            raise ValueError(f"a task needs an integer id in 0..{MAX_TASK_ID}")
        if task.get("status") not in TASK_STATUS_NAMES:
            raise ValueError(f"a task's status must be one of {sorted(TASK_STATUS_NAMES)}")
        with self._lock:
            self._tasks.add(task_id, task)

    def get_task(self, task_id: int) -> dict[str, Any]:
        """A copy of the task as OMS would show it now; :class:`SimError` 404 ``OMS.1009`` if unknown."""
        with self._lock:
            return copy.deepcopy(self._tasks.current(task_id))

    def list_tasks(self, query: TaskQuery) -> tuple[int, list[dict[str, Any]]]:
        """``(count of the tasks *query* matches, copies of its page)``, in the order the tasks were added."""
        with self._lock:
            matching = self._tasks.matching(query.matches)
            return len(matching), copy.deepcopy(matching[query.offset : query.offset + query.limit])

    def start_task(self, task_id: int, body: dict[str, Any] | None = None) -> None:
        """Start a stopped or failed task (3, 4): "waiting" (1), then "running" (2) ``settle_s`` later; its error
        is cleared. 400 ``OMS.1015`` from any other status. *body* (the validated request) is not used yet."""
        del body
        with self._lock:
            self._tasks.apply(TASK_START, task_id)

    def stop_task(self, task_id: int) -> None:
        """Stop a running task (2): "pausing" (7), then "stopped" (3) ``settle_s`` later; 400 ``OMS.1015`` from
        any other status."""
        with self._lock:
            self._tasks.apply(TASK_STOP, task_id)

    def update_tasks(self, update: TaskUpdate) -> int:
        """Set the priority of the tasks *update* names, all or none; returns how many were changed.

        Raises :class:`SimError`: 404 ``OMS.1009`` for an unknown group or for task ids that do not exist (the
        message lists them), 400 ``OMS.1015`` when a task is not waiting, stopped or failed (the first one).
        """
        with self._lock:
            keys = self._tasks_of(update)
            self._tasks.check(TASK_PRIORITY, keys, lambda task_id: f"task {task_id} is ")
            for task_id in keys:
                self._tasks.current(task_id)["task_priority"] = update.task_priority
            return len(keys)

    def _tasks_of(self, update: TaskUpdate) -> list[int]:
        """The ids of the tasks *update* names: its ``ids``, or every task of its group (lock held)."""
        if update.group_id is not None:
            if update.group_id not in self._groups:
                raise not_found("task group")
            return [task["id"] for task in self._tasks.matching(lambda task: task.get("group_id") == update.group_id)]
        unknown = [task_id for task_id in update.ids if task_id not in self._tasks]
        if unknown:
            raise SimError(404, "OMS.1009", f"The tasks do not exist: {', '.join(map(str, unknown))}")
        return list(dict.fromkeys(update.ids))

    # --- IAM ---------------------------------------------------------------------------------------

    def issue_token(self, project_id: str, ttl_s: float) -> str:
        """A new random IAM token scoped to *project_id*, valid for *ttl_s* seconds of the clock."""
        token = "MIIsim" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = IssuedToken(project_id, self.clock() + ttl_s)
            self.tokens_issued += 1
        return token

    def token_problem(self, token: str, project_id: str) -> str | None:
        """None if *token* was issued, is unexpired and is scoped to *project_id*; else why not."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None:
                return "the token is not valid"
            if self.clock() >= issued.expires_at:
                return "the token has expired"
            if issued.project_id != project_id:
                return "the token is scoped to another project"
            return None

    def issue_key(self, ttl_s: float) -> IssuedKey:
        """New random temporary keys (AK/SK and security token), valid for *ttl_s* seconds of the clock: what the
        ECS metadata service hands out for an agency. Calls signed with them must carry the security token."""
        ak = "SIMTMP" + secrets.token_hex(7).upper()
        key = IssuedKey(ak, secrets.token_urlsafe(30), "sim-sts-" + secrets.token_urlsafe(60), self.clock() + ttl_s)
        with self._lock:
            self._keys[ak] = key
            self.keys_issued += 1
        return key

    def temporary_key(self, ak: str) -> IssuedKey | None:
        """The temporary key whose access key is *ak*, or None when *ak* is not one the simulator issued."""
        with self._lock:
            return self._keys.get(ak)

    # Last, because annotations after it in the class would read ``list`` as this method.
    def list(self, status: int | None = None, offset: int = 0, limit: int = 10) -> tuple[int, list[dict[str, Any]]]:
        """``(count of matching groups, copies of the page)``, in the order the groups were added."""
        with self._lock:
            matching = self._groups.matching(lambda group: status is None or group["status"] == status)
            return len(matching), copy.deepcopy(matching[offset : offset + limit])
