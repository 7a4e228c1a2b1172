"""Languages: the catalog (the committed .mo is its .po compiled; every message of the code translated), the
language chosen from --lang or the environment, and a real run's Chinese report.html, Summary sheet, summary
line and history.html, with `report --lang en` turning the report back."""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path

import pytest

from bulkretry.i18n import lang_from_env, parse_lang, resolve_lang, translation
from bulkretry.i18n.times import Locale
from bulkretry.oms.codes import CODES, explain
from bulkretry.oms.status import STATUS_NAMES, status_name
from bulkretry.report import write_reports
from bulkretry.sim import SimConfig, SimulatorThread
from tests.catalog import MO, compile_mo, extract, read_catalog
from tests.clitools import run_cli, run_manifest, use_sim_credentials
from tests.test_html_report import DETAILS, chromium, needs_chromium, rows_body, sample, summary_of

CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{[a-z_]*\}|<[^>]+>")

# Tokens a Chinese page keeps as they are: codes, ids, options, commands, paths, URLs, file names, identifiers
# (error_msg, project_id), acronyms (HTTP, OMS, AK/SK), units (ms, s), numbers.
_KEPT = re.compile(
    r"https?://\S+|\S*/\S*|--[a-z-]+|\b[A-Z]+\.\d+\b|\b\w+\.(?:csv|xlsx|json|html|sqlite|jsonl)\b"
    r"|\b\w*_\w*\b|\b[A-Z]{2,}\w*\b|\b\d[\w.:-]*"
)
#: Words that stay English in Chinese text: the tool, its commands, the manifest's column names, values to type.
_ALLOWED = {
    "bulkretry",
    "run",
    "rerun",
    "report",
    "resume",
    "out",
    "only",
    "failed",
    "format",
    "csv",
    "auto",
    "region",
    "true",
    "false",
    "Token",
    "JavaScript",
    "xlsx",
    "json",
    "html",
    "env",
    "UTC",
}


def english_words(text: str) -> list[str]:
    """The English words left in *text* once codes, ids, commands and the like are taken out."""
    return [w for w in re.findall(r"[A-Za-z]{3,}", _KEPT.sub(" ", text)) if w not in _ALLOWED]


