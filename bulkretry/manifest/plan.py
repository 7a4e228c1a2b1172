"""From manifest rows to retry plans: resolve ``env:`` cells and run-wide defaults, check every row
against the API's limits, and mark repeated ``(project_id, group_id)`` rows. Nothing here calls out.
"""

from __future__ import annotations

import json
import os
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping
from hashlib import blake2b
from pathlib import Path
from typing import Any, NamedTuple

from bulkretry.columns import BODY_LIMITS, MAX_ID_LENGTH, REPORT, names
from bulkretry.errors import ConfigError
from bulkretry.manifest.columns import CANONICAL_COLUMNS, quoted
from bulkretry.masking import ENV_PREFIXES, MASKED_COLUMNS, SECRET_COLUMNS, mask
from bulkretry.oms.credentials import read_small_file
from bulkretry.oms.endpoint import check_region, parse_endpoint, region_problem
from bulkretry.records import Outcome

__all__ = [
    "BODY_LIMITS",
    "Planner",
    "RetryBody",
    "RowPlan",
    "parse_bool",
    "report_columns",
]

#: Columns that go into the report's first block, not into the extra columns.
LEADING_COLUMNS = frozenset(CANONICAL_COLUMNS) & frozenset(names(REPORT))
_KNOWN_COLUMNS = frozenset(CANONICAL_COLUMNS)
#: Run-wide defaults for empty credential cells come from ``BULKRETRY_<COLUMN>`` (e.g. BULKRETRY_SRC_SK).
DEFAULT_ENV_PREFIX = "BULKRETRY_"

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f"}


def parse_bool(text: str) -> bool | None:
    """``true/false``, ``1/0``, ``yes/no``, ``是/否`` (any case, spaces ignored); None if it is none of them."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


class RetryBody(Mapping[str, Any]):
    """The JSON body of one retry call. Holds secrets: its repr shows field names only."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def copy(self) -> dict[str, Any]:
        """The fields as a plain dict (as ``dict.copy``): what the client encodes, without a lookup per key."""
        return dict(self._fields)

    def __repr__(self) -> str:
        return f"RetryBody(fields={sorted(self._fields)!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._fields) == dict(other)

    __hash__ = None  # type: ignore[assignment]


class RowPlan(NamedTuple):
    """One manifest row, ready: called when ``verdict`` is None, otherwise reported as it says (a named
    tuple: immutable, and quick to make, one per row)."""

    row: int
    project_id: str
    group_id: str
    region: str
    body: RetryBody
    extra: tuple[tuple[str, str], ...]
    verdict: Outcome | None = None
    error_code: str = ""
    error_msg: str = ""

    @property
    def callable(self) -> bool:
        return self.verdict is None


def report_columns(columns: Iterable[str]) -> list[str]:
    """The manifest columns that the report carries after its own (secrets dropped)."""
    return [c for c in columns if c not in SECRET_COLUMNS and c not in LEADING_COLUMNS]


class _Invalid(Exception):
    def __init__(self, column: str, why: str, detail: str) -> None:
        super().__init__(detail)
        self.column, self.why, self.detail = column, why, detail


#: The most bytes read from a json_auth_file: the API's 65,535 characters, 4 UTF-8 bytes each, and a BOM.
KEY_FILE_MAX_BYTES = 4 * BODY_LIMITS["json_auth_file"] + 3


