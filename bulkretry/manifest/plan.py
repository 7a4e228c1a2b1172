"""From manifest rows to call plans: the row's target id checked (a group id, or a task id: an integer), its body
made for the run's action (:mod:`bulkretry.manifest.body`), its project and region checked, and repeated
``(project_id, id)`` rows marked. Nothing here calls out.
"""

from __future__ import annotations

import os
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

from bulkretry.columns import KEY_PAIRS, MAX_ID_LENGTH, MAX_TASK_ID, REPORT, names
from bulkretry.errors import ConfigError
from bulkretry.i18n.messages import (
    BAD_REGION,
    CELL_EMPTY,
    CELL_TOO_LONG,
    CONTROL_CHARACTERS,
    DOT_SEGMENT,
    DUPLICATE,
    FORMULA_NO_VALUE,
    HALF_A_PAIR,
    HALF_A_PAIR_NO_COLUMN,
    NOT_A_TASK_ID,
    NOT_AN_ID,
    REGION_MISSING,
    SURROUNDING_SPACES,
    TARGETS,
    say,
)
from bulkretry.manifest.body import DEFAULT_ENV_PREFIX, BodyMaker, CallBody, CallSpec, InvalidCell
from bulkretry.manifest.columns import CANONICAL_COLUMNS, quoted
from bulkretry.manifest.excel import NotAnId
from bulkretry.manifest.shard import Shard
from bulkretry.masking import MASKED_COLUMNS, SECRET_COLUMNS, is_reference, mask
from bulkretry.oms.actions import GROUPS
from bulkretry.oms.csmsref import MAX_SECRETS, SecretPlace, SecretRef
from bulkretry.oms.endpoint import check_region, parse_endpoint, region_problem
from bulkretry.records import Outcome

__all__ = [
    "CallBody",
    "CallSpec",
    "Planner",
    "RowPlan",
    "report_columns",
]

#: Columns that go into the report's first block in a group run, not into the extra columns (a task run's
#: ``task_id`` takes the place of ``group_id``).
LEADING_COLUMNS = frozenset(CANONICAL_COLUMNS) & frozenset(names(REPORT))
_KNOWN_COLUMNS = frozenset(CANONICAL_COLUMNS)


class RowPlan(NamedTuple):
    """One manifest row, ready: called when ``verdict`` is None, otherwise reported as it says (a named
    tuple: immutable, and quick to make, one per row). ``group_id`` holds the row's target id: its group id,
    or in a task run its task id."""

    row: int
    project_id: str
    group_id: str
    region: str
    body: CallBody
    extra: tuple[tuple[str, str], ...]
    verdict: Outcome | None = None
    error_code: str = ""
    error_msg: str = ""

    @property
    def callable(self) -> bool:
        return self.verdict is None


def report_columns(columns: Iterable[str], id_column: str = "group_id") -> list[str]:
    """The manifest columns that the report carries after its own (secrets dropped); *id_column* names the
    run's target (``group_id``, or ``task_id``: a task run's ``group_id`` is carried as information)."""
    leading = (LEADING_COLUMNS - {"group_id"}) | {id_column}
    return [c for c in columns if c not in SECRET_COLUMNS and c not in leading]


def _check_formulas(formulas: tuple[str, ...]) -> None:
    for column in formulas:
        if column in _KNOWN_COLUMNS:
            raise InvalidCell(column, "formula without a value", say(FORMULA_NO_VALUE, column=column))


def _check_exact(column: str, value: str) -> None:
    """A cell the spreadsheet could not hold an id in (a long number that lost digits, an error value) is never
    sent: the digits read back are not the id that was typed."""
    if isinstance(value, NotAnId):
        raise InvalidCell(
            column, value.code, say(NOT_AN_ID, column=column, cell=quoted(str(value)), why=value.why, fix=value.fix)
        )


