"""The charts of ``report.html``, as inline SVG (no script draws them): rows by outcome as a donut, calls per
second over time, and a latency histogram; and the outcome colours and labels the page shares with them.

- :class:`LatencyHistogram` is what the histogram is drawn from. Rows' latencies are added one at a time, into
  1-2-5 bins and 5 %-wide buckets for the percentiles, so it stays small however many rows a run has.
- :func:`timeline_chart` draws the run's timeline, ``[[unix_second, calls, throttled, failed], ...]``: a pause
  of more than five minutes (a resume) is drawn as a break, and a long run as one bar per few seconds.
- Each chart comes with its legend and a line of facts under it; with nothing to draw it is a sentence
  that says so. Every text in a chart is HTML-escaped, and given in the page's language (*lang*, see
  :mod:`bulkretry.i18n`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from bulkretry.i18n import DEFAULT_LANG, N_, translation
from bulkretry.i18n.times import in_zone, local_zone, offset_text

__all__ = [
    "COLOURS",
    "LatencyHistogram",
    "latency_chart",
    "outcome_colour",
    "outcome_donut",
    "outcome_label",
    "outcome_word",
    "timeline_chart",
]

#: Each outcome's colour: in the donut, the page's number cards and the table's tags.
COLOURS = {
    "succeeded": "#2f9e6e",
    "failed": "#d64545",
    "invalid": "#e08a1e",
    "interrupted": "#8a63d2",
    "duplicate": "#9aa5b1",
    "skipped": "#5b9bd5",
    "dry_run": "#3fa7a8",
}
_LABELS = {
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "invalid": N_("invalid"),
    "interrupted": N_("interrupted"),
    "duplicate": N_("duplicate"),
    "skipped": N_("skipped"),
    "dry_run": N_("dry run"),
}
#: The charts' legends (one place): the timeline counts calls, the latency histogram rows, and their labels
#: never share a word for "failed" so the two cannot be read as one count.
_LEGEND = {
    "answered": N_("calls answered"),
    "throttled": N_("calls throttled (429)"),
    "failed": N_("calls that failed otherwise"),
    "rows_ok": N_("rows that succeeded"),
    "rows_bad": N_("rows that did not succeed"),
}

# Latency histogram bins (ms): 1-2-5 steps; a last bin for anything slower.
_EDGES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
_FINE = math.log(1.05)  # percentile buckets 5 % wide


class LatencyHistogram:
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


# -- outcomes --------------------------------------------------------------------------------------------


def outcome_colour(outcome: str) -> str:
    """The colour of an outcome (grey for one this module does not know)."""
    return COLOURS.get(outcome, "#7b8794")


def outcome_label(outcome: str, lang: str = DEFAULT_LANG) -> str:
    """An outcome as the page writes it in *lang*: ``dry_run`` is "dry run"; an unknown one as it is."""
    label = _LABELS.get(outcome)
    return translation(lang).gettext(label) if label else outcome


def outcome_word(outcome: str, lang: str) -> str:
    """An outcome as the words people read name it: the csv's value in English (``dry_run``), the page's word in
    any other language (``模拟运行``)."""
    return outcome if lang == DEFAULT_LANG else outcome_label(outcome, lang)


# -- charts ----------------------------------------------------------------------------------------------


def outcome_donut(by: Mapping[str, int], names: list[str], total: int, lang: str = DEFAULT_LANG) -> str:
    """A donut of the rows by outcome, the outcomes *names* in this order, *total* in the middle; and its legend."""
    _ = translation(lang).gettext
    r, width = 62.0, 24
    circumference = 2 * math.pi * r
    arcs, start = [], 0.0
    counted = sum(by[k] for k in names) or 1
    for k in names:
        length = by[k] / counted * circumference
        arcs.append(
            f'<circle r="{r}" cx="90" cy="90" fill="none" stroke="{outcome_colour(k)}" stroke-width="{width}" '
            f'stroke-dasharray="{length:.2f} {circumference - length:.2f}" stroke-dashoffset="{-start:.2f}">'
            f"<title>{escape(outcome_label(k, lang))}: {by[k]:,}</title></circle>"
        )
        start += length
    legend = "".join(
        f'<li><i style="background:{outcome_colour(k)}"></i>{escape(outcome_label(k, lang))} '
        f'<span class="muted">{by[k]:,}</span></li>'
        for k in names
    )
    return (
        f'<figure class="donut"><svg viewBox="0 0 180 180" width="180" height="180" role="img" '
        f'aria-label="{escape(_("rows by outcome"))}"><g transform="rotate(-90 90 90)">'
        f'<circle r="{r}" cx="90" cy="90" fill="none" stroke="#eef0f3" stroke-width="{width}"/>{"".join(arcs)}</g>'
        f'<text x="90" y="88" text-anchor="middle" class="big">{total:,}</text>'
        f'<text x="90" y="108" text-anchor="middle" class="axis">{escape(_("rows"))}</text></svg>'
        f'<figcaption><ul class="legend">{legend}</ul></figcaption></figure>'
    )


def timeline_chart(entries: Any, lang: str = DEFAULT_LANG, tz: str | None = None) -> str:
    """Calls per second over time, 429s and other failures stacked on the calls and marked under the axis.

    *entries* is the run's timeline (None: not recorded); entries that are not ``[second, counts...]`` are
    skipped. Its clock is in the zone *tz* (None: the machine's).
    """
    _ = translation(lang).gettext
    if entries is None:
        return _muted(_("Not recorded: this report was written without the run's timeline."))
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
        return _muted(_("No calls were made."))
    return _timeline_svg(points, lang, tz)


@dataclass(frozen=True)
class _Plot:
    """A chart's frame in its SVG: the plot's *left* edge, where its lines end (*right*), its *top* and *height*,
    and the y axis' *ticks* (the last one is the axis' top)."""

    left: int
    right: int
    top: int
    height: int
    ticks: list[float]

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def y(self, value: float) -> float:
        return self.top + self.height - value / self.ticks[-1] * self.height

    def grid(self) -> str:
        """The grid line and label of each tick."""
        return "".join(
            f'<line x1="{self.left}" x2="{self.right}" y1="{self.y(value):.1f}" y2="{self.y(value):.1f}" class="grid"/>'
            f'<text x="{self.left - 6}" y="{self.y(value) + 4:.1f}" text-anchor="end" class="axis">{_fmt(value)}</text>'
            for value in self.ticks
        )

    def stack(self, x: float, width: float, values: Iterable[tuple[float, str]]) -> tuple[str, float]:
        """A bar of *values* stacked from the base (each ``(value, class)``; none drawn for 0), and its top."""
        base: float = self.bottom
        parts = []
        for value, cls in values:
            if value:
                height = value / self.ticks[-1] * self.height
                base -= height
                parts.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{height:.1f}" class="{cls}"/>'
                )
        return "".join(parts), base

    def end(self) -> str:
        """The base line, and the end of the SVG."""
        return f'<line x1="{self.left}" x2="{self.right}" y1="{self.bottom}" y2="{self.bottom}" class="base"/></svg>'


#: The most bars a timeline draws (seconds are summed into wider bars past it), and the pause (seconds) drawn
#: as a break (a resume).
_MAX_BARS, _GAP = 300, 300
#: A timeline bar: its first second, how many seconds it covers, and their calls, throttled and failed calls.
_Bar = tuple[int, int, int, int, int]


def _segments(seconds: list[int]) -> list[tuple[int, int]]:
    """The runs of *seconds* (sorted) with no pause longer than ``_GAP`` inside: ``(first, last)`` each."""
    segments, first = [], seconds[0]
    for before, after in zip(seconds, seconds[1:]):
        if after - before > _GAP:
            segments.append((first, before))
            first = after
    segments.append((first, seconds[-1]))
    return segments


def _bars(points: Mapping[int, list[int]], segments: list[tuple[int, int]], step: int) -> list[list[_Bar]]:
    """Each segment's bars, *step* seconds each (the last one may be narrower)."""
    bars: list[list[_Bar]] = []
    for begin, end in segments:
        row: list[_Bar] = []
        for start in range(begin, end + 1, step):
            width = min(step, end + 1 - start)
            sums = [0, 0, 0]
            for sec in range(start, start + width):
                for i, n in enumerate(points.get(sec, ())):
                    sums[i] += n
            row.append((start, width, sums[0], sums[1], sums[2]))
        bars.append(row)
    return bars