def _read_key_file(path: Path) -> str:
    """A json_auth_file's text: a regular file only (a FIFO or a device such as /dev/zero is refused without
    waiting on it), and at most :data:`KEY_FILE_MAX_BYTES` read (a bigger file is refused, not loaded)."""
    shown = quoted(path.name)
    try:
        data = read_small_file(path, KEY_FILE_MAX_BYTES)
    except OSError:
        raise _Invalid(
            "json_auth_file", "unreadable", f"json_auth_file names a file that cannot be read: {shown}"
        ) from None
    if data is None:
        raise _Invalid(
            "json_auth_file",
            "not a file",
            f"json_auth_file names {shown}, which is not a regular file (a device, pipe or folder); "
            "name the key's .json file",
        )
    if len(data) > KEY_FILE_MAX_BYTES:
        raise _Invalid(
            "json_auth_file",
            "too long",
            f"json_auth_file names {shown}, over {KEY_FILE_MAX_BYTES:,} bytes; the API allows a key of "
            f"0..{BODY_LIMITS['json_auth_file']} characters",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Invalid("json_auth_file", "not JSON", f"json_auth_file names {shown}, which is not UTF-8 text") from None


def _check_formulas(formulas: tuple[str, ...]) -> None:
    for column in formulas:
        if column in _KNOWN_COLUMNS:
            raise _Invalid(
                column,
                "formula without a value",
                f"{column} is a formula saved without its value (by a tool that does not compute "
                "formulas): open the workbook in Excel and save it, or paste values",
            )


def _check_id(column: str, value: str) -> None:
    if (
        0 < len(value) <= MAX_ID_LENGTH
        and value.isascii()
        and value.isprintable()
        and value not in (".", "..")
        and value[0] != " "
        and value[-1] != " "
    ):
        return  # the usual id: printable ASCII, no edge spaces (the checks below would all pass)
    if not value:
        raise _Invalid(column, "missing", f"{column} is empty; every row needs one")
    if len(value) > MAX_ID_LENGTH:
        raise _Invalid(column, "too long", f"{column} has {len(value)} characters; the API allows 1..{MAX_ID_LENGTH}")
    if value != value.strip():
        raise _Invalid(
            column,
            "has surrounding spaces",
            f"{column} {quoted(value.strip())} has leading or trailing spaces; remove them",
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise _Invalid(
            column, "has control characters", f"{column} holds a control or invisible character (line break, tab, …)"
        )
    if value in (".", ".."):
        raise _Invalid(column, "is a dot segment", f"{column} {quoted(value)} is not an id")


_LOW64 = (1 << 64) - 1


class FirstRows:
    """Which row first held each ``(project_id, group_id)``, in 24 bytes per slot (36–72 bytes per key).

    A dict of string tuples costs ~290 bytes a row (300 MB for a million-row manifest); this keeps a
    128-bit BLAKE2b digest of the key and the row in open-addressed arrays instead. Two different keys
    sharing a digest (and so one being called a duplicate) has a chance of about n²/2¹²⁹: never, in practice.
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
        key = int.from_bytes(
            blake2b(f"{project_id}\x00{group_id}".encode("utf-8", "surrogatepass"), digest_size=16).digest(), "little"
        )
        hi, lo = key & _LOW64, key >> 64  # the digest's first and last 8 bytes
        first = self._place(hi, lo, row)
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

    def _grow(self) -> None:
        his, los, rows = self._hi, self._lo, self._rows  # re-placed straight from the old arrays: no copies
        self._alloc(2 * (self._mask + 1))
        for i, row in enumerate(rows):
            if row:
                self._place(his[i], los[i], row)


class Planner:
    """Turns raw manifest rows into :class:`RowPlan` s; one planner per pass over a manifest.

    *env* supplies ``env:NAME`` cells and the ``BULKRETRY_<COLUMN>`` run-wide defaults; *base_dir* is
    where relative ``json_auth_file`` paths are looked up (the manifest's folder).
    """

    def __init__(
        self,
        *,
        columns: Iterable[str],
        project_id: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        migrate_failed_object: bool | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.columns = list(columns)
        self.extra_columns = report_columns(self.columns)
        self._key_slots = [i for i, column in enumerate(self.extra_columns) if column in MASKED_COLUMNS]
        self._project_id = project_id or ""
        self._region = region or ""
        self._env = os.environ if env is None else env
        self._base_dir = base_dir or Path.cwd()
        self._migrate_default = bool(migrate_failed_object)
        self._first_row = FirstRows()
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
        self._needs_region = not endpoint
        #: Region ids already found good (a run has a few; bounded against a hostile manifest).
        self._good_regions: set[str] = set()
        # Run-wide defaults for empty body cells, looked up once: BULKRETRY_SRC_SK and friends.
        defaults = {column: self._env.get(DEFAULT_ENV_PREFIX + column.upper(), "") for column in BODY_LIMITS}
        # The body fields a row can have: a column of the manifest, or one with a default (in the API's order).
        self._body_fields = [
            (column, limit, defaults[column])
            for column, limit in BODY_LIMITS.items()
            if column in self.columns or defaults[column]
        ]

    def plan(self, row: int, values: Mapping[str, str], formulas: tuple[str, ...] = ()) -> RowPlan:
        """One row's plan; *formulas* names the columns whose cell is a formula without a value (invalid if
        the column is one bulkretry uses)."""
        project_id = values.get("project_id", "") or self._project_id
        group_id = values.get("group_id", "")
        region = values.get("region", "").strip() or self._region
        shown = [(column, values.get(column, "")) for column in self.extra_columns]
        for slot in self._key_slots:  # access keys are shown masked; an env: reference is no secret
            column, value = shown[slot]
            if value and value[:4] not in ENV_PREFIXES:
                shown[slot] = (column, mask(value))
        extra = tuple(shown)
        try:
            if formulas:
                _check_formulas(formulas)
            _check_id("group_id", group_id)
            _check_id("project_id", project_id)
            if self._needs_region and region not in self._good_regions:
                self._check_region(region)
            body = self._body(values)
        except _Invalid as bad:
            return RowPlan(
                row,
                project_id,
                group_id,
                region,
                RetryBody({}),
                extra,
                Outcome.INVALID,
                f"invalid:{bad.column} {bad.why}",
                bad.detail,
            )
        first = self._first_row.first(project_id, group_id, row)
        if first != row:
            return RowPlan(
                row,
                project_id,
                group_id,
                region,
                RetryBody({}),
                extra,
                Outcome.DUPLICATE,
                "duplicate",
                f"same project and group as row {first}; called once",
            )
        return RowPlan(row, project_id, group_id, region, body, extra)

    def plan_all(self, rows: Iterable[Any]) -> Iterator[RowPlan]:
        """Plan every :class:`~bulkretry.manifest.columns.RawRow` of *rows*, in order."""
        for raw in rows:
            yield self.plan(raw.row, raw.values, raw.formulas)

    # -- pieces ------------------------------------------------------------------------------------

    def _check_region(self, region: str) -> None:
        """A row's region goes into the endpoint's host name: only a region id may (never ``x@host#``)."""
        if not region:
            raise _Invalid("region", "missing", "no region for this row and no --endpoint or --region")
        problem = region_problem(region)
        if problem:
            raise _Invalid("region", "not a region id", f"region {problem}")
        if len(self._good_regions) < 1024:
            self._good_regions.add(region)

    def _env_value(self, column: str, value: str) -> str:
        """An ``env:NAME`` cell: the variable's value."""
        name = value[4:].strip()
        if not name:
            raise _Invalid(column, "bad env reference", f"{column} says {value[:4]!r} without a variable name")
        if name not in self._env:
            raise _Invalid(
                column, "env not set", f"{column} refers to the environment variable {quoted(name)}, which is not set"
            )
        return self._env[name]

    def _body(self, values: Mapping[str, str]) -> RetryBody:
        body: dict[str, Any] = {}
        get = values.get
        for column, limit, default in self._body_fields:
            value = get(column, "") or default
            if not value:
                continue
            if value[:4] in ENV_PREFIXES:
                value = self._env_value(column, value)
            if column == "json_auth_file" and value:
                value = self._key_file_text(value)
            if len(value) > limit:
                raise _Invalid(column, "too long", f"{column} has {len(value)} characters; the API allows 0..{limit}")
            if value:
                body[column] = value
        flag = values.get("migrate_failed_object", "").strip()
        if flag:
            parsed = parse_bool(flag)
            if parsed is None:
                raise _Invalid(
                    "migrate_failed_object",
                    "not a boolean",
                    f"migrate_failed_object {quoted(flag)} is not true/false, 1/0, yes/no or 是/否",
                )
            body["migrate_failed_object"] = parsed
        else:
            body["migrate_failed_object"] = self._migrate_default
        return RetryBody(body)

    def _key_file_text(self, value: str) -> str:
        """A JSON key cell holds the key itself, or a path to it."""
        if value.lstrip().startswith("{"):
            text = value
        else:
            path = Path(value).expanduser()
            if not path.is_absolute():
                path = self._base_dir / path
            text = _read_key_file(path)
        try:
            json.loads(text)
        except ValueError:
            raise _Invalid("json_auth_file", "not JSON", "json_auth_file is not a JSON key") from None
        return text
