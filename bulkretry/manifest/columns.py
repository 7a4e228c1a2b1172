"""The manifest's columns and rows: the names bulkretry knows (and their Chinese and camelCase spellings),
what a header means, and the records every reader yields (:class:`ManifestInfo`, :class:`RawRow`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from bulkretry.columns import GROUP, MANIFEST, REPORT, names
from bulkretry.errors import ManifestError

__all__ = [
    "CANONICAL_COLUMNS",
    "COLUMN_ALIASES",
    "MAX_TITLE_ROWS",
    "NEAR_MISS_RATIO",
    "REQUIRED_COLUMNS",
    "SNIFFED_DELIMITERS",
    "STAND_INS",
    "ManifestInfo",
    "RawRow",
    "SheetHeader",
    "canonical_name",
    "check_extra_cells",
    "check_headers",
    "column_letter",
    "columns_for",
    "find_header",
    "is_blank",
    "near_miss",
    "quoted",
    "raw_rows",
    "row_values",
    "sheet_header",
    "trim",
]

#: The columns bulkretry knows, in the contract's order (from the registry, :mod:`bulkretry.columns`).
CANONICAL_COLUMNS: tuple[str, ...] = names(MANIFEST)

#: The other spellings accepted for each column (case, spaces, ``_`` and ``-`` are ignored when matching).
COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({column.name: column.aliases for column in MANIFEST})
#: The columns every manifest must have.
REQUIRED_COLUMNS: tuple[str, ...] = names(column for column in MANIFEST if column.required)
#: The columns that may take the place of a required one, by the required one (``group_id``: ``task_id``).
STAND_INS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: names(c for c in MANIFEST if c.stands_for == name) for name in REQUIRED_COLUMNS}
)

#: The delimiters a CSV's layout is guessed among.
SNIFFED_DELIMITERS = (",", ";", "\t")
_IGNORED_IN_NAMES = re.compile(r"[\s_\-]+")


def _normalise(name: str) -> str:
    return _IGNORED_IN_NAMES.sub("", unicodedata.normalize("NFKC", name.replace("\ufeff", ""))).casefold()


_BY_NORMALISED: dict[str, str] = {
    _normalise(spelling): column for column in CANONICAL_COLUMNS for spelling in (column, *COLUMN_ALIASES[column])
}


def canonical_name(header: str) -> str | None:
    """The canonical column *header* means (``'任务组ID'`` → ``'group_id'``), or ``None`` for an unknown column.

    Matching ignores case, whitespace, ``_``, ``-``, a UTF-8 BOM and full-width letters.
    """
    return _BY_NORMALISED.get(_normalise(header))


#: The columns bulkretry's own files add (report.csv, the annotated manifest): never a near miss when read back.
_OWN_COLUMNS = frozenset(_normalise(name) for name in names((*REPORT, *GROUP)))
#: How alike (difflib's ratio of the normalised names) a header must be to a known spelling to be taken for its typo.
NEAR_MISS_RATIO = 0.75
#: Words of a credential in a header, longest first, searched in its normalised form, each with the half of a key
#: pair it names ('' when it does not say). 访问密钥 alone is the access key (the console's word for it).
_CREDENTIAL_TEXTS = (
    ("secretaccesskey", "sk"),
    ("secretkey", "sk"),
    ("secret", "sk"),
    ("私有访问密钥", "sk"),
    ("秘密访问密钥", "sk"),
    ("私钥", "sk"),
    ("accesskey", "ak"),
    ("访问密钥", "ak"),
    ("token", "security_token"),
    ("令牌", "security_token"),
    ("password", ""),
    ("credential", ""),
    ("密钥", ""),
    ("密码", ""),
)
#: Short credential words, matched as whole words only (``task`` is no ``sk``).
_CREDENTIAL_WORDS = {"ak": "ak", "sk": "sk", "key": "", "keys": "", "pwd": "", "passwd": ""}
#: How a header names the side of a key pair: as a word, or at its start.
_SIDES = {"src": "src", "source": "src", "源": "src", "dst": "dst", "dest": "dst", "destination": "dst", "目的": "dst"}
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\x00-\x7f]+")


def _close_column(header: str) -> str | None:
    """The column whose spelling *header* is a typo of (``grup_id``: ``group_id``), or None."""
    close = difflib.get_close_matches(_normalise(header), _BY_NORMALISED, n=1, cutoff=NEAR_MISS_RATIO)
    return _BY_NORMALISED[close[0]] if close else None


def _credential_column(header: str) -> str | None:
    """The credential column a header that names a key, secret or token probably means (``src_secret``:
    ``src_sk``), or None for a header that names none."""
    normalised = _normalise(header)
    words = [word.casefold() for word in _WORDS.findall(unicodedata.normalize("NFKC", header))]
    kinds = [kind for text, kind in _CREDENTIAL_TEXTS if text in normalised]
    kinds += [_CREDENTIAL_WORDS[word] for word in words if word in _CREDENTIAL_WORDS]
    if not kinds:
        return None
    kind = next((kind for kind in kinds if kind), "")
    sides = [side for text, side in _SIDES.items() if text in words or normalised.startswith(text)]
    side = sides[0] if sides else ""
    if side and kind:
        return f"{side}_{kind}"
    candidates = [
        c.name for c in MANIFEST if (c.secret or c.masked) and c.name.startswith(side) and c.name.endswith(kind)
    ]
    best = difflib.get_close_matches(normalised, [_normalise(c) for c in candidates], n=1, cutoff=0)
    return _BY_NORMALISED[best[0]] if best else candidates[0]


def near_miss(header: str) -> str | None:
    """The column an unknown *header* probably means, when it looks like one: a typo of a known spelling, or a
    header that names a key, secret or token (``src_secret``); None for a known column, a column of bulkretry's
    own reports, or any other header (carried as it is)."""
    if not header or canonical_name(header) is not None or _normalise(header) in _OWN_COLUMNS:
        return None
    return _close_column(header) or _credential_column(header)


@dataclass(frozen=True)
class ManifestInfo:
    """What :func:`open_manifest` found out about a manifest, enough for :func:`iter_rows` to read it.

    ``headers`` are the header cells as written (stripped; trailing empty cells dropped); ``columns`` gives,
    for each header, its canonical name, or the header itself for an unknown column (an empty header cell is
    named after its column letter, e.g. ``'column C'``; repeated unknown headers get `` (2)``, `` (3)``…).
    ``header_row`` is the header's row number as a spreadsheet shows it (1 unless blank rows come first).
    ``hidden_sheets`` names the hidden worksheets passed over to reach ``sheet`` when no sheet was asked for.
    ``title_rows`` are the rows above the header taken for a title (an exported sheet's caption) and skipped.
    ``plain_lines`` (a CSV) says each line is one record, its cells split at the delimiter (no quote anywhere, no
    line over the csv module's field limit: found when the file's encoding is checked, ``manifest.csvfile``).
    """

    path: str
    kind: str  # "csv" | "xlsx" | "xls" | "ods"
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    headers: tuple[str, ...]
    columns: tuple[str, ...]
    header_row: int = 1
    hidden_sheets: tuple[str, ...] = ()
    title_rows: tuple[int, ...] = ()
    plain_lines: bool = False


class RawRow(NamedTuple):
    """One data row: its number as a spreadsheet shows it, every cell as text keyed by column, and the columns
    whose cell is a formula stored without its value (a workbook saved by a tool that does not compute formulas;
    their text is ``''``)."""

    row: int
    values: dict[str, str]
    formulas: tuple[str, ...] = ()


#: How much of a cell a message quotes: enough to find it, never a whole 10 MB cell.
QUOTED_CHARS = 40


def quoted(text: str, limit: int = QUOTED_CHARS) -> str:
    """*text* quoted for a message (``repr``), cut to its first *limit* characters with its length said if longer."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def column_letter(index: int) -> str:
    """Excel's letter for the 1-based column *index* (1 → A, 27 → AA)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def is_blank(cells: Iterable[str]) -> bool:
    for cell in cells:  # noqa: SIM110 (a loop, not any(<generator>): the first cell usually decides)
        if cell and not cell.isspace():
            return False
    return True


def trim(cells: list[str]) -> list[str]:
    cells = [cell.replace("\ufeff", "").strip() for cell in cells]
    while cells and not cells[-1]:
        cells.pop()
    return cells


#: Rows above the header that may be taken for a title (an exported sheet's caption, its date), at most.
MAX_TITLE_ROWS = 3


def _is_title(cells: Sequence[str]) -> bool:
    """A row of one non-blank cell that names no column: a caption above the header, or else a one-cell row."""
    filled = [cell for cell in cells if cell and not cell.isspace()]
    return len(filled) == 1 and canonical_name(filled[0]) is None


def find_header(rows: Iterable[tuple[int, list[str]]]) -> tuple[int, list[str], tuple[int, ...]] | None:
    """The header in *rows* (row number, cells): ``(its row number, its cells, the title rows above it)``; None when
    every row is blank. The header is the first non-blank row, unless up to :data:`MAX_TITLE_ROWS` title rows (one
    cell, naming no column) come before a row that names a known column: then that row, the titles skipped. *rows*
    is advanced past the header (past the rows looked at, when no row after the titles names a column)."""
    first: tuple[int, list[str]] | None = None
    titles: list[int] = []
    for row, cells in rows:
        if is_blank(cells):
            continue
        if first is None:
            first = (row, cells)
        if not _is_title(cells):
            if titles and any(canonical_name(cell) for cell in cells if cell):
                return row, cells, tuple(titles)
            break
        titles.append(row)
        if len(titles) > MAX_TITLE_ROWS:
            break
    return None if first is None else (first[0], first[1], ())


class SheetHeader(NamedTuple):
    """A workbook sheet's header: its row number, its cells, their column names and the title rows above it."""

    row: int
    cells: list[str]
    columns: tuple[str, ...]
    titles: tuple[int, ...]


def sheet_header(path: str, sheet: str, rows: Iterator[tuple[int, list[str]]]) -> SheetHeader:
    """A workbook sheet's header, from *rows* (row number, cells), which is advanced past the first data row.
    Raises ManifestError when the sheet has no header row or no row after it."""
    found = find_header(rows)
    if found is None:
        raise ManifestError(
            f"sheet {sheet!r} has no header row: the first non-blank row must name the columns (e.g. group_id)",
            path=path,
        )
    header_row, cells, titles = found
    headers = trim(cells)
    columns = columns_for(path, headers, None)
    if not any(not is_blank(cells) for _, cells in rows):
        raise ManifestError(f"sheet {sheet!r} has a header but no rows", path=path)
    return SheetHeader(header_row, headers, columns, titles)


def _header_cells(headers: Sequence[str], canonical: Sequence[str | None]) -> str:
    """What the header row holds, for a message, without echoing a value: a file without a header row has a row
    of values there, secret keys included. Only cells that name a known column, or nearly do (a typo), are
    quoted; the others are counted by their column letters."""
    known = [f"{name} ({column_letter(i + 1)})" for i, name in enumerate(canonical) if name]
    near = []
    others = []
    for i, (header, name) in enumerate(zip(headers, canonical)):
        if name or not header:
            continue
        # A name is short: a long cell is no typo of one (and is never quoted in part: it may be a key). Only a
        # typo is quoted here, never a cell that merely holds a credential's word: this row may be values.
        close = _close_column(header) if len(header) <= QUOTED_CHARS else None
        if close:
            near.append(f"{quoted(header)} ({column_letter(i + 1)}; did you mean {close}?)")
        else:
            others.append(column_letter(i + 1))
    parts = [f"the header row names {', '.join(known)}" if known else "the header row names no known column"]
    if near:
        parts.append(f"unknown: {', '.join(near)}")
    if others:
        parts.append(
            f"the cells of column{'s' * (len(others) > 1)} {', '.join(others)} are not shown (if the file "
            "has no header row, its first row is values, keys included: add a header row)"
        )
    return "; ".join(parts)


def _missing_column(
    path: str, headers: list[str], canonical: Sequence[str | None], delimiter: str | None, name: str
) -> ManifestError:
    """The error for a manifest without the required column *name*: the spellings it may have, what the header
    row holds, and, for a header that one delimiter left whole, a hint at another."""
    accepted = ", ".join((name, *COLUMN_ALIASES[name]))
    hint = ""
    if delimiter is not None and len(headers) == 1:
        others = [d for d in (*SNIFFED_DELIMITERS, "|") if d != delimiter and d in headers[0]]
        if others:
            # Split on the other delimiter, the cell names known columns: a header, safe to quote.
            known = any(canonical_name(part) for d in others for part in headers[0].split(d))
            shown = f" {headers[0][:200]!r}" if known else ""
            hint = f" (the header{shown} was split on {delimiter!r}; if that is wrong, pass --delimiter)"
    return ManifestError(
        f"has no {name} column: name one column {accepted} (case, spaces, '_' and '-' "
        f"do not matter); {_header_cells(headers, canonical)}{hint}",
        path=path,
    )


def columns_for(path: str, headers: list[str], delimiter: str | None) -> tuple[str, ...]:
    """Each header's canonical name (or itself, made unique); raises for a clash or a missing required column."""
    canonical = [canonical_name(h) if h else None for h in headers]
    first_seen: dict[str, int] = {}
    for index, name in enumerate(canonical):
        if name is None:
            continue
        if name in first_seen:
            other = first_seen[name]
            raise ManifestError(
                f"columns {quoted(headers[other])} ({column_letter(other + 1)}) and {quoted(headers[index])} "
                f"({column_letter(index + 1)}) both mean {name}: keep only one of them",
                path=path,
                column=headers[index][:QUOTED_CHARS],
            )
        first_seen[name] = index
    for required in REQUIRED_COLUMNS:
        if required not in first_seen and not any(other in first_seen for other in STAND_INS[required]):
            raise _missing_column(path, headers, canonical, delimiter, required)
    taken = set(CANONICAL_COLUMNS)
    columns: list[str] = []
    for index, (header, name) in enumerate(zip(headers, canonical)):
        if name is None:
            base = header or f"column {column_letter(index + 1)}"
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base} ({n})"
        taken.add(name)
        columns.append(name)
    return tuple(columns)