def _timeline_bar(plot: _Plot, x: float, bar_w: float, bar: _Bar, clock: _Clock, _: Callable[[str], str]) -> str:
    """One bar: answered, throttled and failed calls stacked, a rug mark under it for each of the last two, and
    its tooltip."""
    start, width, calls, throttled, failed = bar
    ok = max(0, calls - throttled - failed)
    rug_y = plot.bottom + 6
    parts, _top = plot.stack(x, bar_w, ((ok / width, "ok"), (throttled / width, "thr"), (failed / width, "fail")))
    if throttled:
        parts += f'<rect x="{x:.1f}" y="{rug_y}" width="{max(bar_w, 1.5):.1f}" height="5" class="thr"/>'
    if failed:
        parts += f'<rect x="{x:.1f}" y="{rug_y + 7}" width="{max(bar_w, 1.5):.1f}" height="5" class="fail"/>'
    last = f"–{clock.time(start + width - 1, False)}" if width > 1 else ""
    when = f"{clock.time(start, clock.multi_day)}{last} {clock.offset(start)}"
    tip = _("{when}: {calls} calls, {throttled} throttled (429), {failed} failed otherwise").format(
        when=when, calls=f"{calls:,}", throttled=f"{throttled:,}", failed=f"{failed:,}"
    )
    return f"<g><title>{escape(tip)}</title>{parts}</g>"


