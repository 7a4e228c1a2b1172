"""The labels report.html gives to names that are data elsewhere: the run's public parameters, the rows table's
columns and outcomes (the csv, the json and the URL filters keep the names and values themselves), and the words
the table's script writes, handed to it in the page's JSON block so the script holds no words of its own."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bulkretry.columns import LABELS
from bulkretry.i18n import DEFAULT_LANG, N_, translation
from bulkretry.report.charts import outcome_label

__all__ = ["COLUMN_LABELS", "OUTCOME_ORDER", "PARAM_LABELS", "script_words"]

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
    "verify_timeout": N_("verify timeout"),
    "max_duration": N_("max duration"),
    "halt_on_failure": N_("halt on failure"),
}
#: The table's column labels: the registry's (:mod:`bulkretry.columns`).
COLUMN_LABELS = LABELS


def script_words(columns: Iterable[str], lang: str) -> dict[str, Any]:
    """The words the table's script writes, in the page's language: column labels, outcome labels (none in
    English: the table shows the csv's values, as the filters take them), the count line."""
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
            "group": _("group"),
            "outcome": _("outcome"),
            "error": _("error"),
            "details": _("details"),
        },
        "group_error": _("group's error"),
        "failed_objects": _("failed objects"),
        "failed_list": _("list"),
    }
