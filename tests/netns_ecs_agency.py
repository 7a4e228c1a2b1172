"""Scenario for tests/test_metadata.py, run inside a loopback-only network namespace with 169.254.169.254 on lo:
"an ECS with only an agency". A fake metadata service on 169.254.169.254:80 hands out the simulator's
temporary keys (3 s lifetime, so the run must refresh them); the simulator checks every signature and security
token. Prints one JSON line for the test: the SDK's and bulkretry's key from the same service, and what the run
did. Usage: python netns_ecs_agency.py WORKDIR
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from huaweicloudsdkcore.auth.provider import MetadataCredentialProvider

from bulkretry.cli import main
from bulkretry.oms.metadata import fetch_key_now
from bulkretry.sim import SimConfig, Simulator, running_simulator
from bulkretry.sim.state import SimState
from tests.netns import METADATA_ADDRESS
from tests.servers import FakeMetadata, serve_metadata


class Background:
    """An event loop in a thread, serving the simulator and the metadata service while the CLI runs here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)


#: A dead proxy for plain HTTP, which the metadata service (plain HTTP, not loopback) must not go through.
DEAD_PROXY = {
    "HTTP_PROXY": "http://127.0.0.1:1",
    "http_proxy": "http://127.0.0.1:1",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


def run_with_agency(manifest: Path, endpoint: str, project_id: str, out_dir: Path) -> tuple[int, str]:
    """`bulkretry run` at 10 calls a second on 8 workers: (exit status, the last 2,000 characters of stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "run",
            str(manifest),
            "--endpoint",
            endpoint,
            "--project-id",
            project_id,
            "--rate",
            "10",
            "--concurrency",
            "8",
            "--out",
            str(out_dir),
            "--quiet",
        ],
        out=out,
        err=err,
    )
    return code, err.getvalue()[-2000:]


def what_the_run_did(run: Path, sim: Simulator, fake: FakeMetadata) -> dict[str, Any]:
    """The run's outcomes and credentials source, its retry calls (how many with a security token the signature
    covers), the metadata service's peak of concurrent GETs, and whether any key it gave reached a file."""
    summary = json.loads((run / "summary.json").read_text()) if run.exists() else {}
    calls = [r for r in sim.received if r.method == "PUT"]
    secrets = [s for k in fake.keys for s in (k.sk, k.security_token)]  # type: ignore[attr-defined]
    files = [p for p in run.rglob("*") if p.is_file()] if run.exists() else []
    return {
        "by_outcome": summary.get("by_outcome"),
        "credentials_source": summary.get("credentials_source"),
        "calls": len(calls),
        "with_security_token": sum(
            1
            for r in calls
            if r.headers.get("X-Security-Token") and "x-security-token" in r.headers.get("Authorization", "")
        ),
        "peak_gets": fake.peak_gets,
        "secret_in_files": any(s.encode() in p.read_bytes() for p in files for s in secrets),
    }


def scenario(work: Path) -> dict[str, Any]:
    config = SimConfig(groups=60, failed_ratio=1.0)
    state = SimState.from_config(config)
    fake = FakeMetadata(state, ttl_s=3.0, delay_s=0.1, fixed=True)
    bg = Background()
    stack = contextlib.AsyncExitStack()
    sim = bg.run(stack.enter_async_context(running_simulator(config, state=state)))
    bg.run(stack.enter_async_context(serve_metadata(fake, METADATA_ADDRESS, 80)))
    try:
        # The oracle: the SDK's own provider and ours, against the same service handing out the same key.
        sdk = MetadataCredentialProvider.get_basic().get_credentials()
        ours = fetch_key_now()
        fake.fixed = False  # from now on, a new key for every GET
        manifest = work / "m.csv"
        manifest.write_text("group_id\n" + "".join(f"{g}\n" for g in state.ids()[:40]))
        os.environ.update(DEAD_PROXY)  # no credentials anywhere but the agency
        gets_before = fake.gets
        code, err = run_with_agency(manifest, sim.url, config.project_id, work / "run")
    finally:
        bg.run(stack.aclose())
    return {
        "sdk_key": [sdk.ak, sdk.sk, sdk.security_token],
        "our_key": [ours.ak, ours.sk, ours.security_token],
        "exit": code,
        "err": err,
        "refreshes": fake.gets - gets_before - 1,
        **what_the_run_did(work / "run", sim, fake),
    }


if __name__ == "__main__":
    print(json.dumps(scenario(Path(sys.argv[1]))))
