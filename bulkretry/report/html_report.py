"""``report.html``: the run on one self-contained page, for people (a team lead, support).

- One file that makes no request: CSS and JavaScript inline (kept beside this module as package data,
  ``static/report.css`` and ``static/report.js``), charts drawn as inline SVG (:mod:`bulkretry.report.charts`),
  and a Content-Security-Policy that lets only that script run and nothing load.
- This module assembles the page and is its streaming writer, :class:`HtmlReport`.
- The page shows the verdict, the run's details and parameters, the counts by outcome, the top error
  codes with what they mean and what to do (:mod:`bulkretry.oms.codes`), calls per second over time with
  the 429s and failures marked, a latency histogram, and a searchable table of the rows that did not
  succeed. The table is filled by a few lines of JavaScript from a JSON block; its filters can be set
  by the URL: ``report.html#outcome=failed&code=OMS.1015&q=text``. Its cells are row, group (with the group's
  own error code and failed objects, from ``GROUP_COLUMNS``), outcome, error (the message, the failed-object
  list and the group's error message) and details (every other value; not printed), so it fits a 1,400 px
  screen and an A4 page; the failed objects of these rows' groups are totalled above it.
- Rows are streamed: only counts, a latency histogram and the first ``max_rows`` rows that did not
  succeed are kept, so a million failures make a page of a bounded size; the page says so and points
  to ``report.csv``.
- Every text from the rows or the service is escaped: HTML-escaped in the page, and in the JSON block
  ``<``, ``>`` and ``&`` are written as ``\\u003c``... so ``</script>`` in a message cannot end the block.
  The table is filled with ``textContent``, never as HTML.
- Every word is in the report's language, *lang* (``en`` or ``zh-CN``, :mod:`bulkretry.i18n`): the page's
  own texts are English msgids in the catalog; the table's column names, outcome values and error codes stay
  as the csv writes them (the filters and ``#outcome=``/``#code=`` links use them), shown with translated
  labels. The script's words come in the JSON block (``words``), so the script itself holds none.
- ``details`` (optional) is ``{"params": {...}, "timeline": [[unix_second, calls, throttled, failed], ...]}``;
  without it those parts say "not recorded".
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import astuple
from datetime import datetime, timezone
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bulkretry import __version__
from bulkretry.i18n import DEFAULT_LANG, translation
from bulkretry.i18n.messages import translate
from bulkretry.i18n.times import people_time
from bulkretry.oms.actions import Action
from bulkretry.oms.codes import explain
from bulkretry.records import NEEDS_FIX_PREFIX, REPORT_COLUMNS, SET_ASIDE, RunSummary, Tally
from bulkretry.report.charts import (
    COLOURS,
    LatencyHistogram,
    latency_chart,
    outcome_colour,
    outcome_donut,
    outcome_label,
    timeline_chart,
)
from bulkretry.report.common import ID_AT, TextFileReport, Value, run_action
from bulkretry.report.html_details import cut, duration_text, positive, run_details, when_text
from bulkretry.report.labels import MEANING_COLUMNS, OUTCOME_ORDER, action_label, script_words
from bulkretry.report.verdict import verdict

__all__ = ["MAX_TABLE_ROWS", "HtmlReport"]

#: The most rows that did not succeed the page's table holds; report.csv has them all.
MAX_TABLE_ROWS = 10_000
#: A table cell's text is cut to this many characters (the csv has it whole).
MAX_CELL_CHARS = 500
#: The most error codes listed, and the most distinct codes whose example message is kept.
TOP_CODES = 12
_MAX_EXAMPLES = 1_000

_ORDER = OUTCOME_ORDER
# The table's columns, in this order, then the manifest's extra columns.
_TABLE = (
    "row",
    "group_id",
    "outcome",
    "error_code",
    "error_msg",
    "http_status",
    "attempts",
    "latency_ms",
    "project_id",
    "request_id",
    "finished_at",
)
_LATENCY_AT = _TABLE.index("latency_ms")
_FINISHED_AT = _TABLE.index("finished_at")
_MESSAGE_AT = _TABLE.index("error_msg")

#: The words the table's script shows (one place, to translate): its column titles and the labels in its cells.
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*(?: auto| RUN_DIR| failed)?)")


def _static(name: str) -> str:
    """A file of ``bulkretry/report/static/``, as text (package data, so a wheel has it)."""
    return files("bulkretry.report").joinpath("static").joinpath(name).read_text(encoding="utf-8")


# The page's style and script, read once. Each is inlined after a newline; the table's script gets the
# outcome colours in place of ``%COLOURS%``. The CSP allows that script by the sha256 of this exact text.
_CSS = "\n" + _static("report.css")
_SCRIPT = "\n" + _static("report.js").replace("%COLOURS%", json.dumps(COLOURS))
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()}'"
)


class HtmlReport(TextFileReport):
    """Streams rows into aggregates and a capped table; writes ``report.html`` at :meth:`finish`."""

    filename = "report.html"
    #: ``write_reports`` passes the run's details (parameters, timeline) to writers that say so.
    accepts_details = True
    #: ... and the report's language.
    accepts_lang = True

    def __init__(
        self,
        path: Path,
        details: Mapping[str, Any] | None = None,
        *,
        max_rows: int | None = None,
        lang: str = DEFAULT_LANG,
        tz: str | None = None,
    ) -> None:
        super().__init__(path)
        self.details = details
        #: The page's language (``en``, ``zh-CN``).
        self.lang = lang
        #: The zone of the page's times (an IANA name; None: the machine's).
        self.tz = tz
        #: The most rows the table keeps (default ``MAX_TABLE_ROWS``).
        self.max_rows = MAX_TABLE_ROWS if max_rows is None else max_rows
        self._summary: RunSummary | None = None
        self._columns: tuple[str, ...] = ()
        self._pick: tuple[int, ...] = ()
        self._at: dict[str, int] = {}
        self.rows = 0
        self.not_ok = 0
        self.by_outcome: Counter[str] = Counter()
        self._codes: Counter[str] = Counter()
        #: The rows skipped for their group's own error, one no retry can fix, by code (``needs_fix:TRF.0058``).
        self._fixes: Counter[str] = Counter()
        self._examples: dict[str, str] = {}
        self._table: list[list[Value]] = []
        self._latency = LatencyHistogram()
        #: The objects that failed in the groups of the rows that did not succeed (``group_fail_num`` summed), and
        #: in how many of those rows the group's GET answered.
        self.failed_objects = 0
        self.story_rows = 0
        self._fail_num_at: int | None = None

    def start(self, header: tuple[str, ...], summary: RunSummary) -> None:
        self._fh = open(self.path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115 (closed by finish/discard)
        self._summary = summary
        self._at = {name: i for i, name in enumerate(header)}
        extras = header[len(REPORT_COLUMNS) :]
        # The target's id under its own name: group_id, or task_id in a task run.
        table = tuple(header[ID_AT] if name == REPORT_COLUMNS[ID_AT] else name for name in _TABLE)
        self._columns = (*table, *extras)
        self._pick = (*(self._at[name] for name in table), *range(len(REPORT_COLUMNS), len(header)))
        self._slots = tuple(self._at[name] for name in ("outcome", "error_code", "error_msg", "latency_ms"))
        self._fail_num_at = self._at.get("group_fail_num")
        # The table's cells that hold our own words (stored in English): the message, and a status's meaning.
        self._words_at = () if self.lang == DEFAULT_LANG else (_MESSAGE_AT, *self._meanings())

    def _meanings(self) -> tuple[int, ...]:
        """Where the table row holds a status's meaning (``status_before_meaning``...), which is said in the
        page's language."""
        return tuple(i for i, name in enumerate(self._columns) if name in MEANING_COLUMNS)

    def write(self, values: tuple[Value, ...]) -> None:
        at_outcome, at_code, at_msg, at_latency = self._slots
        outcome = str(values[at_outcome])
        code = str(values[at_code] or "")
        self.rows += 1
        self.by_outcome[outcome] += 1
        latency = values[at_latency]
        if isinstance(latency, (int, float)):
            self._latency.add(float(latency), outcome == "succeeded")
        if code and outcome not in SET_ASIDE:  # a server that makes up codes cannot make this grow without bound
            if code in self._codes or len(self._codes) < _MAX_EXAMPLES:
                self._codes[code] += 1
                self._examples.setdefault(code, translate(str(values[at_msg] or ""), self.lang))
            else:
                self._codes["(other codes)"] += 1
        elif code.startswith(NEEDS_FIX_PREFIX):  # codes of the table only, so few
            self._fixes[code] += 1
            self._examples.setdefault(code, str(values[at_msg] or ""))
        if outcome != "succeeded":
            self.not_ok += 1
            if self._fail_num_at is not None:
                fail_num = values[self._fail_num_at]
                if type(fail_num) is int:
                    self.failed_objects += fail_num
                    self.story_rows += 1
            if len(self._table) < self.max_rows:
                row = [values[i] for i in self._pick]
                for at in self._words_at:
                    row[at] = self._words(row[at], at)
                row = [_cell(value) for value in row]
                if isinstance(latency, float):
                    row[_LATENCY_AT] = round(latency, 1)
                row[_FINISHED_AT] = people_time(row[_FINISHED_AT], self.tz)  # the csv keeps it in UTC
                self._table.append(row)

    def _words(self, value: Value, at: int) -> Value:
        """A cell of our own words in the page's language: a message through the message table, a status's
        meaning through the catalog."""
        if not isinstance(value, str) or not value or self.lang == DEFAULT_LANG:
            return value
        if at == _MESSAGE_AT:
            return translate(value, self.lang)
        return translate(value, self.lang) if value.startswith("status ") else translation(self.lang).gettext(value)

    def finish(self) -> None:
        assert self._fh is not None and self._summary is not None
        self.close_with(self.render())

    def _fixes_section(self, total: int, _: Callable[[str], str]) -> str:
        """The groups not called because their own error needs a fix first, what each code means and what to fix
        ('' when there are none)."""
        if not self._fixes:
            return ""
        fixes = _codes(dict(self._fixes), self._examples, total, self.lang)
        return _section(_("Groups to fix before a retry"), fixes, "fixes")

    def __repr__(self) -> str:
        return f"<HtmlReport {self.path} rows={self.rows} table={len(self._table)} {'open' if self._fh else 'closed'}>"

    # -- the page ----------------------------------------------------------------------------------

    def render(self) -> str:
        """The whole page, from what was streamed so far."""
        assert self._summary is not None
        s = self._summary
        details = self.details or {}
        lang = self.lang
        _ = translation(lang).gettext
        by_outcome = {k: int(v) for k, v in (s.by_outcome or self.by_outcome).items()}
        total = s.rows or sum(by_outcome.values())
        tally = Tally.of(total, by_outcome, s.by_error_code or self._codes)
        action = run_action(s)
        tone, word, sentence, command = astuple(verdict(s, action, tally, _, lambda k: outcome_label(k, lang)))
        command_html = f' <code class="cmd">{escape(command)}</code>' if command else ""
        table_data = {
            "columns": list(self._columns),
            "rows": self._table,
            "total": self.not_ok,
            "words": script_words(self._columns, lang, action.id_column),
        }
        body = "".join(
            [
                f'<header><p class="kicker">{_kicker(action, _)}</p>'
                f"<h1>{_('Run {run_id}').format(run_id=_mono(s.run_id))}"
                f"</h1>{_meta(s, details.get('params'), _, self.tz)}"
                f'<p class="verdict {tone}"><span class="pill">{escape(word)}</span> '
                f"{escape(sentence)}{command_html}</p>"
                "</header>",
                _section(_("Outcomes"), _outcomes(by_outcome, total, lang), "outcomes"),
                _section(_("Top error codes"), _codes(dict(tally.errors), self._examples, total, lang), "codes"),
                self._fixes_section(total, _),
                _section(_("Calls per second"), timeline_chart(details.get("timeline"), lang, self.tz), "timeline"),
                _section(_("Latency"), latency_chart(self._latency, lang), "latency"),
                _section(
                    _("Rows that did not succeed"),
                    _failed_objects(self.failed_objects, self.story_rows, _) + _table(self.not_ok, len(self._table), _),
                    "rows",
                ),
                _section(_("Run details"), run_details(s, details.get("params"), _, self.tz, lang), "details"),
                "<footer>"
                + _(
                    "Written by bulkretry {version} on {when}. This page is self-contained and makes no "
                    "network requests. The run's journal.sqlite holds every row: <code>bulkretry report "
                    "RUN_DIR --format csv</code> writes them all to report.csv."
                ).format(version=escape(__version__), when=people_time(datetime.now(timezone.utc), self.tz))
                + "</footer>",
            ]
        )
        return (
            f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="color-scheme" content="light">'
            f"<title>{escape(_('{verdict} · run {run_id} · bulkretry').format(verdict=word, run_id=s.run_id))}"
            f"</title><style>{_CSS}</style></head>\n"
            f"<body><main>{body}</main>\n"
            f'<script type="application/json" id="rows-data">{_script_json(table_data)}</script>\n'
            f"<script>{_SCRIPT}</script></body></html>\n"
        )


