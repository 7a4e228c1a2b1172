"""The campaign across rounds: every run of a manifest (runs, reruns, resumes), ordered by start time.

Groups are matched by ``(project_id, group_id)`` as in :mod:`bulkretry.diff`; duplicate rows are left out.
*Failing* means ``failed``, ``interrupted`` or ``invalid``; *fine* means ``succeeded`` or ``skipped``. Each
journal is read read-only under its folder's shared lock (:func:`bulkretry.run.rundir.run_journal`) and
streamed row by row; the run folders are never written. Each run is named with its action (a history of
several actions says so). Memory: one small record per group (its outcome in
each run and its last error code) is held for the whole history, so a million groups over a few rounds take
a few hundred MB; fine for today's manifests. ``history.csv`` and ``history.html`` are written to *out*
(temporary names, then renamed over any earlier ones: they are derived files). history.html is in *lang*
(:mod:`bulkretry.i18n`); history.csv is the same in every language.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from bulkretry.errors import ConfigError
from bulkretry.i18n import DEFAULT_LANG, translation
from bulkretry.i18n.times import Locale, people_time
from bulkretry.oms.actions import Action
from bulkretry.records import FAILING, FINE
from bulkretry.report import neutralise
from bulkretry.report.charts import outcome_label
from bulkretry.report.common import action_of, csv_writer, open_csv
from bulkretry.report.labels import action_label, action_words
from bulkretry.run.journal import JOURNAL_NAME
from bulkretry.run.rundir import read_params, require_run, run_journal

__all__ = ["HistoryResult", "RunInfo", "find_runs", "history", "previous_round", "round_changed", "round_failures"]

CSV_NAME = "history.csv"
HTML_NAME = "history.html"
#: At most this many rows in each table of history.html (history.csv holds every group).
HTML_ROWS = 1000
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    started_at: str
    folder: Path
    #: The run's action (None: the default, a retry of task groups, as every run before actions was).
    action: Action | None = None

    @property
    def action_words(self) -> str:
        """The run's action as the options name it: ``retry (groups)``."""
        return action_words(self.action or action_of(None, None))


class _Group:
    """One group across the runs: its outcome in each run ('' when not in it) and its latest error code."""

    __slots__ = ("code", "outcomes")

    def __init__(self, runs: int) -> None:
        self.outcomes = [""] * runs
        self.code = ""


@dataclass(frozen=True)
class HistoryResult:
    runs: list[RunInfo]
    groups: int
    never_succeeded: int
    fixed: int
    #: Groups whose latest outcome is not fine (succeeded or skipped): exit status 1 when there are some.
    not_fine: int
    out_dir: Path
    files: list[Path]

    @property
    def actions(self) -> tuple[str, ...]:
        """The runs' actions as the options name them, each once, in the runs' order (more than one: the history
        mixes actions)."""
        return tuple(dict.fromkeys(run.action_words for run in self.runs))


def find_runs(folders: Sequence[Path]) -> list[Path]:
    """The run folders given: each of *folders*, or a single folder's subfolders holding a journal (a runs root)."""
    if not folders:
        raise ConfigError("no run folder given")
    if len(folders) == 1 and not (folders[0] / JOURNAL_NAME).exists() and folders[0].is_dir():
        found = sorted(sub for sub in folders[0].iterdir() if (sub / JOURNAL_NAME).is_file())
        if not found:
            raise ConfigError(
                f"{folders[0]} holds no run ({JOURNAL_NAME} is missing) and no run folders: give "
                "run folders, or the folder that holds them"
            )
        return found
    seen: dict[Path, Path] = {}
    for folder in folders:
        require_run(folder)
        key = folder.resolve()
        if key in seen:
            raise ConfigError(f"{folder} is given twice")
        seen[key] = folder
    return list(folders)


def _read_runs(folders: Sequence[Path]) -> list[RunInfo]:
    runs = []
    for folder in folders:
        with run_journal(folder) as journal:
            params = journal.params()
        action = action_of(params.get("action"), params.get("target"))
        runs.append(
            RunInfo(str(params.get("run_id") or folder.name), str(params.get("started_at") or ""), folder, action)
        )
    runs.sort(key=lambda run: (run.started_at, run.run_id))
    # Column headers must differ: two folders may carry the same run id (e.g. copies from two archives).
    seen: dict[str, int] = {}
    unique = []
    for run in runs:
        seen[run.run_id] = seen.get(run.run_id, 0) + 1
        name = run.run_id if seen[run.run_id] == 1 else f"{run.run_id} ({seen[run.run_id]})"
        unique.append(RunInfo(name, run.started_at, run.folder, run.action))
    return unique


