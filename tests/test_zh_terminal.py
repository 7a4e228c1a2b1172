"""Chinese beyond report.html: the terminal's lines after a run (a real child process with ``--lang zh-CN``), the
progress bar's words, ``validate --lang zh-CN`` (and ``BULKRETRY_LANG``), the invalid-cell messages, the
credentials' source, history.html and the Summary sheet of report.xlsx: no English word of ours left, with the
same small allow-list as tests/test_zh_report.py; English stays as it was."""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest

from bulkretry.cli.confirm import describe
from bulkretry.cli.progress import Terminal, TerminalRun
from bulkretry.i18n import translation
from bulkretry.i18n.messages import (
    CHANGED_ENDS,
    CHANGED_HEADER,
    CHANGED_NO_ROW,
    CHANGED_SHEET,
    MANIFEST_CHANGED,
    SOURCE_ENV,
    SOURCE_PROFILE_AGENCY,
    TOO_MANY_ROWS_TO_COPY,
    say,
    translate,
)
from bulkretry.i18n.times import Locale
from bulkretry.manifest.annotate import write_annotated
from bulkretry.manifest.body import CallSpec
from bulkretry.manifest.excel import error_value
from bulkretry.manifest.plan import Planner
from bulkretry.manifest.read import open_manifest
from bulkretry.oms.actions import ACTIONS, GROUPS
from bulkretry.records import Outcome, RowResult
from bulkretry.report import write_reports
from bulkretry.report.html_details import run_details
from bulkretry.run.preflight import CallScope, Place
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import child_env, child_run_argv, run_cli, use_sim_credentials
from tests.test_annotate import result as annotated_result
from tests.test_html_report import result, summary_of
from tests.test_zh_report import codes_of, english_of_ours, seen_text

#: Names that stay as they are in Chinese too: products and the sample's own words.
NAMES = ("KooCLI", "Excel")
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Column names a message names the cell by: the manifest's own words (those with an underscore are kept anyway).
COLUMNS = ("priority", "region")


def ours(text: str, *data: str) -> list[str]:
    """The English words of ours left in *text*, once the data and the product names are taken out."""
    return english_of_ours(text, (*data, *NAMES))


