"""Every column bulkretry knows, in one registry: the manifest's columns (their other spellings, which is
required, which is secret or shown masked, the API's length limits) and the report's own (its first block and
the group's story), each with the label report.html gives it.

A column is one :class:`Column` entry; its place in its tuple is its order (the contract's order for the
manifest, the report's order for the report). The reader, the planner, masking, the report writers and their
labels all read these tuples; nothing else lists a column's facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bulkretry.i18n import N_

__all__ = [
    "BODY_FIELDS",
    "BODY_LIMITS",
    "GROUP",
    "KEY_PAIRS",
    "LABELS",
    "MANIFEST",
    "MAX_ID_LENGTH",
    "MAX_TASK_ID",
    "REPORT",
    "STATUS",
    "Column",
    "names",
]


@dataclass(frozen=True)
class Column:
    """One column's facts.

    ``aliases`` are the other spellings a manifest's header may use (case, spaces, ``_`` and ``-`` are ignored
    when matching); ``secret`` columns are never written to a report, log or journal (``***`` in the annotated
    copy); ``masked`` ones are access keys, shown as ``SRCA…0001``; ``max_length`` is the API's largest length
    (``None``: not a text the API limits); ``body`` marks a field of a call's body, sent when the action's
    ``body_fields`` name it (:mod:`bulkretry.oms.actions`); ``stands_for`` names the required column this one may
    take the place of (``task_id`` for ``group_id``: a task manifest); ``number`` a group column that holds an int
    (or '' when the service gave none); ``label`` is the msgid report.html shows for it (marked with ``N_``,
    translated where shown; ``None``: the name with ``_`` as a space, as it is).
    """

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    secret: bool = False
    masked: bool = False
    max_length: int | None = None
    body: bool = False
    number: bool = False
    label: str | None = None
    stands_for: str | None = None


#: The largest id (project or group) the API takes.
MAX_ID_LENGTH = 1024
#: The largest task id the API takes (the SDK's ``ids: list[int]``, a Long of at most 15 digits).
MAX_TASK_ID = 999_999_999_999_999
#: A KMS key id is 36 characters (the SDK's request models say so).
KMS_KEY_ID_LENGTH = 36
#: A temporary security token of a task start: no limit is documented; what a token header takes.
SECURITY_TOKEN_LENGTH = 16384


def _side_spellings(side: str, *things: str) -> tuple[str, ...]:
    """A key column's Chinese spellings: each of *things* after *side* (``源``) and after *side* + ``端``."""
    return tuple(f"{prefix}{thing}" for prefix in (f"{side}端", side) for thing in things)


#: The manifest's columns, in the contract's order (the retry body's text fields in the API's order among them).
MANIFEST: tuple[Column, ...] = (
    Column(
        "group_id",
        ("task_group_id", "groupId", "任务组ID", "迁移任务组ID"),
        required=True,
        max_length=MAX_ID_LENGTH,
        label=N_("group id"),
    ),
    Column("project_id", ("projectId", "项目ID"), max_length=MAX_ID_LENGTH, label=N_("project id")),
    Column("region", ("区域",)),
    # The key columns' Chinese spellings are the console's: Huawei Cloud calls an AK the 访问密钥 (ID) and its SK
    # the 私有访问密钥 (OMS's task pages) or 秘密访问密钥 (IAM's pages); so 访问密钥 alone is the AK, never the SK.
    # 源/源端 is the source side, 目的/目的端 the destination (the API page's 源端ak, 目的端sk).
    Column("src_ak", _side_spellings("源", "AK", "访问密钥", "访问密钥ID"), masked=True, max_length=100, body=True),
    Column(
        "src_sk", _side_spellings("源", "SK", "私有访问密钥", "秘密访问密钥"), secret=True, max_length=100, body=True
    ),
    Column("dst_ak", _side_spellings("目的", "AK", "访问密钥", "访问密钥ID"), masked=True, max_length=100, body=True),
    Column(
        "dst_sk", _side_spellings("目的", "SK", "私有访问密钥", "秘密访问密钥"), secret=True, max_length=100, body=True
    ),
    Column("json_auth_file", secret=True, max_length=65535, body=True),
    Column("source_cdn_authentication_key", secret=True, max_length=255, body=True),
    Column("connection_string", secret=True, max_length=2048, body=True),
    # The API page's 失败任务重试方式 asks whether only the failed objects are sent again (true) or all (false).
    Column("migrate_failed_object", ("migrateFailedObject", "是否迁移失败对象", "仅迁移失败对象")),
    Column(
        "task_id",
        ("taskId", "任务ID", "迁移任务ID"),
        max_length=len(str(MAX_TASK_ID)),
        label=N_("task id"),
        stands_for="group_id",
    ),
    Column("src_crypto_type", body=True),
    Column("src_kms_key_id", max_length=KMS_KEY_ID_LENGTH, body=True),
    Column("dst_crypto_type", body=True),
    Column("dst_kms_key_id", max_length=KMS_KEY_ID_LENGTH, body=True),
    Column("source_cdn_crypto_type", body=True),
    Column("source_cdn_kms_key_id", max_length=KMS_KEY_ID_LENGTH, body=True),
    Column("src_security_token", secret=True, max_length=SECURITY_TOKEN_LENGTH, body=True),
    Column("dst_security_token", secret=True, max_length=SECURITY_TOKEN_LENGTH, body=True),
    Column("priority"),
)

