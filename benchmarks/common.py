"""What every benchmark section shares: a measured figure with its target, and small process helpers.

Machines here are shared and noisy: sections report ratios and medians of repeated runs, measured
side by side in one invocation, never a lone absolute time as the verdict.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Figure:
    """One printed figure: ``name: value unit (target ...) ok|MISSED  detail``."""

    name: str
    value: float
    unit: str
    target: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        verdict = "ok" if self.ok else "MISSED"
        return f"{self.name:<46} {self.value:>10.3g} {self.unit:<10} {self.target:<22} {verdict:<6} {self.detail}"


def bulkretry_argv(manifest: Path, url: str, project_id: str, *extra: str) -> list[str]:
    """The argv of ``python -m bulkretry run MANIFEST`` against *url* for *project_id*, with *extra* options."""
    return [PYTHON, "-m", "bulkretry", "run", str(manifest), "--endpoint", url, "--project-id", project_id, *extra]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def run_with_rusage(
    argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 1800
) -> tuple[int, float, float, int, str]:
    """Run *argv*; return (exit status, CPU seconds (user+sys) of that process, wall seconds, peak RSS kB, output)."""
    start = time.perf_counter()
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}-{time.monotonic_ns()}.out"
    with open(out_path, "w+") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(" ".join(argv))
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    out_path.unlink(missing_ok=True)
    return proc.returncode, usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss, text