@dataclass(frozen=True)
class _Clock:
    """The timeline's clock: its seconds in the zone *tz*, with the month and day when the run crossed a day."""

    tz: str | None
    multi_day: bool = False

    def day(self, second: int) -> str:
        return f"{in_zone(second, self.tz):%Y-%m-%d}"

    def time(self, second: int, with_day: bool) -> str:
        """``22:31:05 +08:00``, ``12-04 22:31:05 +08:00`` with the day: the offset of each time, as DST moves it."""
        when = in_zone(second, self.tz)
        assert when is not None
        return f"{when:%m-%d %H:%M:%S}" if with_day else f"{when:%H:%M:%S}"

    def offset(self, second: int) -> str:
        when = in_zone(second, self.tz)
        assert when is not None
        return offset_text(when)

    def zone(self, second: int) -> str:
        """The zone as the chart names it: ``Asia/Shanghai (+08:00)``, ``UTC``."""
        name, offset = self.tz or local_zone(), self.offset(second)
        return name if offset == "+00:00" and "UTC" in name else f"{name} ({offset})"


def _timeline_svg(points: Mapping[int, list[int]], lang: str, tz: str | None) -> str:
    _ = translation(lang).gettext
    seconds = sorted(points)
    segments = _segments(seconds)
    step = max(1, math.ceil(sum(end - begin + 1 for begin, end in segments) / _MAX_BARS))
    bars = _bars(points, segments, step)
    w, h, seg_gap = 1000, 250, 22
    peak_rate = max(c / width for row in bars for _start, width, c, _thr, _fail in row)
    plot = _Plot(46, w - 10, 14, h - 14 - 54, _ticks(peak_rate))
    # A short run: narrow bars, left-aligned.
    slot = min(24.0, (plot.right - plot.left - seg_gap * (len(bars) - 1)) / sum(len(row) for row in bars))
    out = [
        f'<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="{escape(_("calls per second over time"))}">',
        plot.grid(),
    ]
    clock = _Clock(tz)
    clock = _Clock(tz, multi_day=len({clock.day(s) for s in seconds[:1] + seconds[-1:]}) > 1)
    x = float(plot.left)
    bar_w = slot * 0.82 if slot > 4 else max(slot, 0.6)
    label_every = max(1, math.ceil(110 / slot))
    for n, row in enumerate(bars):
        if n:
            mid, pause = x - seg_gap / 2, row[0][0] - (bars[n - 1][-1][0] + bars[n - 1][-1][1] - 1)
            out.append(
                f'<line x1="{mid:.1f}" x2="{mid:.1f}" y1="{plot.top}" y2="{plot.bottom}" class="break"/>'
                f'<text x="{mid:.1f}" y="{plot.top - 3}" text-anchor="middle" class="axis">'
                f"{escape(_('{pause} pause').format(pause=_pause(pause, lang)), quote=False)}</text>"
            )
        for i, bar in enumerate(row):
            out.append(_timeline_bar(plot, x, bar_w, bar, clock, _))
            if i % label_every == 0 and x < w - 10 - 48:
                label = clock.time(bar[0], clock.multi_day and i == 0)
                out.append(f'<text x="{x:.1f}" y="{h - 14}" class="axis">{label}</text>')
            x += slot
        x += seg_gap
    out.append(plot.end())
    legend = (
        f'<ul class="legend inline"><li><i class="ok"></i>{_(_LEGEND["answered"])}</li>'
        f'<li><i class="thr"></i>{_(_LEGEND["throttled"])}</li>'
        f'<li><i class="fail"></i>{_(_LEGEND["failed"])}</li></ul>'
    )
    return f'{legend}{"".join(out)}<p class="facts">{_timeline_facts(points, step, clock, _)}</p>'


