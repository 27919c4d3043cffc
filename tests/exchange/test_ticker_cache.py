"""Ticker requests are shared: concurrent callers wait for one request, a fresh answer
is reused, failures are not cached, one cancelled caller does not cancel the others."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from nija_tg.core.errors import ExchangeUnreachableError
from nija_tg.core.models import Ticker
from nija_tg.exchange.ticker_cache import TickerCache
from tests.exchange.conftest import make_gateway
from tests.fakes.kraken import KrakenEmulator


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.fail: Exception | None = None

    async def fetch(self, exchange_id: str, symbol: str) -> Ticker:
        self.calls += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return Ticker(symbol, Decimal(100 + self.calls))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_request_and_reuse_it_while_fresh():
    src, clock = Source(), Clock()
    cache = TickerCache(src.fetch, ttl_s=1.0, clock=clock)
    waiters = [asyncio.ensure_future(cache.get("kraken", "BTC/USD")) for _ in range(50)]
    await asyncio.sleep(0)
    src.gate.set()
    got = await asyncio.gather(*waiters)
    assert src.calls == 1 and {t.last for t in got} == {Decimal(101)}
    clock.now = 0.9
    assert (await cache.get("kraken", "BTC/USD")).last == 101 and src.calls == 1
    assert (await cache.get("kraken", "ETH/USD")).last == 102  # another symbol: its own
    clock.now = 1.0
    assert (await cache.get("kraken", "BTC/USD")).last == 103  # stale: asked again


async def test_a_failure_reaches_every_waiter_and_is_not_cached():
    src = Source()
    cache = TickerCache(src.fetch, ttl_s=60.0, clock=Clock())
    src.fail = ExchangeUnreachableError("down (test)")
    waiters = [asyncio.ensure_future(cache.get("kraken", "BTC/USD")) for _ in range(3)]
    await asyncio.sleep(0)
    src.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ExchangeUnreachableError) for r in results) and src.calls == 1
    src.fail = None
    assert (await cache.get("kraken", "BTC/USD")).last == 102 and src.calls == 2


async def test_a_cancelled_caller_does_not_cancel_the_shared_request():
    src = Source()
    cache = TickerCache(src.fetch, ttl_s=1.0, clock=Clock())
    first = asyncio.ensure_future(cache.get("kraken", "BTC/USD"))
    second = asyncio.ensure_future(cache.get("kraken", "BTC/USD"))
    await asyncio.sleep(0)
    first.cancel()
    src.gate.set()
    assert (await second).last == 101
    with pytest.raises(asyncio.CancelledError):
        await first
    assert src.calls == 1


async def test_gateway_sends_one_ticker_request_for_many_paper_fills():
    emu = KrakenEmulator()
    await emu.start()
    gw = make_gateway(emu)
    try:
        answers = await asyncio.gather(*(gw.fetch_ticker("kraken", "BTC/USD") for _ in range(40)))
        tickers = [p for m, p in emu.requests if p == "/0/public/Ticker"]
        assert len(tickers) == 1 and len({a.last for a in answers}) == 1
    finally:
        await gw.close_all()
        await emu.stop()
