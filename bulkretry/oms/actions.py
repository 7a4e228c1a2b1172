"""The OMS calls bulkretry makes in bulk, as data: one :class:`Action` per ``--action`` and target.

An action says everything the rest of the code needs to know about its call: the HTTP method and path, whether it
targets task groups or tasks, which manifest fields its JSON body carries, the statuses in which the service accepts
it (``--check-status`` skips rows outside them), the statuses in which it has not yet taken effect (``--verify``
polls while the target is in one of them), and whether ids are sent in batches. The engine, the journal, the reports,
the pre-flight and the verify step read these fields; nothing else names a call. Adding an action (a bandwidth
update, a delete) is one entry in :data:`ACTIONS` and its tests.

Shapes from the official SDK (``huaweicloudsdkoms`` 3.1.x, ``v2/oms_client.py`` and ``v2/model/*_req.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bulkretry.errors import UsageError

__all__ = [
    "ACTIONS",
    "ACTION_NAMES",
    "CREDENTIAL_FIELDS",
    "CRYPTO_FIELDS",
    "DEFAULT_ACTION",
    "GROUPS",
    "PRIORITIES",
    "TARGETS",
    "TASKS",
    "Action",
    "action_for",
]

GROUPS, TASKS = "groups", "tasks"
TARGETS: tuple[str, ...] = (GROUPS, TASKS)
DEFAULT_ACTION = "retry"
#: ``task_priority`` of ``POST /v2/{project_id}/tasks/batch-update``.
PRIORITIES: tuple[str, ...] = ("HIGH", "MEDIUM", "LOW")

#: The key fields of every request model that takes keys (``RetryTaskGroupReq``, ``StartTaskGroupReq``,
#: ``StartTaskReq``), in the SDK's order.
CREDENTIAL_FIELDS: tuple[str, ...] = (
    "src_ak",
    "src_sk",
    "src_crypto_type",
    "src_kms_key_id",
    "connection_string",
    "json_auth_file",
    "dst_ak",
    "dst_sk",
    "dst_crypto_type",
    "dst_kms_key_id",
    "source_cdn_authentication_key",
    "source_cdn_crypto_type",
    "source_cdn_kms_key_id",
)
#: Each ``*_crypto_type`` field (``DEFAULT`` or ``KMS``) and the key id that ``KMS`` requires.
CRYPTO_FIELDS: dict[str, str] = {
    "src_crypto_type": "src_kms_key_id",
    "dst_crypto_type": "dst_kms_key_id",
    "source_cdn_crypto_type": "source_cdn_kms_key_id",
}
_TASK_TOKENS = ("src_security_token", "dst_security_token")


@dataclass(frozen=True)
class Action:
    """One bulk call.

    ``path`` is the part after ``/v2/{project_id}/``, its segments in order, ``{id}`` standing for the row's group
    or task id (a batch action's path has none: the ids go into the body as ``ids``). ``allowed``: the statuses in
    which the service accepts the call. ``pending``: the statuses in which the call has not yet taken effect, so
    that ``--verify`` polls on while the target is in one of them (empty: nothing to wait for).
    """

    name: str
    target: str
    method: str
    path: tuple[str, ...]
    body_fields: tuple[str, ...]
    allowed: frozenset[int]
    pending: frozenset[int]
    #: Ids are sent ``--batch-size`` at a time in one call's body (``{"ids": [...]}``); one outcome per row.
    batch: bool = False
    #: The call sets a group's migration going again (retry, start): with ``--check-status``, a group whose own
    #: ``error_reason`` no retry can fix (``oms/codes.py``'s ``NEEDS_FIX``) is not called, unless ``--call-anyway``.
    restarts: bool = False

    @property
    def key(self) -> str:
        """``retry``, ``start-task``, ...: the name, with the target where the name alone is ambiguous."""
        return self.name if self.target == GROUPS else f"{self.name}-task"

    @property
    def is_default(self) -> bool:
        """Whether this is the call a run makes unless told otherwise (a retry of task groups): the one that lines,
        reports and notifications need not name."""
        return (self.name, self.target) == (DEFAULT_ACTION, GROUPS)

    @property
    def id_column(self) -> str:
        """The manifest and report column that names the target: ``group_id`` or ``task_id``."""
        return "group_id" if self.target == GROUPS else "task_id"

    @property
    def show_path(self) -> tuple[str, ...]:
        """The path of the target's own ``GET`` (its status for ``--check-status`` and ``--verify``)."""
        return ("taskgroups" if self.target == GROUPS else "tasks", "{id}")

    def segments(self, target_id: str) -> tuple[str, ...]:
        """The call's path after ``/v2/{project_id}/``, with *target_id* in place of ``{id}``."""
        return tuple(target_id if part == "{id}" else part for part in self.path)

    def accepts(self, status: int) -> bool:
        """Whether the service accepts this call for a target in *status* (``--check-status``)."""
        return status in self.allowed

    def describe(self) -> str:
        """``PUT /v2/{project_id}/taskgroups/{group_id}/retry``: the call in the API's words."""
        path = "/".join("{" + self.id_column + "}" if part == "{id}" else part for part in self.path)
        return f"{self.method} /v2/{{project_id}}/{path}"


def _on_group(name: str, body: tuple[str, ...], allowed: set[int], pending: set[int]) -> Action:
    """``PUT /v2/{project_id}/taskgroups/{group_id}/NAME`` (a call with a body of keys restarts the migration)."""
    path = ("taskgroups", "{id}", name)
    return Action(name, GROUPS, "PUT", path, body, frozenset(allowed), frozenset(pending), restarts=bool(body))


def _on_task(name: str, body: tuple[str, ...], allowed: set[int], pending: set[int]) -> Action:
    """``POST /v2/{project_id}/tasks/{task_id}/NAME``."""
    return Action(name, TASKS, "POST", ("tasks", "{id}", name), body, frozenset(allowed), frozenset(pending))


ACTIONS: dict[tuple[str, str], Action] = {
    (action.name, action.target): action
    for action in (
        _on_group("retry", (*CREDENTIAL_FIELDS, "migrate_failed_object"), allowed={5}, pending={5}),
        _on_group("start", CREDENTIAL_FIELDS, allowed={3}, pending={3}),
        _on_group("stop", (), allowed={1, 2}, pending={1, 2, 7}),
        _on_task("start", (*CREDENTIAL_FIELDS, *_TASK_TOKENS, "migrate_failed_object"), allowed={3, 4}, pending={3, 4}),
        _on_task("stop", (), allowed={2}, pending={2, 7}),
        Action(
            "priority",
            TASKS,
            "POST",
            ("tasks", "batch-update"),
            ("task_priority",),
            allowed=frozenset({1, 3, 4}),
            pending=frozenset(),
            batch=True,
        ),
    )
}
#: ``--action``'s choices, in the order ``--help`` shows them.
ACTION_NAMES: tuple[str, ...] = tuple(dict.fromkeys(name for name, _ in ACTIONS))


def action_for(name: str, target: str) -> Action:
    """The action ``--action NAME`` makes on *target* (``groups`` or ``tasks``); a :class:`UsageError` that says what
    to use instead when there is none (``retry`` on tasks: a failed task restarts with ``--action start``)."""
    action = ACTIONS.get((name, target))
    if action is not None:
        return action
    if name == "retry" and target == TASKS:
        raise UsageError(
            "--action retry restarts task groups; a failed or stopped task restarts with --action start "
            "(POST /v2/{project_id}/tasks/{task_id}/start)"
        )
    others = sorted(t for n, t in ACTIONS if n == name)
    if others:
        raise UsageError(f"--action {name} works on {', '.join(others)}, not on {target}")
    raise UsageError(f"--action must be one of {', '.join(ACTION_NAMES)}, got {name!r}")
