"""report.html: one self-contained page, counts that match the summary, a capped table of the rows that did
not succeed, hostile text escaped; and the page as headless Chromium runs it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from bulkretry.records import Outcome, RowResult, RunSummary
from bulkretry.report import FORMATS, HtmlReport, write_reports
from bulkretry.report import html_report as html_module
from bulkretry.report.common import report_header, row_values
from tests.reports import run_summary

HOSTILE_MSG = "</script><script>alert(1)</script>"
HOSTILE_GROUP = "<b>bold</b>-group"
HOSTILE_EXTRA = "<img src=x onerror=alert(2)>"
T0 = 1_764_000_000


def result(row: int, outcome: Outcome = Outcome.SUCCEEDED, **fields) -> RowResult:
    """A row result with plausible defaults; ``fields`` override them."""
    base = dict(
        row=row,
        project_id="p-0001",
        group_id=f"g-{row:04d}",
        outcome=outcome,
        http_status=200 if outcome is Outcome.SUCCEEDED else None,
        attempts=1,
        request_id=f"req-{row}",
        latency_ms=40.0 + row,
        started_at="2025-11-24T16:00:00.000Z",
        finished_at="2025-11-24T16:00:00.050Z",
        extra=(("备注", f"第{row}批"),),
    )
    return RowResult(**(base | fields))


def sample() -> list[RowResult]:
    """A mix of outcomes, Chinese notes, and hostile text from the server and the manifest."""
    return [
        result(2),
        result(3),
        result(4),
        result(5, Outcome.FAILED, http_status=400, error_code="OMS.1015", error_msg="任务组状态不允许重试"),
        result(6, Outcome.FAILED, http_status=404, error_code="OMS.1009", error_msg="group does not exist"),
        result(
            7,
            Outcome.FAILED,
            group_id=HOSTILE_GROUP,
            http_status=502,
            error_code="502",
            error_msg=HOSTILE_MSG,
            extra=(("备注", HOSTILE_EXTRA),),
        ),
        result(8, Outcome.FAILED, http_status=429, error_code="APIGW.0308", error_msg="throttled", attempts=5),
        result(9, Outcome.FAILED, error_code="timeout", error_msg="no answer within 30 s", latency_ms=30_000.0),
        result(
            10,
            Outcome.INVALID,
            group_id="",
            error_code="invalid:group_id missing",
            error_msg="group_id is empty",
            latency_ms=None,
            attempts=0,
        ),
        result(11, Outcome.DUPLICATE, error_code="duplicate", error_msg="same as row 2", latency_ms=None, attempts=0),
        result(12, Outcome.INTERRUPTED, error_code="interrupted", error_msg="not called", latency_ms=None, attempts=0),
    ]


def summary_of(results: list[RowResult], **fields) -> RunSummary:
    """The summary a run of 清单/华北迁移.xlsx would write for these results."""
    return run_summary(results, run_id="20251124-160000-清单", manifest="清单/华北迁移.xlsx", **fields)


DETAILS = {
    "params": {
        "manifest": "清单/华北迁移.xlsx",
        "region": "cn-north-4",
        "endpoint": None,
        "rate": "auto:5:20",
        "concurrency": 16,
        "max_attempts": 5,
        "timeout": 30.0,
        "formats": ["csv", "html"],
        "dry_run": False,
        "source_run": None,
        "dst_sk": "NEVER-SHOWN-SECRET",
    },
    "timeline": [
        [T0, 9, 0, 0],
        [T0 + 1, 12, 3, 1],
        [T0 + 2, 8, 0, 0],
        [T0 + 3, 11, 2, 0],
        [T0 + 7200, 7, 0, 1],
        [T0 + 7201, 6, 0, 0],
        "not an entry",
        [None],
    ],
}


def write_html(tmp_path: Path, results, summary: RunSummary, **kw) -> str:
    """write_reports with only html; the page's text."""
    kw.setdefault("details", DETAILS)
    paths = write_reports(tmp_path / "run", results, summary, formats=["html"], extra_columns=("备注",), **kw)
    assert [p.name for p in paths] == ["report.html", "summary.json"]
    return paths[0].read_text(encoding="utf-8")