def check_headers(info: ManifestInfo, extra_columns: Iterable[str] = ()) -> None:
    """A :class:`ManifestError` for every header of *info* that is no known column but looks like one
    (:func:`near_miss`), unless *extra_columns* (``--extra-column``) declare it: a misspelt key column would
    otherwise send its rows without keys."""
    declared = {_normalise(name) for name in extra_columns}
    misses = [
        (index, header, meant)
        for index, header in enumerate(info.headers)
        if _normalise(header) not in declared and (meant := near_miss(header))
    ]
    if not misses:
        return
    said = "; ".join(
        f"{quoted(header)} (column {column_letter(i + 1)}) looks like {meant}" for i, header, meant in misses
    )
    first = misses[0][1]
    raise ManifestError(
        f"header row {info.header_row}: {said}, but is not a column bulkretry knows, so its cells would not be "
        "sent: rename it to the column it means, or, if it is another column to carry into the report as it "
        f"is, declare it with --extra-column {first!r}",
        path=info.path,
        column=first[:QUOTED_CHARS],
    )


def check_extra_cells(info: ManifestInfo, row: int, cells: Sequence[str], width: int) -> None:
    """A :class:`ManifestError` for a value in a cell past the header's *width* columns (empty ones are fine)."""
    for index in range(width, len(cells)):
        if cells[index].strip():
            raise ManifestError(
                f"has {len(cells)} cells but the header has {width} columns: cell {column_letter(index + 1)}"
                f"{row} ({quoted(cells[index])}) has no header; give the column a header, remove the stray "
                "value, or quote a value that contains the delimiter",
                path=info.path,
                row=row,
                column=column_letter(index + 1),
            )


def row_values(info: ManifestInfo, row: int, cells: Sequence[str], width: int) -> dict[str, str]:
    if len(cells) > width:
        check_extra_cells(info, row, cells, width)
    values = dict(zip(info.columns, cells))
    for column in info.columns[len(cells) :]:
        values[column] = ""
    return values


def raw_rows(info: ManifestInfo, records: Iterable[tuple[int, Sequence[str]]]) -> Iterator[RawRow]:
    """The non-blank records as rows (a value in a column with no header raises)."""
    columns = info.columns
    width = len(columns)
    for row, cells in records:
        if len(cells) == width and cells[0] and not cells[0].isspace():  # the usual row: a full one, not blank
            yield RawRow(row, dict(zip(columns, cells)))
        elif not is_blank(cells):
            yield RawRow(row, row_values(info, row, cells, width))
