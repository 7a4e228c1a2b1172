"""A Chinese report with no English of ours left: our own messages (made through the message table) translated
where people read them, stored English in the machine files; report.html as a browser renders it."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest

from bulkretry.i18n import translation
from bulkretry.i18n.messages import (
    DRY_RUN,
    MAX_DURATION_REASON,
    NOT_ACCEPTED,
    NOT_CALLED,
    halt_message,
    say,
    translate,
)
from bulkretry.i18n.times import Locale
from bulkretry.manifest.plan import Planner
from bulkretry.notify.message import Ending, render
from bulkretry.oms.actions import ACTIONS, GROUPS
from bulkretry.oms.client import transport_failure
from bulkretry.oms.status import status_name
from bulkretry.records import Outcome, RowResult
from bulkretry.report import write_reports
from bulkretry.report.html_details import duration_text
from bulkretry.run.halt import FailureShare
from tests.test_html_report import DETAILS, chromium, needs_chromium, result, summary_of

#: The service's own messages in the round: they stay as the service sent them.
SERVICE_MESSAGES = ("Task group status does not support retry: migration finished (6)",)
#: ASCII a Chinese page keeps: error codes, ids, column names of machine data, options, file and command names,
#: timestamps, numbers and units. Everything else in ASCII letters is English of ours.
_KEPT = re.compile(
    r"(?<![A-Za-z])(?:[A-Z]+\.\d+|[A-Z]{2,})(?![A-Za-z])|--[a-z-]+|\S*/\S*|\w+_\w+|\w+\.(?:csv|xlsx|json|html|sqlite)\b"
    r"|\d{4}-\d\d-\d\dT[\d:.]+Z|[\w-]*\d[\w-]*"
)
#: Words that stay English: the tool and its commands, file formats, a value to type (an action), the unit ms.
ALLOWED = frozenset(
    {"bulkretry", "run", "report", "resume", "out", "format", "csv", "html", "JavaScript", "ms", "retry", "auto"}
)


class _Text(HTMLParser):
    """The text a reader sees in a DOM, and the attributes people read (title, placeholder, aria-label)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style")
        self.parts += [v for k, v in attrs if k in ("title", "placeholder", "aria-label") and v]

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def seen_text(dom: str) -> str:
    parser = _Text()
    parser.feed(dom)
    return "\n".join(parser.parts)


def english_of_ours(text: str, data: tuple[str, ...] = ()) -> list[str]:
    """The English words left in *text* once the data (*data*: the service's messages, the manifest's cells) and
    the kept tokens are taken out."""
    for item in data:
        text = text.replace(item, " ")
    return [w for w in re.findall(r"[A-Za-z]+", _KEPT.sub(" ", text)) if w not in ALLOWED]


def codes_of(rows: list[RowResult]) -> tuple[str, ...]:
    """The round's error codes, longest first: machine data, kept as the csv has them."""
    return tuple(sorted({row.error_code for row in rows if row.error_code}, key=len, reverse=True))


def mixed_round() -> list[RowResult]:
    """A round of every kind of row, each message made by the code that makes it in a run."""
    planner = Planner(columns=["group_id", "src_ak"], project_id="p-0001", endpoint="http://127.0.0.1:1")
    long_key = planner.plan(9, {"group_id": "g-0009", "src_ak": "A" * 200})
    first = planner.plan(10, {"group_id": "g-0010", "src_ak": ""})
    again = planner.plan(11, {"group_id": "g-0010", "src_ak": ""})
    timeout = transport_failure(asyncio.TimeoutError(), 30.0, 30_000.0)
    dropped = transport_failure(aiohttp.ServerDisconnectedError(), 30.0, 12.0)
    share = FailureShare(50, 2)
    for row in (result(5, Outcome.FAILED, error_code="timeout"), result(6, Outcome.FAILED, error_code="timeout")):
        reason = share.observe(row)
    assert first.callable and not long_key.callable and not again.callable
    before = (("status_before", "6"), ("status_before_meaning", status_name(6)))
    skipped = say(NOT_ACCEPTED, status=f"6 ({status_name(6)})", action="retry", allowed=f"5 ({status_name(5)})")
    return [
        result(2),
        result(3, Outcome.FAILED, http_status=400, error_code="OMS.1015", error_msg=SERVICE_MESSAGES[0]),
        result(5, Outcome.FAILED, error_code=timeout.code, error_msg=timeout.message),
        result(6, Outcome.FAILED, error_code=dropped.code, error_msg=dropped.message),
        result(7, Outcome.SKIPPED, error_code="status:6", error_msg=skipped, extra=before),
        result(8, Outcome.INTERRUPTED, error_code="halted", error_msg=halt_message("halted", reason or "")),
        result(9, Outcome.INVALID, error_code=long_key.error_code, error_msg=long_key.error_msg, attempts=0),
        result(11, Outcome.DUPLICATE, error_code=again.error_code, error_msg=again.error_msg, attempts=0),
        result(12, Outcome.DRY_RUN, error_code="", error_msg=say(DRY_RUN, call=ACTIONS["retry", GROUPS].describe())),
    ]