def table_data(page: str) -> dict:
    """The JSON block the table is built from."""
    match = re.search(r'<script type="application/json" id="rows-data">(.*?)</script>', page, re.DOTALL)
    assert match, "no rows-data block"
    return json.loads(match.group(1))


# --- the file ----------------------------------------------------------------------------------------------------


def test_html_is_a_default_format_after_the_others():
    """html joins the formats, last, so it is written by default."""
    assert FORMATS == ("csv", "xlsx", "json", "html")


def test_page_is_one_self_contained_file_with_no_network_reference(tmp_path):
    """One file; no script src, no stylesheet link, no url(), no http(s) address; every link is in the page."""
    page = write_html(tmp_path, sample(), summary_of(sample()))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["report.html", "summary.json"]
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for forbidden in ("<script src", "<link", "url(", "@import", "http://", "https://", "<iframe", "<img"):
        assert forbidden not in page.lower(), forbidden
    assert all(value.startswith("#") for value in re.findall(r'(?:src|href)="([^"]*)"', page))
    assert "default-src 'none'" in page  # the Content-Security-Policy forbids loading anything


def test_inline_style_and_script_are_the_package_files_and_the_policy_allows_that_script(tmp_path):
    """The page's style is static/report.css and its script static/report.js with the outcome colours put in for
    %COLOURS% (each after a newline); the Content-Security-Policy allows that script by the sha256 of its text."""
    page = write_html(tmp_path, sample(), summary_of(sample()))
    static = resources.files("bulkretry.report").joinpath("static")
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert style and style.group(1) == "\n" + static.joinpath("report.css").read_text(encoding="utf-8")
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert script and page.count("<script>") == 1
    before, after = static.joinpath("report.js").read_text(encoding="utf-8").split("%COLOURS%")
    text = script.group(1)
    assert text.startswith("\n" + before) and text.endswith(after)
    colours = json.loads(text[len(before) + 1 : len(text) - len(after)])
    assert set(colours) == {str(o) for o in Outcome} and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours.values())
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert policy and f"script-src 'sha256-{digest}'" in policy.group(1).split("; ")


def test_big_numbers_and_donut_match_the_summary(tmp_path):
    """Each outcome's big number is the summary's count; the total is the summary's rows."""
    rows = sample()
    summary = summary_of(rows)
    page = write_html(tmp_path, rows, summary)
    cards = dict(
        (label, int(n.replace(",", "")))
        for n, label in re.findall(r'<div class="num[^"]*"[^>]*><b>([\d,]+)</b><span>([^<]+)</span>', page)
    )
    assert cards.pop("rows") == summary.rows == 11
    assert cards == summary.by_outcome
    assert f'<text x="90" y="88" text-anchor="middle" class="big">{summary.rows}</text>' in page


def test_table_holds_exactly_the_rows_that_did_not_succeed(tmp_path):
    """The table's data is every non-succeeded row, in order, with the extra columns, and nothing else."""
    rows = sample()
    data = table_data(write_html(tmp_path, rows, summary_of(rows)))
    at = data["columns"].index
    assert data["columns"][-1] == "备注"
    assert [r[at("row")] for r in data["rows"]] == [r.row for r in rows if r.outcome is not Outcome.SUCCEEDED]
    assert data["total"] == 8
    assert {r[at("outcome")] for r in data["rows"]} == {"failed", "invalid", "duplicate", "interrupted"}
    hostile = next(r for r in data["rows"] if r[at("row")] == 7)
    assert (hostile[at("group_id")], hostile[at("error_msg")], hostile[-1]) == (
        HOSTILE_GROUP,
        HOSTILE_MSG,
        HOSTILE_EXTRA,
    )


def test_table_is_capped_with_a_note_pointing_to_the_csv(tmp_path, monkeypatch):
    """Past MAX_TABLE_ROWS rows the table keeps the first ones, and the page says first N of M, see report.csv."""
    monkeypatch.setattr(html_module, "MAX_TABLE_ROWS", 5)
    rows = [result(i, Outcome.FAILED, error_code="OMS.1015") for i in range(2, 32)]
    page = write_html(tmp_path, iter(rows), summary_of(rows))
    data = table_data(page)
    assert [r[0] for r in data["rows"]] == [2, 3, 4, 5, 6] and data["total"] == 30
    assert "the first 5 of 30 rows that did not succeed" in page and "see report.csv" in page