def page_text(page: str, cells: bool = True) -> str:
    """The words a reader sees on a page: its text and its attributes people read, without the data that the run
    or the service wrote (server messages, run ids, codes, the rows' table data; and table cells unless *cells*)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = page if cells else re.sub(r"<td>.*?</td>", " ", page, flags=re.S)
    page = re.sub(r'<div class="example">.*?</div>|<(a|span) class="mono[^"]*"[^>]*>.*?</\1>', " ", page, flags=re.S)
    attributes = " ".join(re.findall(r'(?:title|placeholder|aria-label)="([^"]*)"', page))
    return html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + attributes)


# -- the catalog -------------------------------------------------------------------------------------------------


def test_committed_mo_is_the_po_compiled() -> None:
    """bulkretry.mo (what gettext reads) is exactly bulkretry.po compiled: a .po edited without `python -m
    tests.catalog` fails here."""
    assert MO.read_bytes() == compile_mo(read_catalog()), "the .mo is stale: run `python -m tests.catalog`"


def test_every_message_of_the_code_has_a_chinese_translation_and_no_other() -> None:
    """Every message the code marks (_, N_) is in the .po, translated and not fuzzy; the .po holds no message the
    code no longer has."""
    catalog = read_catalog()
    used = extract()
    assert len(used) > 200
    missing = {m: where for m, where in used.items() if not (catalog.get(m) and catalog.get(m).string)}
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    stale = [m.id for m in catalog if m.id and m.id not in used]
    assert not missing and not fuzzy and not stale, (missing, fuzzy, stale)


def test_translations_keep_every_placeholder_and_tag() -> None:
    """A translation has the English message's {placeholders} and HTML tags (else .format() fails or the page
    breaks), and is Chinese."""
    for message in read_catalog():
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(PLACEHOLDER.findall(message.string)), message.id
            assert CJK.search(message.string) or message.id in (", ", "{count} {outcome}"), message.id


# -- choosing the language -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "zh_TW.UTF-8"}, "zh-CN"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.GB18030"}, "zh-CN"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": ""}, "zh-CN"),
        ({"LANGUAGE": "zh_CN", "LANG": "en_US.UTF-8"}, "en"),
    ],
)
def test_default_language_is_the_first_of_lc_all_lc_messages_lang_that_is_set(environ, lang) -> None:
    """LC_ALL, then LC_MESSAGES, then LANG; an empty one is skipped; zh* is Chinese, anything else English."""
    assert lang_from_env(environ) == lang


def test_lang_option_wins_over_the_environment_and_unknown_languages_are_refused(capsys) -> None:
    """--lang decides when given (its spellings read); a language bulkretry has not is a ValueError naming both."""
    assert resolve_lang("en", {"LANG": "zh_CN.UTF-8"}) == "en"
    assert resolve_lang("zh_CN", {}) == resolve_lang("zh", {}) == resolve_lang("ZH-cn", {}) == "zh-CN"
    with pytest.raises(ValueError, match="zh-CN or en"):
        parse_lang("fr")
    with pytest.raises(ValueError):
        translation("fr")
    code, _, _ = run_cli("report", "nowhere", "--lang", "fr")
    assert code == 2 and "unknown language 'fr'; choose zh-CN or en" in capsys.readouterr().err


def test_every_error_code_and_status_is_explained_in_chinese() -> None:
    """The meaning and the action of every code the tool knows (OMS, APIGW, TRF, its own, HTTP statuses, the
    families of unknown ones, refused cells) are Chinese, with no English word but codes, commands and columns;
    English stays as written."""
    codes = [
        *CODES,
        "400",
        "401",
        "403",
        "404",
        "429",
        "302",
        "500",
        "418",
        "OMS.9999",
        "APIGW.9999",
        "TRF.9999",
        "something-new",
        "",
        "invalid:src_ak too long",
        "invalid:group_id missing",
        "invalid:region not a region id",
    ]
    for code in codes:
        meaning, action = explain(code, "zh-CN")
        assert CJK.search(meaning) and CJK.search(action), code
        assert not english_words(meaning + " " + action), (code, meaning, action, english_words(meaning + action))
        assert (meaning, action) != explain(code), code
    assert explain("OMS.1015")[0].startswith("The task group is not in a state that can be retried")
    assert explain("OMS.1015", "zh-CN")[0].startswith("迁移任务组当前的状态不能重启")
    assert [status_name(s, "zh-CN") for s in (5, 6, 1)] == ["迁移失败", "迁移完成", "执行中"]
    assert all(CJK.search(status_name(s, "zh-CN")) for s in STATUS_NAMES)
    assert status_name(5) == "migration failed"


# -- a real run ------------------------------------------------------------------------------------------------------


@pytest.fixture
def zh_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A run of many error codes written with LANG=zh_CN.UTF-8 (no --lang): groups not failed (OMS.1015), an
    unknown group (OMS.1009), injected 5xx and 429s in one attempt, a refused cell, a duplicate. ``(folder,
    stdout)``."""
    use_sim_credentials(monkeypatch, SimConfig())
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    config = SimConfig(failed_ratio=0.5, error_rate=0.3, rate_limit=40, seed=7)
    with SimulatorThread(config) as sim_thread:
        groups = [g["group_id"] for g in sim_thread.simulator.state.list(status=None, offset=0, limit=40)[1]]
        manifest = tmp_path / "华北迁移.csv"
        manifest.write_text(
            "group_id,src_ak\n"
            + "".join(f"{g},\n" for g in groups)
            + f"no-such-group,\n{groups[0]},\n{groups[1]},{'A' * 200}\n",
            encoding="utf-8",
        )
        code, out, err = run_manifest(
            manifest, sim_thread.url, config.project_id, tmp_path / "run", "--max-attempts", "1"
        )
    assert code == 1, err
    return tmp_path / "run", out


