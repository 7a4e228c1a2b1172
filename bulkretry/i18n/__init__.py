"""The languages of the files people read (report.html, history.html, the xlsx Summary sheet, the summary
line, notifications): English and Simplified Chinese.

- Messages live in a gettext catalog: ``locale/zh_CN/LC_MESSAGES/bulkretry.po`` is the source, the
  ``bulkretry.mo`` beside it is compiled from it and shipped as package data (``tests/test_i18n.py`` fails
  when the two differ, and when a message in the code has no translation). English is the msgid itself.
- The language is a parameter, never a global: :func:`resolve_lang` turns ``--lang`` (or, without it, the
  environment: ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, the first one set, ``zh*`` meaning Chinese) into one of
  :data:`LANGS`, and :func:`translation` gives its catalog; code takes ``translation(lang).gettext`` (or
  ``ngettext``) and calls it on the English text.
- :func:`N_` marks a message where it is defined (a table of texts) so the extractor finds it; it is
  translated where it is shown.
- Machine output is never translated: csv/json column names, outcome values, error codes, ``--help``.

>>> translation("zh-CN").gettext("Outcomes")
'结果'
>>> resolve_lang(None, {"LANG": "zh_CN.UTF-8"}), resolve_lang("en", {"LANG": "zh_CN.UTF-8"})
('zh-CN', 'en')
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from functools import cache
from importlib.resources import files

__all__ = [
    "DEFAULT_LANG",
    "DOMAIN",
    "ENV_VARS",
    "LANGS",
    "N_",
    "lang_from_env",
    "parse_lang",
    "resolve_lang",
    "translation",
]

#: The languages, as ``--lang`` spells them and as ``<html lang>`` takes them.
LANGS = ("zh-CN", "en")
DEFAULT_LANG = "en"
#: The gettext domain: ``locale/<ll_CC>/LC_MESSAGES/<DOMAIN>.mo``.
DOMAIN = "bulkretry"
#: Where the default language comes from, in this order (the first one set and not empty decides).
ENV_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")

# The catalog folder of each language that has one (English is the msgid).
_LOCALE_DIRS = {"zh-CN": "zh_CN"}


def N_(message: str) -> str:
    """Mark *message* for the catalog where it is defined; it is translated where it is shown."""
    return message


def parse_lang(text: str) -> str:
    """``--lang``: ``zh-CN`` (also ``zh``, ``zh_CN``, ``zh-cn``) or ``en``; ValueError naming the choices."""
    value = text.strip().replace("_", "-").lower()
    if value in ("zh", "zh-cn", "zh-hans", "zh-hans-cn"):
        return "zh-CN"
    if value in ("en", "en-us", "en-gb"):
        return "en"
    raise ValueError(f"unknown language {text!r}; choose zh-CN or en")


def lang_from_env(environ: Mapping[str, str]) -> str:
    """The language the environment asks for: the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set and
    not empty, as gettext reads them; ``zh...`` (``zh_CN.UTF-8``, ``zh_TW``, ``zh``) is Chinese, anything else
    (``C``, ``POSIX``, ``en_US.UTF-8``, nothing) English."""
    for name in ENV_VARS:
        value = environ.get(name, "")
        if value:
            return "zh-CN" if value.strip().lower().startswith("zh") else DEFAULT_LANG
    return DEFAULT_LANG


def resolve_lang(option: str | None, environ: Mapping[str, str]) -> str:
    """``--lang`` when given (read by :func:`parse_lang`), otherwise the environment's (:func:`lang_from_env`)."""
    return parse_lang(option) if option else lang_from_env(environ)


@cache
def translation(lang: str = DEFAULT_LANG) -> gettext.NullTranslations:
    """The catalog of *lang* (one of :data:`LANGS`): ``.gettext(text)``, ``.ngettext(one, many, n)``.

    English is ``gettext.NullTranslations`` (the text as written); an unknown *lang* is a ValueError. The
    catalog is read from package data, so it works from a wheel or a zip too.
    """
    lang = parse_lang(lang)
    folder = _LOCALE_DIRS.get(lang)
    if folder is None:
        return gettext.NullTranslations()
    path = files("bulkretry.i18n").joinpath("locale").joinpath(folder).joinpath("LC_MESSAGES").joinpath(f"{DOMAIN}.mo")
    with path.open("rb") as fh:
        return gettext.GNUTranslations(fh)