def bad_rows_manifest(path: Path) -> Path:
    """A manifest with a title row and a row for each kind of invalid cell a planner refuses without a call."""
    rows = [
        "Failed groups (night of the 4th)",
        "group_id,project_id,region,src_ak,src_sk,priority",
        "g-0001,p-0001,cn-north-4,,,",
        " g-0002,p-0001,cn-north-4,,,",
        "g-0003,p-0001,cn_north_4,,,",
        "g-0004,p-0001,cn-north-4,AKAKAKAK,,",
        "g-0001,p-0001,cn-north-4,,,",
        "..,p-0001,cn-north-4,,,",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_invalid_cell_messages_are_chinese_through_the_one_table() -> None:
    """Each message a planner makes for a bad cell (spaces, control characters, region, half a key pair, crypto
    type, priority, json_auth_file, a number that lost digits, an error value, a formula) reads back in Chinese."""
    columns = ["group_id", "region", "src_ak", "src_sk", "dst_ak", "dst_sk", "json_auth_file"]
    planner = Planner(columns=columns, project_id="p-0001")
    cells: list[dict[str, Any]] = [
        {"group_id": " g-1", "region": "cn-north-4"},
        {"group_id": "g\t2", "region": "cn-north-4"},
        {"group_id": "g-3", "region": "CN North"},
        {"group_id": "g-4", "region": "cn-north-4", "src_ak": "AK"},
        {"group_id": "g-5", "region": "cn-north-4", "json_auth_file": "{not json"},
        {"group_id": "g-6", "region": "cn-north-4", "json_auth_file": "missing-key.json"},
        {"group_id": error_value("#N/A"), "region": "cn-north-4"},
        {"group_id": "..", "region": "cn-north-4"},
    ]
    plans = [planner.plan(row, values) for row, values in enumerate(cells, 2)]
    plans.append(planner.plan(20, {"group_id": "g-20", "region": "cn-north-4"}, formulas=("group_id",)))
    tasks = Planner(
        columns=["task_id", "priority"],
        project_id="p",
        region="cn-north-4",
        call=CallSpec(ACTIONS["priority", "tasks"]),
    )
    plans += [
        tasks.plan(30, {"task_id": "x1", "priority": "HIGH"}),
        tasks.plan(31, {"task_id": "7", "priority": "urgent"}),
    ]
    plans.append(tasks.plan(32, {"task_id": "8", "priority": ""}))
    crypto = Planner(columns=["group_id", "src_crypto_type", "src_kms_key_id"], project_id="p", region="cn-north-4")
    plans.append(crypto.plan(40, {"group_id": "g-40", "src_crypto_type": "AES"}))
    plans.append(crypto.plan(41, {"group_id": "g-41", "src_crypto_type": "KMS"}))
    for plan in plans:
        assert not plan.callable and plan.error_msg, plan
        text = translate(plan.error_msg, "zh-CN")
        data = (plan.error_code, str(plan.region), str(plan.group_id), "missing-key.json", "urgent", *COLUMNS)
        assert CJK.search(text) and not ours(text, *data), (plan.error_msg, text)
        assert translate(plan.error_msg, "en") == plan.error_msg


def test_the_credentials_source_is_said_in_chinese_in_run_details() -> None:
    """report.html's Run details says where the credentials came from in Chinese; the variable or profile as it is."""
    for source in (say(SOURCE_ENV, name="HUAWEICLOUD_SDK_AK"), say(SOURCE_PROFILE_AGENCY, profile="'ecs'")):
        rows = [result(2)]
        summary = summary_of(rows)
        summary = type(summary)(**{**summary.__dict__, "credentials_source": source})
        page = run_details(summary, {}, translation("zh-CN").gettext, "UTC", "zh-CN")
        assert "环境变量（HUAWEICLOUD_SDK_AK）" in page or "ECS 元数据（委托）" in page, page
        assert html.escape(source) in run_details(summary, {}, translation("en").gettext, "UTC")


def test_validate_in_chinese_says_everything_of_ours_in_chinese(tmp_path: Path) -> None:
    """validate --lang zh-CN: the manifest line, the call, the verdicts with their reasons, the notes and the
    summary in Chinese; the codes, ids and columns as they are. Without --lang, English as before."""
    manifest = bad_rows_manifest(tmp_path / "m.csv")
    argv = ("validate", str(manifest), "--region", "cn-north-4", "--project-id", "p-0001")
    code, out, err = run_cli(*argv, "--lang", "zh-CN")
    assert code == 1, out + err
    _, document, _ = run_cli(*argv, "--lang", "zh-CN", "--json")  # machine data: the codes, in English
    codes = sorted({p["error_code"] for p in json.loads(document)["problems"]}, key=len, reverse=True)
    assert "汇总：6 行 · 1 行可调用 · 1 行重复 · 4 行无效 · 未调用任何接口" in out, out
    assert "被视为标题并跳过" in err and "project_id 列" in err, err
    words = ours(out + err, *codes, *COLUMNS, str(manifest), "Failed groups (night of the 4th)", "AKAKAKAK", "..")
    assert not words, (sorted(set(words)), out, err)
    code, english, err = run_cli(*argv)
    assert code == 1 and "summary: 6 rows · 1 to call · 1 duplicate · 4 invalid" in english, english + err


def test_bulkretry_lang_in_the_environment_chooses_validate_s_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BULKRETRY_LANG=zh-CN is validate's --lang, through the config mechanism every option has."""
    manifest = bad_rows_manifest(tmp_path / "m.csv")
    monkeypatch.setenv("BULKRETRY_LANG", "zh-CN")
    code, out, err = run_cli("validate", str(manifest), "--region", "cn-north-4", "--project-id", "p-0001")
    assert code == 1 and "汇总：6 行" in out, out + err


def test_validate_online_in_chinese_says_what_it_found_in_chinese(
    sim_thread: SimulatorThread, sim_config: SimConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate --online --check-status --lang zh-CN: the regions' note, the credentials' source, the route, the
    list call, each lookup's status and the online summary in Chinese."""
    use_sim_credentials(monkeypatch, sim_config)
    ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=None, offset=0, limit=100)[1]][:6]
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    code, out, err = run_cli(
        "validate", str(manifest), "--endpoint", sim_thread.url, "--project-id", sim_config.project_id,
        "--online", "--check-status", "--lang", "zh-CN",
    )  # fmt: skip
    assert code == 0, out + err
    assert "未检查区域" in out and "环境变量（HUAWEICLOUD_SDK_AK）" in out and "迁移失败" in out, out
    assert not ours(out + err, str(manifest), sim_thread.url), (sorted(set(ours(out + err, str(manifest)))), out)


class _Tty(io.StringIO):
    """A terminal's stream: what tqdm writes, kept."""

    def isatty(self) -> bool:
        return True


