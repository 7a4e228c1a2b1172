"""Our own messages: the ``error_msg`` of a row that bulkretry settled itself (a timeout, a dropped connection, an
invalid row, a duplicate, a halt, a status lookup), and the reasons inside them.

They are stored in English (the journal, report.csv and report.json are machine files) and translated where people
read them. So each one is a template in this table: the code that makes a message fills a template with
:func:`say`, and the surfaces people read turn the stored text back into its template and fields with
:func:`translate`, the fields translated in turn (a halt's reason is itself one of these messages). Text that no
template matches, such as the service's own ``error_msg``, is left as it was sent.

>>> say(DUPLICATE, target="group", row=2)
'same project and group as row 2; called once'
>>> translate("same project and group as row 2; called once", "zh-CN")
'与第 2 行的项目和迁移任务组相同；只调用一次'
>>> translate("Task group status does not support retry", "zh-CN")
'Task group status does not support retry'
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from bulkretry.i18n import DEFAULT_LANG, N_, translation

__all__ = [
    "CELL_EMPTY",
    "CELL_TOO_LONG",
    "CONNECTION_FAILED",
    "DRY_RUN",
    "DUPLICATE",
    "EARLIER_SESSION",
    "ENV_NOT_SET",
    "FAILURE_SHARE",
    "FIRST_ALIKE",
    "FIRST_REFUSED",
    "MAX_DURATION_REASON",
    "MESSAGES",
    "NOT_ACCEPTED",
    "NOT_CALLED",
    "NO_ANSWER",
    "REGION_MISSING",
    "SERVER_DISCONNECTED",
    "STATUS_NUMBER",
    "STOPPED_BEFORE_ANSWER",
    "TARGETS",
    "UNKNOWN_STATUS",
    "halt_message",
    "say",
    "translate",
]

# -- rows not called ---------------------------------------------------------------------------------------------
NOT_CALLED = N_("not called: the run was stopped")
STOPPED_BEFORE_ANSWER = N_("stopped before an answer came")
DRY_RUN = N_("dry run: not called ({call})")
#: A row a halt left uncalled, by the halt's error code (which stays as it is in every language).
_HALTS = {"halted": N_("halted: {reason}"), "max_duration": N_("max_duration: {reason}")}
MAX_DURATION_REASON = N_("the run reached --max-duration {duration}; continue it with --resume")
FIRST_REFUSED = N_("the first {calls} calls were refused with {answers}; check the credentials")
FIRST_ALIKE = N_("the first {calls} calls all failed with {what}: {message}")
FAILURE_SHARE = N_(
    "{failed} of the {seen} rows finished failed, over the {percent} % that --halt-on-failure {percent}:{min_rows} "
    "allows (top errors: {top})"
)
EARLIER_SESSION = N_(
    "{message} (the earlier session may have called this row before it stopped: that call may have restarted the group)"
)
# -- the manifest's rows -----------------------------------------------------------------------------------------
DUPLICATE = N_("same project and {target} as row {row}; called once")
CELL_EMPTY = N_("{column} is empty; every row needs one")
CELL_TOO_LONG = N_("{column} has {length} characters; the API allows {limits}")
ENV_NOT_SET = N_("{column} refers to the environment variable {name}, which is not set")
REGION_MISSING = N_("no region for this row and no --endpoint or --region")
# -- calls without an answer -------------------------------------------------------------------------------------
NO_ANSWER = N_("no answer within {seconds} s")
SERVER_DISCONNECTED = N_("the server closed the connection before it answered")
CONNECTION_FAILED = N_("the connection failed: {detail}")
# -- status lookups ----------------------------------------------------------------------------------------------
STATUS_NUMBER = N_("status {number}")
NOT_ACCEPTED = N_("status {status}: --action {action} accepts {allowed}")
UNKNOWN_STATUS = N_(
    "the status lookup answered with no readable status, so it is not known whether --action {action} applies to "
    "the {target}: not called; look the {target} up in the OMS console, or run this row again without "
    "--check-status"
)

#: Every template, the one table :func:`translate` reads.
MESSAGES: tuple[str, ...] = (
    NOT_CALLED,
    STOPPED_BEFORE_ANSWER,
    DRY_RUN,
    *_HALTS.values(),
    MAX_DURATION_REASON,
    FIRST_REFUSED,
    FIRST_ALIKE,
    FAILURE_SHARE,
    EARLIER_SESSION,
    DUPLICATE,
    CELL_EMPTY,
    CELL_TOO_LONG,
    ENV_NOT_SET,
    REGION_MISSING,
    NO_ANSWER,
    SERVER_DISCONNECTED,
    CONNECTION_FAILED,
    NOT_ACCEPTED,
    UNKNOWN_STATUS,
    STATUS_NUMBER,
)
#: What a message calls the target of a call (its ``{target}`` field), by the id column's name.
TARGETS = {"group_id": N_("group"), "task_id": N_("task")}
#: Fields that hold statuses in words, ``3 (stopped), 4 (failed)``: each status's name is translated.
_STATUS_FIELDS = frozenset({"status", "allowed"})
_STATUS_IN_WORDS = re.compile(r"(\d+) \(([^()]*)\)")
_FIELD = re.compile(r"\{(\w+)\}")


def say(template: str, **fields: Any) -> str:
    """*template* (one of :data:`MESSAGES`) with its fields filled: the English text that is stored."""
    return template.format(**fields)


def halt_message(code: str, reason: str) -> str:
    """The ``error_msg`` of a row a halt left uncalled: ``halted: <reason>`` (the halt's code first)."""
    template = _HALTS.get(code)
    return say(template, reason=reason) if template else f"{code}: {reason}"


def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression that reads *template*'s fields back out of a text made from it."""
    parts, seen, at = [], set(), 0
    for match in _FIELD.finditer(template):
        parts.append(re.escape(template[at : match.start()]))
        name = match.group(1)
        field = r"-?\d+" if name == "number" else ".+?"
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{field})")
        seen.add(name)
        at = match.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts), re.S)


_PATTERNS = tuple((template, _pattern(template)) for template in MESSAGES)


@lru_cache(maxsize=4096)
def translate(text: str, lang: str = DEFAULT_LANG) -> str:
    """*text* in *lang* when it is one of our messages (its fields translated too), else *text* as it is."""
    if lang == DEFAULT_LANG or not text:
        return text
    _ = translation(lang).gettext
    for template, pattern in _PATTERNS:
        match = pattern.fullmatch(text)
        if match is not None:
            fields = {name: _field(name, value, lang) for name, value in match.groupdict().items()}
            return _(template).format(**fields)
    return text


def _field(name: str, value: str, lang: str) -> str:
    """One field of a message in *lang*: a message in turn, or statuses whose names are translated."""
    if name == "target":
        return translation(lang).gettext(value)
    if name in _STATUS_FIELDS:
        _ = translation(lang).gettext
        return _STATUS_IN_WORDS.sub(lambda m: f"{m.group(1)}（{_(m.group(2))}）", value)
    return translate(value, lang)
