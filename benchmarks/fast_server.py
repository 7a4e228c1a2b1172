"""A responder that costs almost nothing: HTTP/1.1 keep-alive on raw asyncio, ``200 {}`` to every request.

It stands in for the service when we measure the *client's* CPU per call, so its own cost must not
matter; it runs in its own process. ``--latency-ms`` delays each answer (without using CPU meanwhile).

    python benchmarks/fast_server.py --port 8099 --latency-ms 50 [--record-arrivals FILE]

``--record-arrivals`` keeps each request's arrival time (``time.time()``) and writes them, one per
line, to FILE when the server is stopped with SIGTERM or SIGINT: the rate seen by the server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import time

_counter = itertools.count()
_arrivals: list[float] | None = None


class Responder(asyncio.Protocol):
    def __init__(self, latency_s: float) -> None:
        self._latency_s = latency_s
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            self._buffer = self._buffer[total:]
            if _arrivals is not None:
                _arrivals.append(time.time())
            answer = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                b"X-Request-Id: r%d\r\n\r\n{}" % next(_counter)
            )
            if self._latency_s:
                asyncio.get_running_loop().call_later(self._latency_s, self._send, answer)
            else:
                self._send(answer)

    def _send(self, answer: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve(host: str, port: int, latency_ms: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(lambda: Responder(latency_ms / 1000), host, port, backlog=1024)
    print(f"listening on http://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--record-arrivals", metavar="FILE")
    args = parser.parse_args()
    global _arrivals
    if args.record_arrivals:
        _arrivals = []
    asyncio.run(serve(args.host, args.port, args.latency_ms))
    if args.record_arrivals:
        with open(args.record_arrivals, "w", encoding="ascii") as fh:
            fh.writelines(f"{t:.6f}\n" for t in _arrivals or ())


if __name__ == "__main__":
    main()
