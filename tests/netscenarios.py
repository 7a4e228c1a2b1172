"""Scenarios run inside a loopback-only network namespace (``python tests/netscenarios.py NAME FOLDER``).

Each starts a test CA, TLS servers and a proxy (:mod:`tests.tlsnet`) that stand in for real hosts, runs
``bulkretry`` in this process, and prints one JSON document for the test to check. See
``tests/test_network.py`` and ``tests/test_notify_net.py``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a file: the repository root first, so `tests` and `bulkretry` import
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import CREDENTIAL_ENV, run_cli
from tests.tlsnet import Answer, BackgroundLoop, Proxy, RecordingTlsServer, TestCA, TlsFront

OMS_HOST = "oms.cn-north-4.myhuaweicloud.com"
NETWORK_ENV = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "ALL_PROXY",
    "all_proxy",
)


def clean_environment(config: SimConfig) -> None:
    """No proxy, CA or credential from the caller; the simulator's AK/SK and project."""
    for name in (*NETWORK_ENV, *CREDENTIAL_ENV):
        os.environ.pop(name, None)
    os.environ["HUAWEICLOUD_SDK_AK"] = config.ak
    os.environ["HUAWEICLOUD_SDK_SK"] = config.sk


def failed_groups(sim: SimulatorThread) -> list[str]:
    return [g["group_id"] for g in sim.simulator.state.list(status=5, offset=0, limit=1000)[1]]


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with *env* added, and as it was afterwards."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def written_text(run: Path) -> str:
    """Every report a run wrote (json, csv, html) as one text; empty when it wrote no folder."""
    if not run.is_dir():
        return ""
    return "".join(
        p.read_text(errors="replace") for p in run.glob("*") if p.is_file() and p.suffix in (".json", ".csv", ".html")
    )


class ProxiedRuns:
    """Runs of three failed groups each, one folder a case, with what each did and what *proxy* saw in ``results``."""

    def __init__(self, folder: Path, config: SimConfig, sim: SimulatorThread, proxy: Proxy) -> None:
        self.folder, self.config, self.proxy = folder, config, proxy
        self.groups = iter(failed_groups(sim))
        self.results: dict[str, Any] = {}

    def run(self, case: str, *options: str, env: dict[str, str], endpoint: str | None = None) -> None:
        """Run *case* with *options* and *env* added, at *endpoint* or else the region cn-north-4."""
        manifest = self.folder / f"{case}.csv"
        manifest.write_text("group_id\n" + "".join(f"{next(self.groups)}\n" for _ in range(3)))
        before = (len(self.proxy.connects), len(self.proxy.forwarded))
        where = ["--endpoint", endpoint] if endpoint else ["--region", "cn-north-4"]
        with environment(env):
            code, out, err = run_cli(
                "run",
                str(manifest),
                *where,
                "--project-id",
                self.config.project_id,
                "--out",
                str(self.folder / case),
                "--quiet",
                "--json-summary",
                "--max-attempts",
                "1",
                "--rate",
                "100",
                *options,
            )
        summary = json.loads(out) if out.strip().startswith("{") else {}
        files = written_text(self.folder / case)
        self.results[case] = {
            "exit": code,
            "stderr": err,
            "by_outcome": summary.get("by_outcome"),
            "by_error_code": summary.get("by_error_code"),
            "network": summary.get("network"),
            "connects": self.proxy.connects[before[0] :],
            "forwarded": self.proxy.forwarded[before[1] :],
            "files_mention_password": "proxy-pass" in files + err + out,
        }


