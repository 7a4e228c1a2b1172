"""The simulator's world: task groups, their status machine, and the IAM tokens and temporary keys it issued.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bulkretry.sim.config import SimConfig
from bulkretry.sim.groups import FAILED, FINISHED, RUNNING, STATUS_NAMES, generate_groups, settle_counters

__all__ = ["IssuedKey", "IssuedToken", "SimError", "SimState"]

Clock = Callable[[], float]


class SimError(Exception):
    """An error the simulated service answers with: HTTP status plus an OMS error code and message."""

    def __init__(self, status: int, error_code: str, error_msg: str) -> None:
        super().__init__(f"HTTP {status} {error_code}: {error_msg}")
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg

    def body(self) -> dict[str, str]:
        """The JSON body OMS sends for this error."""
        return {"error_code": self.error_code, "error_msg": self.error_msg}


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


def _not_found(group_id: str) -> SimError:
    del group_id  # never echoed: ids may hold anything
    return SimError(404, "OMS.1009", "The task group does not exist")


class SimState:
    """Task groups by id (in generation order) and their status machine.

    Attributes:
        clock: seconds on a monotonic scale; ``time.monotonic`` unless injected.
        settle_s: how long a retried group stays "executing" before it reports "migration finished".
        retries_by_group: successful retries per group id.
        tokens_issued: how many IAM tokens :meth:`issue_token` handed out.
        keys_issued: how many temporary keys :meth:`issue_key` handed out.
    """

    def __init__(
        self, groups: Iterable[dict[str, Any]] = (), *, settle_s: float = 2.0, clock: Clock = time.monotonic
    ) -> None:
        self.clock = clock
        self.settle_s = settle_s
        self.retries_by_group: Counter[str] = Counter()
        self.tokens_issued = 0
        self.keys_issued = 0
        self._keys: dict[str, IssuedKey] = {}
        self._lock = threading.RLock()
        self._groups: dict[str, dict[str, Any]] = {}
        self._retried_at: dict[str, float] = {}
        self._tokens: dict[str, IssuedToken] = {}
        for group in groups:
            self.add_group(group)

    @classmethod
    def from_config(cls, config: SimConfig, *, clock: Clock = time.monotonic) -> SimState:
        """The state *config* describes: its generated groups and its ``settle_s``."""
        groups = generate_groups(config.seed, config.groups, config.failed_ratio, config.project_id)
        return cls(groups, settle_s=config.settle_s, clock=clock)

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, group_id: object) -> bool:
        return group_id in self._groups

    def __repr__(self) -> str:
        with self._lock:
            by_status = Counter(self._settled(gid)["status"] for gid in self._groups)
        return f"<SimState {len(self)} groups, by status {dict(sorted(by_status.items()))}>"

    def ids(self) -> list[str]:
        """Every group id, in the order the groups were added."""
        with self._lock:
            return list(self._groups)

    def add_group(self, group: dict[str, Any]) -> None:
        """Add (or replace) a group; it needs at least ``group_id`` and ``status``. The dict is copied."""
        if not isinstance(group.get("group_id"), str) or not group["group_id"]:
            raise ValueError("a group needs a non-empty string group_id")
        if group.get("status") not in STATUS_NAMES:
            raise ValueError(f"a group's status must be one of {sorted(STATUS_NAMES)}")
        with self._lock:
            self._groups[group["group_id"]] = copy.deepcopy(group)
            self._retried_at.pop(group["group_id"], None)

    def _settled(self, group_id: str) -> dict[str, Any]:
        """The stored group, moved on to "finished" if its retry is ``settle_s`` old (lock held)."""
        group = self._groups[group_id]
        retried = self._retried_at.get(group_id)
        if retried is not None and group["status"] == RUNNING and self.clock() - retried >= self.settle_s:
            group["status"] = FINISHED
            if "total_num" in group:
                settle_counters(group)
            del self._retried_at[group_id]
        return group

    def get(self, group_id: str) -> dict[str, Any]:
        """A copy of the group as OMS would show it now; :class:`SimError` 404 ``OMS.1009`` if unknown."""
        with self._lock:
            if group_id not in self._groups:
                raise _not_found(group_id)
            return copy.deepcopy(self._settled(group_id))

    def list(self, status: int | None = None, offset: int = 0, limit: int = 10) -> tuple[int, list[dict[str, Any]]]:
        """``(count of matching groups, copies of the page)``, in the order the groups were added."""
        with self._lock:
            settled = (self._settled(gid) for gid in list(self._groups))
            matching = [group for group in settled if status is None or group["status"] == status]
            return len(matching), copy.deepcopy(matching[offset : offset + limit])

    def retry(self, group_id: str, body: dict[str, Any] | None = None) -> None:
        """Restart a failed group: it becomes "executing", its error and failure counters are cleared.

        Raises :class:`SimError`: 404 ``OMS.1009`` for an unknown group, 400 ``OMS.1015`` for a group
        that is not in status 5 (migration failed). *body* (the validated request) is not used yet.
        """
        del body
        with self._lock:
            if group_id not in self._groups:
                raise _not_found(group_id)
            group = self._settled(group_id)
            status = group["status"]
            if status != FAILED:
                raise SimError(
                    400, "OMS.1015", f"Task group status does not support retry: {STATUS_NAMES[status]} ({status})"
                )
            group["status"] = RUNNING
            group["error_reason"] = None
            if "fail_num" in group:
                group["executing_task_num"] = group.get("executing_task_num", 0) + group["failed_task_num"]
                group.update(fail_num=0, failed_task_num=0)
            self._retried_at[group_id] = self.clock()
            self.retries_by_group[group_id] += 1

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
