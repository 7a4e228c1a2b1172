"""What generated task groups and tasks share: clouds and regions, failure reasons, option values, start times."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from typing import Any

__all__ = [
    "CLOUDS",
    "CONSISTENCY_CHECKS",
    "DST_REGIONS",
    "EPOCH_MS",
    "NEEDS_FIX_REASONS",
    "OVERWRITE_MODES",
    "REASONS",
    "RETRY_REASONS",
    "STORAGE_POLICIES",
    "YEAR_MS",
    "deal_statuses",
    "failure_fields",
    "give_reasons_that_need_a_fix",
    "random_uuid",
]

REASONS = (
    ("TRF.0001", "Internal system error. Retry the migration task group."),
    ("TRF.0003", "The task timed out while waiting to be executed."),
    ("TRF.0051", "The destination AK/SK does not have permission to access the bucket."),
    ("TRF.0055", "The destination bucket does not have enough space."),
    ("TRF.0057", "The destination AK/SK is invalid."),
    ("TRF.0058", "The destination bucket does not exist."),
    ("TRF.0063", "The account balance is insufficient."),
    ("TRF.0151", "The source AK/SK is invalid."),
    ("TRF.0152", "The source AK/SK does not have permission to list objects."),
)
#: The reasons a plain retry fixes, and those it does not until something else changes (space, balance, keys,
#: permissions, the bucket): the simulator's own reading of the TRF table.
RETRY_REASONS = REASONS[:2]
NEEDS_FIX_REASONS = REASONS[2:]
CLOUDS = (
    ("Aliyun", ("oss-cn-hangzhou", "oss-cn-beijing", "oss-cn-shanghai")),
    ("AWS", ("us-east-1", "eu-west-1", "ap-southeast-1")),
    ("Tencent", ("ap-guangzhou", "ap-shanghai", "ap-beijing")),
    ("Qiniu", ("z0", "z1", "z2")),
    ("HuaweiCloud", ("cn-north-4", "cn-east-3", "cn-south-1")),
)
DST_REGIONS = ("cn-north-4", "cn-east-3", "cn-south-1", "ap-southeast-1")
OVERWRITE_MODES = (
    "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE",
    "NO_OVERWRITE",
    "CRC64_COMPARISON_OVERWRITE",
    "FULL_OVERWRITE",
)
STORAGE_POLICIES = ("STANDARD", "IA", "ARCHIVE", "SRC_STORAGE_MAPPING")
CONSISTENCY_CHECKS = ("size_last_modified", "crc64")
#: 2024-01-01T00:00:00Z in ms; start times fall in the year after it.
EPOCH_MS = 1_704_067_200_000
YEAR_MS = 365 * 24 * 3600 * 1000


def give_reasons_that_need_a_fix(records: Sequence[dict[str, Any]], seed: int, ratio: float) -> None:
    """Give ``round(failed * ratio)`` of the failed *records* (those with an ``error_reason``) a reason no retry
    fixes, drawn from their own generator so that the records are otherwise the same for the same seed."""
    failed = [record for record in records if record.get("error_reason")]
    rng = random.Random(f"needs-fix {seed}")
    for record in rng.sample(failed, round(len(failed) * ratio)):
        code, msg = rng.choice(NEEDS_FIX_REASONS)
        record["error_reason"] = {"error_code": code, "error_msg": msg}


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from *rng* (the same for the same seed)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def deal_statuses(rng: random.Random, count: int, failed_ratio: float, failed: int, others: Sequence[int]) -> list[int]:
    """The statuses of *count* generated records: exactly ``round(count*failed_ratio)`` of them, drawn from *rng*,
    are *failed*; the others are dealt over *others* in turn."""
    if count < 0 or not 0.0 <= failed_ratio <= 1.0:
        raise ValueError("a generated set needs count >= 0 and failed_ratio in 0..1")
    failed_at = set(rng.sample(range(count), round(count * failed_ratio)))
    statuses = []
    dealt = 0
    for index in range(count):
        if index in failed_at:
            statuses.append(failed)
        else:
            statuses.append(others[dealt % len(others)])
            dealt += 1
    return statuses


def failure_fields(
    rng: random.Random, failed: bool, failed_objects: int, recording: bool, owner_id: object
) -> dict[str, Any]:
    """The ``error_reason`` of a generated record (a reason a retry fixes, drawn from *rng*, when *failed*)
    and its ``failed_object_record``: where OMS wrote the list of its *failed_objects* when *recording* is on."""
    reason = None
    if failed:
        drawn = rng.randrange(len(REASONS))  # drawn from the whole table, so a seed gives the same records
        code, msg = RETRY_REASONS[drawn % len(RETRY_REASONS)]
        reason = {"error_code": code, "error_msg": msg}
    recorded = failed_objects > 0 and recording
    record = {
        "result": recorded,
        "error_code": "",
        "list_file_key": f"oms/failed_object_lists/{owner_id}/failed_objects.txt" if recorded else "",
    }
    return {"error_reason": reason, "failed_object_record": record}
