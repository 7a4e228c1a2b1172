"""report.html with each group's own story, on paper (A4, headless Chromium's --print-to-pdf) and on a 1,400 px
screen; and its charts' axes and legends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bulkretry.records import GROUP_COLUMNS, Outcome, RowResult, RunSummary
from bulkretry.report import write_reports
from tests.test_html_report import T0, chromium, needs_chromium, rows_body, table_data

MESSAGE = (
    "The task group cannot be retried because the destination bucket policy denies the OMS service principal "
    "write access to the prefix migrated/2024/archive/; grant obs:object:PutObject and try again (refused)"
)
EXTRA_COLUMNS = ("status_before", "status_before_meaning", *GROUP_COLUMNS, "owner", "note")


def story(group_id: str, fail_num: int) -> tuple[tuple[str, str | int], ...]:
    return (
        ("group_error_code", "TRF.0051"),
        ("group_error_msg", "The destination AK/SK does not have permission to access the bucket."),
        ("group_total_task_num", 12),
        ("group_failed_task_num", 3),
        ("group_success_num", 123_456),
        ("group_fail_num", fail_num),
        ("group_total_size", 98_765_432_100),
        ("group_complete_size", 1_234_567_890),
        ("group_failed_object_list", f"oms/failed_object_lists/{group_id}/failed_objects.txt"),
    )


def failed_rows(count: int = 200) -> list[RowResult]:
    """*count* failed rows with long messages, long group ids (half of them), the group columns and manifest
    columns; then 40 that succeeded (their groups' failed objects are not counted)."""
    rows = []
    for i in range(2, count + 2):
        gid = (
            f"migration-group-{i:04d}-cn-north-4-archive-bucket-d41d8cd98f00b204"
            if i % 2
            else f"4f1c2b3a-1111-4222-8333-{i:012d}"
        )
        extra = (
            ("status_before", "5"),
            ("status_before_meaning", "migration failed"),
            *story(gid, 1_000 + i),
            ("owner", "alice"),
            ("note", f"batch {i}"),
        )
        rows.append(
            RowResult(
                i,
                "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                gid,
                Outcome.FAILED,
                403,
                "OMS.0203" if i % 3 else "APIGW.0308",
                MESSAGE[: 120 + (i * 7) % 120],
                3,
                "a" * 32,
                123.4,
                "2026-11-24T10:00:00.123Z",
                "2026-11-24T10:00:01.123Z",
                extra,
            )
        )
    for i in range(count + 2, count + 42):
        rows.append(
            RowResult(
                i,
                "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                f"g-{i}",
                Outcome.SUCCEEDED,
                200,
                "",
                "",
                1,
                "b" * 32,
                80.0,
                "2026-11-24T10:00:00.123Z",
                "2026-11-24T10:00:01.123Z",
                (("status_before", "5"), ("status_before_meaning", "migration failed"), *story(f"g-{i}", 99_999)),
            )
        )
    return rows


def write_page(tmp_path: Path, rows: list[RowResult], timeline: list | None = None) -> Path:
    failed = sum(r.outcome is Outcome.FAILED for r in rows)
    summary = RunSummary(
        "20261124-100000-manifest",
        "manifest.csv",
        "2026-11-24T10:00:00Z",
        "2026-11-24T10:05:00Z",
        300.0,
        len(rows),
        {"failed": failed, "succeeded": len(rows) - failed},
        {"OMS.0203": failed * 2 // 3, "APIGW.0308": failed - failed * 2 // 3},
        700,
        2.3,
    )
    timeline = (
        timeline
        if timeline is not None
        else [[T0 + k, 3 + k % 4, 1 if k % 7 == 0 else 0, 2 if k % 5 == 0 else 0] for k in range(240)]
    )
    write_reports(
        tmp_path / "run",
        rows,
        summary,
        formats=["html"],
        extra_columns=EXTRA_COLUMNS,
        details={"params": {"rate": 5, "region": "cn-north-4", "check_status": True}, "timeline": timeline},
    )
    return tmp_path / "run" / "report.html"


def test_the_page_totals_the_failed_objects_of_the_rows_that_did_not_succeed(tmp_path):
    """The failed objects of the groups of the 200 failed rows are summed (those of succeeded rows are not), and
    each row's story reaches the table's data."""
    rows = failed_rows()
    page = write_page(tmp_path, rows).read_text(encoding="utf-8")
    total = sum(1_000 + i for i in range(2, 202))
    assert f"<b>{total:,} failed objects</b> in the groups of these 200 rows" in page
    data = table_data(page)
    first = dict(zip(data["columns"], data["rows"][0]))
    assert first["group_fail_num"] == 1_002 and first["group_total_size"] == 98_765_432_100
    assert first["group_failed_object_list"] == (
        "oms/failed_object_lists/4f1c2b3a-1111-4222-8333-000000000002/failed_objects.txt"
    )


def test_without_group_columns_there_is_no_total(tmp_path):
    rows = [r._replace(extra=()) for r in failed_rows(5)]
    page = write_page(tmp_path, rows).read_text(encoding="utf-8")
    assert "failed objects</b>" not in page


def _axis_numbers(svg: str) -> list[int]:
    return [int(t.replace(",", "")) for t in re.findall(r'text-anchor="end" class="axis">([\d,.]+)</text>', svg)]


@pytest.mark.parametrize("peak", [1, 3, 7, 13, 47, 230, 1_234])
def test_axis_ticks_are_round_numbers_and_the_legends_tell_calls_from_rows(tmp_path, peak):
    """Both charts' y ticks are 0 and equal steps of 1, 2 or 5 x 10^n reaching the peak; the timeline's legend
    speaks of calls, the latency one of rows, and no label says just 'failed'."""
    rows = [
        RowResult(i, "p", f"g{i}", Outcome.FAILED if i % 2 else Outcome.SUCCEEDED, latency_ms=150.0)
        for i in range(2, peak + 2)
    ]
    page = write_page(tmp_path, rows, [[T0, peak, 0, 0], [T0 + 1, 1, 0, 1]]).read_text(encoding="utf-8")
    charts = re.findall(r"<svg viewBox=\"0 0 1000 \d+\" class=\"chart\".*?</svg>", page, re.DOTALL)
    assert len(charts) == 2
    for svg in charts:
        ticks = _axis_numbers(svg)
        step = ticks[1]
        assert ticks == [step * i for i in range(len(ticks))] and ticks[-1] >= peak and ticks[-2] < peak
        assert step / 10 ** (len(str(step)) - 1) in (1, 2, 5), ticks
    legends = re.findall(r'<ul class="legend inline">(.*?)</ul>', page)
    labels = [re.findall(r"</i>([^<]+)</li>", legend) for legend in legends]
    assert labels == [
        ["calls answered", "calls throttled (429)", "calls that failed otherwise"],
        ["rows that succeeded", "rows that did not succeed"],
    ]


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


@pytest.mark.slow
@needs_chromium
def test_two_hundred_failed_rows_print_on_at_most_eight_a4_pages(tmp_path):
    """200 failed rows with long messages, long group ids and the group columns: Chromium prints the page on
    A4 in at most 8 pages, each row's group error code and failed-object list on paper."""
    page = write_page(tmp_path, failed_rows())
    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    data = pdf.read_bytes()
    assert 3 <= _pdf_pages(data) <= 8, _pdf_pages(data)
    sizes = {tuple(round(float(n)) for n in box.split()) for box in re.findall(rb"/MediaBox\s*\[([\d.\s]+)\]", data)}
    assert sizes == {(0, 0, 595, 842)}  # A4 in points, portrait


# Measures the rows table once the page's script filled it: whether it scrolls sideways, and each header's
# right edge against the table's box; written into the DOM for --dump-dom to show.
_MEASURE = """<script>
addEventListener("load", function () {
  var wrap = document.querySelector(".table-wrap"), box = wrap.getBoundingClientRect();
  var cut = Array.prototype.filter.call(document.querySelectorAll("#rows-head th"), function (th) {
    var r = th.getBoundingClientRect(); return r.width < 20 || r.right > box.right + 0.5; }).length;
  var ids = Array.prototype.filter.call(document.querySelectorAll("#rows-body .code-id"), function (e) {
    return e.getClientRects().length > 1; }).length;
  document.body.setAttribute("data-measured", [wrap.scrollWidth, wrap.clientWidth, cut, ids,
    document.querySelectorAll("#rows-head th").length, innerWidth].join(","));
});
</script>"""


@pytest.mark.slow
@needs_chromium
def test_at_1400_px_every_column_of_the_table_is_visible(tmp_path):
    """In a 1,400 px window the table does not scroll sideways, every header is inside it, no error code is
    split over two lines, and each failed row shows its group's error and failed-object list."""
    page = write_page(tmp_path, failed_rows(60))
    html = page.read_text(encoding="utf-8")
    measured = tmp_path / "measured.html"  # a copy without the policy, so the measuring script may run
    measured.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html).replace("</body>", _MEASURE + "</body>"),
        encoding="utf-8",
    )
    dom = chromium(tmp_path, "--window-size=1400,900", "--dump-dom", measured.as_uri()).stdout
    found = re.search(r'data-measured="([\d,.]+)"', dom)
    assert found, dom[-2_000:]
    scroll, client, cut, split_ids, headers, width = (float(n) for n in found.group(1).split(","))
    assert (width, headers) == (1400, 5)
    assert scroll <= client and cut == 0 and split_ids == 0
    body = rows_body(dom)
    assert body.count("TRF.0051") == 60 and "failed_objects.txt" in body and "1,002 failed objects" in body
