"""The per-call fast paths (docs/PERFORMANCE.md, round 4) send and pace exactly as the general paths do."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bulkretry.oms.actions import ACTIONS
from bulkretry.oms.auth import AkSkAuth, OutgoingRequest, TokenAuth
from bulkretry.oms.client import OmsClient
from bulkretry.oms.credentials import AkSk, Token
from bulkretry.run.adaptive import AdaptivePacer
from bulkretry.run.pacing import FixedPacer
from tests.servers import serve


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _PerRequestToken(TokenAuth):
    """A token authenticator that the client must ask on every request (its authorize is its own)."""

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        return {**request.headers, "X-Auth-Token": self._token}


async def _sent(auth: TokenAuth) -> list[tuple[str, str, dict[str, str], bytes]]:
    """What the client sends for every action (each with a body of one secret), and for a GET of a target."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k not in ("Host", "Content-Length")}
        seen.append((request.method, request.raw_path, headers, await request.read()))
        return web.json_response({})

    async with serve(handler) as url, aiohttp.ClientSession() as session:
        client = OmsClient(session, auth, endpoint=url)
        for action in ACTIONS.values():
            body = {field: "s/é?" for field in action.body_fields}
            if action.batch:
                await client.call_batch(action, "p/1", [3, 4], body)
            else:
                await client.call(action, "p/1", "g 1/..?#", body)
            await client.show(action, "p/1", "..")
    return seen


async def test_a_token_s_fixed_headers_send_the_same_requests_as_authorize() -> None:
    """Every action's method, path, headers and body bytes are the same with the token's headers made once as
    with them asked for on every request."""
    fast, slow = TokenAuth(Token("tok")), _PerRequestToken(Token("tok"))
    assert fast.fixed_headers({"A": "1"}) == {"A": "1", "X-Auth-Token": "tok"}
    assert slow.fixed_headers({"A": "1"}) is None
    sent = await _sent(fast)
    assert sent == await _sent(slow)
    assert ("PUT", "/v2/p%2F1/taskgroups/g%201%2F..%3F%23/retry") in [(m, p) for m, p, _, _ in sent]
    assert ("GET", "/v2/p%2F1/taskgroups/%2E%2E") in [(m, p) for m, p, _, _ in sent]


def test_only_a_given_token_has_fixed_headers() -> None:
    """AK/SK signs every request (its date and body), so it has no fixed headers."""
    assert AkSkAuth(AkSk("AK0000000000000001", "secret")).fixed_headers({"A": "1"}) is None


def test_a_fixed_pacer_s_free_slot_is_the_one_acquire_gives() -> None:
    """ready() hands out the slots acquire() would, and none that needs a wait."""
    clock = _Clock()
    pacer = FixedPacer(10, clock=clock)
    assert pacer.ready() == 100.0
    assert pacer.ready() is None  # the next slot is 0.1 s away
    clock.now = 100.1
    assert pacer.ready() == 100.1
    clock.now = 500.0  # long idle: no saved-up burst
    assert [pacer.ready(), pacer.ready()] == [500.0, None]


async def test_an_adaptive_pacer_s_free_slot_is_the_one_acquire_gives() -> None:
    """ready() hands out the same slots as acquire() when they are due, and None when one would wait."""
    clocks = (_Clock(), _Clock())
    by_ready = AdaptivePacer(start=5, clock=clocks[0])
    by_acquire = AdaptivePacer(start=5, clock=clocks[1])
    ready, acquired = [], []
    for step in range(12):
        for clock in clocks:
            clock.now = 100.0 + step * 0.25
        ready.append(by_ready.ready())
        acquired.append(await by_acquire.acquire())
    assert ready == acquired
    assert by_ready.ready() is None  # asked again at once: a wait
