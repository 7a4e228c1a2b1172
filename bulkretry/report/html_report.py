"""``report.html``: the run on one self-contained page, for people (a team lead, support).

- One file that makes no request: CSS and JavaScript inline (kept beside this module as package data,
  ``static/report.css`` and ``static/report.js``), charts drawn as inline SVG (:mod:`bulkretry.report.charts`),
  and a Content-Security-Policy that lets only that script run and nothing load.
- This module assembles the page and is its streaming writer, :class:`HtmlReport`.
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
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from bulkretry import __version__
from bulkretry.masking import looks_secret
from bulkretry.oms.codes import explain
from bulkretry.records import REPORT_COLUMNS, RunSummary
from bulkretry.report.charts import (
    COLOURS,
    LatencyHistogram,
    latency_chart,
    outcome_colour,
    outcome_donut,
    outcome_label,
    timeline_chart,
)
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
# The table's columns, in this order, then the manifest's extra columns.
_TABLE = ("row", "group_id", "outcome", "error_code", "error_msg", "http_status", "attempts", "latency_ms",
          "project_id", "request_id", "finished_at")
_LATENCY_AT = _TABLE.index("latency_ms")

_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*(?: auto| RUN_DIR| failed)?)")


def _static(name: str) -> str:
    """A file of ``bulkretry/report/static/``, as text (package data, so a wheel has it)."""
    return files("bulkretry.report").joinpath("static").joinpath(name).read_text(encoding="utf-8")


# The page's style and script, read once. Each is inlined after a newline; the table's script gets the
# outcome colours in place of ``%COLOURS%``. The CSP allows that script by the sha256 of this exact text.
_CSS = "\n" + _static("report.css")
_SCRIPT = "\n" + _static("report.js").replace("%COLOURS%", json.dumps(COLOURS))
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
        self._latency = LatencyHistogram()

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
        if isinstance(latency, (int, float)):
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
            _section("Calls per second", timeline_chart(details.get("timeline")), "timeline"),
            _section("Latency", latency_chart(self._latency), "latency"),
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
        f'<div class="num" style="border-color:{outcome_colour(k)}"><b>{by[k]:,}</b>'
        f'<span>{escape(outcome_label(k))}</span><small>{by[k] / total:.1%} of rows</small></div>' for k in names)
    cards = f'<div class="num total"><b>{total:,}</b><span>rows</span><small>in the manifest</small></div>{cards}'
    return f'<div class="outcomes"><div class="numbers">{cards}</div>{outcome_donut(by, names, total)}</div>'


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
        shown = [(k, v) for k, v in params.items() if not looks_secret(k)]
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
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return _cut(json.dumps(value, ensure_ascii=False, default=str), 600)
    return _cut(str(value), 600)


def _positive(number: Any) -> bool:
    return isinstance(number, (int, float)) and math.isfinite(number) and number > 0


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


def _duration(seconds: float) -> str:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{sec} s" if sec and not days else ""]
    return " ".join(p for p in parts if p)


def _when(iso: str) -> str:
    return iso.replace("T", " ").replace("Z", " UTC") if iso else "—"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
