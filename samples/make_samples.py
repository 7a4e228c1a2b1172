"""Regenerate the sample manifests from the simulator's default seed: `python samples/make_samples.py`.

They are written to `bulkretry/samples/`, package data, so that a wheel carries them and `bulkretry demo` runs
from an installed package in any folder.

The samples name real groups of `bulkretry sim` with its defaults, so `bulkretry demo` shows every
kind of outcome: failed groups that restart, groups that are not failed (400), an unknown group (404),
a duplicate row and a row that breaks the API's limits. `tests/test_samples.py` checks they still match.
The credentials in them are fake; the SK columns use `env:` references, as a shared manifest should.
"""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook

from bulkretry.sim import SimConfig, generate_groups

OUT = Path(__file__).resolve().parent.parent / "bulkretry" / "samples"
UNKNOWN_GROUP = "00000000-0000-4000-8000-00000000dead"


def sample_rows() -> list[dict[str, str]]:
    config = SimConfig()
    groups = generate_groups(config.seed, config.groups, config.failed_ratio, config.project_id)
    failed = [g for g in groups if g["status"] == 5]
    finished = next(g for g in groups if g["status"] == 6)
    running = next(g for g in groups if g["status"] == 1)
    owners = ["王伟", "李娜", "ops-team", "张敏"]
    rows = []
    for i, group in enumerate(failed[:8]):
        rows.append(
            {
                "group_id": group["group_id"],
                "src_ak": f"SRCAKEXAMPLE{i:04d}",
                "src_sk": "env:DEMO_SRC_SK",
                "dst_ak": f"DSTAKEXAMPLE{i:04d}",
                "dst_sk": "env:DEMO_DST_SK",
                "migrate_failed_object": "true" if i % 2 else "false",
                "owner": owners[i % len(owners)],
                "note": group["error_reason"]["error_code"],
            }
        )
    rows.append({**rows[0], "note": "duplicate of the first row"})
    rows.append({**rows[1], "group_id": finished["group_id"], "note": "already finished"})
    rows.append({**rows[2], "group_id": running["group_id"], "note": "still executing"})
    rows.append({**rows[3], "group_id": UNKNOWN_GROUP, "note": "no such group"})
    rows.append({**rows[4], "group_id": failed[8]["group_id"], "src_ak": "A" * 101, "note": "src_ak too long"})
    return rows


#: The Excel sample uses the Chinese headers from the contract's aliases.
CHINESE_HEADERS = {
    "group_id": "任务组ID",
    "src_ak": "源端AK",
    "src_sk": "源端SK",
    "dst_ak": "目的端AK",
    "dst_sk": "目的端SK",
    "migrate_failed_object": "migrate_failed_object",
    "owner": "负责人",
    "note": "备注",
}


def main() -> None:
    rows = sample_rows()
    with open(OUT / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    book = Workbook()
    sheet = book.active
    sheet.title = "迁移任务组"
    sheet.append([CHINESE_HEADERS[k] for k in rows[0]])
    yes_no = {"true": "是", "false": "否"}
    for row in rows:
        sheet.append([yes_no.get(v, v) if k == "migrate_failed_object" else v for k, v in row.items()])
    for cell in sheet[1]:
        cell.number_format = "@"
    book.save(OUT / "manifest.xlsx")


if __name__ == "__main__":
    main()