def _check_id(column: str, value: str) -> str:
    if type(value) is not str:  # (a plain str, the usual cell, cannot be a NotAnId)
        _check_exact(column, value)
    if (
        0 < len(value) <= MAX_ID_LENGTH
        and value.isascii()
        and value.isprintable()
        and value not in (".", "..")
        and value[0] != " "
        and value[-1] != " "
    ):
        return value  # the usual id: printable ASCII, no edge spaces (the checks below would all pass)
    if not value:
        raise InvalidCell(column, "missing", say(CELL_EMPTY, column=column))
    if len(value) > MAX_ID_LENGTH:
        raise InvalidCell(
            column, "too long", say(CELL_TOO_LONG, column=column, length=len(value), limits=f"1..{MAX_ID_LENGTH}")
        )
    if value != value.strip():
        raise InvalidCell(
            column,
            "has surrounding spaces",
            say(SURROUNDING_SPACES, column=column, cell=quoted(value.strip())),
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise InvalidCell(column, "has control characters", say(CONTROL_CHARACTERS, column=column))
    if value in (".", ".."):
        raise InvalidCell(column, "is a dot segment", say(DOT_SEGMENT, column=column, cell=quoted(value)))
    return value


def _check_group_id(value: str) -> str:
    """A group id as it is sent."""
    return _check_id("group_id", value)


def _check_task_id(value: str) -> str:
    """A task id as it is sent: an integer 0..MAX_TASK_ID (the SDK's ``ids: list[int]``), written plainly."""
    _check_exact("task_id", value)
    text = value.strip()
    if not text:
        raise InvalidCell("task_id", "missing", say(CELL_EMPTY, column="task_id"))
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_TASK_ID):
        raise InvalidCell("task_id", "not an integer", say(NOT_A_TASK_ID, cell=quoted(value), max=MAX_TASK_ID))
    return str(int(text))


def _check_pairs(
    row: int, values: Mapping[str, str], body: Mapping[str, Any], halves: Iterable[tuple[str, str]]
) -> None:
    """Half a key pair that the action sends (a row's ``src_ak`` cell without a ``src_sk``, or the reverse, whether
    the other column is empty or missing) is never sent: the service would take it for keys that do not work. A
    run-wide ``BULKRETRY_<COLUMN>`` default may give the other half; a default alone, for a row that names neither
    half, is the run's own affair. *halves* are the pairs each way round: ``(src_ak, src_sk), (src_sk, src_ak)``."""
    for half, other in halves:
        if other not in body and half in body and values.get(half):
            template = HALF_A_PAIR if other in values else HALF_A_PAIR_NO_COLUMN
            variable = DEFAULT_ENV_PREFIX + other.upper()
            raise InvalidCell(other, "missing", say(template, row=row, half=half, other=other, variable=variable))


_LOW64 = (1 << 64) - 1


class FirstRows:
    """Which row first held each ``(project_id, group_id)``, in 24 bytes per slot (36–72 bytes per key).

    A dict of string tuples costs ~290 bytes a row (300 MB for a million-row manifest); this keeps a
    128-bit fingerprint of the key and the row in open-addressed arrays instead. The fingerprint is two
    64-bit hashes, Python's own (SipHash, keyed per process), of the key's text and of that text with one more
    character: half a BLAKE2b digest's cost, and as good here, since the table lives for one pass of one process.
    Two different keys sharing a fingerprint (and so one being called a duplicate) has a chance of about
    n²/2¹²⁹: never, in practice.
    """

    __slots__ = ("_hi", "_lo", "_mask", "_rows", "_size")

    def __init__(self, capacity: int = 1024) -> None:
        self._size = 0
        self._alloc(max(16, 1 << (capacity - 1).bit_length()))

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"FirstRows({self._size} keys)"

    def _alloc(self, slots: int) -> None:
        self._mask = slots - 1
        self._hi = array("Q", bytes(8 * slots))
        self._lo = array("Q", bytes(8 * slots))
        self._rows = array("Q", bytes(8 * slots))  # 0 = empty slot (rows start at 1)

    def first(self, project_id: str, group_id: str, row: int) -> int:
        """The first row seen with this key; records *row* as that first row if the key is new."""
        key = f"{project_id}\x00{group_id}"  # (a tuple's hash would be made of the parts' hashes: 64 bits, not 128)
        hi, lo = hash(key) & _LOW64, hash(key + "\x01") & _LOW64
        i = hi & self._mask
        if self._rows[i]:  # taken: this key, or another key's (then the probe goes on)
            first = self._place(hi, lo, row)
        else:  # the usual new key: its own slot is free
            self._hi[i], self._lo[i], self._rows[i] = hi, lo, row
            first = row
        if first == row:
            self._size += 1
            if 3 * self._size > 2 * (self._mask + 1):  # keep the table at most two thirds full
                self._grow()
        return first

    def _place(self, hi: int, lo: int, row: int) -> int:
        mask, his, los, rows = self._mask, self._hi, self._lo, self._rows
        i = hi & mask
        while rows[i]:
            if his[i] == hi and los[i] == lo:
                return rows[i]
            i = (i + 1) & mask
        his[i], los[i], rows[i] = hi, lo, row
        return row

    def reserve(self, keys: int) -> None:
        """Make room for *keys* keys now: the table then does not grow (re-placing every key) while they come."""
        slots = self._mask + 1
        while 3 * keys > 2 * slots:
            slots *= 2
        if slots > self._mask + 1:
            self._grow(slots)

    def _grow(self, slots: int = 0) -> None:
        """Move to a table of *slots* slots (default: twice as many)."""
        his, los, rows = self._hi, self._lo, self._rows  # re-placed straight from the old arrays: no copies
        self._alloc(slots or 2 * (self._mask + 1))
        for i, row in enumerate(rows):
            if row:
                self._place(his[i], los[i], row)