def _timeline_facts(points: Mapping[int, list[int]], step: int, clock: _Clock, _: Callable[[str], str]) -> str:
    """The sentence under the timeline: calls, peak, throttling, other failures, the bars' width."""
    calls = sum(p[0] for p in points.values())
    throttled = sum(p[1] for p in points.values())
    failed = sum(p[2] for p in points.values())
    peak = max(p[0] for p in points.values())
    hot = sum(1 for p in points.values() if p[1])
    per = _("one bar per {step} s · ").format(step=step) if step > 1 else ""
    thr = (
        _("<b class='t-thr'>{throttled} throttled (429)</b> in {hot} seconds").format(
            throttled=f"{throttled:,}", hot=f"{hot:,}"
        )
        if throttled
        else _("no 429 (throttling)")
    )
    bad = (
        _("<b class='t-fail'>{failed} calls that failed otherwise</b>").format(failed=f"{failed:,}")
        if failed
        else _("no call failed otherwise")
    )
    return _("{calls} calls · peak {peak} calls/s · {thr} · {bad} · {per}times in {zone}").format(
        calls=f"{calls:,}", peak=f"{peak:,}", thr=thr, bad=bad, per=per, zone=escape(clock.zone(min(points)))
    )


def _latency_bins(lat: LatencyHistogram) -> range:
    """The bins the histogram shows: those used, widened by a few empty ones around a narrow spread."""
    used = [i for i, (ok, bad) in enumerate(lat.bins) if ok or bad]
    lo, hi, last = used[0], used[-1], len(lat.bins) - 1
    while hi - lo < 5 and (lo > 0 or hi < last):  # a few empty bins around a narrow spread read better
        if hi < last and (lo == 0 or (hi - lo) % 2 == 0):
            hi += 1
        else:
            lo -= 1
    return range(lo, hi + 1)