def run_proxy_cases(runs: ProxiedRuns, proxy: Proxy, ca_file: str, front_port: int) -> None:
    """The cases of oms_behind_proxy: where the CA comes from, none, proxy credentials, NO_PROXY, plain HTTP."""
    runs.run("ca_bundle", "--ca-bundle", ca_file, env={"HTTPS_PROXY": proxy.url})
    runs.run("ssl_cert_file", env={"HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": ca_file})
    runs.run(
        "requests_ca_bundle",
        env={
            "HTTPS_PROXY": proxy.url,
            "REQUESTS_CA_BUNDLE": ca_file,
            "SSL_CERT_FILE": str(runs.folder / "missing.pem"),
        },
    )
    runs.run("no_ca", env={"HTTPS_PROXY": proxy.url})
    runs.run(
        "proxy_credentials",
        "--ca-bundle",
        ca_file,
        env={"https_proxy": f"http://proxy-user:proxy-pass@127.0.0.1:{proxy.port}"},
    )
    runs.run(
        "no_proxy",
        "--ca-bundle",
        ca_file,
        env={"HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"},
        endpoint=f"https://127.0.0.1:{front_port}",
    )
    runs.run(
        "plain_http",
        env={"HTTP_PROXY": proxy.url, "HTTPS_PROXY": "http://127.0.0.1:9"},
        endpoint=f"http://{OMS_HOST}:80",
    )


def oms_behind_proxy(folder: Path) -> dict[str, Any]:
    """`bulkretry run` against OMS at its real host name, through a CONNECT proxy, with a private CA."""
    config = SimConfig(groups=40, failed_ratio=1.0)
    clean_environment(config)
    ca = TestCA(folder / "ca")
    with SimulatorThread(config) as sim, BackgroundLoop() as loop:
        sim_port = int(sim.url.rsplit(":", 1)[1])
        front = loop.run(TlsFront(ca.server_context([OMS_HOST, "127.0.0.1"]), ("127.0.0.1", sim_port)).start())
        proxy = loop.run(
            Proxy(routes={OMS_HOST: ("127.0.0.1", front.port), f"{OMS_HOST}:80": ("127.0.0.1", sim_port)}).start()
        )
        runs = ProxiedRuns(folder, config, sim, proxy)
        run_proxy_cases(runs, proxy, str(ca.cert), front.port)
        runs.results["authorizations"] = proxy.authorizations
    return runs.results


#: The targets of the notification scenario: (name, host, the URL's secret parts). Keys of the documented forms.
DINGTALK_SECRET, DINGTALK_TOKEN = "SEC0d1e2f3a4b5c6d7e8f9", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
SLACK_TOKENS = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")
FEISHU_TOKEN = "3d2fa4c5-b1b9-4d2f-8a7e-1f0e9c8d7b6a"
SMN_TOPIC = "bulkretry-alerts"
NOTIFY_HOSTS = (
    "oapi.dingtalk.com",
    "qyapi.weixin.qq.com",
    "hooks.slack.com",
    "open.feishu.cn",
    "smn.cn-north-4.myhuaweicloud.com",
)
#: Every secret of the notification URLs: none may be seen in any output or file.
NOTIFY_SECRETS = (DINGTALK_SECRET, DINGTALK_TOKEN, WECOM_KEY, *SLACK_TOKENS, FEISHU_TOKEN)


def notify_answers() -> dict[str, Answer]:
    """What each notification host answers: its documented success."""
    from aiohttp import web

    return {
        "hooks.slack.com": lambda seen: web.Response(text="ok"),
        "oapi.dingtalk.com": lambda seen: web.json_response({"errcode": 0, "errmsg": "ok"}),
        "qyapi.weixin.qq.com": lambda seen: web.json_response({"errcode": 0, "errmsg": "ok"}),
        "open.feishu.cn": lambda seen: web.json_response({"code": 0, "msg": "success"}),
        NOTIFY_HOSTS[-1]: lambda seen: web.json_response({"request_id": "r1", "message_id": "m1"}),
    }


def notify_manifest(sim: SimulatorThread, path: Path) -> Path:
    """Three failed groups and one that is not (retrying it is a 400: the run fails)."""
    states = sim.simulator.state.list(offset=0, limit=1000)[1]
    failed = [g["group_id"] for g in states if g["status"] == 5][:3]
    other = [g["group_id"] for g in states if g["status"] != 5][:1]
    path.write_text("group_id\n" + "".join(f"{g}\n" for g in failed + other))
    return path