class Planner:
    """Turns raw manifest rows into :class:`RowPlan` s; one planner per pass over a manifest.

    *call* is the run's action and its body defaults (:class:`CallSpec`; the retry of groups unless given);
    *env* supplies ``env:NAME`` cells and the ``BULKRETRY_<COLUMN>`` run-wide defaults; *base_dir* is where
    relative ``json_auth_file`` paths are looked up (the manifest's folder).
    """

    def __init__(
        self,
        *,
        columns: Iterable[str],
        project_id: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        call: CallSpec | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.call = call or CallSpec()
        action = self.call.action
        self.columns = list(columns)
        self.extra_columns = report_columns(self.columns, action.id_column)
        self._key_slots = [i for i, column in enumerate(self.extra_columns) if column in MASKED_COLUMNS]
        self._project_id = project_id or ""
        self._region = region or ""
        self._id_column = action.id_column
        self._target_id = _check_group_id if action.target == GROUPS else _check_task_id
        #: What a duplicate row repeats: ``group`` or ``task``.
        self._noun = TARGETS[action.id_column]
        self._first_row = FirstRows()
        self._check_where(endpoint)
        self._needs_region = not endpoint
        #: Region ids already found good (a run has a few; bounded against a hostile manifest).
        self._good_regions: set[str] = set()
        #: The last project id found good.
        self._good_project: str | None = None
        self._bodies = BodyMaker(self.call, self.columns, os.environ if env is None else env, base_dir or Path.cwd())
        #: The key pairs of which the manifest has a column, checked row by row (with one column of a pair, a
        #: run-wide default may give the other half for every row).
        self._pairs = [pair for pair in KEY_PAIRS if any(column in self.columns for column in pair)]
        self._halves = [(half, other) for one, two in self._pairs for half, other in ((one, two), (two, one))]
        #: Every column of those pairs: a body with them all holds no half pair (the usual row, checked at once).
        self._pair_fields = frozenset(column for pair in self._pairs for column in pair)

    @property
    def half_pairs(self) -> tuple[str, ...]:
        """What to say once about a manifest with one column of a key pair the action sends and not the other, when
        no ``BULKRETRY_<COLUMN>`` default gives the other half: each row that fills it is invalid."""
        said = []
        for pair in self._pairs:
            for half, other in (pair, pair[::-1]):
                if half in self.columns and other not in self.columns and self._bodies.lacks(other):
                    said.append(
                        f"the manifest has {half} but no {other} column, and {DEFAULT_ENV_PREFIX}{other.upper()} is "
                        f"not set: each row that fills {half} is invalid (a key pair is sent whole); add a {other} "
                        f"column or set {DEFAULT_ENV_PREFIX}{other.upper()}"
                    )
        return tuple(said)

    def _check_where(self, endpoint: str | None) -> None:
        """Every row has a project and an endpoint (a column, an option or a profile); ConfigError if not."""
        if "project_id" not in self.columns and not self._project_id:
            raise ConfigError(
                "no project id: add a project_id column to the manifest, give --project-id, "
                "set HUAWEICLOUD_SDK_PROJECT_ID, or name a KooCLI profile with a projectId (--profile)"
            )
        if endpoint:
            parse_endpoint(endpoint)  # a bad --endpoint is a ConfigError before any call
        if self._region:
            check_region(self._region)
        if not endpoint and "region" not in self.columns and not self._region:
            raise ConfigError(
                "no endpoint: give --endpoint URL or --region R (or add a region column, or name a "
                "KooCLI profile with a region: --profile)"
            )

    def plan(self, row: int, values: Mapping[str, str], formulas: tuple[str, ...] = ()) -> RowPlan:
        """One row's plan; *formulas* names the columns whose cell is a formula without a value (invalid if
        the column is one bulkretry uses)."""
        project_id = values.get("project_id", "") or self._project_id
        target_id = values.get(self._id_column, "")
        region = values.get("region", "").strip() or self._region
        extra = self._shown(values)
        try:
            if formulas:
                _check_formulas(formulas)
            target_id = self._target_id(target_id)
            # The usual manifest has one project: checked once (a cell read from a number, a NotAnId, every time).
            if project_id != self._good_project or type(project_id) is not str:
                self._good_project = _check_id("project_id", project_id)
            if self._needs_region and region not in self._good_regions:
                self._check_region(region)
            fields = self._bodies.fields(values, (project_id, region))
            if not fields.keys() >= self._pair_fields:
                _check_pairs(row, values, fields, self._halves)
            body = CallBody(fields)
        except InvalidCell as bad:
            refusal = (Outcome.INVALID, bad.code, bad.detail)
        else:
            first = self._first_row.first(project_id, target_id, row)
            if first == row:
                return RowPlan(row, project_id, target_id, region, body, extra)
            refusal = (Outcome.DUPLICATE, "duplicate", say(DUPLICATE, target=self._noun, row=first))
        return RowPlan(row, project_id, target_id, region, CallBody({}), extra, *refusal)

    def secret_references(
        self, rows: Iterable[Any], cells_may_name: Callable[[], bool] = lambda: True
    ) -> set[tuple[SecretPlace, SecretRef]]:
        """The ``csms:`` references of *rows* (:class:`~bulkretry.manifest.columns.RawRow` s), each with the
        project and region of its row: what a run fetches before its first call. No pass over the rows when no
        body field can hold one, or when no default is one and no cell can (*cells_may_name*, asked only then:
        whether the manifest's text holds ``csms:``)."""
        found: set[tuple[SecretPlace, SecretRef]] = set()
        bodies = self._bodies
        if not bodies.reads_texts or not (bodies.defaults_name_secrets or cells_may_name()):
            return found
        for raw in rows:
            values = raw.values
            place = SecretPlace(
                values.get("project_id", "") or self._project_id, values.get("region", "").strip() or self._region
            )
            found.update(self._bodies.references(values, place))
            if len(found) > MAX_SECRETS:
                raise ConfigError(
                    f"the manifest names over {MAX_SECRETS} secrets (csms: cells in distinct projects, regions, "
                    "names or versions); a run fetches at most that many"
                )
        return found

    def plan_all(self, rows: Iterable[Any], shard: Shard | None = None, *, expected: int = 0) -> Iterator[RowPlan]:
        """Plan every :class:`~bulkretry.manifest.columns.RawRow` of *rows*, in order; with *shard* (``--shard
        I/N``) only the rows of that shard (:meth:`in_shard`), the others never planned. *expected*, when known, is
        how many rows will be planned: the duplicates' table is made that big at once."""
        self._first_row.reserve(expected)
        if shard is None:
            for raw in rows:
                yield self.plan(raw.row, raw.values, raw.formulas)
            return
        for raw in rows:
            if self.in_shard(raw.values, shard):
                yield self.plan(raw.row, raw.values, raw.formulas)

    def in_shard(self, values: Mapping[str, str], shard: Shard) -> bool:
        """Whether the row of these cells is *shard*'s: by its project and its target id as the duplicates are found
        (a task id read as an integer), or the cell as it is when it is no id (an invalid row is reported by the
        shard its cell falls in), so that a row and its duplicates are always in one shard."""
        project_id = values.get("project_id", "") or self._project_id
        target_id = values.get(self._id_column, "")
        with suppress(InvalidCell):
            target_id = self._target_id(target_id)
        return shard.holds(project_id, target_id)

    # -- pieces ------------------------------------------------------------------------------------

    def _shown(self, values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The row's extra columns as the report shows them: access keys masked (an env: or csms: reference is no
        secret)."""
        columns = self.extra_columns
        shown = list(zip(columns, map(values.get, columns, repeat(""))))
        for slot in self._key_slots:
            column, value = shown[slot]
            if value and not is_reference(value):
                shown[slot] = (column, mask(value))
        return tuple(shown)

    def _check_region(self, region: str) -> None:
        """A row's region goes into the endpoint's host name: only a region id may (never ``x@host#``)."""
        if not region:
            raise InvalidCell("region", "missing", REGION_MISSING)
        problem = region_problem(region)
        if problem:
            raise InvalidCell("region", "not a region id", say(BAD_REGION, problem=problem))
        if len(self._good_regions) < 1024:
            self._good_regions.add(region)
