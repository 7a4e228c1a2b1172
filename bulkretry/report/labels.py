"""The labels report.html gives to names that are data elsewhere: the run's public parameters, the rows table's
columns and outcomes (the csv, the json and the URL filters keep the names and values themselves), and the words
the table's script writes, handed to it in the page's JSON block so the script holds no words of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bulkretry.columns import LABELS
from bulkretry.i18n import DEFAULT_LANG, N_, translation
from bulkretry.i18n.messages import TARGETS
from bulkretry.oms.actions import ACTIONS, DEFAULT_ACTION, GROUPS, Action
from bulkretry.records import RunSummary
from bulkretry.report.charts import outcome_label
from bulkretry.report.common import run_action

__all__ = [
    "COLUMN_LABELS",
    "DEFAULT_ACTION_WORDS",
    "MEANING_COLUMNS",
    "OUTCOME_ORDER",
    "PARAM_LABELS",
    "action_facts",
    "action_label",
    "action_text",
    "action_words",
    "script_words",
]

#: The outcomes in the order the page lists them.
OUTCOME_ORDER = ("succeeded", "failed", "invalid", "interrupted", "duplicate", "skipped", "dry_run")

# The labels of the run's public parameters (English: the name, '_' as ' ').
PARAM_LABELS = {
    "manifest": N_("manifest"),
    "manifest_path": N_("manifest path"),
    "sheet": N_("sheet"),
    "encoding": N_("encoding"),
    "delimiter": N_("delimiter"),
    "endpoint": N_("endpoint"),
    "region": N_("region"),
    "project_id": N_("project id"),
    "rate": N_("rate"),
    "concurrency": N_("concurrency"),
    "max_attempts": N_("max attempts"),
    "timeout": N_("timeout"),
    "formats": N_("formats"),
    "dry_run": N_("dry run"),
    "migrate_failed_object": N_("migrate failed object"),
    "source_run": N_("source run"),
    "check_status": N_("check status"),
    "call_anyway": N_("call anyway"),
    "verify_timeout": N_("verify timeout"),
    "max_duration": N_("max duration"),
    "halt_on_failure": N_("halt on failure"),
}
#: The status columns that hold a status in words (stored in English, shown in the page's language).
MEANING_COLUMNS = frozenset({"status_before_meaning", "status_after_meaning"})
#: The table's column labels: the registry's (:mod:`bulkretry.columns`).
COLUMN_LABELS = LABELS

#: Each action (its ``key``) as the page's title line and verdict name it; an action not here is named by its key.
_ACTION_LABELS = {
    "retry": N_("task-group retry"),
    "start": N_("task-group start"),
    "stop": N_("task-group stop"),
    "start-task": N_("task start"),
    "stop-task": N_("task stop"),
    "priority-task": N_("task priority"),
}


def action_label(action: Action | None) -> str:
    """The msgid that names *action* (None: the default) in people's words (``task start``), to translate where
    shown."""
    key = action.key if action is not None else DEFAULT_ACTION
    return _ACTION_LABELS.get(key, key)


def action_words(action: Action) -> str:
    """*action* as the options name it: ``start (tasks)``."""
    return f"{action.name} ({action.target})"


#: The default action as the options name it (``retry (groups)``): what needs no mention in a line.
DEFAULT_ACTION_WORDS = action_words(ACTIONS[DEFAULT_ACTION, GROUPS])


def action_text(action: Action) -> str:
    """*action* as the options and the API name it: ``start (tasks) — POST /v2/{project_id}/tasks/{task_id}/start``."""
    return f"{action_words(action)} — {action.describe()}"


def action_facts(s: RunSummary, params: Any, _: Callable[[str], str]) -> list[tuple[str, Any]]:
    """The action of a run that is not a retry (a retry's page says nothing new): the call, the ``--priority``
    given, the ids per call of a batch action."""
    action = run_action(s)
    if action.name == DEFAULT_ACTION:
        return []
    params = params if isinstance(params, Mapping) else {}
    facts: list[tuple[str, Any]] = [(_("action"), action_text(action))]
    if params.get("priority"):
        facts.append((_("priority"), params["priority"]))
    if action.batch and params.get("batch_size"):
        facts.append((_("batch size"), params["batch_size"]))
    return facts


def script_words(columns: Iterable[str], lang: str, id_column: str = "group_id") -> dict[str, Any]:
    """The words the table's script writes, in the page's language: column labels, outcome labels (none in
    English: the table shows the csv's values, as the filters take them), the count line, the headings (the
    target's, over *id_column*)."""
    _ = translation(lang).gettext
    return {
        "columns": {c: _(COLUMN_LABELS[c]) if c in COLUMN_LABELS else c.replace("_", " ") for c in columns},
        "outcomes": {k: outcome_label(k, lang) for k in OUTCOME_ORDER} if lang != DEFAULT_LANG else {},
        "none": _("(none)"),
        "matching": _("{n} matching rows"),
        "kept": _(" (of the first {n} kept here)"),
        "first": _(", first {n} shown"),
        "head": {
            "row": _("row"),
            "group": _(TARGETS.get(id_column, id_column)),
            "outcome": _("outcome"),
            "error": _("error"),
            "details": _("details"),
        },
        "group_error": _("group's error"),
        "failed_objects": _("failed objects"),
        "failed_list": _("list"),
    }
