"""What a ``csms:NAME[#JSON_KEY][@VERSION]`` manifest cell says, and the values a run fetched for such cells: no
network here (the fetch is :mod:`bulkretry.oms.csms`'s), so the planner reads them without the HTTP stack.

The values live in memory only (:class:`Secrets`, whose repr names no value); a reference that cannot be resolved
is a :class:`SecretProblem` (a code and a message naming the reference, never the value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from bulkretry.masking import CSMS_PREFIX, is_csms_reference

__all__ = [
    "LATEST",
    "MAX_SECRETS",
    "SECRET_CODES",
    "SecretPlace",
    "SecretProblem",
    "SecretRef",
    "Secrets",
    "parse_reference",
]

#: The version a reference without ``@VERSION`` reads.
LATEST = "latest"
#: The error codes of a row whose reference could not be resolved.
SECRET_CODES = ("secret_not_found", "secret_denied", "secret_format", "secret_unavailable")
#: A secret's name or version id as CSMS allows them: letters, digits, ``_ . -``, 1..64 characters.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: The most secret versions one run fetches (a bound against a hostile manifest; a real one names a few).
MAX_SECRETS = 1000


@dataclass(frozen=True)
class SecretRef:
    """A parsed ``csms:`` reference: the secret's name, the JSON key of its value (or ``""``), its version."""

    name: str
    key: str = ""
    version: str = LATEST

    def __str__(self) -> str:
        return CSMS_PREFIX + self.name + (f"#{self.key}" if self.key else "") + f"@{self.version}"


def parse_reference(text: str) -> SecretRef:
    """``csms:NAME[#JSON_KEY][@VERSION]`` (the prefix in any case) as a :class:`SecretRef`; ValueError saying
    what is wrong with it (a reference is never a secret, so the message may quote it)."""
    if not is_csms_reference(text):
        raise ValueError(f"{text[:40]!r} is not a csms: reference")
    rest = text[len(CSMS_PREFIX) :].strip()
    body, at, version = rest.rpartition("@") if "@" in rest else (rest, "", LATEST)
    name, _, key = body.partition("#")
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{text[:80]!r} names no secret: write csms:NAME[#JSON_KEY][@VERSION], NAME being 1..64 letters, "
            "digits, _ . -"
        )
    if at and not _NAME.fullmatch(version):
        raise ValueError(f"{text[:80]!r} has a bad version after @ (a version id such as v1, or latest)")
    if "#" in body and not key:
        raise ValueError(f"{text[:80]!r} has an empty JSON key after #")
    return SecretRef(name, key, version)


class SecretPlace(NamedTuple):
    """Where a secret is read: the project and region of the rows that name it (a named tuple, so the planner's
    plain ``(project_id, region)`` finds it)."""

    project_id: str
    region: str


@dataclass(frozen=True)
class SecretProblem(Exception):
    """Why a reference gives no value: one of :data:`SECRET_CODES`, and a message naming the reference."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class Secrets:
    """The secret versions a run fetched, in memory only: :meth:`value` of a reference, or its
    :class:`SecretProblem`. The repr counts them and shows no value."""

    def __init__(self, fetched: Mapping[tuple[SecretPlace, str, str], str | SecretProblem] | None = None) -> None:
        self._fetched = dict(fetched or {})

    def __repr__(self) -> str:
        failed = sum(isinstance(found, SecretProblem) for found in self._fetched.values())
        return f"Secrets({len(self._fetched)} fetched, {failed} failed)"

    def __len__(self) -> int:
        return len(self._fetched)

    def problems(self) -> list[tuple[str, SecretProblem]]:
        """Each secret version that could not be read (``NAME@VERSION``), with why."""
        return [
            (f"{name}@{version}", found)
            for (_, name, version), found in self._fetched.items()
            if isinstance(found, SecretProblem)
        ]

    def value(self, ref: SecretRef, place: tuple[str, str]) -> str:
        """The value *ref* names (a key of the secret's JSON object with ``#KEY``); :class:`SecretProblem` if none."""
        found = self._fetched.get((SecretPlace(*place), ref.name, ref.version))
        if found is None:
            raise SecretProblem("secret_unavailable", f"{ref} was not fetched before the run")
        if isinstance(found, SecretProblem):
            raise found
        return _key_of(found, ref) if ref.key else found


def _key_of(text: str, ref: SecretRef) -> str:
    """The string at *ref*'s key of the JSON object *text*."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise SecretProblem("secret_format", f"{ref}: the secret is not a JSON object, so it has no key") from None
    if not isinstance(document, dict):
        raise SecretProblem("secret_format", f"{ref}: the secret is not a JSON object, so it has no key")
    value = document.get(ref.key)
    if value is None:
        raise SecretProblem("secret_format", f"{ref}: the secret's JSON object has no key {ref.key!r}")
    if not isinstance(value, str):
        raise SecretProblem("secret_format", f"{ref}: the secret's key {ref.key!r} holds no text")
    return value
