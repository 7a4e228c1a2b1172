"""Scenarios run inside a loopback-only network namespace (``python tests/netscenarios.py NAME FOLDER``).

Each starts a test CA, TLS servers and a proxy (:mod:`tests.tlsnet`) that stand in for real hosts, runs
``bulkretry`` in this process, and prints one JSON document for the test to check. See
``tests/test_network.py`` and ``tests/test_notify_net.py``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a file: the repository root first, so `tests` and `bulkretry` import
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import CREDENTIAL_ENV, run_cli
from tests.tlsnet import BackgroundLoop, Proxy, TestCA, TlsFront

OMS_HOST = "oms.cn-north-4.myhuaweicloud.com"
NETWORK_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
               "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "ALL_PROXY", "all_proxy")


def clean_environment(config: SimConfig) -> None:
    """No proxy, CA or credential from the caller; the simulator's AK/SK and project."""
    for name in (*NETWORK_ENV, *CREDENTIAL_ENV):
        os.environ.pop(name, None)
    os.environ["HUAWEICLOUD_SDK_AK"] = config.ak
    os.environ["HUAWEICLOUD_SDK_SK"] = config.sk


def failed_groups(sim: SimulatorThread) -> list[str]:
    return [g["group_id"] for g in sim.simulator.state.list(status=5, offset=0, limit=1000)[1]]


def oms_behind_proxy(folder: Path) -> dict[str, Any]:
    """`bulkretry run` against OMS at its real host name, through a CONNECT proxy, with a private CA."""
    config = SimConfig(groups=40, failed_ratio=1.0)
    clean_environment(config)
    ca = TestCA(folder / "ca")
    results: dict[str, Any] = {}
    with SimulatorThread(config) as sim, BackgroundLoop() as loop:
        sim_port = int(sim.url.rsplit(":", 1)[1])
        front = loop.run(TlsFront(ca.server_context([OMS_HOST, "127.0.0.1"]), ("127.0.0.1", sim_port)).start())
        proxy = loop.run(Proxy(routes={OMS_HOST: ("127.0.0.1", front.port),
                                       f"{OMS_HOST}:80": ("127.0.0.1", sim_port)}).start())
        groups = iter(failed_groups(sim))

        def run(case: str, *options: str, env: dict[str, str], endpoint: str | None = None) -> None:
            manifest = folder / f"{case}.csv"
            manifest.write_text("group_id\n" + "".join(f"{next(groups)}\n" for _ in range(3)))
            before = (len(proxy.connects), len(proxy.forwarded))
            saved = dict(os.environ)
            os.environ.update(env)
            try:
                where = ["--endpoint", endpoint] if endpoint else ["--region", "cn-north-4"]
                code, out, err = run_cli("run", str(manifest), *where, "--project-id", config.project_id,
                                         "--out", str(folder / case), "--quiet", "--json-summary",
                                         "--max-attempts", "1", "--rate", "100", *options)
            finally:
                os.environ.clear()
                os.environ.update(saved)
            summary = json.loads(out) if out.strip().startswith("{") else {}
            files = "".join(p.read_text(errors="replace") for p in (folder / case).glob("*") if p.is_file()
                            and p.suffix in (".json", ".csv", ".html")) if (folder / case).is_dir() else ""
            results[case] = {"exit": code, "stderr": err, "by_outcome": summary.get("by_outcome"),
                             "by_error_code": summary.get("by_error_code"), "network": summary.get("network"),
                             "connects": proxy.connects[before[0]:], "forwarded": proxy.forwarded[before[1]:],
                             "files_mention_password": "proxy-pass" in files + err + out}

        ca_file = str(ca.cert)
        run("ca_bundle", "--ca-bundle", ca_file, env={"HTTPS_PROXY": proxy.url})
        run("ssl_cert_file", env={"HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": ca_file})
        run("requests_ca_bundle", env={"HTTPS_PROXY": proxy.url, "REQUESTS_CA_BUNDLE": ca_file,
                                       "SSL_CERT_FILE": str(folder / "missing.pem")})
        run("no_ca", env={"HTTPS_PROXY": proxy.url})
        run("proxy_credentials", "--ca-bundle", ca_file,
            env={"https_proxy": f"http://proxy-user:proxy-pass@127.0.0.1:{proxy.port}"})
        run("no_proxy", "--ca-bundle", ca_file, env={"HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"},
            endpoint=f"https://127.0.0.1:{front.port}")
        run("plain_http", env={"HTTP_PROXY": proxy.url, "HTTPS_PROXY": "http://127.0.0.1:9"},
            endpoint=f"http://{OMS_HOST}:80")
        results["authorizations"] = proxy.authorizations
    return results


SCENARIOS = {"oms_behind_proxy": oms_behind_proxy}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](Path(sys.argv[2]))))
