"""The fixed parts of an ``.xlsx`` package around its sheets (SpreadsheetML): ``workbook.xml`` with the sheet
list and the autofilter names, the relationships, ``styles.xml`` (a default and a bold font),
``docProps/`` and ``[Content_Types].xml``. :mod:`~bulkretry.report.xlsx_writer` streams the sheets and adds
these parts when the workbook is closed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Protocol

__all__ = ["ILLEGAL_XML_CHARS", "MAIN_NS", "REL_NS", "XML_DECL", "escape", "escape_attr", "package_parts"]

#: What XML 1.0 cannot hold: C0 controls but tab, LF and CR; surrogates; U+FFFE and U+FFFF.
ILLEGAL_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CT = "application/vnd.openxmlformats-officedocument"


class SheetEntry(Protocol):
    """What the package parts need of a sheet."""

    title: str
    index: int
    autofilter_ref: str | None


_STYLES = (
    f'{XML_DECL}<styleSheet xmlns="{MAIN_NS}">'
    '<fonts count="2">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '<dxfs count="0"/>'
    '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
    "</styleSheet>"
)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(text: str) -> str:
    return escape(text).replace('"', "&quot;")


def package_parts(sheets: Sequence[SheetEntry], creator: str) -> list[tuple[str, str]]:
    """Every part of the package but the sheets themselves, as ``(member name, XML)``."""
    return [
        ("xl/workbook.xml", _workbook(sheets)),
        ("xl/_rels/workbook.xml.rels", _workbook_rels(sheets)),
        ("xl/styles.xml", _STYLES),
        ("docProps/core.xml", _core(creator)),
        ("docProps/app.xml", _APP),
        ("_rels/.rels", _ROOT_RELS),
        ("[Content_Types].xml", _content_types(sheets)),
    ]


def _workbook(sheets: Sequence[SheetEntry]) -> str:
    """``xl/workbook.xml``: the sheets, and each autofilter's defined name."""
    entries = "".join(
        f'<sheet name="{escape_attr(s.title)}" sheetId="{s.index + 1}" r:id="rId{s.index + 1}"/>' for s in sheets
    )
    names = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{s.index}" hidden="1">'
        f"{escape(_quote(s.title))}!{_absolute(s.autofilter_ref)}</definedName>"
        for s in sheets
        if s.autofilter_ref
    )
    return (
        f'{XML_DECL}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><workbookPr/>'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{entries}</sheets>{f'<definedNames>{names}</definedNames>' if names else ''}"
        '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )


_REL = f"{REL_NS}/"


def _workbook_rels(sheets: Sequence[SheetEntry]) -> str:
    """``xl/_rels/workbook.xml.rels``: the workbook's links to its sheets and styles."""
    links = "".join(
        f'<Relationship Id="rId{s.index + 1}" Type="{_REL}worksheet" Target="worksheets/sheet{s.index + 1}.xml"/>'
        for s in sheets
    )
    return (
        f'{XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">{links}'
        f'<Relationship Id="rId{len(sheets) + 1}" Type="{_REL}styles" Target="styles.xml"/>'
        "</Relationships>"
    )


_ROOT_RELS = (
    f'{XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL}officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_PKG_REL_NS}/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    f'{XML_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>Microsoft Excel Compatible / bulkretry</Application></Properties>"
)


def _core(creator: str) -> str:
    """``docProps/core.xml``: the creator, and now as the time it was created and modified."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{XML_DECL}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{escape(ILLEGAL_XML_CHARS.sub('', creator))}</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>'
    )


def _content_types(sheets: Sequence[SheetEntry]) -> str:
    """``[Content_Types].xml``: the type of every part."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{s.index + 1}.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
        for s in sheets
    )
    return (
        f'{XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        f'<Override PartName="/docProps/app.xml" ContentType="{_CT}.extended-properties+xml"/>'
        f"{overrides}</Types>"
    )


def _quote(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _absolute(ref: str | None) -> str:
    assert ref is not None
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part) for part in ref.split(":"))