def round_failures(folder: Path) -> frozenset[tuple[str, str, str]]:
    """What failed in the round of *folder*: ``(project_id, group_id, error_code)`` of every row whose outcome is
    failing (``failed``, ``interrupted``, ``invalid``), as this history counts it."""
    with run_journal(folder) as journal:
        return frozenset((r.project_id, r.group_id, r.error_code) for r in journal.results(FAILING, extra=False))


def previous_round(folder: Path) -> Path | None:
    """The round before the run in *folder*: a rerun's source run; else the latest run of the same manifest in
    the same runs folder that started before it; None for a first round (or a source that is gone)."""
    params = read_params(folder)
    source = params.get("source_run") or {}
    if source.get("out_dir"):
        earlier = Path(source["out_dir"])
        return earlier if (earlier / JOURNAL_NAME).is_file() else None
    manifest, started = params.get("manifest_path"), str(params.get("started_at") or "")
    rounds = []
    for sibling in folder.parent.iterdir():
        if sibling.resolve() == folder.resolve() or not (sibling / JOURNAL_NAME).is_file():
            continue
        with suppress(ConfigError):  # a run being written, or no run at all
            other = read_params(sibling)
            if other.get("manifest_path") == manifest and str(other.get("started_at") or "") < started:
                rounds.append((str(other["started_at"]), sibling))
    return max(rounds)[1] if rounds else None


def round_changed(folder: Path) -> bool:
    """Whether the run in *folder* failed otherwise than the round before it (other rows failing, or other error
    codes); a first round has nothing before it, so it changed."""
    earlier = previous_round(folder)
    return earlier is None or round_failures(folder) != round_failures(earlier)


def _collect(runs: Sequence[RunInfo]) -> dict[tuple[str, str], _Group]:
    groups: dict[tuple[str, str], _Group] = {}
    for index, run in enumerate(runs):
        with run_journal(run.folder) as journal:
            for result in journal.results(extra=False):
                outcome = result.outcome.value
                if outcome == "duplicate":
                    continue
                key = (result.project_id, result.group_id)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group(len(runs))
                group.outcomes[index] = outcome
                group.code = result.error_code
    return groups


def history(
    folders: Sequence[Path], out_dir: Path | None = None, *, lang: str = DEFAULT_LANG, tz: str | None = None
) -> HistoryResult:
    """The history of the runs in *folders* (or in the single runs root given): ``history.csv`` and
    ``history.html`` (in *lang*, its times in the zone *tz*, None: the machine's; history.csv keeps ISO 8601 UTC)
    written to *out_dir* (default: the current directory)."""
    runs = _read_runs(find_runs(folders))
    groups = _collect(runs)
    out_dir = out_dir or Path.cwd()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out_dir}: {exc.strerror or exc}; give --out DIR you can write to") from None
    story = _Story.told(len(runs), groups, _outcome_word(lang))  # every group's figures, once
    files = [
        _replace(out_dir / CSV_NAME, lambda path: _write_csv(path, runs, groups)),
        _replace(out_dir / HTML_NAME, lambda path: _write_html(path, runs, len(groups), story, Locale(lang, tz))),
    ]
    return HistoryResult(runs, len(groups), story.never_total, story.fixed, story.not_fine, out_dir, files)


def _outcome_word(lang: str) -> Callable[[str], str]:
    """An outcome in a table: as the csv has it in English, in words otherwise."""
    return lambda outcome: outcome if lang == DEFAULT_LANG or not outcome else outcome_label(outcome, lang)


class _Stats(NamedTuple):
    """A group's history in three figures."""

    last: str  # its last outcome
    failed: int  # how many runs it failed in
    first_fine: int | None  # the first run (index) it was fine in, or None


