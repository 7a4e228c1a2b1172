"""report.html's "Run details" card (the run's facts, its action when it is not a retry, and its parameters,
secrets left out) and the small formatters of values, durations and times the page shares, each in the
report's language."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import Any

from bulkretry.i18n import DEFAULT_LANG
from bulkretry.i18n.messages import translate
from bulkretry.i18n.times import people_time
from bulkretry.masking import looks_secret
from bulkretry.records import RunSummary
from bulkretry.report.labels import PARAM_LABELS, action_facts

__all__ = ["cut", "duration_text", "positive", "run_details", "show_value", "when_text"]


#: The parameters of the run's action: shown among the run's facts (``action_facts``), not among the others.
_ACTION_PARAMS = frozenset({"action", "target", "priority", "batch_size"})


def run_details(
    s: RunSummary, params: Any, _: Callable[[str], str], tz: str | None = None, lang: str = DEFAULT_LANG
) -> str:
    """The "Run details" card: the run's facts beside its parameters (none that looks secret), its times in *tz*,
    where the credentials came from in *lang*."""
    facts: list[tuple[str, Any]] = [
        *action_facts(s, params, _),
        (_("manifest"), s.manifest),
        (_("started at"), when_text(s.started_at, tz)),
        (_("finished at"), when_text(s.finished_at, tz)),
        (_("duration"), duration_text(s.duration_s, _)),
        (_("rows"), f"{s.rows:,}"),
        (_("calls"), f"{s.calls:,}"),
        *([(_("status reads"), f"{s.status_reads:,}")] if s.status_reads else []),
        (
            _("achieved rate"),
            _("{rate} calls/s").format(rate=f"{s.achieved_rate:g}") if positive(s.achieved_rate) else "—",
        ),
        (
            _("sessions"),
            _("{sessions} (resumed {resumed}×)").format(sessions=s.sessions, resumed=s.sessions - 1)
            if s.sessions > 1
            else "1",
        ),
        (_("run folder"), s.out_dir or "—"),
    ]
    if s.credentials_source:  # the source in words, the variable, file or profile it names as it is
        source = translate(s.credentials_source, lang)
        facts.append((_("credentials"), _Html(f'<span class="mono">{escape(source)}</span>')))
    if s.learned_rates:
        facts.append((_("learned rates"), ", ".join(f"{k}: {v:g}/s" for k, v in s.learned_rates.items())))
    if s.source_run:
        facts.append((_("rerun of"), s.source_run))
        facts.append((_("not in manifest"), s.not_in_manifest))
    left = _dl(facts, _)
    if not isinstance(params, Mapping):
        right = f'<p class="muted">{_("Parameters not recorded.")}</p>'
    else:
        shown = [
            (_(PARAM_LABELS[k]) if k in PARAM_LABELS else k, v)
            for k, v in params.items()
            if not looks_secret(k) and k not in _ACTION_PARAMS
        ]
        right = _dl(shown, _) if shown else f'<p class="muted">{_("No parameters.")}</p>'
    return f'<div class="two"><div><h3>{_("Run")}</h3>{left}</div><div><h3>{_("Parameters")}</h3>{right}</div></div>'


class _Html(str):
    """A value already written as HTML (escaped where it holds data), which :func:`_dl` takes as it is."""


def _dl(items: Iterable[tuple[str, Any]], _: Callable[[str], str]) -> str:
    return (
        "<dl>"
        + "".join(
            f"<dt>{escape(str(k).replace('_', ' '))}</dt>"
            f"<dd>{v if isinstance(v, _Html) else escape(show_value(v, _))}</dd>"
            for k, v in items
        )
        + "</dl>"
    )


def show_value(value: Any, _: Callable[[str], str]) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(show_value(v, _) for v in value) or "—"
    if isinstance(value, Mapping):
        return cut(json.dumps(value, ensure_ascii=False, default=str), 600)
    return cut(str(value), 600)


def positive(number: Any) -> bool:
    return isinstance(number, (int, float)) and math.isfinite(number) and number > 0


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration_text(seconds: float, _: Callable[[str], str]) -> str:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return _("{n} s").format(n=f"{seconds:.1f}")
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [
        _("{n} d").format(n=days) if days else "",
        _("{n} h").format(n=hours) if hours else "",
        _("{n} min").format(n=minutes) if minutes else "",
        _("{n} s").format(n=sec) if sec and not days else "",
    ]
    return " ".join(p for p in parts if p)


def when_text(iso: str, tz: str | None) -> str:
    """An ISO 8601 UTC time as the page shows it, in *tz* with its offset (``2026-12-04 22:31:05 +08:00``)."""
    return people_time(iso, tz) or "—"
