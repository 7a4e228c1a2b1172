"""Times as people read them (report.html, the xlsx Summary sheet, the summary line, notifications,
history.html): in the run's zone (``--tz``), each with its offset, ``2026-12-04 22:31:05 +08:00``. The files
machines read (report.csv, report.json, summary.json, the journal) keep ISO 8601 UTC and never come here.

- A zone is named by its text, as ``--tz`` takes it and the journal keeps it: an IANA name (``Asia/Shanghai``,
  ``UTC``) read by :mod:`zoneinfo` (the system's database, or the ``tzdata`` package on Windows), or a fixed
  offset (``+08:00``), which is what :func:`local_zone` names when the machine's zone has no name it can read.
- None stands for the machine's local zone wherever a zone is taken.
- :func:`people_time` is the one place a time is written for people; every surface calls it (or
  :func:`in_zone` and :func:`offset_text` for a chart's clock).

>>> people_time("2026-12-04T14:31:05.120Z", "Asia/Shanghai")
'2026-12-04 22:31:05 +08:00'
>>> people_time("2026-07-01T10:00:00Z", "Europe/Berlin"), people_time("2026-01-01T10:00:00Z", "Europe/Berlin")
('2026-07-01 12:00:00 +02:00', '2026-01-01 11:00:00 +01:00')
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bulkretry.i18n import DEFAULT_LANG

__all__ = ["UTC_NAME", "Locale", "in_zone", "local_zone", "offset_text", "parse_tz", "people_time", "zone_of"]

UTC_NAME = "UTC"
#: A fixed offset as :func:`offset_text` writes it: ``+08:00``, ``-03:30``.
_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)$")
#: Where the machine's zone is linked from on Linux and macOS (``.../zoneinfo/Asia/Shanghai``).
_LOCALTIME = Path("/etc/localtime")


@dataclass(frozen=True)
class Locale:
    """How the files people read are written: in which language (``--lang``) and time zone (``--tz``; None: the
    machine's)."""

    lang: str = DEFAULT_LANG
    tz: str | None = None


def parse_tz(text: str) -> str:
    """``--tz``: an IANA zone name (``Asia/Shanghai``, ``UTC``) or a fixed offset (``+08:00``), as given;
    ValueError naming the nearest zone names otherwise."""
    name = text.strip()
    if _known(name):
        return name
    raise ValueError(f"unknown time zone {text!r}{_nearest(name)}; give an IANA name such as Asia/Shanghai, or UTC")


def local_zone(env: Mapping[str, str] | None = None) -> str:
    """The machine's zone: the IANA name ``TZ`` gives (``Asia/Shanghai``, also ``:Asia/Shanghai``), else the one
    ``/etc/localtime`` links to (when ``TZ`` is not set), else the machine's present offset (``+08:00``: a zone
    without a name, so without its daylight saving rules), ``UTC`` for none."""
    given = (os.environ if env is None else env).get("TZ", "").lstrip(":")
    if given and _known(given):
        return given
    linked = "" if given else _linked_zone()  # a TZ that names no zone (``CST-8``) still decides the offset
    if linked:
        return linked
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    return UTC_NAME if not offset else _offset_name(offset)


@lru_cache(maxsize=64)
def zone_of(name: str | None) -> tzinfo:
    """The ``tzinfo`` of a zone's *name* (None: the machine's local zone); ValueError for an unknown one."""
    name = local_zone() if name is None else name
    fixed = _OFFSET.match(name)
    if fixed:
        sign = -1 if fixed.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(fixed.group(2)), minutes=int(fixed.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def in_zone(moment: str | float | datetime, zone: str | None) -> datetime | None:
    """*moment* (ISO 8601 text, ``...Z`` included; a Unix second; an aware datetime) in *zone*; None for '' or
    text that is no time."""
    if isinstance(moment, datetime):
        return moment.astimezone(zone_of(zone))
    if isinstance(moment, (int, float)):
        return datetime.fromtimestamp(moment, zone_of(zone))
    try:
        when = datetime.fromisoformat(moment.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:  # the tool writes UTC only; a time without an offset is read as one
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(zone_of(zone))


def people_time(moment: str | float | datetime | None, zone: str | None) -> str:
    """*moment* for people: ``2026-12-04 22:31:05 +08:00`` in *zone* (None: the machine's); '' for none, and
    text that is no time as it is."""
    if moment is None or moment == "":
        return ""
    when = in_zone(moment, zone)
    if when is None:
        return str(moment)
    return f"{when:%Y-%m-%d %H:%M:%S} {offset_text(when)}"


def offset_text(when: datetime) -> str:
    """The offset of an aware *when* as ``+08:00`` (``%z`` writes ``+0800``, and ``%:z`` is Python 3.12's)."""
    return _offset_name(when.utcoffset() or timedelta(0))


def _offset_name(offset: timedelta) -> str:
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _known(name: str) -> bool:
    try:
        zone_of(name)
    except ValueError:
        return False
    return bool(name)


def _linked_zone() -> str:
    """The zone ``/etc/localtime`` links to (``Asia/Shanghai``), or '' (no link: Windows, a copied file)."""
    try:
        target = os.readlink(_LOCALTIME)
    except (OSError, NotImplementedError):
        return ""
    _, found, name = target.partition("zoneinfo/")
    return name if found and _known(name) else ""


def _nearest(name: str) -> str:
    """`` (did you mean Asia/Shanghai?)``: the zone names nearest *name* by spelling, case aside; '' for none."""
    names = {zone.lower(): zone for zone in available_timezones()}
    close = difflib.get_close_matches(name.lower(), list(names), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(names[c] for c in close)}?)" if close else ""