def _stats(outcomes: Sequence[str]) -> _Stats:
    last = next((o for o in reversed(outcomes) if o), "")
    failed = sum(1 for o in outcomes if o in FAILING)
    first = next((i for i, o in enumerate(outcomes) if o in FINE), None)
    return _Stats(last, failed, first)


def _fixes(outcomes: Sequence[str]) -> list[int]:
    """The runs (indices) in which the group was fixed: failing where it last appeared before, fine in this one."""
    fixed, before = [], ""
    for index, outcome in enumerate(outcomes):
        if not outcome:
            continue
        if before in FAILING and outcome in FINE:
            fixed.append(index)
        before = outcome
    return fixed


def _replace(target: Path, write: Callable[[Path], None]) -> Path:
    temp = target.with_name(target.name + ".tmp")
    try:
        write(temp)
        os.replace(temp, target)
    except OSError as exc:
        with suppress(OSError):
            temp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}; give --out DIR you can write to") from None
    return target


def _write_csv(path: Path, runs: Sequence[RunInfo], groups: dict[tuple[str, str], _Group]) -> None:
    with open_csv(path) as fh:
        writer = csv_writer(fh)
        writer.writerow(
            [
                "project_id",
                "group_id",
                *(neutralise(run.run_id) for run in runs),
                "last_outcome",
                "runs_failed",
                "first_succeeded_run",
            ]
        )
        for (project_id, group_id), group in groups.items():
            stats = _stats(group.outcomes)
            writer.writerow(
                [
                    neutralise(project_id),
                    neutralise(group_id),
                    *group.outcomes,
                    stats.last,
                    stats.failed,
                    neutralise(runs[stats.first_fine].run_id) if stats.first_fine is not None else "",
                ]
            )


_STYLE = """
body{font:14px/1.45 system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:2em;color:#222;
max-width:72em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left}
th{background:#f3f3f3}.fail{color:#b00020}.ok{color:#17702f}.muted{color:#666}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], total: int, lang: str) -> str:
    _ = translation(lang).gettext
    if not rows:
        return f'<p class="muted">{_("none")}</p>'
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    more = (
        '<p class="muted">' + e(_("and {n} more: see {file}").format(n=total - len(rows), file=CSV_NAME)) + "</p>"
        if total > len(rows)
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _chart(runs: Sequence[RunInfo], failing: Sequence[int], lang: str) -> str:
    _ = translation(lang).gettext
    bar, gap, height = 36, 12, 120
    top = max(failing, default=0) or 1
    width = len(runs) * (bar + gap) + gap
    parts = [
        f'<svg role="img" width="{width}" height="{height + 40}" '
        f'aria-label="{html.escape(_("failing groups per run"))}">'
    ]
    for index, (run, count) in enumerate(zip(runs, failing)):
        x = gap + index * (bar + gap)
        h = round(count / top * height)
        parts.append(
            f'<rect x="{x}" y="{height + 15 - h}" width="{bar}" height="{h}" fill="#c0392b">'
            f"<title>{html.escape(_('{run}: {count} failing').format(run=run.run_id, count=count))}"
            "</title></rect>"
            f'<text x="{x + bar // 2}" y="{height + 12 - h}" font-size="11" text-anchor="middle">{count}'
            f'</text><text x="{x + bar // 2}" y="{height + 32}" font-size="11" text-anchor="middle">'
            f"{index + 1}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class _Story:
    """What history.html tells, counted in one pass over the groups: per run, the groups failing in it and those
    fixed in it (the first ``HTML_ROWS`` of them as table rows); the groups that never succeeded (the first
    ``HTML_ROWS`` as rows), those still failing, and those fixed along the way."""

    failing: list[int]
    fixed_count: list[int]
    fixed_in: list[list[list[str]]]
    never: list[list[str]] = field(default_factory=list)
    never_total: int = 0
    still: int = 0
    fixed: int = 0
    #: Groups whose last outcome is not fine (failed, invalid, interrupted...).
    not_fine: int = 0

    @classmethod
    def told(cls, runs: int, groups: dict[tuple[str, str], _Group], word: Callable[[str], str]) -> _Story:
        """The story of *groups* over *runs* runs, each outcome shown in a table as *word* gives it."""
        story = cls([0] * runs, [0] * runs, [[] for _ in range(runs)])
        for (project_id, group_id), group in groups.items():
            story.add(project_id, group_id, group, word)
        return story

    def add(self, project_id: str, group_id: str, group: _Group, word: Callable[[str], str]) -> None:
        for index, outcome in enumerate(group.outcomes):
            if outcome in FAILING:
                self.failing[index] += 1
        stats = _stats(group.outcomes)
        self.still += stats.last in FAILING
        self.not_fine += stats.last not in FINE
        if stats.first_fine is None:
            self.never_total += 1
            if len(self.never) < HTML_ROWS:
                self.never.append([project_id, group_id, word(stats.last), group.code, str(stats.failed)])
        fixes = _fixes(group.outcomes)
        self.fixed += bool(fixes)
        for index in fixes:
            self.fixed_count[index] += 1
            if len(self.fixed_in[index]) < HTML_ROWS:
                before = next(o for o in reversed(group.outcomes[:index]) if o)
                self.fixed_in[index].append([project_id, group_id, word(before)])


def _rounds(runs: Sequence[RunInfo], story: _Story, lang: str) -> str:
    """Each run's heading (when, failing, fixed) and the table of the groups it fixed."""
    e = html.escape
    _ = translation(lang).gettext
    rounds = []
    for index, run in enumerate(runs):
        state = _("started {when} · {failing} failing · {fixed} fixed").format(
            when=run.started_at, failing=story.failing[index], fixed=story.fixed_count[index]
        )
        rounds.append(
            f'<h3>{index + 1}. {e(run.run_id)} <span class="muted">{e(state)}</span></h3>'
            + _table(
                [_("project_id"), _("group_id"), _("outcome before")],
                story.fixed_in[index],
                story.fixed_count[index],
                lang,
            )
        )
    return "".join(rounds)


