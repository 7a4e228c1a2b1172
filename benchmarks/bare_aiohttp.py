"""The baseline: the least a Python program can do to send the same retry calls with aiohttp.

Reads the manifest with the csv module, and for each row sends ``PUT /v2/{project}/taskgroups/{id}/retry``
with that row's JSON body and an ``X-Auth-Token`` header, at most N in flight, and counts the answers.
No rate limit, no retries, no validation, no journal, no report.

    python benchmarks/bare_aiohttp.py MANIFEST.csv --endpoint http://127.0.0.1:8099 --project-id P --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json

import aiohttp

BODY_COLUMNS = ("src_ak", "src_sk", "dst_ak", "dst_sk")


async def run(path: str, endpoint: str, project_id: str, token: str, concurrency: int) -> tuple[int, int]:
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    calls = ok = 0
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

            async def worker() -> None:
                nonlocal calls, ok
                for row in rows:  # one shared reader: each row goes to one worker
                    body = {k: row[k] for k in BODY_COLUMNS if row.get(k)}
                    body["migrate_failed_object"] = False
                    url = f"{endpoint}/v2/{project_id}/taskgroups/{row['group_id']}/retry"
                    async with session.put(url, data=json.dumps(body).encode(), headers=headers) as resp:
                        await resp.read()
                        calls += 1
                        ok += resp.status == 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    calls, ok = asyncio.run(run(args.manifest, args.endpoint, args.project_id, args.token, args.concurrency))
    print(json.dumps({"calls": calls, "ok": ok}))


if __name__ == "__main__":
    main()