def test_ten_thousand_rows_cap_keeps_the_page_bounded(tmp_path):
    """20,000 failures: the table keeps 10,000, and the page stays a few MB."""
    rows = (
        result(i, Outcome.FAILED, error_code="timeout", error_msg="no answer within 30 s") for i in range(2, 20_002)
    )
    page = write_html(
        tmp_path, rows, summary_of([], rows=20_000, by_outcome={"failed": 20_000}, by_error_code={"timeout": 20_000})
    )
    assert len(table_data(page)["rows"]) == html_module.MAX_TABLE_ROWS == 10_000
    assert "the first 10,000 of 20,000 rows" in page
    assert len(page.encode()) < 3_000_000


def test_hostile_text_is_escaped_everywhere(tmp_path):
    """Server and manifest text never becomes markup: no raw tag, and only the page's own two scripts."""
    rows = [*sample(), result(13, Outcome.FAILED, error_code='<i>X"</i>', error_msg="a & b \"quoted\" 'single'")]
    page = write_html(
        tmp_path, rows, summary_of(rows), details={"params": {"manifest": HOSTILE_MSG}, "timeline": DETAILS["timeline"]}
    )
    for raw in (HOSTILE_MSG, HOSTILE_GROUP, HOSTILE_EXTRA, "<i>X", "alert(1)</script>", "<b>bold"):
        assert raw not in page, raw
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the error-code example and parameter
    assert "&lt;i&gt;X&quot;&lt;/i&gt;" in page  # the code itself, in the top codes
    assert "\\u003c/script\\u003e" in page  # in the JSON block


def test_chinese_text_is_kept_as_text(tmp_path):
    """The manifest name, the run id and the extra column's values appear as UTF-8 characters."""
    page = write_html(tmp_path, sample(), summary_of(sample()))
    assert '<meta charset="utf-8">' in page
    for text in ("清单/华北迁移.xlsx", "20251124-160000-清单", "第5批", "任务组状态不允许重试"):
        assert text in page, text
    assert "Microsoft YaHei" in page and "Noto Sans CJK SC" in page  # fonts that hold them


def test_without_details_the_page_says_not_recorded(tmp_path):
    """details=None (the default) writes the page; parameters and the timeline say they were not recorded."""
    page = write_html(tmp_path, sample(), summary_of(sample()), details=None)
    assert "Parameters not recorded." in page and "Not recorded: this report was written without" in page
    assert "latency histogram" in page and table_data(page)["total"] == 8


def test_details_show_parameters_and_a_timeline_but_never_secret_looking_ones(tmp_path):
    """Parameters are listed (secret-looking names dropped); the timeline marks 429s, failures and a pause."""
    page = write_html(tmp_path, sample(), summary_of(sample()))
    assert "cn-north-4" in page and "auto:5:20" in page and "csv, html" in page
    assert "NEVER-SHOWN-SECRET" not in page and "dst sk" not in page
    timeline = page[page.index('aria-label="calls per second over time"') :]
    timeline = timeline[: timeline.index("</svg>")]
    assert 'class="thr"' in timeline and 'class="fail"' in timeline and "2 h pause" in timeline
    assert "53 calls · peak 12 calls/s" in page and "5 throttled (429)</b> in 2 seconds" in page


def test_empty_timeline_and_no_latencies_say_so(tmp_path):
    """A run with no call (all invalid) has no chart, just a sentence."""
    rows = [result(2, Outcome.INVALID, error_code="invalid:group_id missing", latency_ms=None)]
    page = write_html(tmp_path, rows, summary_of(rows), details={"params": {}, "timeline": []})
    assert "No calls were made." in page and "No latencies" in page and "Needs attention" in page


@pytest.mark.parametrize("latency", [0.0, 0.5, 150_000.0, 999_999.0])
def test_latency_histogram_at_either_end_of_the_bins(tmp_path, latency):
    """Latencies all in the first or the last bin still draw a histogram of a few bins."""
    rows = [result(i, latency_ms=latency) for i in range(2, 5)]
    page = write_html(tmp_path, rows, summary_of(rows))
    assert page.count('class="lat-ok"') == 2  # the legend's, and the one bar with rows


