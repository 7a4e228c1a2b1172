"""Running the simulator: in the current event loop, in a background thread, or until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Generic, TypeVar, overload

from aiohttp import web

from bulkretry.sim.app import build_app
from bulkretry.sim.config import SimConfig
from bulkretry.sim.state import SimState
from bulkretry.sim.traffic import ReceivedRequest, Traffic

__all__ = ["Simulator", "SimulatorThread", "running_simulator", "serve_forever"]

T = TypeVar("T")

#: How long shutting down waits for requests still being answered.
_SHUTDOWN_TIMEOUT_S = 2.0


class _FromTraffic(Generic[T]):
    """A read-only attribute of a :class:`Simulator` that is the counter of the same name in its ``traffic``."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, sim: None, owner: type) -> _FromTraffic[T]: ...

    @overload
    def __get__(self, sim: Simulator, owner: type) -> T: ...

    def __get__(self, sim: Simulator | None, owner: type) -> T | _FromTraffic[T]:
        if sim is None:
            return self
        value: T = getattr(sim.traffic, self.name)
        return value


class Simulator:
    """One simulator: its config, state and app, where it listens, and what it has seen.

    Attributes:
        config, state, app: what it was built from.
        url: ``http://HOST:PORT`` once listening (empty before).
        traffic: the live counters; ``received``, ``calls``, ``throttled``, ``injected_errors`` and
            ``peak_in_flight`` read from it.
    """

    def __init__(self, config: SimConfig, state: SimState | None = None) -> None:
        self.config = config
        self.state = state if state is not None else SimState.from_config(config)
        self.traffic = Traffic()
        self.app = build_app(config, self.state, self.traffic)
        self.url = ""

    def __repr__(self) -> str:
        return (
            f"<Simulator {self.url or 'not listening'} calls={self.calls} throttled={self.throttled} "
            f"groups={len(self.state)}>"
        )

    received = _FromTraffic[list[ReceivedRequest]]("Every request received, in order (when ``config.record``).")
    calls = _FromTraffic[int]("OMS calls received, throttled and rejected ones included (IAM requests not).")
    throttled = _FromTraffic[int]("OMS calls answered 429.")
    injected_errors = _FromTraffic[int]("OMS calls answered with an injected 5xx.")
    peak_in_flight = _FromTraffic[int]("The most OMS calls handled at the same time.")

    @property
    def iam_tokens_issued(self) -> int:
        """Tokens the simulated IAM has issued."""
        return self.state.tokens_issued


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def running_simulator(config: SimConfig, *, state: SimState | None = None) -> AsyncIterator[Simulator]:
    """Serve a :class:`Simulator` on ``config.host``/``config.port`` in the running loop, for the block.

    Example::

        async with running_simulator(SimConfig(groups=10)) as sim:
            ...  # call sim.url
    """
    sim = Simulator(config, state)
    runner = web.AppRunner(sim.app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        sim.url = _url(config.host, runner.addresses[0][1])
        yield sim
    finally:
        await runner.cleanup()


async def serve_forever(
    config: SimConfig, on_listening: Callable[[str], None], *, state: SimState | None = None
) -> None:
    """Serve until cancelled; call ``on_listening(url)`` once the port is open (the CLI prints it)."""
    async with running_simulator(config, state=state) as sim:
        on_listening(sim.url)
        await asyncio.Event().wait()


class SimulatorThread:
    """A simulator served from a background thread with its own event loop (for blocking clients).

    Example::

        with SimulatorThread(SimConfig()) as sim:
            requests.get(sim.url + "/v2/…")   # sim.simulator.state holds the groups
    """

    def __init__(self, config: SimConfig, *, state: SimState | None = None, start_timeout_s: float = 10.0) -> None:
        self.config = config
        self._state = state
        self._start_timeout_s = start_timeout_s
        self._simulator: Simulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bulkretry-sim", daemon=True)

    @property
    def simulator(self) -> Simulator:
        """The running :class:`Simulator` (after ``__enter__``)."""
        if self._simulator is None:
            raise RuntimeError("the SimulatorThread is not running; use it in a with block")
        return self._simulator

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running simulator."""
        return self.simulator.url

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the thread that waits in __enter__
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_simulator(self.config, state=self._state) as sim:
            self._simulator = sim
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            raise RuntimeError(f"the simulator did not start within {self._start_timeout_s:g} s")
        if self._error is not None:
            raise RuntimeError(f"the simulator could not start: {self._error}") from self._error
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=_SHUTDOWN_TIMEOUT_S + 5)
