"""A small streaming writer of ``.xlsx`` workbooks (SpreadsheetML), with exactly what ``report.xlsx`` needs.

Dependency-free: the sheet XML is built with f-strings and streamed into the zip archive with :mod:`zipfile`,
so a row costs a few microseconds (openpyxl's write-only mode spends ~100 µs a row in et_xmlfile) and memory
stays flat however many rows are written. What it writes, and why:

- **Cells** are numbers (``int``, ``float``; NaN and infinities are left empty, ``bool`` is a boolean cell) or
  text, which is written as an *inline string* (``t="inlineStr"``): no shared-strings table grows in memory
  and a text cell is text, never a formula or an error value, whatever it looks like (``=1+1``, ``#N/A``).
  ``None`` and ``""`` leave the cell out. Any other value is written as the text of ``str(value)``.
- **Text** is XML-escaped (``&``, ``<``, ``>``); a CR is written as ``&#13;`` (a raw one would be read back
  as LF); characters XML 1.0 cannot hold (C0 controls but tab/LF/CR, lone surrogates, U+FFFE, U+FFFF) are
  dropped, so a caller's slip can never make the file unreadable; leading or trailing whitespace gets
  ``xml:space="preserve"`` so that Excel keeps it. Text is cut to Excel's 32,767 characters (UTF-16 code
  units) a cell: Excel reports a longer one as damaged content (openpyxl cuts there too).
- A row's **last cell** is written even when empty (``<c r="N5"/>``): openpyxl's read-only mode sizes a
  row by the cells it finds, so every row of a table is read at full width.
- Every sheet carries its **``<dimension>``** (``A1:N123``), so readers that size a sheet up front (openpyxl's
  read-only ``max_row``/``max_column``) see its real size.
- **Styles**: ``styles.xml`` holds the default font and one bold font; ``style=BOLD`` uses it (cellXfs 1).
- **Streaming**: only one sheet is open at a time (a zip archive is written one member at a time), so sheets
  are written one after another and appear in the workbook in the order they were added. Each row is
  appended to a text buffer that is encoded and spooled every ``buffer_size`` characters
  (256 Ki by default); what is kept otherwise is a counter per sheet, nothing that grows with the rows.
- What comes before ``<sheetData>`` is given when the sheet is added: column ``widths`` (``<cols>``) and
  ``freeze_rows`` (a frozen pane below the header). The ``<dimension>`` that heads the sheet is only known after
  its last row, so the rows are spooled, uncompressed, to a temporary file beside the workbook and copied into
  the sheet's zip member behind the head when the sheet is closed (a copy at disk-cache speed, a few percent
  of what deflating the rows costs); the ``autofilter`` (``<autoFilter ref="A1:N123"/>``
  over the first row's columns, down to the last row) is written after ``</sheetData>``, where it belongs,
  and the hidden workbook-level ``_xlnm._FilterDatabase`` name that Excel writes with it goes into
  ``workbook.xml``, which, like the package's other small parts (``[Content_Types].xml``, the
  relationships, ``styles.xml``, ``docProps/``), is written when the workbook is closed.
- **Zip**: deflate at level 1 (the XML compresses ~10x even so; higher levels cost several times the CPU for
  a few percent). A sheet is streamed into its zip member (``ZipFile.open(name, "w")``), so its size is not
  known when the member starts. ``zipfile`` then takes ZIP64 only when told to (``force_zip64``), and what it
  writes for that (a ZIP64 extra field and 0xFFFFFFFF sizes in the local header of every such member, small
  ones included, but plain sizes in the central directory) is a layout that Excel is reported to refuse or
  "repair" (Apache POI and minizip-ng users met it; Excel-made files use ZIP64 only for members that need it).
  So sheets are plain members by default, which hold at most ``MAX_SHEET_BYTES`` (2 GiB) of XML: a writer
  that may pass that starts another sheet before, by :attr:`Worksheet.size` (``report.xlsx`` does), or opens
  the workbook with ``zip64=True``. The writer raises rather than write a sheet that zipfile would refuse.

Files written this way are read by openpyxl (normal and read-only), pandas.read_excel, LibreOffice and Excel.

    with StreamingWorkbook("out.xlsx") as book:
        sheet = book.add_sheet("Rows", widths=(10, 40), freeze_rows=1, autofilter=True)
        sheet.write_row(("id", "name"), style=BOLD)
        sheet.write_row((1, "<first> & 'only'"))
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from shutil import copyfileobj
from typing import IO, Any
from zipfile import ZIP64_LIMIT, ZIP_DEFLATED, ZipFile

from bulkretry.report.xlsx_package import ILLEGAL_XML_CHARS, MAIN_NS, REL_NS, XML_DECL, escape, package_parts

__all__ = [
    "BOLD",
    "ILLEGAL_XML_CHARS",
    "MAX_ROWS",
    "MAX_SHEET_BYTES",
    "MAX_TEXT",
    "NORMAL",
    "Spool",
    "StreamingWorkbook",
    "Worksheet",
    "column_letter",
]

#: Cell styles (indexes into ``cellXfs``).
NORMAL = 0
BOLD = 1
#: Rows in a worksheet (Excel's limit).
MAX_ROWS = 1_048_576
#: Bytes of XML in a sheet written without ZIP64 (zipfile's limit for a member that is not ZIP64).
MAX_SHEET_BYTES = ZIP64_LIMIT
#: Characters (UTF-16 code units) in a cell (Excel's limit).
MAX_TEXT = 32_767
_MAX_COLUMNS = 16_384

_SHORT = MAX_TEXT // 2  # text no longer than this is within MAX_TEXT whatever its characters
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

_STYLE_ATTR = {NORMAL: "", BOLD: ' s="1"'}
#: The longest ``<dimension>`` (for the size count), and the chunk the spooled rows are copied in.
_DIMENSION_MAX = '<dimension ref="A1:XFD1048576"/>'
_COPY_CHUNK = 1024 * 1024


def column_letter(index: int) -> str:
    """The letters of a 1-based column number: 1 -> ``A``, 28 -> ``AB``."""
    if not 1 <= index <= _MAX_COLUMNS:
        raise ValueError(f"column {index} is outside 1..{_MAX_COLUMNS}")
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _t(text: str) -> str:
    """``<t>`` holding any text, for the cells the fast path of ``write_row`` does not take."""
    text = ILLEGAL_XML_CHARS.sub("", text)
    if len(text) > _SHORT:  # may be longer than Excel's limit, which counts UTF-16 code units
        units = text.encode("utf-16-le")
        if len(units) > 2 * MAX_TEXT:
            text = units[: 2 * MAX_TEXT].decode("utf-16-le", "ignore")  # "ignore": a pair cut in half
    if not text:
        return ""
    # Whitespace at either end, XML's or any other (NBSP, ideographic space): preserving costs nothing.
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    return f"<t{space}>{escape(text).replace(chr(13), '&#13;')}</t>"


def _cell(ref: str, value: Any) -> str:
    """One ``<c>`` element, or '' for none; ``ref`` is what follows ``r="``: ``B7"`` or ``B7" s="1"``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}><v>{int(value)}</v></c>'
    if isinstance(value, float):
        return f'<c r="{ref}><v>{float(value)!r}</v></c>' if math.isfinite(value) else ""
    t = _t(value if type(value) is str else str(value))
    return f'<c r="{ref} t="inlineStr"><is>{t}</is></c>' if t else ""


