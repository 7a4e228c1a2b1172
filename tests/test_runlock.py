"""The run-folder lock: one holder at a time, released when its process dies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bulkretry.errors import ConfigError
from bulkretry.run.runlock import RunLock


def test_a_held_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    """Two holders of one folder: the second gets ConfigError naming the first's pid."""
    with RunLock(tmp_path), pytest.raises(ConfigError, match=r"in use by another bulkretry run \(pid \d+\)"):
        RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released: free again
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """The lock dies with its process (kill -9 included): the folder can be locked again at once."""
    code = (
        "import sys, os, signal; from pathlib import Path; from bulkretry.run.runlock import RunLock; "
        "RunLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == "locked" and proc.returncode == -9
    with RunLock(tmp_path):
        pass