def test_every_message_of_ours_reads_back_to_a_chinese_sentence() -> None:
    """Each message of the round is Chinese in zh-CN with no English word of ours, and English as stored in en."""
    rows = mixed_round()
    for row in rows:
        text = translate(row.error_msg, "zh-CN")
        assert translate(row.error_msg, "en") == row.error_msg
        if row.error_msg in SERVICE_MESSAGES or not row.error_msg:
            assert text == row.error_msg
            continue
        assert re.search(r"[\u4e00-\u9fff]", text), row.error_msg
        assert not english_of_ours(text, codes_of(rows)), (row.error_msg, text)


def test_a_halt_reason_inside_a_message_is_translated_too() -> None:
    """The fields of a message are messages in turn: a halt's reason, the earlier session's note around it."""
    inner = say(NOT_CALLED)
    assert translate(halt_message("halted", inner), "zh-CN") == "运行已停止（halted）：未调用：运行已停止"
    assert translate("a message the service wrote", "zh-CN") == "a message the service wrote"


@pytest.mark.slow
@needs_chromium
def test_the_chinese_report_as_a_browser_shows_it_has_no_english_of_ours(tmp_path: Path) -> None:
    """report.html in zh-CN, its script run by Chromium: no English word of ours anywhere a reader looks (labels,
    status meanings, outcome words, our messages, units); report.csv keeps the English messages."""
    rows = mixed_round()
    write_reports(
        tmp_path / "run",
        rows,
        summary_of(rows),
        formats=["csv", "html"],
        details=DETAILS,
        locale=Locale("zh-CN", "UTC"),
    )
    dom = chromium(tmp_path, "--dump-dom", (tmp_path / "run" / "report.html").as_uri()).stdout
    assert 'data-ready="1"' in dom
    text = seen_text(dom)
    codes = sorted(
        {row.error_code for row in rows if row.error_code}, key=len, reverse=True
    )  # machine data, as the csv has them
    words = english_of_ours(text, (*SERVICE_MESSAGES, *codes))
    assert not words, sorted(set(words))
    for chinese in ("模拟运行", "已中断", "已跳过", "迁移完成", "服务端在应答前关闭了连接", "30 秒内无应答"):
        assert chinese in text, chinese
    csv = (tmp_path / "run" / "report.csv").read_text(encoding="utf-8-sig")
    assert "same project and group as row 10; called once" in csv and "no answer within 30 s" in csv


def test_a_chinese_notification_says_the_halt_in_chinese() -> None:
    """A notification in zh-CN gives the halt's reason (stored English) in Chinese, as notify_ending renders it."""
    reason = say(MAX_DURATION_REASON, duration="1s")
    text = render(
        Ending(3, None, run_id="r", halted=reason),
        gettext=translation("zh-CN").gettext,
        message=lambda m: translate(m, "zh-CN"),
    ).body
    assert "运行已达到 --max-duration 1s；可用 --resume 继续" in text and reason not in text, text


def test_durations_are_in_the_pages_units() -> None:
    """Seconds are 秒 in Chinese and s in English."""
    assert duration_text(0.2, translation("zh-CN").gettext) == "0.2 秒"
    assert duration_text(75, translation("zh-CN").gettext) == "1 分钟 15 秒"
    assert duration_text(75, translation("en").gettext) == "1 min 15 s"