@dataclass(frozen=True)
class Spool:
    """Where a sheet's rows go: *out*, a temporary file, in blocks of *buffer_size* characters; at the sheet's
    close they are copied into the zip member that *member* opens (ZIP64 if *zip64*; none: left in *out*)."""

    out: IO[bytes]
    buffer_size: int
    zip64: bool
    member: Callable[[], IO[bytes]] | None = None


def _row_cells(letters: Sequence[str], values: Sequence[Any], tail: str) -> list[str]:
    """A row's ``<c>`` elements (none for an empty cell); *tail* follows a cell's column letter in ``r="``."""
    cells: list[str] = []
    append = cells.append
    # The usual cells inline (a function call per cell would cost as much as the cell); the rest in _cell.
    for col, v in zip(letters, values):  # letters may be longer
        cls = v.__class__
        if cls is str:
            if not v:
                continue
            # Printable: no control characters (nor CR, tab, LF), no surrogates, U+FFFE, U+FFFF.
            if v.isprintable() and len(v) <= _SHORT:  # then its only whitespace is " "
                if "&" in v or "<" in v or ">" in v:
                    v = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                if v[0] == " " or v[-1] == " ":
                    append(f'<c r="{col}{tail} t="inlineStr"><is><t xml:space="preserve">{v}</t></is></c>')
                else:
                    append(f'<c r="{col}{tail} t="inlineStr"><is><t>{v}</t></is></c>')
                continue
        elif v is None:
            continue
        elif cls is int:
            append(f'<c r="{col}{tail}><v>{v}</v></c>')
            continue
        elif cls is float:
            if v - v == 0.0:  # finite
                append(f'<c r="{col}{tail}><v>{v!r}</v></c>')
            continue
        append(_cell(col + tail, v))
    return cells


