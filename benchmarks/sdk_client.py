"""The official SDK called the way users call it: a loop, or a thread pool, one retry per manifest row.

    python benchmarks/sdk_client.py MANIFEST.csv --endpoint URL --project-id P --mode loop|pool [--threads 16]

Signs with AK/SK (``HUAWEICLOUD_SDK_AK``/``HUAWEICLOUD_SDK_SK``) as the SDK always does with BasicCredentials.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from concurrent.futures import ThreadPoolExecutor

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkoms.v2 import OmsClient, RetryTaskGroupReq, RetryTaskGroupRequest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--mode", choices=("loop", "pool"), default="loop")
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    config = HttpConfig.get_default_config()
    config.timeout = (10, 30)
    credentials = BasicCredentials(os.environ["HUAWEICLOUD_SDK_AK"], os.environ["HUAWEICLOUD_SDK_SK"], args.project_id)
    client = (
        OmsClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoints([args.endpoint])
        .build()
    )
    with open(args.manifest, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))

    def retry(row: dict[str, str]) -> int:
        body = RetryTaskGroupReq(
            src_ak=row.get("src_ak") or None,
            src_sk=row.get("src_sk") or None,
            dst_ak=row.get("dst_ak") or None,
            dst_sk=row.get("dst_sk") or None,
            migrate_failed_object=False,
        )
        status: int = client.retry_task_group(RetryTaskGroupRequest(group_id=row["group_id"], body=body)).status_code
        return status

    if args.mode == "loop":
        statuses = [retry(row) for row in rows]
    else:
        with ThreadPoolExecutor(args.threads) as pool:
            statuses = list(pool.map(retry, rows))
    print(json.dumps({"calls": len(statuses), "ok": sum(s == 200 for s in statuses)}))


if __name__ == "__main__":
    main()