def _head(runs: Sequence[RunInfo], groups: int, story: _Story, lang: str) -> str:
    """The page up to its first heading: the title, the style and the counts."""
    e = html.escape
    _ = translation(lang).gettext
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(_('bulkretry history: {runs} runs').format(runs=len(runs)))}</title><style>{_STYLE}</style>"
        f"</head><body><h1>{e(_('History of {runs} runs, {groups} groups').format(runs=len(runs), groups=groups))}"
        f'</h1><p><span class="fail">{e(_("{n} never succeeded").format(n=story.never_total))}</span> · '
        f'<span class="ok">{e(_("{n} fixed along the way").format(n=story.fixed))}</span> · '
        f"{e(_('{n} still failing in the latest run that had them').format(n=story.still))}</p>"
    )


def _mixed(runs: Sequence[RunInfo], lang: str) -> str:
    """A warning when the runs are of more than one action (their rows are matched all the same)."""
    _ = translation(lang).gettext
    actions = list(dict.fromkeys(_(action_label(run.action)) for run in runs))
    if len(actions) < 2:
        return ""
    text = _("These runs are of different actions ({actions}): a row's outcomes are of different calls.")
    return f'<p class="fail">{html.escape(text.format(actions=", ".join(actions)))}</p>'


def _write_html(path: Path, runs: Sequence[RunInfo], groups: int, story: _Story, locale: Locale) -> None:
    e = html.escape
    lang = locale.lang
    runs = [replace(run, started_at=people_time(run.started_at, locale.tz)) for run in runs]  # as people read it
    _ = translation(lang).gettext
    page = (
        _head(runs, groups, story, lang)
        + f"<h2>{e(_('Failing groups per run'))}</h2>"
        + _chart(runs, story.failing, lang)
        + "<ol>"
        + "".join(
            f'<li>{e(run.run_id)} <span class="muted">{e(run.started_at)} · {e(_(action_label(run.action)))}'
            "</span></li>"
            for run in runs
        )
        + "</ol>"
        + _mixed(runs, lang)
        + f"<h2>{e(_('Never succeeded'))}</h2>"
        + _table(
            [_("project_id"), _("group_id"), _("last outcome"), _("last error code"), _("runs failed")],
            story.never,
            story.never_total,
            lang,
        )
        + f"<h2>{e(_('Fixed, round by round'))}</h2>"
        + _rounds(runs, story, lang)
        + "</body></html>\n"
    )
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)
