"""``report.html``: the run on one self-contained page, for people (a team lead, support).

- One file that makes no request: CSS and JavaScript inline (kept beside this module as package data,
  ``static/report.css`` and ``static/report.js``), charts drawn here as inline SVG, and a
  Content-Security-Policy that lets only that script run and nothing load.
- The page shows the verdict, the run's details and parameters, the counts by outcome, the top error
  codes with what they mean and what to do (:mod:`bulkretry.oms.codes`), calls per second over time with
  the 429s and failures marked, a latency histogram, and a searchable table of the rows that did not
  succeed. The table is filled by a few lines of JavaScript from a JSON block; its filters can be set
  by the URL: ``report.html#outcome=failed&code=OMS.1015&q=text``.
- Rows are streamed: only counts, a latency histogram and the first ``max_rows`` rows that did not
  succeed are kept, so a million failures make a page of a bounded size; the page says so and points
  to ``report.csv``.
- Every text from the rows or the service is escaped: HTML-escaped in the page, and in the JSON block
  ``<``, ``>`` and ``&`` are written as ``\\u003c``... so ``</script>`` in a message cannot end the block.
  The table is filled with ``textContent``, never as HTML.
- ``details`` (optional) is ``{"params": {...}, "timeline": [[unix_second, calls, throttled, failed], ...]}``;
  without it those parts say "not recorded".
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from bulkretry import __version__
from bulkretry.oms.codes import explain
from bulkretry.records import REPORT_COLUMNS, RunSummary
from bulkretry.report.common import Value, close_quietly, sync_close

__all__ = ["MAX_TABLE_ROWS", "HtmlReport"]

#: The most rows that did not succeed the page's table holds; report.csv has them all.
MAX_TABLE_ROWS = 10_000
#: A table cell's text is cut to this many characters (the csv has it whole).
MAX_CELL_CHARS = 500
#: The most error codes listed, and the most distinct codes whose example message is kept.
TOP_CODES = 12
_MAX_EXAMPLES = 1_000

_ORDER = ("succeeded", "failed", "invalid", "interrupted", "duplicate", "skipped", "dry_run")
_COLOURS = {"succeeded": "#2f9e6e", "failed": "#d64545", "invalid": "#e08a1e", "interrupted": "#8a63d2",
            "duplicate": "#9aa5b1", "skipped": "#5b9bd5", "dry_run": "#3fa7a8"}
_LABELS = {"dry_run": "dry run"}
# The table's columns, in this order, then the manifest's extra columns.
_TABLE = ("row", "group_id", "outcome", "error_code", "error_msg", "http_status", "attempts", "latency_ms",
          "project_id", "request_id", "finished_at")
_LATENCY_AT = _TABLE.index("latency_ms")
_SECRET_HINTS = ("secret", "password", "token", "credential", "_sk", "_ak", "auth_file", "connection_string")

# Latency histogram bins (ms): 1-2-5 steps; a last bin for anything slower.
_EDGES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
_FINE = math.log(1.05)  # percentile buckets 5 % wide
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*(?: auto| RUN_DIR| failed)?)")


def _static(name: str) -> str:
    """A file of ``bulkretry/report/static/``, as text (package data, so a wheel has it)."""
    return files("bulkretry.report").joinpath("static", name).read_text(encoding="utf-8")


# The page's style and script, read once. Each is inlined after a newline; the table's script gets the
# outcome colours in place of ``%COLOURS%``. The CSP allows that script by the sha256 of this exact text.
_CSS = "\n" + _static("report.css")
_SCRIPT = "\n" + _static("report.js").replace("%COLOURS%", json.dumps(_COLOURS))
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()}'")


class HtmlReport:
    """Streams rows into aggregates and a capped table; writes ``report.html`` at :meth:`finish`."""

    filename = "report.html"
    #: ``write_reports`` passes the run's details (parameters, timeline) to writers that say so.
    accepts_details = True

    def __init__(self, path: Path, details: Mapping[str, Any] | None = None, *, max_rows: int | None = None) -> None:
        self.path = path
        self.details = details
        #: The most rows the table keeps (default ``MAX_TABLE_ROWS``).
        self.max_rows = MAX_TABLE_ROWS if max_rows is None else max_rows
        self._fh: IO[str] | None = None
        self._summary: RunSummary | None = None
        self._columns: tuple[str, ...] = ()
        self._pick: tuple[int, ...] = ()
        self._at: dict[str, int] = {}
        self.rows = 0
        self.not_ok = 0
        self.by_outcome: Counter[str] = Counter()
        self._codes: Counter[str] = Counter()
        self._examples: dict[str, str] = {}
        self._table: list[list[Value]] = []
        self._latency = _Latency()

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        self._fh = open(self.path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115 (closed by finish/discard)
        self._summary = summary
        self._at = {name: i for i, name in enumerate(header)}
        extras = header[len(REPORT_COLUMNS):]
        self._columns = (*_TABLE, *extras)
        self._pick = (*(self._at[name] for name in _TABLE), *range(len(REPORT_COLUMNS), len(header)))
        self._slots = tuple(self._at[name] for name in ("outcome", "error_code", "error_msg", "latency_ms"))

    def write(self, values: tuple[Value, ...]) -> None:
        at_outcome, at_code, at_msg, at_latency = self._slots
        outcome = str(values[at_outcome])
        code = str(values[at_code] or "")
        self.rows += 1
        self.by_outcome[outcome] += 1
        latency = values[at_latency]
        if isinstance(latency, int | float):
            self._latency.add(float(latency), outcome == "succeeded")
        if code:  # a server that makes up a code a row cannot make this grow without bound
            if code in self._codes or len(self._codes) < _MAX_EXAMPLES:
                self._codes[code] += 1
                self._examples.setdefault(code, str(values[at_msg] or ""))
            else:
                self._codes["(other codes)"] += 1
        if outcome != "succeeded":
            self.not_ok += 1
            if len(self._table) < self.max_rows:
                row = [_cell(values[i]) for i in self._pick]
                if isinstance(latency, float):
                    row[_LATENCY_AT] = round(latency, 1)
                self._table.append(row)

    def finish(self) -> None:
        assert self._fh is not None and self._summary is not None
        fh, self._fh = self._fh, None
        try:
            fh.write(self.render())
        except BaseException:
            close_quietly(fh)
            raise
        sync_close(fh)

    def discard(self) -> None:
        fh, self._fh = self._fh, None
        close_quietly(fh)

    def __repr__(self) -> str:
        return f"<HtmlReport {self.path} rows={self.rows} table={len(self._table)} {'open' if self._fh else 'closed'}>"

    # -- the page ----------------------------------------------------------------------------------

    def render(self) -> str:
        """The whole page, from what was streamed so far."""
        assert self._summary is not None
        s = self._summary
        details = self.details or {}
        by_outcome = {k: int(v) for k, v in (s.by_outcome or self.by_outcome).items()}
        by_code = {k: int(v) for k, v in (s.by_error_code or self._codes).items()}
        total = s.rows or sum(by_outcome.values())
        tone, word, sentence, command = _verdict(s, by_outcome, total)
        command_html = f' <code class="cmd">{escape(command)}</code>' if command else ""
        table_data = {"columns": list(self._columns), "rows": self._table, "total": self.not_ok}
        body = "".join([
            f'<header><p class="kicker">bulkretry · OMS task-group retry · run report</p>'
            f'<h1>Run <span class="mono">{escape(s.run_id)}</span></h1>{_meta(s, details.get("params"))}'
            f'<p class="verdict {tone}"><span class="pill">{escape(word)}</span> {escape(sentence)}{command_html}</p>'
            "</header>",
            _section("Outcomes", _outcomes(by_outcome, total), "outcomes"),
            _section("Top error codes", _codes(by_code, self._examples, total), "codes"),
            _section("Calls per second", _timeline(details.get("timeline")), "timeline"),
            _section("Latency", _latency(self._latency), "latency"),
            _section("Rows that did not succeed", _table(self.not_ok, len(self._table)), "rows"),
            _section("Run details", _run_details(s, details.get("params")), "details"),
            f'<footer>Written by bulkretry {escape(__version__)} on {_now()}. This page is self-contained and makes '
            "no network requests. The run's journal.sqlite holds every row: <code>bulkretry report RUN_DIR --format "
            "csv</code> writes them all to report.csv.</footer>",
        ])
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="color-scheme" content="light">'
            f"<title>{escape(f'{word} · run {s.run_id} · bulkretry')}</title><style>{_CSS}</style></head>\n"
            f"<body><main>{body}</main>\n"
            f'<script type="application/json" id="rows-data">{_script_json(table_data)}</script>\n'
            f"<script>{_SCRIPT}</script></body></html>\n")


# -- aggregates ------------------------------------------------------------------------------------------


class _Latency:
    """A latency histogram over 1-2-5 bins (succeeded / not), and 5 %-wide buckets for percentiles."""

    def __init__(self) -> None:
        self.bins = [[0, 0] for _ in range(len(_EDGES) + 1)]
        self.fine: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, ms: float, ok: bool) -> None:
        if not math.isfinite(ms) or ms < 0:
            return
        index = bisect_right(_EDGES, ms)  # the first bin whose edge is above ms
        self.bins[index][0 if ok else 1] += 1
        self.fine[math.floor(math.log(ms) / _FINE) if ms >= 0.01 else -100] += 1
        self.count += 1
        self.total += ms
        self.max = max(self.max, ms)

    def percentile(self, p: float) -> float:
        """The upper edge of the bucket holding the *p*-th percentile (within 5 %), at most the maximum."""
        rank, seen = math.ceil(p / 100 * self.count), 0
        for key in sorted(self.fine):
            seen += self.fine[key]
            if seen >= rank:
                return min(self.max, math.exp((key + 1) * _FINE))
        return self.max


# -- sections --------------------------------------------------------------------------------------------


def _verdict(s: RunSummary, by: Mapping[str, int], total: int) -> tuple[str, str, str, str]:
    """``(tone, word, sentence, command to run next or '')``."""
    ok, failed, invalid, interrupted = (by.get(k, 0) for k in ("succeeded", "failed", "invalid", "interrupted"))
    share = f" ({ok / total:.1%} succeeded)" if total else ""
    if s.dry_run:
        return "info", "Dry run", f"{total:,} rows were checked; nothing was called.", ""
    if total == 0:
        return "info", "No rows", "The manifest had no rows to retry.", ""
    if interrupted:
        also = f", and {failed + invalid:,} failed or were invalid" if failed or invalid else ""
        return "warn", "Interrupted", (f"{interrupted:,} of {total:,} rows were not finished{also}{share}. "
                                       "Continue the run with"), "bulkretry run --resume --out RUN_DIR"
    if failed or invalid:
        return "bad", "Needs attention", (f"{failed + invalid:,} of {total:,} rows were not retried{share}: "
                                          "see the error codes below."), ""
    return "ok", "All retried", f"Every task group was retried: {ok:,} of {total:,} rows succeeded.", ""


def _meta(s: RunSummary, params: Any) -> str:
    """One line under the title: the manifest, when, how long, how many calls, where."""
    params = params if isinstance(params, Mapping) else {}
    where = params.get("endpoint") or params.get("region")
    items = [s.manifest, _when(s.started_at)[:16] + " UTC" if s.started_at else "", _duration(s.duration_s),
             f"{s.calls:,} calls" + (f" at {s.achieved_rate:g}/s" if _positive(s.achieved_rate) else ""),
             f"rate {params['rate']}" if params.get("rate") is not None else "",
             f"{where}" if where else "", "dry run" if s.dry_run else ""]
    return '<p class="meta">' + "<span>·</span>".join(escape(str(i)) for i in items if i) + "</p>"


def _section(title: str, inner: str, anchor: str) -> str:
    return f'<section class="card" id="{anchor}"><h2>{escape(title)}</h2>{inner}</section>'


def _outcomes(by: Mapping[str, int], total: int) -> str:
    names = [*(k for k in _ORDER if by.get(k)), *sorted(k for k in by if k not in _ORDER and by[k])]
    if not names:
        return '<p class="muted">No rows.</p>'
    cards = "".join(
        f'<div class="num" style="border-color:{_colour(k)}"><b>{by[k]:,}</b><span>{escape(_label(k))}</span>'
        f'<small>{by[k] / total:.1%} of rows</small></div>' for k in names)
    cards = f'<div class="num total"><b>{total:,}</b><span>rows</span><small>in the manifest</small></div>{cards}'
    return f'<div class="outcomes"><div class="numbers">{cards}</div>{_donut(by, names, total)}</div>'


def _donut(by: Mapping[str, int], names: list[str], total: int) -> str:
    r, width = 62.0, 24
    circumference = 2 * math.pi * r
    arcs, start = [], 0.0
    counted = sum(by[k] for k in names) or 1
    for k in names:
        length = by[k] / counted * circumference
        arcs.append(f'<circle r="{r}" cx="90" cy="90" fill="none" stroke="{_colour(k)}" stroke-width="{width}" '
                    f'stroke-dasharray="{length:.2f} {circumference - length:.2f}" stroke-dashoffset="{-start:.2f}">'
                    f"<title>{escape(_label(k))}: {by[k]:,}</title></circle>")
        start += length
    legend = "".join(f'<li><i style="background:{_colour(k)}"></i>{escape(_label(k))} '
                     f'<span class="muted">{by[k]:,}</span></li>' for k in names)
    return (f'<figure class="donut"><svg viewBox="0 0 180 180" width="180" height="180" role="img" '
            f'aria-label="rows by outcome"><g transform="rotate(-90 90 90)">'
            f'<circle r="{r}" cx="90" cy="90" fill="none" stroke="#eef0f3" stroke-width="{width}"/>{"".join(arcs)}</g>'
            f'<text x="90" y="88" text-anchor="middle" class="big">{total:,}</text>'
            f'<text x="90" y="108" text-anchor="middle" class="axis">rows</text></svg>'
            f'<figcaption><ul class="legend">{legend}</ul></figcaption></figure>')


def _codes(by_code: Mapping[str, int], examples: Mapping[str, str], total: int) -> str:
    if not by_code:
        return '<p class="muted">No error codes: every row that was called succeeded.</p>'
    ranked = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    top, rest = ranked[:TOP_CODES], ranked[TOP_CODES:]
    peak = top[0][1] or 1
    rows = []
    for code, count in top:
        meaning, action = explain(code)
        example = examples.get(code, "")
        example_html = f'<div class="example">“{escape(_cut(example, 200))}”</div>' if example else ""
        link = f"#code={_hash_value(code)}"
        share = f'<small class="muted">{count / total:.1%} of rows</small>' if total else ""
        rows.append(
            f'<tr><td><a class="mono code" href="{escape(link)}" title="show these rows">{escape(code)}</a></td>'
            f'<td class="n">{count:,}<div class="bar"><i style="width:{max(2.0, 100 * count / peak):.1f}%"></i></div>'
            f"{share}</td><td>{_prose(meaning)}{example_html}</td><td>{_prose(action)}</td></tr>")
    more = ""
    if rest:
        more = (f'<p class="muted">and {len(rest):,} more codes ({sum(n for _, n in rest):,} rows): '
                "see report.csv.</p>")
    return ('<table class="codes"><thead><tr><th>Code</th><th class="n">Rows</th><th>What it means</th>'
            f'<th>What to do</th></tr></thead><tbody>{"".join(rows)}</tbody></table>{more}')


def _timeline(entries: Any) -> str:
    if entries is None:
        return '<p class="muted">Not recorded: this report was written without the run\'s timeline.</p>'
    points: dict[int, list[int]] = {}
    for entry in entries if isinstance(entries, Iterable) else ():
        try:
            second, *counts = (int(x) for x in entry)
        except (TypeError, ValueError):
            continue
        counts = [*counts, 0, 0, 0][:3]
        slot = points.setdefault(second, [0, 0, 0])
        for i in range(3):
            slot[i] += max(0, counts[i])
    if not points:
        return '<p class="muted">No calls were made.</p>'
    return _timeline_svg(points)


def _timeline_svg(points: Mapping[int, list[int]]) -> str:
    gap, max_bars = 300, 300  # a pause longer than gap seconds (a resume) is drawn as a break
    seconds = sorted(points)
    segments, first = [], seconds[0]
    for before, after in pairwise(seconds):
        if after - before > gap:
            segments.append((first, before))
            first = after
    segments.append((first, seconds[-1]))
    active = sum(end - begin + 1 for begin, end in segments)
    step = max(1, math.ceil(active / max_bars))
    bars: list[list[tuple[int, int, int, int, int]]] = []  # per segment: (start, seconds, calls, throttled, failed)
    for begin, end in segments:
        row = []
        for start in range(begin, end + 1, step):
            width = min(step, end + 1 - start)
            sums = [0, 0, 0]
            for sec in range(start, start + width):
                for i, n in enumerate(points.get(sec, ())):
                    sums[i] += n
            row.append((start, width, *sums))
        bars.append(row)

    w, h, left, right, top, bottom = 1000, 250, 46, 10, 14, 54
    plot_w, plot_h = w - left - right, h - top - bottom
    seg_gap = 22
    slots = sum(len(row) for row in bars)
    slot = min(24.0, (plot_w - seg_gap * (len(bars) - 1)) / slots)  # a short run: narrow bars, left-aligned
    peak_rate = max(c / width for row in bars for _, width, c, _, _ in row)
    y_max = _nice(peak_rate)

    def y(value: float) -> float:
        return top + plot_h - value / y_max * plot_h

    out = [f'<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="calls per second over time">']
    for i in range(5):
        value = y_max * i / 4
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="axis">{_fmt(value)}</text>')
    multi_day = len({_day(s) for s in seconds[:1] + seconds[-1:]}) > 1
    x, rug_y = float(left), top + plot_h + 6
    bar_w = slot * 0.82 if slot > 4 else max(slot, 0.6)
    for n, row in enumerate(bars):
        if n:
            mid = x - seg_gap / 2
            out.append(f'<line x1="{mid:.1f}" x2="{mid:.1f}" y1="{top}" y2="{top + plot_h}" class="break"/>'
                       f'<text x="{mid:.1f}" y="{top - 3}" text-anchor="middle" class="axis">'
                       f'{_pause(row[0][0] - (bars[n - 1][-1][0] + bars[n - 1][-1][1] - 1))} pause</text>')
        label_every = max(1, math.ceil(110 / slot))
        for i, (start, width, calls, throttled, failed) in enumerate(row):
            ok = max(0, calls - throttled - failed)
            parts, base = [], top + plot_h
            for value, cls in ((ok, "ok"), (throttled, "thr"), (failed, "fail")):
                if value:
                    height = value / width / y_max * plot_h
                    base -= height
                    parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                                 f'class="{cls}"/>')
            if throttled:
                parts.append(f'<rect x="{x:.1f}" y="{rug_y}" width="{max(bar_w, 1.5):.1f}" height="5" class="thr"/>')
            if failed:
                parts.append(f'<rect x="{x:.1f}" y="{rug_y + 7}" width="{max(bar_w, 1.5):.1f}" height="5" '
                             'class="fail"/>')
            when = _clock(start, multi_day) + (f"–{_clock(start + width - 1, False)}" if width > 1 else "")
            tip = f"{when} UTC: {calls:,} calls, {throttled:,} throttled (429), {failed:,} other failures"
            out.append(f"<g><title>{escape(tip)}</title>{''.join(parts)}</g>")
            if i % label_every == 0 and x < w - right - 48:
                out.append(f'<text x="{x:.1f}" y="{h - 14}" class="axis">{_clock(start, multi_day and i == 0)}</text>')
            x += slot
        x += seg_gap
    out.append(f'<line x1="{left}" x2="{w - right}" y1="{top + plot_h}" y2="{top + plot_h}" class="base"/></svg>')

    calls = sum(p[0] for p in points.values())
    throttled = sum(p[1] for p in points.values())
    failed = sum(p[2] for p in points.values())
    peak = max(p[0] for p in points.values())
    hot = sum(1 for p in points.values() if p[1])
    per = f"one bar per {step} s · " if step > 1 else ""
    thr = (f"<b class='t-thr'>{throttled:,} throttled (429)</b> in {hot:,} seconds" if throttled
           else "no 429 (throttling)")
    bad = f"<b class='t-fail'>{failed:,} other failures</b>" if failed else "no other failures"
    facts = f"{calls:,} calls · peak {peak:,} calls/s · {thr} · {bad} · {per}times in UTC"
    legend = ('<ul class="legend inline"><li><i class="ok"></i>answered</li><li><i class="thr"></i>429 throttled</li>'
              '<li><i class="fail"></i>other failure</li></ul>')
    return f'{legend}{"".join(out)}<p class="facts">{facts}</p>'


def _latency(lat: _Latency) -> str:
    if not lat.count:
        return '<p class="muted">No latencies: no call was answered.</p>'
    used = [i for i, (ok, bad) in enumerate(lat.bins) if ok or bad]
    lo, hi, last = used[0], used[-1], len(lat.bins) - 1
    while hi - lo < 5 and (lo > 0 or hi < last):  # a few empty bins around a narrow spread read better
        if hi < last and (lo == 0 or (hi - lo) % 2 == 0):
            hi += 1
        else:
            lo -= 1
    bins = range(lo, hi + 1)
    w, h, left, top, bottom = 1000, 220, 46, 18, 34
    plot_w, plot_h = w - left - 10, h - top - bottom
    slot = plot_w / len(bins)
    y_max = _nice(max(sum(lat.bins[i]) for i in bins))
    out = [f'<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="latency histogram">']
    for i in range(5):
        value = y_max * i / 4
        yy = top + plot_h - value / y_max * plot_h
        out.append(f'<line x1="{left}" x2="{w - 10}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="axis">{_fmt(value)}</text>')
    for n, i in enumerate(bins):
        ok, bad = lat.bins[i]
        x = left + n * slot + slot * 0.12
        base, parts = top + plot_h, []
        for value, cls in ((ok, "lat-ok"), (bad, "lat-bad")):
            if value:
                height = value / y_max * plot_h
                base -= height
                parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.76:.1f}" height="{height:.1f}" '
                             f'class="{cls}"/>')
        label = _bin_label(i)
        if ok or bad:
            parts.append(f'<text x="{x + slot * 0.38:.1f}" y="{base - 5:.1f}" text-anchor="middle" class="axis">'
                         f"{ok + bad:,}</text>")
        out.append(f"<g><title>{escape(label)}: {ok:,} succeeded, {bad:,} not</title>{''.join(parts)}</g>"
                   f'<text x="{x + slot * 0.38:.1f}" y="{h - 12}" text-anchor="middle" class="axis">'
                   f"{escape(label)}</text>")
    out.append(f'<line x1="{left}" x2="{w - 10}" y1="{top + plot_h}" y2="{top + plot_h}" class="base"/></svg>')
    facts = (f"{lat.count:,} rows with a latency (the last attempt's) · median ≈ {_ms(lat.percentile(50))} · "
             f"p95 ≈ {_ms(lat.percentile(95))} · p99 ≈ {_ms(lat.percentile(99))} · max {_ms(lat.max)} · "
             f"mean {_ms(lat.total / lat.count)}")
    legend = ('<ul class="legend inline"><li><i class="lat-ok"></i>succeeded</li>'
              '<li><i class="lat-bad"></i>did not succeed</li></ul>')
    return f'{legend}{"".join(out)}<p class="facts">{facts}</p>'


def _table(total: int, kept: int) -> str:
    if not total:
        return '<p class="muted">None: every row succeeded.</p>'
    cap = ""
    if kept < total:
        cap = (f'<p class="note">This table holds the first {kept:,} of {total:,} rows that did not succeed — '
               "see report.csv for all of them.</p>")
    return (f"{cap}"
            '<div class="controls"><input id="f-q" type="search" placeholder="Search group, message, request id…" '
            'aria-label="search the rows"><select id="f-outcome" aria-label="outcome"><option value="">'
            'every outcome</option></select><select id="f-code" aria-label="error code"><option value="">'
            'every error code</option></select><span id="rows-count" class="muted"></span></div>'
            '<noscript><p class="note">The table needs JavaScript; report.csv holds every row.</p></noscript>'
            '<div class="table-wrap"><table class="rows"><thead id="rows-head"></thead><tbody id="rows-body">'
            '</tbody></table></div><p><button id="rows-more" type="button" hidden>Show more</button></p>')


def _run_details(s: RunSummary, params: Any) -> str:
    facts: list[tuple[str, Any]] = [
        ("manifest", s.manifest), ("started", _when(s.started_at)), ("finished", _when(s.finished_at)),
        ("duration", _duration(s.duration_s)), ("rows", f"{s.rows:,}"), ("calls", f"{s.calls:,}"),
        ("achieved rate", f"{s.achieved_rate:g} calls/s" if _positive(s.achieved_rate) else "—"),
        ("sessions", f"{s.sessions} (resumed {s.sessions - 1}×)" if s.sessions > 1 else "1"),
        ("run folder", s.out_dir or "—"),
    ]
    if s.learned_rates:
        facts.append(("learned rates", ", ".join(f"{k}: {v:g}/s" for k, v in s.learned_rates.items())))
    if s.source_run:
        facts.append(("rerun of", s.source_run))
        facts.append(("not in manifest", s.not_in_manifest))
    left = _dl(facts)
    if not isinstance(params, Mapping):
        right = '<p class="muted">Parameters not recorded.</p>'
    else:
        shown = [(k, v) for k, v in params.items() if not any(hint in str(k).lower() for hint in _SECRET_HINTS)]
        right = _dl(shown) if shown else '<p class="muted">No parameters.</p>'
    return f'<div class="two"><div><h3>Run</h3>{left}</div><div><h3>Parameters</h3>{right}</div></div>'


def _dl(items: Iterable[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(str(k).replace('_', ' '))}</dt><dd>{escape(_show(v))}</dd>"
                            for k, v in items) + "</dl>"


# -- small helpers ---------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return _cut(json.dumps(value, ensure_ascii=False, default=str), 600)
    return _cut(str(value), 600)


def _positive(number: Any) -> bool:
    return isinstance(number, int | float) and math.isfinite(number) and number > 0


def _prose(text: str) -> str:
    """Escaped advice, its command-line options (``--rate auto``) kept on one line."""
    return _OPTION.sub(r'<code class="opt">\1</code>', escape(text))


def _cell(value: Value) -> Value:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[: MAX_CELL_CHARS - 1] + "…"
    return value


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&`` as themselves."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _hash_value(text: str) -> str:
    return quote(text, safe="")


def _colour(outcome: str) -> str:
    return _COLOURS.get(outcome, "#7b8794")


def _label(outcome: str) -> str:
    return _LABELS.get(outcome, outcome)


def _nice(value: float) -> float:
    """The smallest 1-2-2.5-5 x 10^k at or above *value* (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def _bin_label(i: int) -> str:
    def unit(ms: int) -> str:
        return f"{ms // 1000} s" if ms >= 1000 else f"{ms} ms"

    if i == 0:
        return f"< {unit(_EDGES[0])}"
    if i == len(_EDGES):
        return f"≥ {unit(_EDGES[-1])}"
    return f"{unit(_EDGES[i - 1])}–{unit(_EDGES[i])}"


def _duration(seconds: float) -> str:
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{sec} s" if sec and not days else ""]
    return " ".join(p for p in parts if p)


def _pause(seconds: int) -> str:
    """A pause in round units: ``7197`` -> ``2 h``."""
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600, 1):g} h"
    return f"{round(seconds / 86400, 1):g} d"


def _day(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d")


def _clock(second: int, with_day: bool) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%m-%d %H:%M:%S" if with_day else "%H:%M:%S")


def _when(iso: str) -> str:
    return iso.replace("T", " ").replace("Z", " UTC") if iso else "—"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