class Worksheet:
    """One sheet being streamed; get it from :meth:`StreamingWorkbook.add_sheet`."""

    def __init__(self, title: str, index: int, spool: Spool, *, autofilter: bool, head: str = "") -> None:
        out, zip64 = spool.out, spool.zip64
        self.title = title
        self.index = index  # 0-based position in the workbook
        #: Rows written so far (the last row's number).
        self.rows = 0
        self.closed = False
        self.autofilter_ref: str | None = None
        self._out: IO[bytes] | None = out
        self._zip64 = zip64
        self._flushed = 0  # bytes
        self._limit = spool.buffer_size
        self._buf: list[str] = []
        self._size = 0  # characters in _buf
        self._letters: list[str] = []
        self._autofilter = autofilter
        self._filter_columns = 0
        #: The XML before ``<sheetData>``, with ``%DIMENSION%`` where the ``<dimension>`` goes (known at close).
        self._head = head
        #: Opens the sheet's zip member at close, when the rows (spooled to *out*) are copied into it.
        self._member = spool.member
        self._flushed = len(head.encode("utf-8")) + len(_DIMENSION_MAX)

    @property
    def size(self) -> int:
        """Bytes of XML so far, about: what is still buffered is counted in characters (<= 256 Ki by default)."""
        return self._flushed + self._size

    def write_row(self, values: Sequence[Any], style: int = NORMAL) -> None:
        """Append a row: ``values`` from column A on (``None`` or ``""`` leaves a cell empty)."""
        n, letters = self._next_row(len(values))
        tail = f'{n}"{_STYLE_ATTR[style]}'
        cells = _row_cells(letters, values, tail)
        if values and (not cells or not cells[-1].startswith(f'<c r="{letters[len(values) - 1]}{n}"')):
            cells.append(f'<c r="{letters[len(values) - 1]}{tail}/>')  # the last cell, for the row's width
        row = f'<row r="{n}">{"".join(cells)}</row>' if cells else ""
        self._buf.append(row)
        self._size += len(row)
        if self._size >= self._limit:
            self._flush()

    def _next_row(self, width: int) -> tuple[int, list[str]]:
        """The next row's number, and the column letters of a row *width* cells wide (or wider)."""
        if self.closed:
            raise ValueError(f"sheet {self.title!r} is closed")
        if self.rows == MAX_ROWS:
            raise ValueError(f"sheet {self.title!r} is full: a worksheet holds at most {MAX_ROWS:,} rows")
        self.rows = n = self.rows + 1
        letters = self._letters
        if width > len(letters):
            letters = self._grow(width)
        if n == 1 and self._autofilter:
            self._filter_columns = width
        return n, letters

    def close(self) -> None:
        """Write the end of the sheet (the autofilter) and close its zip member; the workbook stays open."""
        if self.closed:
            return
        self.closed = True
        tail = "</sheetData>"
        if self._autofilter and self._filter_columns:
            self.autofilter_ref = f"A1:{column_letter(self._filter_columns)}{self.rows}"
            tail += f'<autoFilter ref="{self.autofilter_ref}"/>'
        tail += '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
        self._buf.append(tail)
        self._flush()
        out, self._out = self._out, None
        assert out is not None
        try:
            if self._member is not None:
                with self._member() as member:
                    member.write(self._head.replace("%DIMENSION%", self.dimension).encode("utf-8"))
                    out.seek(0)
                    copyfileobj(out, member, _COPY_CHUNK)
        finally:
            out.close()

    @property
    def dimension(self) -> str:
        """The sheet's ``<dimension>``: the range its rows span, ``A1:N123`` (``A1`` when it has none), for
        readers that size a sheet before reading it (openpyxl's read-only ``max_row``, ``max_column``)."""
        if not self.rows or not self._letters:
            return '<dimension ref="A1"/>'
        return f'<dimension ref="A1:{self._letters[-1]}{self.rows}"/>'

    def _abort(self) -> None:
        self.closed = True
        self._member = None
        self._buf.clear()
        out, self._out = self._out, None
        if out is not None:
            with suppress(Exception):
                out.close()

    def _flush(self) -> None:
        assert self._out is not None
        data = "".join(self._buf).encode("utf-8")
        self._buf.clear()
        self._size = 0
        if not self._zip64 and self._flushed + len(data) > MAX_SHEET_BYTES:
            raise ValueError(
                f"sheet {self.title!r} would pass {MAX_SHEET_BYTES:,} bytes, the most a zip member "
                "holds without ZIP64: start another sheet before (see Worksheet.size), or write the "
                "workbook with zip64=True"
            )
        self._flushed += len(data)
        self._out.write(data)

    def _grow(self, count: int) -> list[str]:
        if count > _MAX_COLUMNS:
            raise ValueError(f"a row holds at most {_MAX_COLUMNS} cells, not {count}")
        self._letters.extend(column_letter(i) for i in range(len(self._letters) + 1, count + 1))
        return self._letters

    def __repr__(self) -> str:
        return f"<Worksheet {self.title!r} rows={self.rows}{' closed' if self.closed else ''}>"


