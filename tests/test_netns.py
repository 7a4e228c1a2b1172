"""The loopback-only namespace the network tests rely on: only ``lo``, with the extra addresses asked for."""

from __future__ import annotations

from pathlib import Path

from tests.netns import METADATA_ADDRESS, require_netns, run_isolated

SCRIPT = """
import json, socket, sys
names = [name for _, name in socket.if_nameindex()]
server = socket.socket()
server.bind((sys.argv[1], 0))
server.listen()
client = socket.create_connection(server.getsockname(), timeout=5)
print(json.dumps({"interfaces": names, "connected": client.getpeername()[0]}))
"""


def test_the_namespace_has_only_loopback_and_the_added_address(tmp_path: Path) -> None:
    require_netns()
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    done = run_isolated(script, METADATA_ADDRESS, addresses=[METADATA_ADDRESS])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"interfaces": ["lo"], "connected": "169.254.169.254"}'


def test_an_address_not_added_cannot_be_bound(tmp_path: Path) -> None:
    require_netns()
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    done = run_isolated(script, METADATA_ADDRESS)
    assert done.returncode != 0
    assert "Cannot assign requested address" in done.stderr
