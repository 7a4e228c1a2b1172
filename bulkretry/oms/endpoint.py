"""Where a call goes: the one place for the rules on a region id and an ``--endpoint`` URL.

A region is pasted into ``https://oms.{region}.myhuaweicloud.com``, so a region holding ``@ : / ? #``
would send the call (token and every secret key of the body) to a host nobody named; an endpoint with a
user name, a path or a query would be sent somewhere else than it says, or quietly cut. Both are checked
here before any URL is built, by the planner (a manifest's region cell), the settings check (``--region``,
``--endpoint``) and the client (which also checks that the URL it built has the host it was asked for).

The SDK's override of a region's endpoint, ``HUAWEICLOUD_SDK_REGION_OMS_<REGION, upper-cased, - as _>``
(``region/provider.py``, ``EnvRegionProvider``), is honoured after ``--endpoint``: :func:`region_overrides` reads
and checks every such variable before any call.

>>> endpoint_for_region("cn-north-4").origin
'https://oms.cn-north-4.myhuaweicloud.com'
>>> endpoint_for_region("cn-north-4", region_overrides({"HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4": "http://[::1]:81"})).origin
'http://[::1]:81'
>>> parse_endpoint("http://127.0.0.1:8080/").netloc
'127.0.0.1:8080'
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

from bulkretry.errors import ConfigError
from bulkretry.i18n.messages import NOT_A_REGION_ID, REGION_EMPTY, say

__all__ = [
    "ENDPOINT_FORM",
    "ENV_REGION_PREFIX",
    "OMS_REGIONS",
    "REGION_MAX",
    "REGION_MIN",
    "Endpoint",
    "check_region",
    "endpoint_for_region",
    "override_for",
    "parse_endpoint",
    "region_overrides",
    "region_problem",
    "unknown_region",
]

#: A region id's length: Huawei's are 7..16 characters (``af-south-1``, ``my-kualalumpur-1``); a DNS label
#: holds at most 63.
REGION_MIN, REGION_MAX = 2, 63
#: Lower-case letters, digits and inner dashes: one DNS label, as every Huawei region id is.
_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
#: The SDK's variables that set a region's OMS endpoint: this prefix, then the region id upper-cased, ``-`` as ``_``.
ENV_REGION_PREFIX = "HUAWEICLOUD_SDK_REGION_OMS_"
#: What ``--endpoint`` looks like, for messages.
ENDPOINT_FORM = "https://host[:port]"
#: A host name: ASCII letters, digits, dots, dashes (and underscores, which some internal names use).
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?")
_SHOWN = 80  # the most characters of a refused value quoted in a message

#: The regions OMS serves (the SDK's ``OmsRegion``; ``tests/test_endpoint_regions.py`` holds the two the same).
#: Only ``validate --online`` reads it, to name a typo before any call: the run itself goes wherever a region id
#: points, as the SDK's region variables may add a region this table does not know.
OMS_REGIONS = (
    "af-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "cn-east-2",
    "cn-east-3",
    "cn-east-4",
    "cn-north-1",
    "cn-north-4",
    "cn-north-9",
    "cn-north-12",
    "cn-south-1",
    "cn-south-4",
    "cn-southwest-2",
    "la-north-2",
    "la-south-2",
    "me-east-1",
    "sa-brazil-1",
    "tr-west-1",
)


class Endpoint(NamedTuple):
    """A checked endpoint: ``origin`` (``scheme://netloc``, what URLs start with), ``netloc`` (the Host header
    and what is signed) and ``host`` (lower case, an IPv6 address without brackets: what to compare)."""

    scheme: str
    host: str
    port: int | None
    netloc: str
    origin: str


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def region_problem(region: str) -> str:
    """Why *region* is not a region id (a sentence for a message), or ``""`` when it is one."""
    if REGION_MIN <= len(region) <= REGION_MAX and _REGION.fullmatch(region):
        return ""
    if not region:
        return say(REGION_EMPTY)
    return say(NOT_A_REGION_ID, region=_shown(region), low=REGION_MIN, high=REGION_MAX)


def unknown_region(region: str) -> str:
    """Why *region* is not a region OMS serves, with the closest one by spelling (``did you mean cn-north-4?``),
    or ``""`` when OMS serves it."""
    if region in OMS_REGIONS:
        return ""
    close = difflib.get_close_matches(region, OMS_REGIONS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"OMS serves {', '.join(OMS_REGIONS)}"
    return f"{_shown(region)} is not a region OMS serves: {hint}"


def check_region(region: str, *, option: str = "--region") -> str:
    """*region* when it is a region id; otherwise :class:`ConfigError` naming *option*."""
    problem = region_problem(region)
    if problem:
        raise ConfigError(f"{option}: {problem}")
    return region


def region_overrides(env: Mapping[str, str]) -> dict[str, Endpoint]:
    """The endpoints the SDK's ``HUAWEICLOUD_SDK_REGION_OMS_<REGION>`` variables set in *env*, by ``<REGION>``;
    each checked as ``--endpoint`` is (a :class:`ConfigError` naming the variable). The SDK takes a comma list
    (endpoints to fail over to): the first is used, and every one is checked."""
    found = {}
    for name, value in env.items():
        if name.startswith(ENV_REGION_PREFIX) and value.strip():
            endpoints = [parse_endpoint(part.strip(), option=name) for part in value.split(",")]
            found[name[len(ENV_REGION_PREFIX) :]] = endpoints[0]
    return found


def override_for(region: str, overrides: Mapping[str, Endpoint] | None) -> Endpoint | None:
    """*region*'s endpoint in *overrides* (:func:`region_overrides`: its ``HUAWEICLOUD_SDK_REGION_OMS_<REGION>``),
    or None."""
    return overrides.get(region.replace("-", "_").upper()) if overrides else None


def endpoint_for_region(region: str, overrides: Mapping[str, Endpoint] | None = None) -> Endpoint:
    """The OMS endpoint of *region*: its override from :func:`region_overrides`, else
    ``https://oms.{region}.myhuaweicloud.com`` (:class:`ConfigError` when *region* is not a region id, so no
    other host can be spliced in)."""
    check_region(region)
    override = override_for(region, overrides)
    if override is not None:
        return override
    host = f"oms.{region}.myhuaweicloud.com"
    return Endpoint("https", host, None, host, f"https://{host}")


class _EndpointCheck:
    """The checks of one ``--endpoint`` value, each refusing it with a :class:`ConfigError` naming the option."""

    def __init__(self, url: str, option: str) -> None:
        self.url = url
        self.option = option

    def refuse(self, why: str, *, quote: bool = True) -> ConfigError:
        shown = f" {_shown(self.url)}" if quote else ""
        return ConfigError(
            f"{self.option}{shown}: {why}; give it as {ENDPOINT_FORM}, e.g. "
            "https://oms.cn-north-4.myhuaweicloud.com or http://127.0.0.1:8080"
        )

    def text(self) -> None:
        """The value as text: not empty, no credentials, spaces or control characters, an http(s) scheme."""
        url = self.url
        if not url:
            raise self.refuse("the endpoint is empty", quote=False)
        scheme, sep, _ = url.partition("://")
        if "@" in url:  # checked first: such a URL is never quoted back (it may hold a password)
            raise self.refuse(
                "holds a user name or password (user:password@host); credentials come from --auth and "
                "the environment, never from the URL",
                quote=False,
            )
        if not url.isprintable() or any(c.isspace() for c in url):
            raise self.refuse("holds spaces or control characters")
        if not sep:
            raise self.refuse("has no scheme")
        if scheme.lower() not in ("http", "https"):
            raise self.refuse(f"has the scheme {scheme!r}, not http or https")

    def split(self) -> tuple[SplitResult, int | None]:
        """The URL's parts and port, with nothing after the host but a ``/``."""
        try:
            split = urlsplit(self.url)
            port = split.port
        except ValueError as exc:  # a port over 65535 or not a number, brackets that do not close
            raise self.refuse(f"has a bad host or port ({exc})") from None
        if split.path not in ("", "/") or split.query or split.fragment or "?" in self.url or "#" in self.url:
            raise self.refuse(
                "has a path, query or fragment, which bulkretry would not use (it adds /v2/{project_id}/... itself)"
            )
        return split, port

    def host(self, split: SplitResult, port: int | None) -> str:
        """The host: a host name or a bracketed IPv6 address, then a port of 1..65535 if any."""
        host = split.hostname or ""
        if not host:
            raise self.refuse("has no host")
        if split.netloc.startswith("["):
            try:
                ipaddress.IPv6Address(host.split("%", 1)[0])
            except ValueError:
                raise self.refuse("has a bad IPv6 address") from None
        elif not _HOST.fullmatch(host):
            raise self.refuse(
                "has a bad host name (ASCII letters, digits, dots and dashes; a non-ASCII name in its xn-- form)"
            )
        if split.netloc.endswith(":") or port == 0:
            raise self.refuse("has an empty or zero port (1..65535)")
        return host


def parse_endpoint(url: str, *, option: str = "--endpoint") -> Endpoint:
    """*url* checked as an OMS endpoint, ``https://host[:port]`` (http allowed, for a local simulator).

    Refused with a :class:`ConfigError` naming *option*: no scheme or another scheme than http/https, an empty
    or malformed host, spaces or control characters, a port outside 1..65535, a user name or password (never
    quoted back), and a path, query or fragment (bulkretry adds ``/v2/{project_id}/...`` itself; a path would
    otherwise be dropped without a word). A trailing ``/`` is fine.
    """
    check = _EndpointCheck(url, option)
    check.text()
    split, port = check.split()
    host = check.host(split, port)
    return Endpoint(split.scheme, host, port, split.netloc, f"{split.scheme}://{split.netloc}")
