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
    "AS_TEXT",
    "BAD_REGION",
    "CELL_EMPTY",
    "CELL_TOO_LONG",
    "CHANGED_ENDS",
    "CHANGED_GROUP",
    "CHANGED_HEADER",
    "CHANGED_NO_ROW",
    "CHANGED_SHEET",
    "CONNECTION_FAILED",
    "CONTROL_CHARACTERS",
    "CRYPTO_KEY_MISSING",
    "CRYPTO_TYPE",
    "DOT_SEGMENT",
    "DRY_RUN",
    "DUPLICATE",
    "EARLIER_REMOVED",
    "EARLIER_SESSION",
    "ENV_NOT_SET",
    "ENV_NO_NAME",
    "ERROR_VALUE",
    "FAILURE_SHARE",
    "FIRST_ALIKE",
    "FIRST_REFUSED",
    "FIX_FORMULA",
    "FORMULA_NO_VALUE",
    "HALF_A_PAIR",
    "HALF_A_PAIR_NO_COLUMN",
    "KEY_FILE_NOT_REGULAR",
    "KEY_FILE_NOT_TEXT",
    "KEY_FILE_TOO_LONG",
    "KEY_FILE_UNREADABLE",
    "KEY_NOT_JSON",
    "LOST_DIGITS",
    "MANIFEST_CHANGED",
    "MANIFEST_NOT_READ_AGAIN",
    "MAX_DURATION_REASON",
    "MESSAGES",
    "NOT_ACCEPTED",
    "NOT_AN_ID",
    "NOT_A_BOOLEAN",
    "NOT_A_REGION_ID",
    "NOT_A_TASK_ID",
    "NOT_CALLED",
    "NOT_WHOLE",
    "NOT_WRITTEN",
    "NO_ANSWER",
    "NO_READABLE_STATUS",
    "PRIORITY_MISSING",
    "PRIORITY_NOT_A_LEVEL",
    "REGIONS_BY_ENDPOINT",
    "REGIONS_OVERRIDDEN",
    "REGION_EMPTY",
    "REGION_MISSING",
    "SERVER_DISCONNECTED",
    "SOURCE_AGENCY",
    "SOURCE_ENV",
    "SOURCE_FILE",
    "SOURCE_IAM",
    "SOURCE_PROFILE",
    "SOURCE_PROFILE_AGENCY",
    "SOURCE_TOKEN_FILE",
    "SOURCE_TOKEN_OPTION",
    "STATUS_IN_WORDS",
    "STATUS_NUMBER",
    "STOPPED_BEFORE_ANSWER",
    "SURROUNDING_SPACES",
    "TARGETS",
    "TARGET_PLURALS",
    "TOO_MANY_ROWS_TO_COPY",
    "UNEXPECTED_ERROR",
    "UNKNOWN_STATUS",
    "WORKBOOK_NOT_OPENED",
    "WORKBOOK_NOT_READ_AGAIN",
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
# -- the annotated manifest not written (manifest/annotate*.py) ---------------------------------------------------
NOT_WRITTEN = N_("{file} not written: {why}")
EARLIER_REMOVED = N_("{why}; the {file} of an earlier session was removed")
TOO_MANY_ROWS_TO_COPY = N_(
    "the workbook has more than {limit} rows, too many to copy it in memory (report.csv and report.xlsx have every "
    "result)"
)
WORKBOOK_NOT_OPENED = N_("openpyxl cannot open the workbook to copy it ({error})")
WORKBOOK_NOT_READ_AGAIN = N_("the workbook cannot be read again ({error})")
MANIFEST_NOT_READ_AGAIN = N_("the manifest cannot be read again ({error})")
UNEXPECTED_ERROR = N_("an unexpected error ({error})")
MANIFEST_CHANGED = N_(
    "the manifest {why}: {file} has changed since the run, so its rows no longer match the journal (report.csv has "
    "every result)"
)
CHANGED_HEADER = N_("has a different header")
CHANGED_ENDS = N_("ends at row {row}, before row {wanted}")
CHANGED_NO_ROW = N_("has no data row {row}")
CHANGED_GROUP = N_("holds group {held} in row {row}, not {wanted}")
CHANGED_SHEET = N_("has no sheet {sheet}")
# -- the manifest's rows -----------------------------------------------------------------------------------------
DUPLICATE = N_("same project and {target} as row {row}; called once")
CELL_EMPTY = N_("{column} is empty; every row needs one")
CELL_TOO_LONG = N_("{column} has {length} characters; the API allows {limits}")
ENV_NOT_SET = N_("{column} refers to the environment variable {name}, which is not set")
REGION_MISSING = N_("no region for this row and no --endpoint or --region")
FORMULA_NO_VALUE = N_(
    "{column} is a formula saved without its value (by a tool that does not compute formulas): open the workbook in "
    "Excel and save it, or paste values"
)
CONTROL_CHARACTERS = N_("{column} holds a control or invisible character (line break, tab, …)")
SURROUNDING_SPACES = N_("{column} {cell} has leading or trailing spaces; remove them")
DOT_SEGMENT = N_("{column} {cell} is not an id")
NOT_A_TASK_ID = N_("task_id {cell} is not a task id: an integer 0..{max}")
#: A cell a spreadsheet could not hold an id in: *why* and *fix* are the next four.
NOT_AN_ID = N_("{column} {cell} is {why}; {fix}")
NOT_WHOLE = N_("a number that is not a whole number")
LOST_DIGITS = N_(
    "a number of {digits} digits (a number cell keeps about 15 significant digits, so the last ones may have been lost)"
)
ERROR_VALUE = N_("an error value (a formula that failed)")
AS_TEXT = N_("format the column as text (Format Cells > Text) and type or paste the ids again, or use a .csv")
FIX_FORMULA = N_("fix the formula, or paste values")
HALF_A_PAIR = N_(
    "row {row} has {half} but no {other} (its cell is empty, and {variable} is not set): a key pair is sent whole or "
    "not at all; fill {other}, or empty {half}"
)
HALF_A_PAIR_NO_COLUMN = N_(
    "row {row} has {half} but no {other} (the manifest has no {other} column, and {variable} is not set): a key pair "
    "is sent whole or not at all; add a {other} column, or empty {half}"
)
CRYPTO_TYPE = N_("{column} {cell} is neither DEFAULT nor KMS")
CRYPTO_KEY_MISSING = N_("{column} is KMS, so {key_id} is needed: the id of the KMS key")
KEY_FILE_UNREADABLE = N_("json_auth_file names a file that cannot be read: {file}")
KEY_FILE_NOT_REGULAR = N_(
    "json_auth_file names {file}, which is not a regular file (a device, pipe or folder); name the key's .json file"
)
KEY_FILE_TOO_LONG = N_("json_auth_file names {file}, over {size} bytes; the API allows a key of 0..{limit} characters")
KEY_FILE_NOT_TEXT = N_("json_auth_file names {file}, which is not UTF-8 text")
KEY_NOT_JSON = N_("json_auth_file is not a JSON key")
NOT_A_BOOLEAN = N_("migrate_failed_object {cell} is not true/false, 1/0, yes/no or 是/否")
PRIORITY_MISSING = N_("priority is empty and no --priority was given: give {levels}")
PRIORITY_NOT_A_LEVEL = N_("priority {cell} is not {levels}")
ENV_NO_NAME = N_("{column} says {prefix} without a variable name")
REGION_EMPTY = N_("the region is empty")
NOT_A_REGION_ID = N_(
    "{region} is not a region id: a region id is {low}..{high} lower-case letters, digits and inner dashes, e.g. "
    "cn-north-4 or ap-southeast-1"
)
#: A region cell that is no region id: *problem* is one of the two above.
BAD_REGION = N_("region {problem}")
# -- calls without an answer -------------------------------------------------------------------------------------
NO_ANSWER = N_("no answer within {seconds} s")
SERVER_DISCONNECTED = N_("the server closed the connection before it answered")
CONNECTION_FAILED = N_("the connection failed: {detail}")
# -- status lookups ----------------------------------------------------------------------------------------------
STATUS_NUMBER = N_("status {number}")
#: A lookup's answer, ``status 5 (migration failed)`` (``validate --online --check-status``).
STATUS_IN_WORDS = N_("status {status}")
NO_READABLE_STATUS = N_("no readable status")
# -- what validate --online did not check --------------------------------------------------------------------------
REGIONS_BY_ENDPOINT = N_("regions not checked: --endpoint gives the endpoint")
REGIONS_OVERRIDDEN = N_("not checked, the endpoint set by the SDK's variable: {names}")
NOT_ACCEPTED = N_("status {status}: --action {action} accepts {allowed}")
UNKNOWN_STATUS = N_(
    "the status lookup answered with no readable status, so it is not known whether --action {action} applies to "
    "the {target}: not called; look the {target} up in the OMS console, or run this row again without "
    "--check-status"
)