def latency_chart(lat: LatencyHistogram, lang: str = DEFAULT_LANG) -> str:
    """The latency histogram (succeeded and not, stacked), with the median, p95, p99, maximum and mean."""
    _ = translation(lang).gettext
    if not lat.count:
        return _muted(_("No latencies: no call was answered."))
    bins = _latency_bins(lat)
    w, h = 1000, 220
    plot = _Plot(46, w - 10, 18, h - 18 - 34, _ticks(max(sum(lat.bins[i]) for i in bins)))
    slot = (plot.right - plot.left) / len(bins)
    out = [
        f'<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="{escape(_("latency histogram"))}">',
        plot.grid(),
    ]
    for n, i in enumerate(bins):
        ok, bad = lat.bins[i]
        x = plot.left + n * slot + slot * 0.12
        parts, base = plot.stack(x, slot * 0.76, ((ok, "lat-ok"), (bad, "lat-bad")))
        label = _bin_label(i)
        if ok or bad:
            parts += (
                f'<text x="{x + slot * 0.38:.1f}" y="{base - 5:.1f}" text-anchor="middle" class="axis">'
                f"{ok + bad:,}</text>"
            )
        tip = _("{label}: {ok} rows succeeded, {bad} did not").format(label=label, ok=f"{ok:,}", bad=f"{bad:,}")
        out.append(
            f"<g><title>{escape(tip)}</title>{parts}</g>"
            f'<text x="{x + slot * 0.38:.1f}" y="{h - 12}" text-anchor="middle" class="axis">'
            f"{escape(label)}</text>"
        )
    out.append(plot.end())
    legend = (
        f'<ul class="legend inline"><li><i class="lat-ok"></i>{_(_LEGEND["rows_ok"])}</li>'
        f'<li><i class="lat-bad"></i>{_(_LEGEND["rows_bad"])}</li></ul>'
    )
    return f'{legend}{"".join(out)}<p class="facts">{_latency_facts(lat, _)}</p>'


def _latency_facts(lat: LatencyHistogram, _: Callable[[str], str]) -> str:
    """The sentence under the histogram: the rows, the median, p95, p99, maximum and mean."""
    return _(
        "{count} rows with a latency (the last attempt's) · median ≈ {p50} · p95 ≈ {p95} · p99 ≈ {p99} · "
        "max {max} · mean {mean}"
    ).format(
        count=f"{lat.count:,}",
        p50=_ms(lat.percentile(50)),
        p95=_ms(lat.percentile(95)),
        p99=_ms(lat.percentile(99)),
        max=_ms(lat.max),
        mean=_ms(lat.total / lat.count),
    )


# -- small helpers ---------------------------------------------------------------------------------------


def _muted(text: str) -> str:
    """A sentence in place of a chart (the catalog's text, so only ``&<>`` are escaped)."""
    return f'<p class="muted">{escape(text, quote=False)}</p>'


def _ticks(peak: float, most: int = 5) -> list[float]:
    """The y axis' ticks from 0: steps of 1, 2 or 5 x 10^k (at least 1: counts are whole), the smallest step
    that reaches *peak* in at most *most* steps; the last tick is the axis' top.

    >>> _ticks(7), _ticks(13), _ticks(2.5), _ticks(0), _ticks(1234)
    ([0, 2, 4, 6, 8], [0, 5, 10, 15], [0, 1, 2, 3], [0, 1], [0, 500, 1000, 1500])
    """
    peak = max(peak, 1.0)
    power = 10 ** max(0, math.floor(math.log10(peak / most)))
    step = next(m * power for m in (1, 2, 5, 10) if m * power * most >= peak)
    return [step * i for i in range(math.ceil(peak / step - 1e-9) + 1)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


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


def _pause(seconds: int, lang: str = DEFAULT_LANG) -> str:
    """A pause in round units: ``7197`` -> ``2 h``."""
    _ = translation(lang).gettext
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return _("{n} min").format(n=round(seconds / 60))
    if seconds < 48 * 3600:
        return _("{n} h").format(n=f"{round(seconds / 3600, 1):g}")
    return _("{n} d").format(n=f"{round(seconds / 86400, 1):g}")
