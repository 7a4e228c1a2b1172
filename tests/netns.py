"""Running a test scenario inside a loopback-only network namespace.

Tests that use real host names (``oms.cn-north-4.myhuaweicloud.com``, ``oapi.dingtalk.com``) or the ECS metadata
address (``169.254.169.254``) run their scenario in a child process started by ``unshare -n``: a fresh network
namespace whose only interface is ``lo``. Nothing in it can reach outside the machine, whatever the code under
test tries. Extra addresses (the metadata address, say) are added to ``lo`` before the scenario starts.

CI runs as root, where ``unshare -n`` works. Elsewhere the tests that need it are skipped with that reason, and
under ``CI=true`` they fail instead, so that CI cannot pass without running them.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

#: The ECS metadata service's address, which a scenario can put on ``lo``.
METADATA_ADDRESS = "169.254.169.254"


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why a loopback-only namespace cannot be made here, or None when it can."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        ["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"unshare -n is not permitted here: {probe.stderr.strip() or probe.returncode}"
    return None


def require_netns() -> None:
    """Skip the calling test when no namespace can be made, or fail it under CI."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"a loopback-only network namespace is needed: {reason}")
    pytest.skip(f"a loopback-only network namespace is needed: {reason}")


def run_isolated(
    script: Path | str,
    *args: str,
    addresses: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the Python file *script* with *args* in a new loopback-only network namespace.

    *addresses* are added to ``lo`` first (``169.254.169.254``, as ``/32``). *env* replaces the environment
    (default: this process's). The child inherits this interpreter and ``sys.path`` (through ``PYTHONPATH``), so
    it imports ``bulkretry`` and ``tests`` as the test does. Returns the finished process; stdout and stderr are
    text. Call :func:`require_netns` first.
    """
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [environ.get("PYTHONPATH", "")])
    setup = ["ip link set lo up"]
    setup += [f"ip addr add {shlex.quote(a if '/' in a else a + '/32')} dev lo" for a in addresses]
    command = " && ".join([*setup, shlex.join(["exec", sys.executable, str(script), *args])])
    return subprocess.run(
        ["unshare", "-n", "sh", "-c", command],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