# -- sections --------------------------------------------------------------------------------------------


def _kicker(action: Action, _: Callable[[str], str]) -> str:
    """The line above the title: the program, the action, the kind of page."""
    return escape(_("bulkretry · OMS {action} · run report").format(action=_(action_label(action))))


def _meta(s: RunSummary, params: Any, _: Callable[[str], str], tz: str | None) -> str:
    """One line under the title: the manifest, when, how long, how many calls, where."""
    params = params if isinstance(params, Mapping) else {}
    where = params.get("endpoint") or params.get("region")
    items = [
        s.manifest,
        when_text(s.started_at, tz) if s.started_at else "",
        duration_text(s.duration_s, _),
        _("{calls} calls").format(calls=f"{s.calls:,}")
        + (_(" and {reads} status reads").format(reads=f"{s.status_reads:,}") if s.status_reads else "")
        + (_(" at {rate}/s").format(rate=f"{s.achieved_rate:g}") if positive(s.achieved_rate) else ""),
        _("rate {rate}").format(rate=params["rate"]) if params.get("rate") is not None else "",
        f"{where}" if where else "",
        _("dry run") if s.dry_run else "",
    ]
    return '<p class="meta">' + "<span>·</span>".join(escape(str(i)) for i in items if i) + "</p>"


def _mono(text: str) -> str:
    """*text* (an id) set in the monospace face."""
    return f'<span class="mono">{escape(text)}</span>'