class StreamingWorkbook:
    """An ``.xlsx`` written as it goes: add sheets, write their rows, then :meth:`close` (or :meth:`abort`).

    ``file`` is a path, or a binary file opened for writing (seekable), which is left open for the caller
    to sync and close. Each sheet's rows are spooled to a temporary file in ``spool_dir`` (default: the
    workbook's folder when ``file`` is a path, else the system's temporary folder) until the sheet is closed.
    ``zip64=True`` lets a sheet pass ``MAX_SHEET_BYTES`` (see the module's notes).
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | IO[bytes],
        *,
        compresslevel: int = 1,
        buffer_size: int = 256 * 1024,
        zip64: bool = False,
        creator: str = "bulkretry",
        spool_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._buffer_size = buffer_size
        self._zip64 = zip64
        self._creator = creator
        self._sheets: list[Worksheet] = []
        self._sheet: Worksheet | None = None
        self._names: set[str] = set()
        self.closed = False
        #: Where the sheets' rows are spooled: *spool_dir*, else beside the workbook (its disk has room for it), else
        #: the temporary folder.
        if spool_dir is None and isinstance(file, (str, os.PathLike)):
            spool_dir = os.path.dirname(os.path.abspath(file))
        self._spool_dir = spool_dir
        self._zip = ZipFile(file, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=compresslevel)

    def __enter__(self) -> StreamingWorkbook:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    @property
    def sheets(self) -> tuple[Worksheet, ...]:
        return tuple(self._sheets)

    def add_sheet(
        self, title: str, *, widths: Sequence[float | None] = (), freeze_rows: int = 0, autofilter: bool = False
    ) -> Worksheet:
        """Close the open sheet, if any, and start the next one.

        ``widths`` are column widths in characters from column A (``None`` keeps the default);
        ``freeze_rows`` rows stay in view when scrolling; ``autofilter`` puts a filter over the columns
        of the sheet's first row (the header), down to its last row.
        """
        if self.closed:
            raise ValueError("the workbook is closed")
        _check_title(title, self._names)
        head = [XML_DECL, f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">%DIMENSION%<sheetViews><sheetView']
        if not self._sheets:
            head.append(' tabSelected="1"')
        head.append(' workbookViewId="0"')
        if freeze_rows:
            if not 0 < freeze_rows < MAX_ROWS:
                raise ValueError(f"cannot freeze {freeze_rows} rows")
            top = f"A{freeze_rows + 1}"
            head.append(
                f'><pane ySplit="{freeze_rows}" topLeftCell="{top}" activePane="bottomLeft" state="frozen"/>'
                f'<selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/></sheetView>'
            )
        else:
            head.append("/>")
        head.append('</sheetViews><sheetFormatPr defaultRowHeight="15"/>')
        cols = [
            f'<col min="{i}" max="{i}" width="{_width(w)}" customWidth="1"/>'
            for i, w in enumerate(widths, 1)
            if w is not None
        ]
        if len(widths) > _MAX_COLUMNS:
            raise ValueError(f"a sheet has at most {_MAX_COLUMNS} columns")
        if cols:
            head.append(f"<cols>{''.join(cols)}</cols>")
        head.append("<sheetData>")

        if self._sheet is not None:
            self._sheet.close()
        index = len(self._sheets)
        name, zf, zip64 = f"xl/worksheets/sheet{index + 1}.xml", self._zip, self._zip64
        # The rows are spooled to a temporary file, uncompressed, and copied into the zip member at close, after
        # the head, which then holds the <dimension> (only known once the last row is written).
        out = tempfile.TemporaryFile(dir=self._spool_dir)  # noqa: SIM115 (closed by the sheet's close or abort)
        spool = Spool(out, self._buffer_size, zip64, lambda: zf.open(name, "w", force_zip64=zip64))
        sheet = Worksheet(title, index, spool, autofilter=autofilter, head="".join(head))
        self._sheets.append(sheet)
        self._names.add(title.casefold())
        self._sheet = sheet
        return sheet

    def close(self) -> None:
        """Close the open sheet, write the workbook's other parts and close the archive.

        On failure (a full disk, say) the workbook is aborted, so that nothing is left open, and the error raised.
        """
        if self.closed:
            return
        if not self._sheets:
            raise ValueError("a workbook needs at least one sheet")
        try:
            if self._sheet is not None:
                self._sheet.close()
                self._sheet = None
            zf = self._zip
            for name, data in package_parts(self._sheets, self._creator):
                zf.writestr(name, data.encode("utf-8"))
            self.closed = True
            zf.close()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Close the open sheet and the archive after a failure, without finishing the workbook; never raises.

        The file is left incomplete (not a workbook): the caller removes it.
        """
        self.closed = True
        if self._sheet is not None:
            self._sheet._abort()
            self._sheet = None
        with suppress(Exception):
            self._zip.close()

    def __repr__(self) -> str:
        return f"<StreamingWorkbook sheets={[s.title for s in self._sheets]}{' closed' if self.closed else ''}>"


def _check_title(title: str, taken: set[str]) -> None:
    # Excel's rules for a sheet name.
    if not 1 <= len(title) <= 31:
        raise ValueError(f"a sheet name has 1 to 31 characters: {title!r}")
    if _SHEET_NAME_FORBIDDEN.search(title) or ILLEGAL_XML_CHARS.search(title) or title[0] == "'" or title[-1] == "'":
        raise ValueError(
            f"a sheet name holds none of []:*?/\\ nor control characters, nor starts or ends with ': {title!r}"
        )
    if title.casefold() in taken:
        raise ValueError(f"there is already a sheet named {title!r}")


def _width(width: float) -> str:
    if not 0 <= width <= 255:
        raise ValueError(f"a column width is 0 to 255 characters, not {width}")
    return format(float(width), ".15g")
