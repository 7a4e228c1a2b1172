"""The campaign across rounds: every run of a manifest (runs, reruns, resumes), ordered by start time.

Groups are matched by ``(project_id, group_id)`` as in :mod:`bulkretry.diff`; duplicate rows are left out.
*Failing* means ``failed``, ``interrupted`` or ``invalid``; *fine* means ``succeeded`` or ``skipped``. Each
journal is read read-only under its folder's shared lock, its rows copied by SQLite itself into a temporary
database on disk (each group's outcome in each run, by first appearance), which is then read back a group at a
time: memory does not grow with the runs or the groups (300 runs of 1,000 groups each: about 60 MB). The run
folders are never written. A run still going on (its folder's lock held) is left out, with a note; a run folder
reached twice (a symlink) counts once. Each run is named with its action (a history of several actions says
so). ``history.csv`` and ``history.html`` are written to *out*
(temporary names, then renamed over any earlier ones: they are derived files). history.html is in *lang*
(:mod:`bulkretry.i18n`); history.csv is the same in every language.
"""

from __future__ import annotations

import html
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, suppress
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
from bulkretry.run.journal import JOURNAL_NAME, read_only_uri
from bulkretry.run.rundir import read_params, require_run, run_journal
from bulkretry.run.runlock import RunLock, live_runs

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


class _Group(NamedTuple):
    """One group across the runs: the runs it is in, each with its outcome there (in run order), its latest
    error code, and how many runs there are."""

    project_id: str
    group_id: str
    seen: list[tuple[int, str]]
    code: str
    runs: int

    @property
    def outcomes(self) -> list[str]:
        """Its outcome in each run ('' when not in it)."""
        outcomes = [""] * self.runs
        for index, outcome in self.seen:
            outcomes[index] = outcome
        return outcomes


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
    #: Run folders left out, each with why (a run still going on).
    skipped: tuple[tuple[Path, str], ...] = ()

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
        found = _runs_in(folders[0])
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


def _runs_in(root: Path) -> list[Path]:
    """The run folders in *root*, by name, each once: a folder reached again through a symlink is left out (the
    real one is kept)."""
    found: dict[Path, Path] = {}
    for sub in sorted(root.iterdir(), key=lambda sub: (sub.is_symlink(), sub.name)):
        if (sub / JOURNAL_NAME).is_file():
            found.setdefault(sub.resolve(), sub)
    return sorted(found.values())


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


#: The temporary database of a history: the groups by first appearance, and each one's outcome in each run.
_OUTCOME_TABLES = """
CREATE TABLE groups (id INTEGER PRIMARY KEY, project_id TEXT NOT NULL, group_id TEXT NOT NULL,
  UNIQUE (project_id, group_id));
CREATE TABLE outcomes (gid INTEGER NOT NULL, run INTEGER NOT NULL, outcome TEXT NOT NULL, code TEXT NOT NULL,
  PRIMARY KEY (gid, run)) WITHOUT ROWID;
"""
#: A run's rows into the tables (the later of two rows of one group in a run wins, as it did in the run).
_ADD_RUN = (
    "INSERT OR IGNORE INTO groups (project_id, group_id) "
    "SELECT project_id, group_id FROM j.rows WHERE outcome != 'duplicate' ORDER BY row",
    "INSERT OR REPLACE INTO outcomes SELECT g.id, ?, r.outcome, r.error_code FROM j.rows AS r "
    "JOIN groups AS g ON g.project_id = r.project_id AND g.group_id = r.group_id "
    "WHERE r.outcome != 'duplicate' ORDER BY r.row",
)
_READ_BACK = (
    "SELECT o.gid, g.project_id, g.group_id, o.run, o.outcome, o.code "
    "FROM outcomes AS o JOIN groups AS g ON g.id = o.gid ORDER BY o.gid, o.run"
)


class _Outcomes:
    """Every group's outcome in every run, in a temporary SQLite database on disk, filled by SQLite from each
    journal attached read-only and read back one group at a time (``groups()``), in order of first appearance."""

    def __init__(self, cleanup: ExitStack) -> None:
        folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bulkretry-history-"))
        # uri=True lets ATTACH take each journal's read-only URI (read_only_uri).
        self._db = cleanup.enter_context(closing(sqlite3.connect(Path(folder) / "history.sqlite", uri=True)))
        self._db.isolation_level = None
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;")
        self._db.executescript(_OUTCOME_TABLES)
        self.runs = 0

    def add(self, index: int, folder: Path) -> None:
        """The rows of the run in *folder* as run *index*, read under its shared lock (never written)."""
        path = require_run(folder)
        with RunLock(folder, shared=True), ExitStack() as cleanup:
            self._db.execute("ATTACH DATABASE ? AS j", (read_only_uri(path, cleanup),))
            try:
                self._copy(index, path)
            finally:
                self._db.execute("DETACH DATABASE j")
        self.runs = max(self.runs, index + 1)

    def _copy(self, index: int, path: Path) -> None:
        """The attached journal's rows as run *index*, in one transaction."""
        try:
            self._db.execute("BEGIN")
            self._db.execute(_ADD_RUN[0])
            self._db.execute(_ADD_RUN[1], (index,))
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise ConfigError(f"{path} cannot be read ({exc}); give the folder of a bulkretry run") from None

    def groups(self) -> Iterator[_Group]:
        """Each group with its outcome in each run it is in, in order of first appearance."""
        rows = self._db.execute(_READ_BACK)
        first = next(rows, None)
        if first is None:
            return
        gid, project_id, group_id, run, outcome, code = first
        seen = [(run, outcome)]
        for next_gid, next_project, next_group, run, outcome, next_code in rows:
            if next_gid != gid:
                yield _Group(project_id, group_id, seen, code, self.runs)
                gid, project_id, group_id, seen = next_gid, next_project, next_group, []
            seen.append((run, outcome))
            code = next_code
        yield _Group(project_id, group_id, seen, code, self.runs)