def _section(title: str, inner: str, anchor: str) -> str:
    return f'<section class="card" id="{anchor}"><h2>{escape(title)}</h2>{inner}</section>'


def _outcomes(by: Mapping[str, int], total: int, lang: str) -> str:
    _ = translation(lang).gettext
    names = [*(k for k in _ORDER if by.get(k)), *sorted(k for k in by if k not in _ORDER and by[k])]
    if not names:
        return f'<p class="muted">{_("No rows.")}</p>'
    cards = "".join(
        f'<div class="num" style="border-color:{outcome_colour(k)}"><b>{by[k]:,}</b>'
        f"<span>{escape(outcome_label(k, lang))}</span><small>"
        f"{_('{share} of rows').format(share=f'{by[k] / total:.1%}')}</small></div>"
        for k in names
    )
    cards = (
        f'<div class="num total"><b>{total:,}</b><span>{_("rows")}</span><small>{_("in the manifest")}</small>'
        f"</div>{cards}"
    )
    return f'<div class="outcomes"><div class="numbers">{cards}</div>{outcome_donut(by, names, total, lang)}</div>'


def _codes(by_code: Mapping[str, int], examples: Mapping[str, str], total: int, lang: str) -> str:
    _ = translation(lang).gettext
    if not by_code:
        return f'<p class="muted">{_("No error codes: every row that was called succeeded.")}</p>'
    ranked = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    top, rest = ranked[:TOP_CODES], ranked[TOP_CODES:]
    peak = top[0][1] or 1
    rows = []
    for code, count in top:
        meaning, action = explain(code, lang)
        example = examples.get(code, "")
        example_html = f'<div class="example">“{escape(cut(example, 200))}”</div>' if example else ""
        link = f"#code={_hash_value(code)}"
        share = (
            f'<small class="muted">{_("{share} of rows").format(share=f"{count / total:.1%}")}</small>' if total else ""
        )
        rows.append(
            f'<tr><td><a class="mono code" href="{escape(link)}" title="{escape(_("show these rows"))}">'
            f"{escape(code)}</a></td>"
            f'<td class="n">{count:,}<div class="bar"><i style="width:{max(2.0, 100 * count / peak):.1f}%"></i></div>'
            f"{share}</td><td>{_prose(meaning)}{example_html}</td><td>{_prose(action)}</td></tr>"
        )
    more = ""
    if rest:
        more = (
            '<p class="muted">'
            + _("and {codes} more codes ({rows} rows): see report.csv.").format(
                codes=f"{len(rest):,}", rows=f"{sum(n for _code, n in rest):,}"
            )
            + "</p>"
        )
    return (
        f'<table class="codes"><thead><tr><th>{_("Code")}</th><th class="n">{_("Rows")}</th>'
        f"<th>{_('What it means')}</th><th>{_('What to do')}</th></tr></thead><tbody>{''.join(rows)}</tbody>"
        f"</table>{more}"
    )