# -- where the credentials came from (report.html's Run details, validate --online) ------------------------------
SOURCE_ENV = N_("environment ({name})")
SOURCE_TOKEN_OPTION = N_("--token")
SOURCE_TOKEN_FILE = N_("--token-file {path}")
SOURCE_IAM = N_("IAM password ({where})")
SOURCE_FILE = N_("credentials file {path}")
SOURCE_PROFILE = N_("KooCLI profile {profile}")
SOURCE_AGENCY = N_("ECS metadata (agency)")
SOURCE_PROFILE_AGENCY = N_("ECS metadata (agency), as KooCLI profile {profile} says")
_SOURCES = (
    SOURCE_ENV,
    SOURCE_TOKEN_OPTION,
    SOURCE_TOKEN_FILE,
    SOURCE_IAM,
    SOURCE_FILE,
    SOURCE_PROFILE,
    SOURCE_AGENCY,
    SOURCE_PROFILE_AGENCY,
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
    FORMULA_NO_VALUE,
    CONTROL_CHARACTERS,
    SURROUNDING_SPACES,
    NOT_A_TASK_ID,
    HALF_A_PAIR,
    HALF_A_PAIR_NO_COLUMN,
    CRYPTO_TYPE,
    CRYPTO_KEY_MISSING,
    KEY_FILE_UNREADABLE,
    KEY_FILE_NOT_REGULAR,
    KEY_FILE_TOO_LONG,
    KEY_FILE_NOT_TEXT,
    KEY_NOT_JSON,
    NOT_A_BOOLEAN,
    PRIORITY_MISSING,
    PRIORITY_NOT_A_LEVEL,
    ENV_NO_NAME,
    REGION_EMPTY,
    NOT_A_REGION_ID,
    NOT_WHOLE,
    LOST_DIGITS,
    ERROR_VALUE,
    AS_TEXT,
    FIX_FORMULA,
    TOO_MANY_ROWS_TO_COPY,
    WORKBOOK_NOT_OPENED,
    WORKBOOK_NOT_READ_AGAIN,
    MANIFEST_NOT_READ_AGAIN,
    UNEXPECTED_ERROR,
    MANIFEST_CHANGED,
    CHANGED_HEADER,
    CHANGED_ENDS,
    CHANGED_NO_ROW,
    CHANGED_GROUP,
    CHANGED_SHEET,
    # The most general last: the table is read in order, the first template that matches wins.
    EARLIER_REMOVED,
    NOT_WRITTEN,
    DOT_SEGMENT,
    NOT_AN_ID,
    BAD_REGION,
    NO_ANSWER,
    SERVER_DISCONNECTED,
    CONNECTION_FAILED,
    NOT_ACCEPTED,
    UNKNOWN_STATUS,
    STATUS_NUMBER,
    STATUS_IN_WORDS,
    NO_READABLE_STATUS,
    REGIONS_BY_ENDPOINT,
    REGIONS_OVERRIDDEN,
    *_SOURCES,
)
#: What a message calls the target of a call (its ``{target}`` field), by the id column's name.
TARGETS = {"group_id": N_("group"), "task_id": N_("task")}
#: What ``--target`` names (``groups``, ``tasks``), in words: ``--action retry on groups``, the progress bar's
#: ``retry groups``.
TARGET_PLURALS = {"groups": N_("groups"), "tasks": N_("tasks")}
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


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each template with its pattern, made the first time a text is translated (not by every start: a run in
    English never needs them)."""
    return tuple((template, _pattern(template)) for template in MESSAGES)


@lru_cache(maxsize=4096)
def translate(text: str, lang: str = DEFAULT_LANG) -> str:
    """*text* in *lang* when it is one of our messages (its fields translated too), else *text* as it is."""
    if lang == DEFAULT_LANG or not text:
        return text
    _ = translation(lang).gettext
    for template, pattern in _patterns():
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
