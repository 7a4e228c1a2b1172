"""TLS and proxy test infrastructure: a test CA, TLS servers with its certificates, and a proxy.

- :class:`TestCA` makes a CA with ``openssl`` at test time and issues server certificates for a list of DNS names
  (as subjectAltName), so a client that trusts ``ca.cert`` (``--ca-bundle``, ``REQUESTS_CA_BUNDLE``,
  ``SSL_CERT_FILE``) verifies them and one that does not fails.
- :class:`RecordingTlsServer`: an aiohttp server over TLS that answers every method and path (200 ``{}`` unless
  told otherwise per host) and records each request: host, method, path, query, headers, body.
- :class:`TlsFront`: TLS in front of a plain-HTTP server (the OMS simulator, say): decrypts and pipes the bytes on.
- :class:`Proxy`: an HTTP proxy. ``CONNECT host:port`` tunnels to the address routed for that host (or the
  default route); an absolute-URI request (``GET http://host/path``) is sent on in origin form. It records the
  hosts asked for (``connects``, ``forwarded``) and whether a ``Proxy-Authorization`` came with them.
- :class:`BackgroundLoop` runs these in a thread, for blocking clients and for the CLI (which runs its own loop).

Tests that use real host names (``oapi.dingtalk.com``) run their scenario inside a loopback-only network
namespace (:func:`tests.netns.run_isolated`), where the proxy is the only way anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import subprocess
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class TestCA:
    """A certificate authority made with ``openssl`` in *folder*: ``cert`` (PEM) is what a client trusts."""

    __test__ = False  # not a pytest test class

    def __init__(self, folder: Path, name: str = "bulkretry test CA") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = folder / "ca.key"
        self.cert = folder / "ca.pem"
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            self.key,
            "-out",
            self.cert,
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        )
        self._issued = 0

    def issue(self, names: Sequence[str]) -> tuple[Path, Path]:
        """A server certificate for the DNS *names* (and IP addresses, when a name is one), signed by this CA:
        ``(cert, key)``."""
        self._issued += 1
        stem = self.folder / f"server{self._issued}"
        key, csr, cert, ext = (stem.with_suffix(s) for s in (".key", ".csr", ".pem", ".ext"))
        alt = ",".join(f"IP:{n}" if n.replace(".", "").isdigit() or ":" in n else f"DNS:{n}" for n in names)
        ext.write_text(f"subjectAltName={alt}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={names[0]}")
        _openssl(
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            self.cert,
            "-CAkey",
            self.key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            ext,
        )
        return cert, key

    def server_context(self, names: Sequence[str]) -> ssl.SSLContext:
        """A server-side TLS context with a certificate for *names*."""
        cert, key = self.issue(names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context


def _openssl(*args: object) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@dataclass
class Seen:
    """One request a :class:`RecordingTlsServer` received."""

    host: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    #: The path and query as sent, still percent-encoded (what a signature covers).
    raw_path: str = ""

    def json(self) -> Any:
        return json.loads(self.body)

    def public(self) -> dict[str, Any]:
        """As JSON: the body as text."""
        return {
            "host": self.host,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "raw_path": self.raw_path,
            "headers": self.headers,
            "body": self.body.decode("utf-8", errors="replace"),
        }


#: Makes the answer to a request: a response, or an awaitable of one.
Answer = Callable[[Seen], Any]


class LoopbackServer:
    """What the servers here share: the port they listen on on 127.0.0.1 once started, and their URL (https when
    they have a TLS context)."""

    port: int = 0
    context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.context else 'http'}://127.0.0.1:{self.port}"


StreamServerT = TypeVar("StreamServerT", bound="StreamServer")


class StreamServer(LoopbackServer):
    """A server of raw connections (asyncio streams) on a free loopback port, each one given to ``_handle``."""

    _server: asyncio.base_events.Server | None = None

    async def start(self: StreamServerT) -> StreamServerT:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class RecordingTlsServer(LoopbackServer):
    """An aiohttp server over TLS on 127.0.0.1 that records every request (see the module's doc); plain HTTP
    when *context* is None.

    *answers* maps a host (the ``Host`` header without its port) to a function of the :class:`Seen` request
    returning the response; other hosts get 200 with ``{}``.
    """

    def __init__(self, context: ssl.SSLContext | None, answers: Mapping[str, Answer] | None = None) -> None:
        self.context = context
        self.answers = dict(answers or {})
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> RecordingTlsServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(
            request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host,
            request.method,
            request.path,
            request.query_string,
            dict(request.headers),
            await request.read(),
            request.raw_path,
        )
        self.seen.append(seen)
        answer = self.answers.get(seen.host)
        if answer is None:
            return web.json_response({})
        response = answer(seen)
        return await response if asyncio.iscoroutine(response) else response  # type: ignore[return-value]


class TlsFront(StreamServer):
    """TLS on 127.0.0.1 in front of the plain-HTTP server at *backend* (``(host, port)``): bytes piped both ways."""

    def __init__(self, context: ssl.SSLContext, backend: tuple[str, int]) -> None:
        self.context = context
        self.backend = backend

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.backend)
        except OSError:
            writer.close()
            return
        await _pipe_both(reader, writer, up_reader, up_writer)


@dataclass
class Proxy(StreamServer):
    """An HTTP proxy on 127.0.0.1 (see the module's doc). *routes* map ``host`` or ``host:port`` to the
    ``(address, port)`` to connect to; *default* takes the rest (None: 502)."""

    routes: dict[str, tuple[str, int]] = field(default_factory=dict)
    default: tuple[str, int] | None = None
    #: ``host:port`` of each CONNECT, in order.
    connects: list[str] = field(default_factory=list)
    #: The absolute URIs of the plain-HTTP requests sent on.
    forwarded: list[str] = field(default_factory=list)
    #: The ``Proxy-Authorization`` header of each request that had one.
    authorizations: list[str] = field(default_factory=list)

    def _route(self, host: str, port: int) -> tuple[str, int] | None:
        return self.routes.get(f"{host}:{port}") or self.routes.get(host) or self.default

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [line for line in lines[1:] if line]
        auth = [h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("proxy-authorization:")]
        self.authorizations += auth
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            self.connects.append(target)
            route = self._route(host.strip("[]"), int(port_text))
            rest = b""
        else:  # an absolute URI: http://host[:port]/path
            self.forwarded.append(target)
            without = target.split("://", 1)[1]
            hostport, _, path = without.partition("/")
            host, _, port_text = hostport.partition(":")
            route = self._route(host, int(port_text or 80))
            kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:"))]
            rest = ("\r\n".join([f"{method} /{path} {version}", *kept, "Connection: close"]) + "\r\n\r\n").encode(
                "latin-1"
            )
        if route is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*route)
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
            return
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            up_writer.write(rest)
        await _pipe_both(reader, writer, up_reader, up_writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()


async def _pipe_both(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    await asyncio.gather(_pipe(a_reader, b_writer), _pipe(b_reader, a_writer))


class BackgroundLoop:
    """An event loop in a daemon thread: ``run(coro)`` runs a coroutine on it and returns its result.

    Example::

        with BackgroundLoop() as loop:
            server = loop.run(RecordingTlsServer(context).start())
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tlsnet", daemon=True)

    def __enter__(self) -> BackgroundLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.run(self._cancel_the_rest(), timeout=10)  # servers' connection handlers, pipes
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()

    @staticmethod
    async def _cancel_the_rest() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)
