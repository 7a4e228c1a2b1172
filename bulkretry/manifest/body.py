"""A row's call body: the fields its action sends (``Action.body_fields``), read from the row's cells, the run's
``BULKRETRY_<COLUMN>`` defaults and options, ``env:`` references, ``csms:`` references (from the secrets the run
fetched before its first call, :mod:`bulkretry.oms.csms`) and JSON key files resolved, and each checked against
the API's limits and values before any call. Nothing here calls out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkretry.columns import BODY_FIELDS, BODY_LIMITS
from bulkretry.errors import UsageError
from bulkretry.i18n.messages import (
    CELL_TOO_LONG,
    CRYPTO_KEY_MISSING,
    CRYPTO_TYPE,
    ENV_NO_NAME,
    ENV_NOT_SET,
    KEY_FILE_NOT_REGULAR,
    KEY_FILE_NOT_TEXT,
    KEY_FILE_TOO_LONG,
    KEY_FILE_UNREADABLE,
    KEY_NOT_JSON,
    NOT_A_BOOLEAN,
    PRIORITY_MISSING,
    PRIORITY_NOT_A_LEVEL,
    say,
)
from bulkretry.manifest.columns import quoted
from bulkretry.masking import CSMS_PREFIXES, ENV_PREFIXES, is_csms_reference
from bulkretry.oms.actions import ACTIONS, CRYPTO_FIELDS, DEFAULT_ACTION, GROUPS, PRIORITIES, Action
from bulkretry.oms.credentials import read_small_file
from bulkretry.oms.csmsref import SecretPlace, SecretProblem, SecretRef, Secrets, parse_reference

__all__ = [
    "CRYPTO_TYPES",
    "DEFAULT_ENV_PREFIX",
    "KEY_FILE_MAX_BYTES",
    "BodyMaker",
    "CallBody",
    "CallSpec",
    "InvalidCell",
    "parse_bool",
]

#: Run-wide defaults for empty body cells come from ``BULKRETRY_<COLUMN>`` (e.g. BULKRETRY_SRC_SK).
DEFAULT_ENV_PREFIX = "BULKRETRY_"
#: The values of a ``*_crypto_type`` field; ``KMS`` needs its key id.
CRYPTO_TYPES: tuple[str, ...] = ("DEFAULT", "KMS")
#: The most bytes read from a json_auth_file: the API's 65,535 characters, 4 UTF-8 bytes each, and a BOM.
KEY_FILE_MAX_BYTES = 4 * BODY_LIMITS["json_auth_file"] + 3


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


class InvalidCell(Exception):
    """A cell the API would refuse: the row is ``invalid:<column> <why>`` (or *code*, when given: a ``csms:``
    reference's ``secret_not_found``...), *detail* its message (no secret in it)."""

    def __init__(self, column: str, why: str, detail: str, *, code: str = "") -> None:
        super().__init__(detail)
        self.column, self.why, self.detail = column, why, detail
        self.code = code or f"invalid:{column} {why}"


class CallBody(Mapping[str, Any]):
    """The JSON body of one row's call. Holds secrets: its repr shows field names only."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __contains__(self, key: object) -> bool:  # (Mapping's own tries a lookup and catches its KeyError)
        return key in self._fields

    def copy(self) -> dict[str, Any]:
        """The fields as a plain dict (as ``dict.copy``): what the client encodes, without a lookup per key."""
        return dict(self._fields)

    def __repr__(self) -> str:
        return f"CallBody(fields={sorted(self._fields)!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._fields) == dict(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class CallSpec:
    """What each row's call is: the action, the run's values for a body field whose cell is empty
    (``--migrate-failed-object``/``--full-remigrate``, ``--priority``), and the secrets that ``csms:`` cells name
    (fetched before the first call; None when the run fetched none, as a dry run)."""

    action: Action = ACTIONS[(DEFAULT_ACTION, GROUPS)]
    migrate_failed_object: bool = False
    priority: str | None = None
    secrets: Secrets | None = field(default=None, repr=False, compare=False)


def _read_key_file(path: Path) -> str:
    """A json_auth_file's text: a regular file only (a FIFO or a device such as /dev/zero is refused without
    waiting on it), and at most :data:`KEY_FILE_MAX_BYTES` read (a bigger file is refused, not loaded)."""
    shown = quoted(path.name)
    try:
        data = read_small_file(path, KEY_FILE_MAX_BYTES)
    except OSError:
        raise InvalidCell("json_auth_file", "unreadable", say(KEY_FILE_UNREADABLE, file=shown)) from None
    if data is None:
        raise InvalidCell("json_auth_file", "not a file", say(KEY_FILE_NOT_REGULAR, file=shown))
    if len(data) > KEY_FILE_MAX_BYTES:
        raise InvalidCell(
            "json_auth_file",
            "too long",
            say(KEY_FILE_TOO_LONG, file=shown, size=f"{KEY_FILE_MAX_BYTES:,}", limit=BODY_LIMITS["json_auth_file"]),
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidCell("json_auth_file", "not JSON", say(KEY_FILE_NOT_TEXT, file=shown)) from None


def _check_crypto(body: dict[str, Any], crypto: str, key_id: str) -> None:
    """``<side>_crypto_type`` is DEFAULT or KMS (any case; sent upper-case), and KMS comes with its key id."""
    value = body.get(crypto)
    if value is None:
        return
    if value.strip().upper() not in CRYPTO_TYPES:
        raise InvalidCell(crypto, "not DEFAULT or KMS", say(CRYPTO_TYPE, column=crypto, cell=quoted(value)))
    body[crypto] = value.strip().upper()
    if body[crypto] == "KMS" and not body.get(key_id):
        raise InvalidCell(key_id, "missing", say(CRYPTO_KEY_MISSING, column=crypto, key_id=key_id))


class BodyMaker:
    """Each row's :class:`CallBody` for one manifest: the fields the action sends, in the API's order.

    *env* supplies ``env:NAME`` cells and the ``BULKRETRY_<COLUMN>`` defaults; *base_dir* is where a relative
    ``json_auth_file`` path is looked up; the *spec*'s ``secrets`` are the values of ``csms:`` cells, fetched before
    the run (None: not fetched, as in a dry run: a reference is only checked, and stands in the body for its
    value). A ``priority`` action with neither a ``priority`` column nor ``--priority`` is a :class:`UsageError`
    here, before any call.
    """

    def __init__(self, spec: CallSpec, columns: Sequence[str], env: Mapping[str, str], base_dir: Path) -> None:
        sent = frozenset(spec.action.body_fields)
        self._env = env
        self._secrets = spec.secrets
        self._base_dir = base_dir
        defaults = {name: env.get(DEFAULT_ENV_PREFIX + name.upper(), "") for name in BODY_FIELDS if name in sent}
        #: The text fields a row can have: a column of the manifest, or one with a default (in the API's order).
        self._texts = [
            (name, BODY_LIMITS.get(name), defaults[name])
            for name in BODY_FIELDS
            if name in sent and (name in columns or defaults[name])
        ]
        #: The fields the action sends with a run-wide default.
        self._defaulted = frozenset(name for name, value in defaults.items() if value)
        self._sent = sent
        # (checked only where a row can have the type: a manifest without the column and its default has none)
        texts = {name for name, _, _ in self._texts}
        self._crypto = [(crypto, key_id) for crypto, key_id in CRYPTO_FIELDS.items() if crypto in texts]
        self._migrate: bool | None = spec.migrate_failed_object if "migrate_failed_object" in sent else None
        #: Whether a row can say otherwise (the manifest has the column): if not, every row sends the run's flag.
        self._flag_cells = "migrate_failed_object" in columns
        self._levels = "task_priority" in sent
        self._priority = spec.priority
        if self._levels and not spec.priority and "priority" not in columns:
            raise UsageError(
                f"--action {spec.action.name} needs a level: give --priority {'|'.join(PRIORITIES)}, "
                "or add a priority column to the manifest"
            )

    def lacks(self, name: str) -> bool:
        """Whether the action sends the field *name* and no ``BULKRETRY_<COLUMN>`` default gives it to the rows
        whose cell is empty."""
        return name in self._sent and name not in self._defaulted

    @property
    def reads_texts(self) -> bool:
        """Whether a row's body has a text field (a credential, a key): only then can a cell be a reference."""
        return bool(self._texts)

    @property
    def defaults_name_secrets(self) -> bool:
        """Whether a ``BULKRETRY_<COLUMN>`` default is a ``csms:`` reference (the rows with an empty cell take it)."""
        return any(default and is_csms_reference(default) for _, _, default in self._texts)

    def references(self, values: Mapping[str, str], place: SecretPlace) -> Iterator[tuple[SecretPlace, SecretRef]]:
        """The well-formed ``csms:`` references of a row's body (its cells, else the defaults), each with *place*."""
        get = values.get
        for column, _, default in self._texts:
            value = get(column, "") or default
            if value and is_csms_reference(value):
                try:
                    yield place, parse_reference(value)
                except ValueError:
                    continue  # the row is invalid when it is planned

    def fields(self, values: Mapping[str, str], place: tuple[str, str] = ("", "")) -> dict[str, Any]:
        """The fields of the row's body (its ``csms:`` cells read in *place*, the row's project and region), as a
        plain dict: the planner checks the key pairs in it, then makes it the row's :class:`CallBody`;
        :class:`InvalidCell` for the first cell the API would refuse."""
        body = self._text_fields(values, place)
        for crypto, key_id in self._crypto:
            _check_crypto(body, crypto, key_id)
        if self._migrate is not None:
            body["migrate_failed_object"] = self._flag(values) if self._flag_cells else self._migrate
        if self._levels:
            body["task_priority"] = self._level(values)
        return body

    def _text_fields(self, values: Mapping[str, str], place: tuple[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        get = values.get
        for column, limit, default in self._texts:
            value = get(column, "") or default
            if not value:
                continue
            if ":" in value[3:5]:  # the colon of ``env:`` or ``csms:``: perhaps a reference (the usual key has none)
                if value[:4] in ENV_PREFIXES:
                    value = self._env_value(column, value)
                elif value[:5] in CSMS_PREFIXES:
                    secret = self._secret_value(column, value, place)
                    if secret is None:  # not fetched (a dry run): the reference stands in, checked, never sent
                        body[column] = value
                        continue
                    value = secret
            if column == "json_auth_file" and value:
                value = self._key_file_text(value)
            if limit is not None and len(value) > limit:
                raise InvalidCell(
                    column, "too long", say(CELL_TOO_LONG, column=column, length=len(value), limits=f"0..{limit}")
                )
            if value:
                body[column] = value
        return body

    def _flag(self, values: Mapping[str, str]) -> bool:
        flag = values.get("migrate_failed_object", "").strip()
        if not flag:
            return bool(self._migrate)
        parsed = parse_bool(flag)
        if parsed is None:
            raise InvalidCell(
                "migrate_failed_object",
                "not a boolean",
                say(NOT_A_BOOLEAN, cell=quoted(flag)),
            )
        return parsed

    def _level(self, values: Mapping[str, str]) -> str:
        """The row's ``priority`` cell, else ``--priority``."""
        cell = values.get("priority", "").strip()
        if not cell and not self._priority:
            raise InvalidCell("priority", "missing", say(PRIORITY_MISSING, levels=", ".join(PRIORITIES)))
        level = cell.upper() or str(self._priority)
        if level not in PRIORITIES:
            raise InvalidCell(
                "priority", "not a level", say(PRIORITY_NOT_A_LEVEL, cell=quoted(cell), levels=", ".join(PRIORITIES))
            )
        return level

    def _env_value(self, column: str, value: str) -> str:
        """An ``env:NAME`` cell: the variable's value."""
        name = value[4:].strip()
        if not name:
            raise InvalidCell(column, "bad env reference", say(ENV_NO_NAME, column=column, prefix=repr(value[:4])))
        if name not in self._env:
            raise InvalidCell(column, "env not set", say(ENV_NOT_SET, column=column, name=quoted(name)))
        return self._env[name]

    def _secret_value(self, column: str, value: str, place: tuple[str, str]) -> str | None:
        """A ``csms:`` cell: the secret's value (None when the run fetched none); the reference, never the value,
        in what a row that cannot have it says."""
        try:
            ref = parse_reference(value)
        except ValueError as exc:
            raise InvalidCell(column, "bad csms reference", f"{column}: {exc}") from None
        if self._secrets is None:
            return None
        try:
            return self._secrets.value(ref, place)
        except SecretProblem as problem:
            raise InvalidCell(column, problem.code, f"{column}: {problem.message}", code=problem.code) from None

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
            raise InvalidCell("json_auth_file", "not JSON", say(KEY_NOT_JSON)) from None
        return text
