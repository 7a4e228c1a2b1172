"""Migration tasks as OMS reports them, generated reproducibly from a seed.

Each task is a plain dict with the fields of the SDK's ``TaskResp`` model (``ShowTaskResponse`` is the same
shape): an integer ``id``, a ``status`` on the task scale (which differs from the group scale), counters
consistent with it, a ``task_priority``, and, for a task of a group, its ``group_id`` (``group_type``
``GROUP_TASK``; a standalone task has none and is a ``NORMAL_TASK``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from bulkretry.oms.status import TASK_STATUS_NAMES
from bulkretry.sim import seeded

__all__ = [
    "MAX_TASK_ID",
    "PRIORITIES",
    "TASK_FAILED",
    "TASK_PAUSING",
    "TASK_RUNNING",
    "TASK_STATUS_NAMES",
    "TASK_STOPPED",
    "TASK_SUCCEEDED",
    "TASK_WAITING",
    "clear_task_failure",
    "generate_tasks",
    "stop_moving",
]

TASK_WAITING, TASK_RUNNING, TASK_STOPPED, TASK_FAILED, TASK_SUCCEEDED, TASK_PAUSING = 1, 2, 3, 4, 5, 7
PRIORITIES = ("HIGH", "MEDIUM", "LOW")
#: The largest task id the API takes (a Long of at most 15 digits).
MAX_TASK_ID = 999_999_999_999_999

#: Statuses of the tasks that are not failed, in the order they are dealt out.
_OTHER_STATUSES = (TASK_WAITING, TASK_RUNNING, TASK_STOPPED, TASK_SUCCEEDED)
#: Mixed into the seed, so that adding tasks leaves the groups of a seed as they were.
_SALT = 0x7A5C


def _counters(rng: random.Random, status: int) -> dict[str, Any]:
    """Object and size counters that add up for a task in *status*, and its progress."""
    total_num = rng.randint(100, 500_000)
    total_size = total_num * rng.randint(4 * 1024, 64 * 1024 * 1024)
    skipped = rng.randint(0, total_num // 20) if status != TASK_WAITING else 0
    failed = rng.randint(1, max(1, (total_num - skipped) // 5)) if status == TASK_FAILED else 0
    if status == TASK_WAITING:
        done = 0
    elif status == TASK_SUCCEEDED:
        done = total_num - skipped
    else:
        done = rng.randint(0, total_num - skipped - failed)
    complete_size = total_size * (done + skipped) // total_num
    return {
        "total_num": total_num,
        "successful_num": done,
        "failed_num": failed,
        "skipped_num": skipped,
        "total_size": total_size,
        "complete_size": complete_size,
        "real_size": complete_size,
        "progress": round((done + skipped) / total_num, 3),
        "is_query_over": status != TASK_WAITING,
    }


def _task(rng: random.Random, task_id: int, status: int, group_id: str | None, project_id: str) -> dict[str, Any]:
    cloud, regions = rng.choice(seeded.CLOUDS)
    dst_region = rng.choice(seeded.DST_REGIONS)
    task: dict[str, Any] = {
        "id": task_id,
        "name": f"sim-task-{task_id}",
        "group_id": group_id,
        "group_type": "GROUP_TASK" if group_id is not None else "NORMAL_TASK",
        "status": status,
        "task_priority": rng.choice(PRIORITIES),
        "error_reason": None,
        "description": f"sim task {task_id} ({cloud} to OBS {dst_region})",
        "src_node": {
            "bucket": f"src-{cloud.lower()}-{task_id % 10_000:04d}",
            "cloud_type": cloud,
            "region": rng.choice(regions),
        },
        "dst_node": {"bucket": f"obs-{project_id[:8]}-{task_id % 10_000:04d}", "region": dst_region, "save_prefix": ""},
        "enable_metadata_migration": rng.random() < 0.5,
        "enable_failed_object_recording": rng.random() < 0.8,
        "enable_restore": False,
        "task_type": "object",
        "bandwidth_policy": [],
        "migrate_since": 0,
        "migrate_speed": rng.randint(1, 200) * 1024 * 1024 if status == TASK_RUNNING else 0,
        "left_time": rng.randint(60, 86400) * 1000 if status == TASK_RUNNING else 0,
        "start_time": seeded.EPOCH_MS + rng.randrange(seeded.YEAR_MS),
        "total_time": rng.randint(60, 86400) * 1000 if status != TASK_WAITING else 0,
        "object_overwrite_mode": rng.choice(seeded.OVERWRITE_MODES),
        "dst_storage_policy": rng.choice(seeded.STORAGE_POLICIES),
        "consistency_check": rng.choice(seeded.CONSISTENCY_CHECKS),
        "obs_system": "BUCKET",
        "enable_requester_pays": False,
        "success_record_error_reason": "",
        "skip_record_error_reason": "",
    }
    task.update(_counters(rng, status))
    failures = task["failed_num"], task["enable_failed_object_recording"]
    task.update(seeded.failure_fields(rng, status == TASK_FAILED, *failures, task_id))
    return task


def _unique_ids(rng: random.Random, count: int) -> list[int]:
    """*count* distinct 15-digit task ids, in the order drawn."""
    seen: dict[int, None] = {}
    while len(seen) < count:
        seen[rng.randrange(10**14, MAX_TASK_ID + 1)] = None
    return list(seen)


def generate_tasks(
    seed: int, count: int, failed_ratio: float, project_id: str, group_ids: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """*count* migration tasks, the same for the same arguments; exactly ``round(count*failed_ratio)`` are failed
    (status 4), the others are dealt over waiting, running, stopped and succeeded. About half of them belong to
    one of *group_ids* (none when it is empty); the others stand alone."""
    rng = random.Random(seed ^ _SALT)
    statuses = seeded.deal_statuses(rng, count, failed_ratio, TASK_FAILED, _OTHER_STATUSES)
    tasks = []
    for task_id, status in zip(_unique_ids(rng, count), statuses):
        group_id = rng.choice(group_ids) if group_ids and rng.random() < 0.5 else None
        tasks.append(_task(rng, task_id, status, group_id, project_id))
    return tasks


def clear_task_failure(task: dict[str, Any]) -> None:
    """Clear a started task's error; its failed objects are tried again."""
    task["error_reason"] = None
    if "failed_num" in task:
        task["failed_num"] = 0


def stop_moving(task: dict[str, Any]) -> None:
    """A stopped task moves no data and has no time left to guess."""
    if "migrate_speed" in task:
        task.update(migrate_speed=0, left_time=0)
