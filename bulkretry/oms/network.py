"""The network settings of a run: which proxy a URL goes through and which certificates are trusted.

One place for both, used by the OMS client, IAM logins and the notifications, so every connection a run makes
goes the same way, as the SDK and every HTTP tool do:

- **Proxy**: ``HTTPS_PROXY`` for ``https://`` URLs, ``HTTP_PROXY`` for ``http://`` ones (the lower-case spellings
  win, as in ``urllib`` and ``requests``); ``NO_PROXY`` (``*``, host names, ``.suffix`` domains, ``host:port``,
  CIDR blocks such as ``10.0.0.0/8``) lists what goes direct. An ``https://`` URL goes through the proxy with
  ``CONNECT``, an ``http://`` one as an absolute URI. Credentials in a proxy URL are sent to the proxy only and
  never shown (:meth:`Network.public` names the proxy's host and port).
- **Certificates** (decided like ``requests``): ``--ca-bundle FILE`` wins; else ``REQUESTS_CA_BUNDLE``; else
  ``SSL_CERT_FILE``; else the system's store. A bundle replaces the system's store (a private CA behind an
  intercepting proxy is the whole trust), it does not add to it. A bundle that is missing or holds no PEM
  certificate is a :class:`ConfigError` before any call. Its first certificate is loaded when the settings are
  read; the whole bundle (some 150 certificates: 20–30 ms) when a connection may need it
  (:meth:`Network.check_trust`: when an OMS client is made, and before a run makes its folder), and never for a
  run whose calls all go to a plain ``http://`` endpoint.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import ssl
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union
from urllib import request as urllib_request
from urllib.parse import unquote, urlsplit

from bulkretry.errors import ConfigError

__all__ = ["CA_SOURCES", "Network", "cidr_blocks", "network_from"]

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

#: Where the trusted certificates came from, in the order they are looked for (``system``: none of them).
CA_SOURCES = ("--ca-bundle", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "system")


@dataclass(frozen=True)
class Proxy:
    """A proxy URL without its credentials, which are kept apart (never in ``repr``)."""

    url: str
    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Network:
    """The proxies and the trust of a run (see the module's doc). Made by :func:`network_from`."""

    #: ``{"http": Proxy, "https": Proxy}``, the schemes that have one.
    proxies: Mapping[str, Proxy] = field(default_factory=dict)
    no_proxy: str = ""
    #: One of :data:`CA_SOURCES`, or ``insecure`` (``--insecure``: nothing verified).
    ca_source: str = "system"
    #: The bundle file (or folder) trusted instead of the system's store; None for the system's store.
    ca_file: str | None = None
    verify: bool = True
    _context: Any = field(default=None, repr=False, compare=False)
    #: The CIDR blocks of ``no_proxy``, read once.
    _direct_networks: tuple[IPNetwork, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_direct_networks", cidr_blocks(self.no_proxy))

    def ssl_option(self) -> ssl.SSLContext | bool:
        """aiohttp's ``ssl=``: the run's context (made once), or False under ``--insecure``."""
        if not self.verify:
            return False
        if self._context is None:
            object.__setattr__(self, "_context", _context_for(self.ca_file, self.ca_source))
        return self._context  # type: ignore[no-any-return]

    def check_trust(self, endpoint: str | None) -> None:
        """Load the trusted certificates now when a call to *endpoint* (None: each region's, ``https://``) may use
        TLS, so that a bundle that cannot serve is a :class:`ConfigError` before any call."""
        if endpoint is None or self.aiohttp_options(endpoint):
            self.ssl_option()

    def proxy_for(self, url: str) -> Proxy | None:
        """The proxy *url* goes through, or None when it goes direct (no proxy for its scheme, or ``NO_PROXY``)."""
        parts = urlsplit(url)
        proxy = self.proxies.get(parts.scheme.lower())
        if proxy is None or not parts.hostname:
            return None
        if self._direct_networks and _in_networks(parts.hostname, self._direct_networks):
            return None
        if self.no_proxy and urllib_request.proxy_bypass_environment(  # type: ignore[attr-defined]
            parts.netloc.rsplit("@", 1)[-1], {"no": self.no_proxy}
        ):
            return None
        return proxy

    def aiohttp_options(self, url: str) -> dict[str, Any]:
        """The keyword arguments of an aiohttp request to *url*: ``ssl``, ``proxy`` and ``proxy_headers``.

        A plain ``http://`` URL that goes direct makes no TLS handshake, so it gets no ``ssl`` (and the run's
        context, which reads every certificate of the store, is not made for it).
        """
        proxy = self.proxy_for(url)
        if proxy is None and url[:7].lower() == "http://":
            return {}
        options: dict[str, Any] = {"ssl": self.ssl_option()}
        if proxy is not None:
            options["proxy"] = proxy.url
            if proxy.user or proxy.password:  # (aiohttp's BasicAuth is deprecated: the header itself)
                basic = base64.b64encode(f"{proxy.user}:{proxy.password}".encode()).decode("ascii")
                options["proxy_headers"] = {"Proxy-Authorization": f"Basic {basic}"}
        return options

    def requests_environment(self) -> dict[str, str]:
        """Environment variables that make ``requests`` (and so Apprise) trust what this run trusts:
        ``REQUESTS_CA_BUNDLE`` set to the run's bundle (requests would otherwise use certifi's, not the
        system's store or ``SSL_CERT_FILE``). Proxies need nothing: requests reads the same variables."""
        return {"REQUESTS_CA_BUNDLE": self.ca_file} if self.verify and self.ca_file else {}

    def public(self, proxies_used: Iterable[str] = ()) -> dict[str, Any]:
        """What ``summary.json`` records: the proxy the calls went through (``host:port``, never its credentials;
        None when they went direct) and where the trusted certificates came from."""
        used = sorted(proxies_used)
        return {
            "proxy": ", ".join(used) or None,
            "ca": self.ca_source,
            **({"ca_file": self.ca_file} if self.ca_file else {}),
        }


def cidr_blocks(no_proxy: str) -> tuple[IPNetwork, ...]:
    """The CIDR blocks in a ``NO_PROXY`` value (``10.0.0.0/8``, ``fd00::/8``), as ``requests`` and curl read them;
    other entries (names, addresses, a block that is no block) are left to :mod:`urllib`'s matching."""
    blocks = []
    for entry in no_proxy.split(","):
        entry = entry.strip()
        if "/" in entry:
            try:
                blocks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
    return tuple(blocks)


def _in_networks(host: str, networks: tuple[IPNetwork, ...]) -> bool:
    """Whether *host* is an IP address inside one of *networks* (a name is never: it is not resolved here)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address.version == network.version and address in network for network in networks)


def _env(env: Mapping[str, str], name: str) -> str:
    """``name`` in lower case, else upper case, as urllib and requests read proxy variables."""
    return (env.get(name.lower()) or env.get(name.upper()) or "").strip()


def _proxy(value: str, variable: str) -> Proxy:
    """A proxy variable's value as a :class:`Proxy`; ConfigError naming the variable when it is no URL."""
    text = value if "://" in value else f"http://{value}"  # `proxy:3128`, as requests and curl read it
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"${variable} is not a proxy URL: expected http://host:port (the value is not shown, it "
            "may hold a password)"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    url = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")
    return Proxy(url, unquote(parts.username or ""), unquote(parts.password or ""))


def _check_bundle(path: str, source: str) -> ssl.SSLContext | None:
    """Check the bundle *path* (a file of PEM certificates, or a folder of them) trusted instead of the system's
    store; ConfigError naming the path and saying why it cannot serve: missing, not a file (a FIFO is never
    opened: it would block), or holding no certificate. Returns its verifying context when the check had to make
    it (else it is made when a connection needs it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if not mode:
        raise ConfigError(
            f"{_where(path, source)}: no such file; give a file of PEM certificates (the CA that "
            "signs your proxy's or endpoint's certificate)"
        )
    if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
        raise ConfigError(
            f"{_where(path, source)} is not a regular file (a pipe, socket or device); give a file of PEM certificates"
        )
    if stat.S_ISDIR(mode) and not _folder_holds_certificates(path):
        raise ConfigError(
            f"{_where(path, source)} is a folder that holds no PEM certificate; give a file of "
            "-----BEGIN CERTIFICATE----- blocks, or a folder of them"
        )
    if stat.S_ISDIR(mode) or _first_certificate_loads(path):
        return None
    return _context_for(path, source)  # no certificate at its head: the whole file is read, to say why


#: How much of a bundle file is read for its first certificate (one is about 2 kB).
_HEAD_BYTES = 65536
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----")


def _first_certificate_loads(path: str) -> bool:
    """Whether the bundle file *path* starts with a certificate that loads (in well under a millisecond, where
    loading a whole bundle takes 20–30 ms)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError:
        return False
    found = _PEM_CERTIFICATE.search(head)
    return found is not None and _loads_certificates(cadata=found.group().decode("ascii"))


def _loads_certificates(*, cafile: str | None = None, cadata: str | None = None) -> bool:
    """Whether *cafile* (or the PEM text *cadata*) loads as at least one certificate, in a context of its own."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=cafile, cadata=cadata)
    except (ssl.SSLError, OSError, ValueError):
        return False
    return bool(probe.cert_store_stats()["x509"])


def _folder_holds_certificates(path: str) -> bool:
    """Whether one regular file in the folder *path* loads as at least one certificate (OpenSSL reads a folder
    only when a call needs it, so an empty one would pass unseen until the first handshake)."""
    with os.scandir(path) as entries:
        # (is_file follows links; a FIFO is no file)
        return any(entry.is_file() and _loads_certificates(cafile=entry.path) for entry in entries)


def _where(path: str, source: str) -> str:
    """A bundle as a message names it: ``--ca-bundle FILE`` or ``$SSL_CERT_FILE (FILE)``."""
    return f"{source} {path}" if source == "--ca-bundle" else f"${source} ({path})"


def _context_for(ca_file: str | None, source: str) -> ssl.SSLContext:
    """The verifying context: the system's store, or *ca_file* instead of it."""
    if ca_file is None:
        return ssl.create_default_context()
    where = _where(ca_file, source)
    try:
        if os.path.isdir(ca_file):
            return ssl.create_default_context(capath=ca_file)
        context = ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:  # (an OSError too: first)
        raise ConfigError(
            f"{where} holds no usable PEM certificate ({exc.reason or exc}); give a file of "
            "-----BEGIN CERTIFICATE----- blocks"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if not context.cert_store_stats()["x509"]:
        raise ConfigError(f"{where} holds no PEM certificate; give a file of -----BEGIN CERTIFICATE----- blocks")
    return context


def network_from(env: Mapping[str, str], *, ca_bundle: str | None = None, verify: bool = True) -> Network:
    """The network settings of a run from *env* (the process's environment) and ``--ca-bundle``/``--insecure``.

    Checks everything it can before any call: a proxy variable that is no URL and a bundle that is missing or
    holds no certificate are :class:`ConfigError` (exit status 2).
    """
    proxies = {}
    for scheme in ("http", "https"):
        value = _env(env, f"{scheme}_proxy")
        if value:
            proxies[scheme] = _proxy(value, f"{scheme.upper()}_PROXY")
    no_proxy = _env(env, "no_proxy")
    if not verify:
        return Network(proxies, no_proxy, "insecure", None, verify=False)
    if ca_bundle is not None:
        return Network(proxies, no_proxy, "--ca-bundle", ca_bundle, _context=_check_bundle(ca_bundle, "--ca-bundle"))
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = env.get(variable, "").strip()
        if value:
            return Network(proxies, no_proxy, variable, value, _context=_check_bundle(value, variable))
    return Network(proxies, no_proxy)