def history(
    folders: Sequence[Path], out_dir: Path | None = None, *, lang: str = DEFAULT_LANG, tz: str | None = None
) -> HistoryResult:
    """The history of the runs in *folders* (or in the single runs root given): ``history.csv`` and
    ``history.html`` (in *lang*, its times in the zone *tz*, None: the machine's; history.csv keeps ISO 8601 UTC)
    written to *out_dir* (default: the current directory). A run still going on is left out
    (``HistoryResult.skipped`` says which and why)."""
    found = find_runs(folders)
    skipped = live_runs(found)
    live = {folder for folder, _ in skipped}
    runs = _read_runs([folder for folder in found if folder not in live])
    if not runs:
        raise ConfigError(f"no finished or stopped run to read: {skipped[0][1]} ({skipped[0][0]})")
    out_dir = _out_folder(out_dir or Path.cwd())
    story = _Story.of(len(runs))
    with ExitStack() as cleanup:
        outcomes = _Outcomes(cleanup)
        for index, run in enumerate(runs):
            outcomes.add(index, run.folder)
        told = _telling(outcomes.groups(), story, _outcome_word(lang))  # every group's figures, once
        files = [_replace(out_dir / CSV_NAME, lambda path: _write_csv(path, runs, told))]
    files.append(
        _replace(out_dir / HTML_NAME, lambda path: _write_html(path, runs, story.groups, story, Locale(lang, tz)))
    )
    return HistoryResult(
        runs, story.groups, story.never_total, story.fixed, story.not_fine, out_dir, files, tuple(skipped)
    )


def _out_folder(out_dir: Path) -> Path:
    """*out_dir*, made if need be; a ConfigError saying to give another when it cannot be."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out_dir}: {exc.strerror or exc}; give --out DIR you can write to") from None
    return out_dir


def _telling(groups: Iterator[_Group], story: _Story, word: Callable[[str], str]) -> Iterator[_Group]:
    """*groups* as they come, each also told to *story* (its outcomes in a table as *word* gives them)."""
    for group in groups:
        story.add(group, word)
        yield group


def _outcome_word(lang: str) -> Callable[[str], str]:
    """An outcome in a table: as the csv has it in English, in words otherwise."""
    return lambda outcome: outcome if lang == DEFAULT_LANG or not outcome else outcome_label(outcome, lang)


class _Stats(NamedTuple):
    """A group's history in three figures."""

    last: str  # its last outcome
    failed: int  # how many runs it failed in
    first_fine: int | None  # the first run (index) it was fine in, or None


def _stats(seen: Sequence[tuple[int, str]]) -> _Stats:
    """The figures of a group in the runs it is in (*seen*: run index and outcome, in run order)."""
    last = seen[-1][1] if seen else ""
    failed = sum(1 for _, o in seen if o in FAILING)
    first = next((i for i, o in seen if o in FINE), None)
    return _Stats(last, failed, first)


def _fixes(seen: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """The runs (indices) in which the group was fixed (failing where it last appeared before, fine in this one),
    each with its outcome before."""
    fixed, before = [], ""
    for index, outcome in seen:
        if before in FAILING and outcome in FINE:
            fixed.append((index, before))
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


def _write_csv(path: Path, runs: Sequence[RunInfo], groups: Iterator[_Group]) -> None:
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
        for group in groups:
            stats = _stats(group.seen)
            writer.writerow(
                [
                    neutralise(group.project_id),
                    neutralise(group.group_id),
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
    groups: int = 0

    @classmethod
    def of(cls, runs: int) -> _Story:
        """The story of *runs* runs before any group is told."""
        return cls([0] * runs, [0] * runs, [[] for _ in range(runs)])

    def add(self, group: _Group, word: Callable[[str], str]) -> None:
        """One more group, each of its outcomes shown in a table as *word* gives it."""
        project_id, group_id = group.project_id, group.group_id
        self.groups += 1
        for index, outcome in group.seen:
            if outcome in FAILING:
                self.failing[index] += 1
        stats = _stats(group.seen)
        self.still += stats.last in FAILING
        self.not_fine += stats.last not in FINE
        if stats.first_fine is None:
            self.never_total += 1
            if len(self.never) < HTML_ROWS:
                self.never.append([project_id, group_id, word(stats.last), group.code, str(stats.failed)])
        fixes = _fixes(group.seen)
        self.fixed += bool(fixes)
        for index, before in fixes:
            self.fixed_count[index] += 1
            if len(self.fixed_in[index]) < HTML_ROWS:
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
