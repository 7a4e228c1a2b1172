"""``--shard I/N``: which rows of a manifest one of N processes takes.

A row belongs to shard ``stable_hash(project_id, target id) mod N``. The hash is BLAKE2b of the key's UTF-8 text, the
same on every machine and every Python (never ``hash()``, which is keyed per process), so N workers started apart
split a manifest without talking to each other, and the rows that repeat a key (duplicates) land in one shard.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["MAX_SHARDS", "Shard", "parse_shard", "stable_hash"]

#: The most shards a manifest is split into (a Kubernetes Indexed Job allows 100,000 completions).
MAX_SHARDS = 100_000

_FORM = "I/N, I a whole number from 0 to N-1 (the Kubernetes completion index), e.g. 0/3"


def stable_hash(project_id: str, target_id: str) -> int:
    """The key's hash: the first 8 bytes of BLAKE2b over ``project_id``, NUL, ``target_id`` (UTF-8), as an integer."""
    digest = hashlib.blake2b(f"{project_id}\x00{target_id}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``str()`` gives ``I/N``, as the option and the journal spell it)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (1 <= self.count <= MAX_SHARDS and 0 <= self.index < self.count):
            raise ValueError(f"invalid shard {self.index}/{self.count}: expected {_FORM}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, project_id: str, target_id: str) -> bool:
        """Whether the row of this project and target id is this shard's."""
        return stable_hash(project_id, target_id) % self.count == self.index


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_shard(text: str) -> Shard:
    """``--shard``: ``I/N`` as a :class:`Shard`; ValueError saying the form otherwise."""
    index, slash, count = (part.strip() for part in text.partition("/"))
    if not (slash and _whole(index) and _whole(count)):
        raise ValueError(f"invalid shard {text!r}: expected {_FORM}")
    return Shard(int(index), int(count))