@pytest.mark.parametrize(
    ("outcomes", "word"),
    [
        ({"succeeded": 3}, "All retried"),
        ({"succeeded": 2, "failed": 1}, "Needs attention"),
        ({"succeeded": 1, "interrupted": 2}, "Interrupted"),
    ],
)
def test_verdict_in_the_title_and_the_banner(tmp_path, outcomes, word):
    """The verdict follows the outcomes and is in the page's title."""
    rows = [result(i, Outcome(o)) for i, o in enumerate((o for o, n in outcomes.items() for _ in range(n)), 2)]
    page = write_html(tmp_path, rows, summary_of(rows))
    assert f"<title>{word} · run" in page and f'<span class="pill">{word}</span>' in page


def test_dry_run_verdict(tmp_path):
    """A dry run says nothing was called."""
    rows = [result(2, Outcome.DRY_RUN, latency_ms=None)]
    page = write_html(tmp_path, rows, summary_of(rows, dry_run=True))
    assert "Dry run" in page and "nothing was called" in page


def test_details_reach_only_the_html_writer_and_the_csv_is_unchanged(tmp_path):
    """With details, csv is byte for byte what it is without; html gets them."""
    rows, summary = sample(), summary_of(sample())
    write_reports(tmp_path / "a", rows, summary, formats=["csv"], extra_columns=("备注",))
    write_reports(tmp_path / "b", rows, summary, formats=["csv", "html"], extra_columns=("备注",), details=DETAILS)
    assert (tmp_path / "a" / "report.csv").read_bytes() == (tmp_path / "b" / "report.csv").read_bytes()
    assert "cn-north-4" in (tmp_path / "b" / "report.html").read_text(encoding="utf-8")


def test_html_writer_keeps_no_more_than_its_cap_and_discards_quietly(tmp_path):
    """The writer holds at most max_rows table rows while counting them all; discard() never raises."""
    header, extras = report_header(("备注",))
    report = HtmlReport(tmp_path / "r.html.tmp", max_rows=2)
    report.start(header, summary_of([]))
    for i in range(2, 12):
        report.write(row_values(result(i, Outcome.FAILED, error_code="OMS.1015"), extras))
    assert (report.rows, report.not_ok, len(report._table)) == (10, 10, 2)
    report.discard()
    report.discard()
    assert "closed" in repr(report)


# --- in a browser -----------------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed: apt-get install chromium (.ci/run installs it)"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with its own profile; fail with its stderr if it fails."""
    command = [
        CHROMIUM,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2_000:]
    return done


def rows_body(dom: str) -> str:
    """The table body as the script filled it."""
    start = dom.index('<tbody id="rows-body"')
    return dom[start : dom.index("</tbody>", start)]


@pytest.mark.slow
@needs_chromium
def test_browser_runs_the_script_and_applies_filters_from_the_url(tmp_path):
    """In Chromium the table is filled by the page's script, filtered by #outcome=&code=, hostile text as text."""
    rows = sample()
    write_html(tmp_path, rows, summary_of(rows))
    url = (tmp_path / "run" / "report.html").as_uri()

    dom = chromium(tmp_path, "--dump-dom", url).stdout
    assert 'data-ready="1"' in dom  # the script ran under the page's Content-Security-Policy
    body = rows_body(dom)
    assert body.count("<tr>") == 8 and "&lt;b&gt;bold&lt;/b&gt;-group" in body and "<b>" not in body
    assert "第7批" not in body and "第5批" in body and "8 matching rows" in dom

    dom = chromium(tmp_path, "--dump-dom", url + "#outcome=failed&code=OMS.1009").stdout
    body = rows_body(dom)
    assert body.count("<tr>") == 1 and "g-0006" in body and "1 matching rows" in dom

    dom = chromium(tmp_path, "--dump-dom", url + "#q=" + "ALERT(1)").stdout
    assert 'data-shown="1"' in dom and "1 matching rows" in dom


@pytest.mark.slow
@needs_chromium
def test_browser_screenshot_is_a_full_page(tmp_path):
    """A 1280x2400 screenshot of the page is a PNG of that size with real content (not a blank page)."""
    rows = sample()
    write_html(tmp_path, rows, summary_of(rows))
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", (tmp_path / "run" / "report.html").as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2400)
    assert len(data) > 60_000  # a blank page of that size is some 10 kB
