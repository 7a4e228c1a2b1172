"""What a manifest file really is, from its first bytes, and what to tell someone whose file is not what its name says.

Offices keep spreadsheets in many formats and people rename them. The name picks the reader (``.csv`` text,
``.xlsx``/``.xlsm`` Office Open XML, ``.xls`` Excel 97-2003, ``.ods`` OpenDocument); the content must agree:

- a zip archive is an OpenDocument file when its ``mimetype`` member says so (``…opendocument.spreadsheet``),
  else an Office Open XML workbook (``xl/workbook.xml``; ``xl/workbook.bin`` is a binary ``.xlsb``), an Apple
  Numbers file (``Index/``), or a word-processing document;
- an OLE2 compound file (``D0 CF 11 E0``) is an encrypted (password-protected) Office file when it holds an
  ``EncryptedPackage`` stream, an Excel 97-2003 (or WPS ``.et``) workbook when it holds a ``Workbook`` or
  ``Book`` stream, else another Office document;
- anything else is text (a CSV or a web page saved under a spreadsheet's name) or binary.

A file whose content does not match its name gets a message naming both and the fix ("rename it to .ods or save
it as .xlsx"); a format bulkretry does not read (WPS ``.et``, ``.numbers``, ``.xlsb``, …) gets "save it as .xlsx
or .csv".
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from bulkretry.errors import ManifestError

__all__ = ["CSV_SUFFIXES", "EXCEL_SUFFIXES", "SHEET_SUFFIXES", "check_content", "kind_for_suffix", "sniff"]

CSV_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm")
#: Workbooks read through pandas (xlrd for ``.xls``, odfpy for ``.ods``): the whole sheet in memory.
SHEET_SUFFIXES: tuple[str, ...] = (".xls", ".ods")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SCAN_CHUNK = 1 << 20
_ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"

#: What each detected content is called in a message, and the name it should have.
_NAMES: dict[str, tuple[str, str]] = {
    "xlsx": ("an Excel workbook (.xlsx)", ".xlsx"),
    "ods": ("an OpenDocument spreadsheet (.ods, LibreOffice or WPS)", ".ods"),
    "xls": ("an Excel 97-2003 workbook (.xls, or a WPS .et)", ".xls"),
    "xlsb": ("an Excel binary workbook (.xlsb)", ""),
    "numbers": ("an Apple Numbers file", ""),
    "odf": ("an OpenDocument file that is not a spreadsheet", ""),
    "document": ("an Office document that is not a spreadsheet", ""),
    "zip": ("a zip archive that is no spreadsheet", ""),
}
#: What each name promises, in a message.
_LABELS = {
    "csv": "a text (CSV) file",
    "xlsx": "an Excel workbook",
    "xls": "an Excel 97-2003 workbook",
    "ods": "an OpenDocument spreadsheet",
}

#: Formats people have that bulkretry does not read: how to save them as something it does.
_UNSUPPORTED: dict[str, str] = {
    ".et": "a WPS Spreadsheets workbook: in WPS, File > Save As > Excel workbook (.xlsx), or CSV",
    ".ett": "a WPS Spreadsheets template: in WPS, File > Save As > Excel workbook (.xlsx), or CSV",
    ".numbers": "an Apple Numbers file: in Numbers, File > Export To > Excel (.xlsx) or CSV",
    ".xlsb": "an Excel binary workbook: in Excel, File > Save As > Excel Workbook (.xlsx), or CSV",
    ".xlt": "an Excel template: in Excel, File > Save As > Excel Workbook (.xlsx), or CSV",
    ".xltx": "an Excel template: in Excel, File > Save As > Excel Workbook (.xlsx), or CSV",
    ".xltm": "an Excel template: in Excel, File > Save As > Excel Workbook (.xlsx), or CSV",
    ".fods": "a flat OpenDocument spreadsheet: in LibreOffice, File > Save As > .ods or .xlsx, or CSV",
    ".ots": "an OpenDocument template: in LibreOffice, File > Save As > .ods or .xlsx, or CSV",
}


def kind_for_suffix(path: str) -> str:
    """The reader *path*'s name asks for: ``csv``, ``xlsx``, ``xls`` or ``ods``; ManifestError for any other name,
    saying how to save the file as something bulkretry reads."""
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in EXCEL_SUFFIXES:
        return "xlsx"
    if suffix in SHEET_SUFFIXES:
        return suffix[1:]
    known = ", ".join(CSV_SUFFIXES + EXCEL_SUFFIXES + SHEET_SUFFIXES)
    what = _UNSUPPORTED.get(suffix)
    shown = f"'{suffix}'" if suffix else "no extension"
    if what:
        raise ManifestError(
            f"unsupported file type ({shown}, {what}): save it as .xlsx or .csv (bulkretry reads {known})", path=path
        )
    raise ManifestError(
        f"unsupported file type ({shown}): a manifest is a {known} file; open it in its program "
        "and save it as .xlsx or .csv",
        path=path,
    )


def sniff(path: str, head: bytes) -> str:
    """What the file is by its content (*head*: its first bytes, a few hundred will do): ``xlsx``, ``ods``,
    ``xls``, ``encrypted``, ``ole2`` (an OLE2 file holding no workbook), ``xlsb``, ``numbers``, ``odf``,
    ``document``, ``zip``, ``html``, ``text`` or ``binary``."""
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(path)
    if head.startswith(_OLE2_MAGIC):
        if _file_contains(path, "EncryptedPackage".encode("utf-16-le")):
            return "encrypted"
        # The directory's stream names, in UTF-16 with a NUL after (the directory may sit anywhere in the file).
        if any(_file_contains(path, name.encode("utf-16-le") + b"\x00\x00") for name in ("Workbook", "Book")):
            return "xls"
        return "ole2"
    if _looks_like_text(head):
        lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        return "html" if lowered.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml")) else "text"
    return "binary"


def check_content(path: str, kind: str, head: bytes) -> None:
    """Refuse a file whose content is not what its name (*kind*: ``csv``, ``xlsx``, ``xls`` or ``ods``) says,
    with a message naming what it is and how to fix it. A text file named ``.csv`` is left to the CSV reader,
    and a damaged zip named ``.xlsx`` to the workbook reader (both say what is wrong in detail)."""
    if kind == "csv" and not head.startswith((_ZIP_MAGIC, _OLE2_MAGIC)):
        return
    found = sniff(path, head)
    if found == kind or (kind == "xlsx" and found == "zip"):
        return
    suffix = Path(path).suffix.lower() or "without an extension"
    if found == "encrypted":
        raise ManifestError(
            "is encrypted (password-protected): open it in Excel and save it without a password "
            "(File > Info > Protect Workbook > Encrypt with Password, clear the password), or save it as .csv",
            path=path,
        )
    label = _LABELS[kind]
    if found in ("text", "html", "binary"):
        looks = {
            "text": "looks like text (a CSV renamed?)",
            "html": "is a web page (HTML; some systems export a table as a web page named .xls)",
            "binary": "is not an OLE2 file" if kind == "xls" else "is not a zip archive",
        }[found]
        raise ManifestError(
            f"is not {label} ({suffix}): it {looks}; save it as .xlsx or .csv, or give a text file a .csv name",
            path=path,
        )
    if found == "ole2":
        raise ManifestError(
            f"is not {label} ({suffix}): it is an OLE2 file that holds no workbook, either a password-protected "
            "(encrypted) workbook or another Office 97-2003 document; save it without a password as .xlsx or .csv",
            path=path,
        )
    what, proper = _NAMES[found]
    if proper:
        raise ManifestError(
            f"is {what} saved with the name {suffix}: rename it to {proper}, or save it as .xlsx", path=path
        )
    raise ManifestError(
        f"is not a spreadsheet bulkretry reads: it is {what}, saved with the name {suffix}; open "
        "it in its program and save it as .xlsx or .csv",
        path=path,
    )


def _zip_kind(path: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:200].decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError):
        return "zip"  # a damaged archive: the reader of its name says so in detail
    if mimetype.startswith(_ODS_MIMETYPE) and not mimetype.endswith("-template"):
        return "ods"
    if mimetype.startswith("application/vnd.oasis.opendocument"):
        return "odf"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if any(name.startswith("xl/") for name in names):
        return "xlsx"
    if any(name.startswith("Index/") for name in names):
        return "numbers"
    if any(name.startswith(("word/", "ppt/")) for name in names):
        return "document"
    return "zip"


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of *head*
            return False
    return b"\x00" not in head


def _file_contains(path: str, needle: bytes) -> bool:
    """Whether *needle* occurs in the file, reading it a chunk at a time."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            if needle in tail + chunk:
                return True
            tail = chunk[-(len(needle) - 1) :]
    return False