def test_the_progress_bar_speaks_the_run_s_language() -> None:
    """The bar's counts, the rows set aside and the target in Chinese; English as before."""
    for lang, expected in (
        ("zh-CN", "retry 迁移任务组: 100%"),
        ("en", "retry groups: 100%"),
    ):
        settings = SimpleNamespace(checks=SimpleNamespace(dry_run=False), pacing=SimpleNamespace(rate_auto=False))
        prepared: Any = SimpleNamespace(rows=3, settings=settings, action=ACTIONS["retry", "groups"])
        err = _Tty()
        run = TerminalRun(prepared, Terminal(out=io.StringIO(), err=err, lang=lang), notifier=None)  # type: ignore[arg-type]
        with run.calling():
            for row, outcome in enumerate((Outcome.SUCCEEDED, Outcome.FAILED, Outcome.SKIPPED), 2):
                run.row(RowResult(row=row, project_id="p", group_id=f"g{row}", outcome=outcome))
        last = err.getvalue().rsplit("\r", 1)[-1]
        assert expected in last, last
        if lang == "zh-CN":
            assert "成功 1 · 失败 1 · 无效 0 · 已跳过 1" in last and not ours(re.sub(r"\[.*\]", "", last)), last


@pytest.mark.slow
def test_a_chinese_run_in_a_child_process_prints_no_english_of_ours(tmp_path: Path) -> None:
    """bulkretry run --lang zh-CN in a real process: the notes before the run, the summary line and the halt after
    it in Chinese; the error codes, ids, options and paths as they are."""
    config = SimConfig(groups=20, failed_ratio=1.0, error_rate=1.0, seed=3)
    with SimulatorThread(config) as sim_thread:
        ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]][:6]
        manifest = tmp_path / "m.csv"
        manifest.write_text("groups to retry\ngroup_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
        argv = child_run_argv(
            manifest, sim_thread.url, config.project_id, tmp_path / "run", "--lang", "zh-CN", "--yes",
            "--max-attempts", "1", "--halt-on-failure", "50:2", "--concurrency", "1", "--format", "csv",
        )  # fmt: skip
        done = subprocess.run(argv, env=child_env(config), capture_output=True, text=True, timeout=120)
    text = done.stdout + done.stderr
    assert done.returncode == 3, text
    assert "被视为标题并跳过" in text and "运行已停止" in text and "继续运行：bulkretry run" in text, text
    codes = tuple(re.findall(r"\b[a-z_]+(?::\d+)?(?= ×)", text))
    words = ours(text, str(manifest), str(tmp_path / "run"), "groups to retry", *codes)
    assert not words, (sorted(set(words)), text)


@pytest.mark.slow
def test_history_html_in_chinese_has_no_english_of_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """history.html of two runs in zh-CN: headings, states, table heads and outcome words in Chinese."""
    config = SimConfig(groups=10, failed_ratio=1.0, seed=7)
    use_sim_credentials(monkeypatch, config)
    with SimulatorThread(config) as sim_thread:
        ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]][:4]
        manifest = tmp_path / "m.csv"
        manifest.write_text("group_id\n" + "\n".join([*ids, "no-such-group"]) + "\n", encoding="utf-8")
        for name in ("one", "two"):
            code, out, err = run_cli(
                "run", str(manifest), "--endpoint", sim_thread.url, "--project-id", config.project_id,
                "--out", str(tmp_path / "runs" / name), "--yes", "--format", "csv",
            )  # fmt: skip
            assert code == 1, out + err
    code, out, err = run_cli("history", str(tmp_path / "runs"), "--out", str(tmp_path / "h"), "--lang", "zh-CN")
    assert code == 1 and "2 次运行，5 个迁移任务组" in out, out + err
    text = seen_text((tmp_path / "h" / "history.html").read_text(encoding="utf-8"))
    assert "从未成功" in text or "迁移失败" in text, text
    words = ours(text, "no-such-group", "one", "two", *re.findall(r"OMS\.\d+|[a-z_]+:\d+", text))
    assert not words, (sorted(set(words)), text)


