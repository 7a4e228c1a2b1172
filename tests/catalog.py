"""The message catalog's tools (Babel, a test dependency): extract the messages the code marks, read and compile
``bulkretry.po``. ``tests/test_i18n.py`` uses them to hold the committed ``.mo`` to its ``.po`` and every
message to a translation; a maintainer runs this module after changing a message::

    .venv/bin/python -m tests.catalog     # add new messages to the .po (untranslated), drop gone ones, write the .mo

then fills the new ``msgstr`` in the .po and runs it again to compile.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).resolve().parent.parent / "bulkretry"
PO = PACKAGE / "i18n" / "locale" / "zh_CN" / "LC_MESSAGES" / "bulkretry.po"
MO = PO.with_suffix(".mo")
#: The calls that mark a message, and the arguments that are messages: gettext's ``_`` (taken as
#: ``_ = translation(lang).gettext``), ``N_`` for a message in a table (translated where it is shown).
KEYWORDS = {"_": (0,), "N_": (0,), "gettext": (0,), "ngettext": (0, 1)}


def extract() -> dict[str, list[str]]:
    """Every message the package marks, with where (``path:line``).

    Read from each module's syntax tree (not its tokens, as Babel's extractor does), so a call inside an
    f-string is found on every Python version.
    """
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            for index in KEYWORDS.get(name, ()):
                arg = node.args[index] if len(node.args) > index else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, []).append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def read_catalog(path: Path = PO) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale="zh_CN", domain="bulkretry")


def compile_mo(catalog: Catalog) -> bytes:
    """The ``.mo`` of *catalog*, as Babel writes it (fuzzy messages left out)."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update() -> tuple[int, int]:
    """Bring the .po to the code's messages (new ones added untranslated, gone ones dropped) and compile the .mo;
    ``(messages, untranslated)``."""
    catalog = read_catalog() if PO.exists() else Catalog(locale="zh_CN", domain="bulkretry")
    messages = extract()
    fresh = Catalog(
        locale="zh_CN",
        domain="bulkretry",
        project="bulkretry",
        charset="utf-8",
        fuzzy=False,
        header_comment="# Simplified Chinese messages of bulkretry, in the OMS console's words.\n"
        "# The source of bulkretry.mo: after an edit, run `python -m tests.catalog`.",
        copyright_holder="bulkretry developers",
        msgid_bugs_address="bulkretry developers",
        last_translator="bulkretry developers",
        language_team="zh-CN",
    )
    fresh.revision_date = fresh.creation_date = catalog.creation_date
    for msgid, places in sorted(messages.items()):
        old = catalog.get(msgid)
        fresh.add(msgid, old.string if old else "", locations=sorted({(p.rsplit(":", 1)[0], 0) for p in places}))
    with PO.open("wb") as fh:
        write_po(fh, fresh, width=116, sort_output=True, include_lineno=False)
    MO.write_bytes(compile_mo(read_catalog()))
    return len(messages), sum(1 for m in fresh if m.id and not m.string)


if __name__ == "__main__":
    total, missing = update()
    print(f"{PO}: {total} messages, {missing} untranslated; {MO} written")
