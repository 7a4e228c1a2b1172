"""Notifications (bulkretry/notify): the text within every target's limits, the targets checked before any call,
the URLs' secrets never shown, a failed target only a warning; and one run with five real-named targets (DingTalk
signed, WeCom, Slack, Feishu, SMN) through a proxy with a private CA, in a loopback-only namespace."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from bulkretry.errors import ConfigError
from bulkretry.masking import redact_url, shown_url
from bulkretry.notify.message import BODY_MAX_BYTES, TITLE_MAX_BYTES, Ending, cut_bytes, render
from bulkretry.notify.send import resolve_targets, send_notifications
from bulkretry.oms.network import network_from
from bulkretry.records import RunSummary
from bulkretry.sim import SimulatorThread
from tests import netscenarios
from tests.clitools import (
    child_run_argv,
    clear_credentials,
    failed_group_ids,
    run_argv,
    run_cli,
    sim_run_argv,
    start_child,
    use_sim_credentials,
    wait_for_requests,
    write_group_manifest,
)
from tests.netns import require_netns, run_isolated
from tests.reports import run_summary
from tests.servers import sdk_authorization, serve
from tests.tlsnet import BackgroundLoop, RecordingTlsServer

SUMMARY = run_summary(
    [],
    run_id="20261202-010000-groups",
    duration_s=3725.0,
    rows=120,
    by_outcome={"succeeded": 100, "failed": 15, "interrupted": 5},
    by_error_code={"OMS.0500": 9, "duplicate": 4, "APIGW.0308": 4, "tls": 2, "halted": 5},
)


def test_the_text_holds_the_run_id_counts_top_three_codes_duration_and_report() -> None:
    """Run id, counts by outcome, the top 3 error codes (not duplicate), the duration, the exit status and the
    report, with the verdict in the title."""
    title, body = render(Ending(1, SUMMARY, report="/runs/x/report.html"))
    assert title == "bulkretry run 20261202-010000-groups: some rows failed"
    assert body.splitlines() == [
        "Run: 20261202-010000-groups",
        "Rows: 120 (100 succeeded, 15 failed, 5 interrupted)",
        "Top errors: OMS.0500 ×9, APIGW.0308 ×4, tls ×2",
        "Duration: 1 h 02 min",
        "Exit status: 1",
        "Report: /runs/x/report.html",
    ]
    assert render(Ending(143, SUMMARY, signal="SIGTERM")).title.endswith(": stopped by SIGTERM")
    assert render(Ending(1, SUMMARY, halted="the first 5 calls were refused")).title.endswith(": halted")
    assert render(Ending(0, SUMMARY)).title.endswith(": succeeded")
    ended = render(Ending(2, None, error="IAM refused the login", run_id="r9"))
    assert ended.title == "bulkretry run r9: ended with an error"
    assert "Error: IAM refused the login" in ended.body


def test_the_text_goes_through_gettext() -> None:
    """Every sentence goes through the gettext callable it is given (for --lang later)."""
    title, body = render(Ending(0, SUMMARY), gettext=lambda text: "»" + text)
    assert title.startswith("»bulkretry run 20261202") and title.endswith("»succeeded")
    assert all(line.startswith("»") for line in body.splitlines())


@pytest.mark.parametrize("filler", ["x", "迁", "😀"])
def test_a_long_text_stays_within_the_limits_at_character_boundaries(filler: str) -> None:
    """A huge run id, error or report path: title within TITLE_MAX_BYTES, title + newline + body within
    BODY_MAX_BYTES (WeCom's 2,048-byte text), valid UTF-8, and the report's line still there."""
    summary = RunSummary(**{**SUMMARY.as_dict(), "run_id": filler * 3000})
    title, body = render(Ending(1, summary, report="/r/" + filler * 50, error=filler * 5000))
    assert len(title.encode()) <= TITLE_MAX_BYTES
    assert len(f"{title}\n{body}".encode()) <= BODY_MAX_BYTES
    assert "Exit status: 1" in body
    assert cut_bytes("a迁b", 3) == "a"  # never half a character


def test_env_references_are_resolved_and_missing_ones_refused() -> None:
    """env:NAME reads the URL from the environment; an unset variable is a ConfigError naming it."""
    targets = resolve_targets(["env:HOOK", "wecombot://abcdef123"], {"HOOK": "dingtalk://abc123@def456/"})
    assert [(t.shown, t.source) for t in targets] == [("dingtalk://***", "$HOOK"), ("wecombot://***", "--notify #2")]
    assert "abc123" not in repr(targets)
    with pytest.raises(ConfigError, match=r"--notify env:NOPE: \$NOPE is not set"):
        resolve_targets(["env:NOPE"], {})


@pytest.mark.parametrize(
    "url", ["nosuch://key123456", "wecombot://", "not a url secret123456", "smn://urn:smn:cn-north-4:secret123456"]
)
def test_a_bad_target_is_refused_without_quoting_it(url: str) -> None:
    """An unknown scheme, a key of the wrong form, no URL, a malformed SMN URN: ConfigError, the value unquoted."""
    with pytest.raises(ConfigError) as info:
        resolve_targets([url], {})
    assert "123456" not in str(info.value)


def test_an_smn_urn_gives_the_region_project_and_endpoint() -> None:
    """smn://urn:smn:R:P:T publishes to smn.R.myhuaweicloud.com under project P, or the region's
    HUAWEICLOUD_SDK_REGION_SMN_<R> endpoint."""
    [target] = resolve_targets(["smn://urn:smn:ap-southeast-1:p1:alerts"], {})
    assert target.topic is not None
    assert (target.topic.project_id, target.topic.endpoint.origin) == (
        "p1",
        "https://smn.ap-southeast-1.myhuaweicloud.com",
    )
    assert target.topic.path == "/v2/p1/notifications/topics/urn%3Asmn%3Aap-southeast-1%3Ap1%3Aalerts/publish"
    [target] = resolve_targets(
        ["smn://urn:smn:ap-southeast-1:p1:alerts"],
        {"HUAWEICLOUD_SDK_REGION_SMN_AP_SOUTHEAST_1": "http://127.0.0.1:8080"},
    )
    assert target.topic is not None and target.topic.endpoint.origin == "http://127.0.0.1:8080"


def test_secrets_in_what_apprise_says_are_taken_out() -> None:
    """Every part of a target URL is redacted from a warning, percent-encoded or not; only the scheme is shown."""
    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiaj+kdnlaz"
    said = "POST https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiaj%2Bkdnlaz failed"
    assert redact_url(said, url) == "POST https://hooks.slack.com/services/[redacted]/[redacted]/[redacted] failed"
    assert shown_url(url) == "slack://***"


async def test_a_target_that_fails_is_a_warning_the_others_are_sent() -> None:
    """A target answering 500 gives one warning (no secret in it); the next target still gets the message."""
    got: list[dict] = []

    async def handler(request: web.Request) -> web.Response:
        got.append({"path": request.path, "body": await request.json()})
        return web.Response(status=500 if "broken" in request.path else 200)

    async with serve(handler) as base:
        port = base.rsplit(":", 1)[1]
        targets = resolve_targets([f"json://127.0.0.1:{port}/broken-s3cr3t", f"json://127.0.0.1:{port}/fine"], {})
        import asyncio

        warnings = await asyncio.to_thread(
            send_notifications, targets, render(Ending(0, SUMMARY)), network=network_from({}), failed=False, timeout=5
        )
    assert sorted(g["path"] for g in got) == ["/broken-s3cr3t", "/fine"]  # (sent at once: in either order)
    assert got[1]["body"]["title"].endswith(": succeeded")
    assert len(warnings) == 1 and warnings[0].startswith("notification to json://*** (--notify #1) not sent")
    assert "s3cr3t" not in warnings[0]


def _hook_run(sim_thread: SimulatorThread, tmp_path: Path, groups: int, *extra: str) -> tuple[int, str, str]:
    """`bulkretry run` of *groups* failed groups into tmp_path/run, notifying env:HOOK, with *extra* options."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, groups))
    return run_cli(*sim_run_argv(sim_thread, manifest, tmp_path / "run", "--quiet", "--notify", "env:HOOK", *extra))


def test_run_sends_one_notification_and_a_failed_one_changes_nothing_but_a_warning(
    tmp_path: Path, sim_thread, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """run --notify: one message per target at the end; a target that cannot be reached is a warning on stderr
    and in the log file; the exit status, stdout and the run's files are as without it; the URL never shows."""
    use_sim_credentials(monkeypatch, sim_thread.config, HOOK="json://127.0.0.1:9/hook-s3cr3t")
    code, out, err = _hook_run(sim_thread, tmp_path, 2, "--log-file", str(tmp_path / "log.jsonl"))
    assert code == 0, err
    assert "2 rows: 2 succeeded" in out
    assert "bulkretry: warning: notification to json://*** ($HOOK) not sent" in err
    log = (tmp_path / "log.jsonl").read_text()
    assert '"event": "notify_failed"' in log
    everything = (
        err
        + out
        + log
        + "".join(
            p.read_text(errors="replace")
            for p in (tmp_path / "run").iterdir()
            if p.suffix in (".json", ".csv", ".html")
        )
    )
    assert "s3cr3t" not in everything


def test_notify_on_failure_sends_nothing_for_a_clean_run(tmp_path: Path, sim_thread, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--notify-on failure: a run that exits 0 sends nothing (so no warning for an unreachable target)."""
    use_sim_credentials(monkeypatch, sim_thread.config, HOOK="json://127.0.0.1:9/hook")
    code, _out, err = _hook_run(sim_thread, tmp_path, 1, "--notify-on", "failure")
    assert code == 0, err
    assert "notification" not in err


def test_a_missing_notify_variable_exits_2_before_any_call(tmp_path: Path, sim_thread, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--notify env:NAME with NAME unset: exit 2, nothing called, no run folder."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    monkeypatch.delenv("DINGTALK_URL", raising=False)
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\ng-1\n")
    code, _out, err = run_cli(
        *run_argv(manifest, sim_thread.url, "p", tmp_path / "run", "--notify", "env:DINGTALK_URL")
    )
    assert code == 2, err
    assert "$DINGTALK_URL is not set" in err
    assert sim_thread.simulator.traffic.calls == 0 and not (tmp_path / "run").exists()


def _posted(server: RecordingTlsServer) -> list[dict]:
    return [seen.json() for seen in server.seen]


def _notified_run(
    tmp_path: Path,
    sim_thread,
    monkeypatch: pytest.MonkeyPatch,
    rows: int,  # type: ignore[no-untyped-def]
    *options: str,
) -> tuple[int, str, str, list[dict]]:
    """`run` of *rows* failed groups against the simulator with *options* and one json:// target (its URL in
    $HOOK) that records what it is sent: ``(exit status, stdout, stderr, the messages)``."""
    manifest = write_group_manifest(tmp_path / "m.csv", failed_group_ids(sim_thread, rows))
    with BackgroundLoop() as loop:
        server = loop.run(RecordingTlsServer(None).start())
        monkeypatch.setenv("HOOK", f"json://127.0.0.1:{server.port}/hook")
        argv = sim_run_argv(sim_thread, manifest, tmp_path / "run", "--quiet", *options, "--notify", "env:HOOK")
        code, out, err = run_cli(*argv)
        return code, out, err, _posted(server)


def test_a_halted_run_says_so(tmp_path: Path, sim_thread, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A run stopped by --max-duration: one message, titled halted, with the reason and exit status 1."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    code, _out, err, posted = _notified_run(
        tmp_path, sim_thread, monkeypatch, 20, "--rate", "20", "--max-duration", "0.2s"
    )
    assert code == 1, err
    assert len(posted) == 1
    assert posted[0]["title"] == "bulkretry run run: halted"
    assert "Halted: the run reached --max-duration 0.2s" in posted[0]["message"]
    assert "interrupted" in posted[0]["message"] and "Exit status: 1" in posted[0]["message"]
    assert posted[0]["type"] == "failure"


def test_the_notification_speaks_the_runs_language(tmp_path: Path, sim_thread, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--lang zh-CN: the notification is in Chinese (sentences and outcome names); codes stay as they are."""
    use_sim_credentials(monkeypatch, sim_thread.config)
    code, _out, err, posted = _notified_run(tmp_path, sim_thread, monkeypatch, 2, "--lang", "zh-CN")
    assert code == 0, err
    assert [p["title"] for p in posted] == ["bulkretry 运行 run：成功"]
    lines = posted[0]["message"].splitlines()
    assert lines[:2] == ["运行：run", "共 2 行（成功 2）"]
    assert "退出码：0" in lines
    assert not re.search(r"\b(Rows|Duration|Exit|Report|succeeded)\b", posted[0]["message"])


def test_a_run_ended_by_an_error_still_notifies(tmp_path: Path, sim_thread, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """IAM refusing the login (exit 2 after the run started): one message saying the error, without the
    password; the error and its exit status are as without it."""
    clear_credentials(monkeypatch)
    monkeypatch.setenv("OMS_IAM_USER", "sim-user")
    monkeypatch.setenv("OMS_IAM_PASSWORD", "not-the-password")
    code, out, err, posted = _notified_run(
        tmp_path, sim_thread, monkeypatch, 2, "--iam-endpoint", sim_thread.url, "--iam-domain", "sim-domain"
    )
    assert code == 2, (out, err)
    assert err.startswith("bulkretry: error: IAM") and err.count("\n") == 1, err
    assert len(posted) == 1
    assert posted[0]["title"] == "bulkretry run run: ended with an error"
    assert "Error: IAM" in posted[0]["message"] and "refused the login" in posted[0]["message"]
    assert "Exit status: 2" in posted[0]["message"] and "not-the-password" not in json.dumps(posted)


@pytest.mark.slow
def test_five_targets_each_get_one_correct_message(tmp_path: Path) -> None:
    """One run, five targets at their real host names through the proxy (private CA via --ca-bundle): DingTalk
    (signed: the HMAC checked independently), WeCom, Slack, Feishu and SMN (the SDK's signer as oracle) each
    receive one message with the run's text; an unreachable sixth is one warning; the exit status is the run's;
    no key of any URL appears in any output or file."""
    require_netns()
    done = run_isolated(Path(netscenarios.__file__), "notify_five", str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["exit"] == 1, result["stderr"]  # one row failed: as without notifications
    warnings = [line for line in result["stderr"].splitlines() if "warning" in line]
    assert len(warnings) == 1 and "jsons://*** (--notify #5) not sent" in warnings[0]
    assert result["secret_in"] == []
    seen = {s["host"]: s for s in result["seen"]}
    assert sorted(s["host"] for s in result["seen"]) == sorted(netscenarios.NOTIFY_HOSTS)  # one each

    ding = seen["oapi.dingtalk.com"]
    query = parse_qs(ding["raw_path"].split("?", 1)[1])  # as sent (aiohttp's query_string is decoded once)
    assert query["access_token"] == [netscenarios.DINGTALK_TOKEN]
    secret = netscenarios.DINGTALK_SECRET
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{query['timestamp'][0]}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]  # decoded once, as DingTalk does (Apprise alone encodes it twice)
    texts = {
        "oapi.dingtalk.com": json.loads(ding["body"])["text"]["content"],
        "qyapi.weixin.qq.com": json.loads(seen["qyapi.weixin.qq.com"]["body"])["text"]["content"],
        "open.feishu.cn": json.loads(seen["open.feishu.cn"]["body"])["content"]["text"],
    }
    assert seen["qyapi.weixin.qq.com"]["query"] == f"key={netscenarios.WECOM_KEY}"
    assert seen["open.feishu.cn"]["path"] == f"/open-apis/bot/v2/hook/{netscenarios.FEISHU_TOKEN}/"
    assert seen["hooks.slack.com"]["path"] == "/services/" + "/".join(netscenarios.SLACK_TOKENS)
    slack = json.loads(seen["hooks.slack.com"]["body"])["attachments"][0]
    texts["hooks.slack.com"] = f"{slack['title']}\n{slack['text']}"

    smn = seen["smn.cn-north-4.myhuaweicloud.com"]
    pid = result["project_id"]
    assert smn["raw_path"] == (
        f"/v2/{pid}/notifications/topics/urn%3Asmn%3Acn-north-4%3A{pid}%3A{netscenarios.SMN_TOPIC}/publish"
    )
    published = json.loads(smn["body"])
    texts["smn"] = f"{published['subject']}\n{published['message']}"
    oracle = sdk_authorization(
        "POST", smn["host"], smn["raw_path"], smn["headers"], smn["body"].encode(), result["ak"], result["sk"]
    )
    assert oracle is not None and smn["headers"]["Authorization"] == oracle
    for where, text in texts.items():
        assert text.startswith("bulkretry run run: some rows failed"), where
        assert "Rows: 4 (3 succeeded, 1 failed)" in text and "Exit status: 1" in text, where
        assert "Report: " in text and text.rstrip().endswith("report.html"), where
        assert len(text.encode()) <= BODY_MAX_BYTES + 2, where


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_notifies_and_exits_143(tmp_path: Path) -> None:
    """SIGTERM during the calls: exit 143 as without notifications, and one message saying the run was stopped,
    with its counts so far."""
    import os
    import signal

    from bulkretry.sim import SimConfig, SimulatorThread

    config = SimConfig(latency_ms=300)
    with SimulatorThread(config) as sim, BackgroundLoop() as loop:
        server = loop.run(RecordingTlsServer(None).start())
        ids = [g["group_id"] for g in sim.simulator.state.list(status=5, offset=0, limit=100)[1]]
        manifest = tmp_path / "m.csv"
        manifest.write_text("group_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
        env = {
            **os.environ,
            "HUAWEICLOUD_SDK_AK": config.ak,
            "HUAWEICLOUD_SDK_SK": config.sk,
            "HOOK": f"json://127.0.0.1:{server.port}/hook",
        }
        argv = child_run_argv(
            manifest,
            sim.url,
            config.project_id,
            tmp_path / "run",
            "--concurrency",
            "2",
            "--quiet",
            "--notify",
            "env:HOOK",
        )
        proc = start_child(argv, env)
        wait_for_requests(sim.simulator, 3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        posted = _posted(server)
    assert proc.returncode == 143, err
    assert "warning" not in err
    assert len(posted) == 1
    assert posted[0]["title"] == "bulkretry run run: stopped by SIGTERM"
    assert "interrupted" in posted[0]["message"] and "Exit status: 143" in posted[0]["message"]