def notify_environment(proxy_url: str, project_id: str) -> dict[str, str]:
    """The proxy, and the five targets' URLs in the variables the run's --notify options name."""
    return {
        "HTTPS_PROXY": proxy_url,
        "DINGTALK_URL": f"dingtalk://{DINGTALK_SECRET}@{DINGTALK_TOKEN}/",
        "WECOM_URL": f"wecombot://{WECOM_KEY}",
        "SLACK_URL": "slack://" + "/".join(SLACK_TOKENS),
        "FEISHU_URL": f"feishu://{FEISHU_TOKEN}",
        "SMN_URL": f"smn://urn:smn:cn-north-4:{project_id}:{SMN_TOPIC}",
    }


def run_notifying(manifest: Path, folder: Path, project_id: str, ca_cert: Path) -> tuple[int, str, str]:
    """`bulkretry run` at the region's host, notifying the five targets and one that cannot be reached."""
    return run_cli(
        "run",
        str(manifest),
        "--region",
        "cn-north-4",
        "--project-id",
        project_id,
        "--out",
        str(folder / "run"),
        "--quiet",
        "--json-summary",
        "--max-attempts",
        "1",
        "--ca-bundle",
        str(ca_cert),
        "--log-file",
        str(folder / "run.jsonl"),
        *[f"--notify=env:{name}" for name in ("DINGTALK_URL", "WECOM_URL", "SLACK_URL", "FEISHU_URL")],
        "--notify",
        "jsons://unreachable.example.com/hook",
        "--notify",
        "env:SMN_URL",
    )


def secret_in(folder: Path, out: str, err: str) -> list[str]:
    """The files (but the CA's), and stdout or stderr, that hold any of NOTIFY_SECRETS."""
    files = {
        str(p.relative_to(folder)): p.read_bytes().decode("utf-8", errors="replace")
        for p in folder.rglob("*")
        if p.is_file() and "ca" not in p.parts
    }
    return sorted(
        name
        for name, text in {**files, "stdout": out, "stderr": err}.items()
        if any(secret in text for secret in NOTIFY_SECRETS)
    )


def notify_five(folder: Path) -> dict[str, Any]:
    """`bulkretry run` through the proxy with five targets (DingTalk signed, WeCom, Slack, Feishu, SMN) and one
    that cannot be reached; what each host received, what the run printed and wrote."""
    config = SimConfig(groups=20, failed_ratio=0.5)
    clean_environment(config)
    ca = TestCA(folder / "ca")
    with SimulatorThread(config) as sim, BackgroundLoop() as loop:
        sim_port = int(sim.url.rsplit(":", 1)[1])
        front = loop.run(TlsFront(ca.server_context([OMS_HOST]), ("127.0.0.1", sim_port)).start())
        server = loop.run(RecordingTlsServer(ca.server_context(list(NOTIFY_HOSTS)), notify_answers()).start())
        proxy = loop.run(
            Proxy(
                routes={
                    OMS_HOST: ("127.0.0.1", front.port),
                    **{host: ("127.0.0.1", server.port) for host in NOTIFY_HOSTS},
                }
            ).start()
        )
        manifest = notify_manifest(sim, folder / "groups.csv")
        os.environ.update(notify_environment(proxy.url, config.project_id))
        code, out, err = run_notifying(manifest, folder, config.project_id, ca.cert)
        return {
            "exit": code,
            "stdout": out,
            "stderr": err,
            "seen": [seen.public() for seen in server.seen],
            "connects": proxy.connects,
            "ak": config.ak,
            "sk": config.sk,
            "project_id": config.project_id,
            "secret_in": secret_in(folder, out, err),
            "log": (folder / "run.jsonl").read_text() if (folder / "run.jsonl").exists() else "",
        }


SCENARIOS = {"oms_behind_proxy": oms_behind_proxy, "notify_five": notify_five}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](Path(sys.argv[2]))))