def test_the_xlsx_summary_sheet_in_chinese_has_no_english_of_ours(tmp_path: Path) -> None:
    """report.xlsx's Summary sheet in zh-CN: labels, outcomes and the reasons rows were set aside in Chinese; the
    Rows sheet keeps the csv's English (machine data)."""
    rows = [
        result(2),
        result(3, Outcome.FAILED, http_status=400, error_code="OMS.1015", error_msg="the service's own"),
        result(4, Outcome.SKIPPED, error_code="status:6", error_msg="status 6 (x)"),
        result(5, Outcome.DUPLICATE, error_code="duplicate", error_msg="same project and group as row 2; called once"),
    ]
    write_reports(tmp_path / "run", rows, summary_of(rows), formats=["xlsx"], locale=Locale("zh-CN", "UTC"))
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx", read_only=True)
    summary = book[book.sheetnames[0]]
    cells = [str(c) for row in summary.iter_rows(values_only=True) for c in row if c is not None]
    text = "\n".join(cells)
    assert book.sheetnames[0] == "摘要" and CJK.search(text), text
    data = (*codes_of(rows), str(summary_of(rows).manifest), summary_of(rows).run_id)
    assert not ours(text, *data), (sorted(set(ours(text, *data))), text)
    machine = [c for row in book["Rows"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert "same project and group as row 2; called once" in machine


def test_the_commands_around_a_run_speak_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """report, merge, status and prune with --lang zh-CN, and the question before a big run: their lines in
    Chinese, the numbers, paths and options as they are; English again without --lang."""
    config = SimConfig(groups=6, failed_ratio=1.0, seed=5)
    use_sim_credentials(monkeypatch, config)
    run = tmp_path / "runs" / "shard"
    with SimulatorThread(config) as sim_thread:
        ids = [g["group_id"] for g in sim_thread.simulator.state.list(status=5, offset=0, limit=100)[1]]
        manifest = tmp_path / "m.csv"
        manifest.write_text("group_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
        code, out, err = run_cli(
            "run", str(manifest), "--endpoint", sim_thread.url, "--project-id", config.project_id,
            "--out", str(run), "--yes", "--format", "csv", "--shard", "0/1",
        )  # fmt: skip
        assert code == 0, out + err
    merged = tmp_path / "merged"
    said = {
        "report": run_cli("report", str(run), "--lang", "zh-CN"),
        "merge": run_cli("merge", str(run), "--out", str(merged), "--lang", "zh-CN", "--format", "csv"),
        "status": run_cli("status", str(run), "--lang", "zh-CN"),
        "prune": run_cli("prune", str(tmp_path / "runs"), "--keep", "0", "--lang", "zh-CN"),
    }
    expected = {"report": "已写入报告", "merge": "已合并", "status": "已完成", "prune": "将删除 1 个运行文件夹"}
    for command, (code, out, err) in said.items():
        assert code == 0 and expected[command] in out, (command, out, err)
        words = ours(out + err, str(tmp_path), str(manifest), run.name, *(f"{n:02d}" for n in range(60)))
        assert not words, (command, sorted(set(words)), out + err)
    assert "rows done" in run_cli("status", str(run), "--lang", "en")[1]

    scope = CallScope(ACTIONS["retry", GROUPS], 120, 3, (Place("p-0001", "cn-north-4", "https://oms", 2),))
    question = describe(scope, translation("zh-CN").gettext)
    assert "将调用 120 行" in question and "3 行不调用" in question, question
    assert not ours(question, "p-0001", "cn-north-4", "https://oms", "OMS"), question
    assert describe(scope).startswith("about to call OMS: --action retry on groups")


def test_why_the_annotated_manifest_was_not_written_is_said_in_chinese(tmp_path: Path) -> None:
    """The note after a run whose manifest changed (a row holds another group; an earlier session's copy removed),
    and the other reasons, read back in Chinese through the message table; English as the code wrote it."""
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\ng-0001\ng-0002\n", encoding="utf-8")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "annotated.csv").write_text("an earlier session's", encoding="utf-8")
    done = write_annotated(open_manifest(manifest), [annotated_result(3, "g-0003")], tmp_path / "run")
    assert done.path is None
    assert done.skipped_reason.startswith(
        "annotated.csv not written: the manifest holds group 'g-0002' in row 3, not 'g-0003'"
    )
    assert done.skipped_reason.endswith("; the annotated.csv of an earlier session was removed")
    chinese = translate(done.skipped_reason, "zh-CN")
    assert "第 3 行是迁移任务组 'g-0002'" in chinese and "已删除之前会话的 annotated.csv" in chinese, chinese
    assert not ours(chinese, "m.csv", "annotated.csv", "'g-0002'", "'g-0003'"), chinese
    others = [
        say(TOO_MANY_ROWS_TO_COPY, limit="100,000"),
        say(MANIFEST_CHANGED, why=say(CHANGED_ENDS, row=4, wanted=9), file="m.csv"),
        say(MANIFEST_CHANGED, why=say(CHANGED_HEADER), file="m.csv"),
        say(MANIFEST_CHANGED, why=say(CHANGED_NO_ROW, row=7), file="m.xlsx"),
        say(MANIFEST_CHANGED, why=say(CHANGED_SHEET, sheet="'清单'"), file="m.xlsx"),
    ]
    for text in others:
        assert not ours(translate(text, "zh-CN"), "m.csv", "m.xlsx"), (text, translate(text, "zh-CN"))
