"""How many cells a sheet of an ``.ods`` or ``.xls`` manifest becomes once read, counted before it is: these
formats are read whole, and a file of a few KB can declare millions of cells (an OpenDocument cell or row
repeated a million times, an ``.xls`` cell far to the right on every row).

Only what becomes content counts: a sheet is read as its rows down to the last one with a value, each as wide
as the widest such row (``.ods``), or each as wide as its own last value (``.xls``). Empty cells and rows
repeated past the last value (LibreOffice writes a million of them for a formatted column) are free.
"""

from __future__ import annotations

import zipfile
from typing import IO, Any
from xml.etree.ElementTree import iterparse

from bulkretry.errors import ManifestError

__all__ = ["MAX_ODS_ELEMENTS", "MAX_SHEET_CELLS", "check_cells", "ods_cells", "xls_cells"]

#: The most cells an ``.ods`` or ``.xls`` sheet may become when read (read whole, in memory): two million,
#: e.g. 100,000 rows of 20 columns. A larger manifest is a ``.csv`` or ``.xlsx`` (read a row at a time).
MAX_SHEET_CELLS = 2_000_000

#: The most XML elements an ``.ods``'s sheets may hold, all together: odfpy keeps each in memory (about 1 KB), even
#: an empty cell that is not repeated. About 45,000 rows of 5 columns as LibreOffice writes them.
MAX_ODS_ELEMENTS = 500_000

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_CELLS = (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell")


def check_cells(path: str, sheet: str, cells: int) -> None:
    """Refuse a sheet that becomes more than :data:`MAX_SHEET_CELLS` cells when read."""
    if cells > MAX_SHEET_CELLS:
        raise ManifestError(
            f"sheet {sheet!r} would become {cells:,} cells when read, over the limit of {MAX_SHEET_CELLS:,} "
            "cells for an .ods or .xls manifest (read whole, in memory): save it as .csv or .xlsx (read a row "
            "at a time), or split it",
            path=path,
        )


class _OdsTable:
    """The extent of one OpenDocument table, a row at a time: rows down to the last with a value, widest row."""

    def __init__(self) -> None:
        self.rows = 0
        self.width = 0
        self._blank_rows = 0
        self._row_width = 0
        self._column = 0

    def cell(self, element: Any) -> None:
        self._column += _repeat(element, "number-columns-repeated")
        if element.get(f"{_OFFICE}value-type") is not None:  # a cell without a type is read as empty
            self._row_width = self._column

    def row(self, element: Any) -> None:
        repeat = _repeat(element, "number-rows-repeated")
        if self._row_width:
            self.rows += self._blank_rows + repeat
            self._blank_rows = 0
            self.width = max(self.width, self._row_width)
        else:
            self._blank_rows += repeat
        self._row_width = self._column = 0

    @property
    def cells(self) -> int:
        return self.rows * self.width


def _repeat(element: Any, attribute: str) -> int:
    text = element.get(f"{_TABLE}{attribute}")
    return int(text) if text and text.isdigit() else 1


def ods_cells(path: str) -> dict[str, int]:
    """How many cells each table of the ``.ods`` at *path* becomes when read, by name in the document's order (its
    XML streamed before odfpy loads it, nothing expanded). Refuses a document of more than
    :data:`MAX_ODS_ELEMENTS` elements (odfpy holds every one of them in memory), as soon as it has passed them."""
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as source:
        return _table_cells(path, source)


def _table_cells(path: str, source: IO[bytes]) -> dict[str, int]:
    tables: dict[str, _OdsTable] = {}
    table: _OdsTable | None = None
    open_elements: list[Any] = []  # each row is dropped from its parent once counted: memory stays flat
    for count, (event, element) in enumerate(iterparse(source, events=("start", "end"))):
        if event == "start":
            open_elements.append(element)
            if element.tag == f"{_TABLE}table":
                table = tables.setdefault(str(element.get(f"{_TABLE}name", "")), _OdsTable())
            continue
        open_elements.pop()
        if element.tag == f"{_TABLE}table-row":
            if table is not None:
                table.row(element)
            if open_elements:
                open_elements[-1].remove(element)
            _check_elements(path, count // 2)
        elif table is not None and element.tag in _CELLS:
            table.cell(element)
    return {name: counted.cells for name, counted in tables.items()}


def _check_elements(path: str, elements: int) -> None:
    if elements > MAX_ODS_ELEMENTS:
        raise ManifestError(
            f"holds more than {MAX_ODS_ELEMENTS:,} XML elements (cells, rows, paragraphs), over the limit for an "
            ".ods manifest (read whole, about 1 KB of memory each): save it as .csv or .xlsx (read a row at a "
            "time), or split it",
            path=path,
        )


def xls_cells(sheet: Any) -> int:
    """How many cells an ``.xls`` sheet loaded by xlrd with ``ragged_rows=True`` holds (each row as wide as its
    last value), before any of them is turned into text."""
    return sum(sheet.row_len(row) for row in range(sheet.nrows))