def test_a_chinese_run_writes_a_chinese_report_and_summary_and_report_lang_en_turns_it_back(zh_run) -> None:
    """With LANG=zh_CN.UTF-8 the page is <html lang="zh-CN"> with no English word outside codes, ids, commands
    and data, every code's meaning in Chinese; the summary line and the Summary sheet are Chinese; the csv and
    the Rows sheet are unchanged. `report --lang en` writes them in English again, `report --lang zh-CN` back."""
    folder, out = zh_run
    page = (folder / "report.html").read_text(encoding="utf-8")
    codes = set(re.findall(r'<a class="mono code"[^>]*>([^<]+)</a>', page))
    assert {"OMS.1015", "invalid:src_ak too long"} <= codes and "duplicate" not in codes and len(codes) >= 5, codes
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert "主要错误码" in page and "迁移任务组当前的状态不能重启" in page and "处理建议" in page
    assert not english_words(page_text(page)), english_words(page_text(page))
    assert out.startswith("共 43 行：成功 ") and "调用" in out and "报告：" in out, out
    assert not english_words(out), out
    csv_head = (folder / "report.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert csv_head.startswith("row,project_id,group_id,outcome,")
    with zipfile.ZipFile(folder / "report.xlsx") as book:
        names = book.read("xl/workbook.xml").decode()
        summary = book.read("xl/worksheets/sheet1.xml").decode()
        rows = book.read("xl/worksheets/sheet2.xml").decode()
    assert 'name="摘要"' in names and 'name="Rows"' in names
    assert "运行ID" in summary and "错误码" in summary and "run_id" not in summary
    assert "project_id" in rows and "group_id" in rows

    code, out, err = run_cli("report", str(folder), "--lang", "en")
    assert code == 0, err
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">') and "Top error codes" in page
    assert not CJK.search(page_text(page).replace("华北迁移", ""))
    with zipfile.ZipFile(folder / "report.xlsx") as book:
        assert 'name="Summary"' in book.read("xl/workbook.xml").decode()
    assert run_cli("report", str(folder), "--lang", "zh-CN")[0] == 0
    assert (folder / "report.html").read_text(encoding="utf-8").startswith('<!DOCTYPE html>\n<html lang="zh-CN">')


def test_history_and_demo_take_the_language(zh_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`history --lang zh-CN` writes a Chinese history.html (history.csv unchanged); `demo --lang zh-CN` prints a
    Chinese summary line, and `history` with no --lang follows LANG."""
    folder, _out = zh_run
    code, _, err = run_cli("history", str(folder), "--out", str(tmp_path / "h"), "--lang", "zh-CN")
    assert code == 1, err
    page = (tmp_path / "h" / "history.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "从未成功" in page and "<td>失败</td>" in page
    assert not english_words(page_text(page, cells=False)), english_words(page_text(page, cells=False))
    assert (tmp_path / "h" / "history.csv").read_text(encoding="utf-8-sig").startswith("project_id,group_id,")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    run_cli("history", str(folder), "--out", str(tmp_path / "h"))
    assert '<html lang="en">' in (tmp_path / "h" / "history.html").read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("demo", "--lang", "zh-CN")
    assert code == 0, err
    assert "\n共 13 行：成功 8，失败 3，无效 1，重复 1 · 主要错误：" in out, out


@pytest.mark.slow
@needs_chromium
def test_browser_fills_the_chinese_table_with_chinese_words_and_filters_by_the_csv_values(tmp_path: Path) -> None:
    """The script's words come from the page: headings, the details' column names, outcome tags and options, the
    count line in Chinese;
    the URL's filters still take the csv's values (#outcome=failed)."""
    results = sample()
    write_reports(
        tmp_path / "run",
        results,
        summary_of(results),
        formats=["html"],
        extra_columns=("备注",),
        details=DETAILS,
        locale=Locale("zh-CN"),
    )
    url = (tmp_path / "run" / "report.html").as_uri()
    dom = chromium(tmp_path, "--dump-dom", url + "#outcome=failed").stdout
    head = dom[dom.index('<thead id="rows-head">') : dom.index("</thead>", dom.index('<thead id="rows-head">'))]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", head) == ["行号", "迁移任务组", "结果", "错误", "详情"]
    body = rows_body(dom)
    assert '<span class="k">备注 </span>' in body and '<span class="k">请求ID </span>' in body
    assert body.count("<tr>") == 5 and set(re.findall(r'<span class="tag"[^>]*>([^<]*)</span>', body)) == {"失败"}
    assert '<option value="failed">失败  (5)</option>' in dom and '<option value="duplicate">重复  (1)</option>' in dom
    assert '<span id="rows-count" class="muted">匹配 5 行</span>' in dom
