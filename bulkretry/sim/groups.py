"""Task groups as OMS reports them, generated reproducibly from a seed.

Each group is a plain dict with the fields of the SDK's ``TaskGroupResp`` model, counters consistent
with its status, and, for failed groups, an ``error_reason`` taken from the service's TRF table and (when
failed-object recording is on) the ``failed_object_record`` naming the list of the objects that failed.
"""

from __future__ import annotations

import random
from typing import Any

from bulkretry.oms.status import FAILED, FINISHED, RUNNING, STATUS_NAMES
from bulkretry.sim.seeded import (
    CLOUDS,
    CONSISTENCY_CHECKS,
    DST_REGIONS,
    EPOCH_MS,
    OVERWRITE_MODES,
    STORAGE_POLICIES,
    YEAR_MS,
    deal_statuses,
    failure_fields,
    give_reasons_that_need_a_fix,
    random_uuid,
)

__all__ = [
    "FAILED",
    "FINISHED",
    "RUNNING",
    "STATUS_NAMES",
    "clear_failure",
    "generate_groups",
    "pause_counters",
    "resume_counters",
    "settle_counters",
]

#: Statuses of the groups that are not failed, in the order they are dealt out.
_OTHER_STATUSES = (0, 1, 2, 3, 6)


def _counters(rng: random.Random, status: int) -> dict[str, int]:
    """Object, size and task counters that add up for a group in *status*."""
    total_num = rng.randint(1_000, 2_000_000)
    total_size = total_num * rng.randint(4 * 1024, 64 * 1024 * 1024)
    tasks = rng.randint(1, 20)
    skip = rng.randint(0, total_num // 20)
    if status == 0:
        done, fail, skip, listed = 0, 0, 0, 0
    elif status == FINISHED:
        done, fail, listed = total_num - skip, 0, total_num
    elif status == FAILED:
        fail = rng.randint(1, max(1, (total_num - skip) // 5))
        done = rng.randint(0, total_num - skip - fail)
        listed = total_num
    else:
        done = rng.randint(0, total_num - skip)
        fail, listed = 0, rng.randint(done + skip, total_num)
    failed_tasks = rng.randint(1, tasks) if status == FAILED else 0
    complete_tasks = tasks if status == FINISHED else (tasks - failed_tasks if status == FAILED else 0)
    open_tasks = tasks - failed_tasks - complete_tasks
    return {
        "total_task_num": tasks,
        "create_task_num": tasks,
        "failed_task_num": failed_tasks,
        "complete_task_num": complete_tasks,
        "paused_task_num": open_tasks if status == 3 else 0,
        "executing_task_num": open_tasks if status in (1, 2) else 0,
        "waiting_task_num": open_tasks if status == 0 else 0,
        "total_num": total_num,
        "create_complete_num": listed,
        "success_num": done,
        "fail_num": fail,
        "skip_num": skip,
        "total_size": total_size,
        "create_complete_size": total_size * listed // total_num,
        "complete_size": total_size * (done + skip) // total_num,
    }


def settle_counters(group: dict[str, Any]) -> None:
    """Set *group*'s counters to those of a finished migration (every object done or skipped)."""
    group.update(
        success_num=group["total_num"] - group["skip_num"],
        fail_num=0,
        create_complete_num=group["total_num"],
        create_complete_size=group["total_size"],
        complete_size=group["total_size"],
        complete_task_num=group["total_task_num"],
        failed_task_num=0,
        executing_task_num=0,
        paused_task_num=0,
        waiting_task_num=0,
    )


def _group(rng: random.Random, index: int, status: int, project_id: str) -> dict[str, Any]:
    cloud, regions = rng.choice(CLOUDS)
    dst_region = rng.choice(DST_REGIONS)
    start = EPOCH_MS + rng.randrange(YEAR_MS)
    group: dict[str, Any] = {
        "group_id": random_uuid(rng),
        "status": status,
        "error_reason": None,
        "src_node": {"bucket": f"src-{cloud.lower()}-{index:04d}", "cloud_type": cloud, "region": rng.choice(regions)},
        "description": f"sim group {index} ({cloud} to OBS {dst_region})",
        "dst_node": {
            "bucket": f"obs-{project_id[:8]}-{index:04d}",
            "region": dst_region,
            "save_prefix": f"migrated/{index:04d}/" if rng.random() < 0.5 else "",
        },
        "enable_metadata_migration": rng.random() < 0.5,
        "enable_failed_object_recording": rng.random() < 0.8,
        "enable_restore": rng.random() < 0.2,
        "task_type": "object",
        "bandwidth_policy": [],
        "migrate_since": 0,
        "migrate_speed": rng.randint(0, 200) * 1024 * 1024 if status in (1, 2) else 0,
        "start_time": start,
        "total_time": rng.randint(60, 86400) * 1000 if status != 0 else 0,
        "object_overwrite_mode": rng.choice(OVERWRITE_MODES),
        "dst_storage_policy": rng.choice(STORAGE_POLICIES),
        "consistency_check": rng.choice(CONSISTENCY_CHECKS),
        "obs_system": "BUCKET",
        "enable_requester_pays": False,
    }
    group.update(_counters(rng, status))
    failures = group["fail_num"], group["enable_failed_object_recording"]
    group.update(failure_fields(rng, status == FAILED, *failures, group["group_id"]))
    return group


def generate_groups(
    seed: int, count: int, failed_ratio: float, project_id: str, needs_fix_ratio: float = 0.0
) -> list[dict[str, Any]]:
    """*count* task groups, the same for the same arguments; exactly ``round(count*failed_ratio)`` are
    failed (status 5), the others are dealt over waiting, executing, monitoring, paused and finished. A failed
    group's ``error_reason`` is one a retry fixes, but for *needs_fix_ratio* of them (one it does not)."""
    rng = random.Random(seed)
    statuses = deal_statuses(rng, count, failed_ratio, FAILED, _OTHER_STATUSES)
    groups = [_group(rng, index, status, project_id) for index, status in enumerate(statuses)]
    give_reasons_that_need_a_fix(groups, seed, needs_fix_ratio)
    return groups


def clear_failure(group: dict[str, Any]) -> None:
    """Clear a retried group's error and failure counters; its failed tasks run again."""
    group["error_reason"] = None
    if "fail_num" in group:
        group["executing_task_num"] = group.get("executing_task_num", 0) + group["failed_task_num"]
        group.update(fail_num=0, failed_task_num=0)


def pause_counters(group: dict[str, Any]) -> None:
    """Move a paused group's open tasks (executing or waiting) to the paused count; nothing moves any more."""
    if "executing_task_num" in group:
        paused = group["paused_task_num"] + group["executing_task_num"] + group["waiting_task_num"]
        group.update(paused_task_num=paused, executing_task_num=0, waiting_task_num=0)
    if "migrate_speed" in group:
        group["migrate_speed"] = 0


def resume_counters(group: dict[str, Any]) -> None:
    """Move a started group's paused tasks to the executing count."""
    if "paused_task_num" in group:
        executing = group["executing_task_num"] + group["paused_task_num"]
        group.update(executing_task_num=executing, paused_task_num=0)