def _table(total: int, kept: int, _: Callable[[str], str]) -> str:
    if not total:
        return f'<p class="muted">{_("None: every row succeeded.")}</p>'
    cap = ""
    if kept < total:
        cap = (
            '<p class="note">'
            + _(
                "This table holds the first {kept} of {total} rows that did not succeed — "
                "see report.csv for all of them."
            ).format(kept=f"{kept:,}", total=f"{total:,}")
            + "</p>"
        )
    return (
        f"{cap}"
        f'<div class="controls"><input id="f-q" type="search" '
        f'placeholder="{escape(_("Search group, message, request id…"))}" '
        f'aria-label="{escape(_("search the rows"))}"><select id="f-outcome" aria-label="{escape(_("outcome"))}">'
        f'<option value="">{_("every outcome")}</option></select><select id="f-code" '
        f'aria-label="{escape(_("error code"))}"><option value="">{_("every error code")}</option></select>'
        '<span id="rows-count" class="muted"></span></div>'
        f'<noscript><p class="note">{_("The table needs JavaScript; report.csv holds every row.")}</p></noscript>'
        '<div class="table-wrap"><table class="rows"><thead id="rows-head"></thead><tbody id="rows-body">'
        f'</tbody></table></div><p><button id="rows-more" type="button" hidden>{_("Show more")}</button></p>'
    )


def _failed_objects(objects: int, rows: int, _: Callable[[str], str]) -> str:
    """The objects that failed in these rows' groups, as their GETs said (only with --check-status or --verify)."""
    if not rows:
        return ""
    return (
        '<p class="facts story-total">'
        + _(
            "<b>{objects} failed objects</b> in the groups of these {rows} rows, as each group's lookup answered "
            "(group_fail_num); each row names its group's error and the list OMS wrote of its failed objects."
        ).format(objects=f"{objects:,}", rows=f"{rows:,}")
        + "</p>"
    )


# -- small helpers ---------------------------------------------------------------------------------------


def _prose(text: str) -> str:
    """Escaped advice, its command-line options (``--rate auto``) kept on one line."""
    return _OPTION.sub(r'<code class="opt">\1</code>', escape(text))


def _cell(value: Value) -> Value:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[: MAX_CELL_CHARS - 1] + "…"
    return value


def _script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&`` as themselves."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _hash_value(text: str) -> str:
    return quote(text, safe="")