#: The access keys and their secret keys, as pairs a row gives whole or not at all (half a pair is an invalid row).
KEY_PAIRS: tuple[tuple[str, str], ...] = (("src_ak", "src_sk"), ("dst_ak", "dst_sk"))

#: The report's first columns, in this order (the contract); the manifest's other columns follow.
REPORT: tuple[Column, ...] = (
    Column("row", label=N_("row")),
    MANIFEST[1],
    MANIFEST[0],
    Column("outcome", label=N_("outcome")),
    Column("http_status", label=N_("http status")),
    Column("error_code", label=N_("error code")),
    Column("error_msg", label=N_("error msg")),
    Column("attempts", label=N_("attempts")),
    Column("request_id", label=N_("request id")),
    Column("latency_ms", label=N_("latency ms")),
    Column("started_at"),
    Column("finished_at", label=N_("finished at")),
)

#: With ``--check-status`` or ``--verify``: what the group's own GET answered (its error, task and object counts,
#: sizes in bytes, the failed-object list), after the status columns. Empty where no GET answered.
GROUP: tuple[Column, ...] = (
    Column("group_error_code", label=N_("group error code")),
    Column("group_error_msg", label=N_("group error message")),
    Column("group_total_task_num", number=True, label=N_("group tasks")),
    Column("group_failed_task_num", number=True, label=N_("group failed tasks")),
    Column("group_success_num", number=True, label=N_("group objects migrated")),
    Column("group_fail_num", number=True, label=N_("group objects failed")),
    Column("group_total_size", number=True, label=N_("group size (bytes)")),
    Column("group_complete_size", number=True, label=N_("group size migrated (bytes)")),
    Column("group_failed_object_list", label=N_("group failed-object list")),
)

#: The status columns ``--check-status`` and ``--verify`` add (``run/engine.py`` writes them): the status as the
#: API numbers it, and in words (stored in English, shown in the report's language).
STATUS: tuple[Column, ...] = (
    Column("status_before", label=N_("status before")),
    Column("status_before_meaning", label=N_("status before meaning")),
    Column("status_after", label=N_("status after")),
    Column("status_after_meaning", label=N_("status after meaning")),
)


def names(columns: Iterable[Column]) -> tuple[str, ...]:
    """The names of *columns*, in their order."""
    return tuple(column.name for column in columns)


#: The body fields a manifest column gives (an action sends those its ``body_fields`` name), in this order.
BODY_FIELDS: tuple[str, ...] = names(c for c in MANIFEST if c.body)
#: The body's text fields and their largest length, in the API's order.
BODY_LIMITS: Mapping[str, int] = MappingProxyType(
    {c.name: c.max_length for c in MANIFEST if c.body and c.max_length is not None}
)
#: Each labelled column's msgid, by name (report.html translates it where shown).
LABELS: Mapping[str, str] = MappingProxyType(
    {c.name: c.label for c in (*REPORT, *STATUS, *GROUP, *MANIFEST) if c.label is not None}
)
