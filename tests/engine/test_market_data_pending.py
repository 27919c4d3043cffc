"""A subscriber's wake-up reads its markets once (``Subscription.pending``): the markets
with an unseen close, sorted whatever order they were subscribed in, each close once;
and ``LoopContext.price`` answers as ``prices().get`` does, from the hub's closes or
the tickers seeded at start."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nija_tg.core.models import MarketInfo
from nija_tg.engine.loop_context import LoopContext
from tests.engine.test_market_data import ETH, LTC, TF, make


async def test_a_subscriber_gets_its_updated_markets_sorted_and_each_close_once():
    hub, source, clock, eth = make()
    sub = hub.subscribe([LTC, ETH])  # not in sorted order
    other = hub.subscribe([LTC])
    assert sub.pending() == []
    first = eth[100].ts + TF
    clock.set(first + hub.grace_ms)
    await hub.poll(first)
    assert sub.pending() == [ETH, LTC] and other.pending() == [LTC]
    assert await asyncio.wait_for(sub.next_close(), 1) == (first, [ETH, LTC])
    assert sub.pending() == []
    # nothing new: the next call waits instead of giving the same close again
    waiting = asyncio.create_task(sub.next_close())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    clock.set(first + TF + hub.grace_ms)
    await hub.poll(first + TF)
    assert await asyncio.wait_for(waiting, 1) == (first + TF, [ETH, LTC])
    # the other subscriber missed none: it sees the newest close of its market once
    assert await asyncio.wait_for(other.next_close(), 1) == (first + TF, [LTC])
    sub.close()
    other.close()


async def test_a_market_left_by_every_subscriber_is_no_longer_pending():
    hub, source, clock, eth = make()
    sub = hub.subscribe([ETH, LTC])
    leaving = hub.subscribe([ETH])
    first = eth[100].ts + TF
    clock.set(first + hub.grace_ms)
    await hub.poll(first)
    leaving.close()
    assert sub.pending() == [ETH, LTC]  # still subscribed to both
    sub.close()
    assert sub.pending() == []  # the hub dropped both markets' state


def _context(hub) -> LoopContext:
    ctx = LoopContext(user_id=1, db=None, clock=hub.clock, hub=hub, held=None)  # type: ignore[arg-type]
    ctx.exchange_id = "kraken"
    for key in (ETH, LTC):
        base, quote = key.symbol.split("/")
        ctx.markets[key.symbol] = MarketInfo(key.symbol, base, quote, "spot")
    return ctx


async def test_the_price_of_one_market_is_the_one_prices_gives():
    hub, source, clock, eth = make()
    sub = hub.subscribe([ETH])  # LTC is one of the user's markets but not subscribed
    ctx = _context(hub)
    ctx.seed_prices = {"ETH/USD": Decimal("1.5"), "LTC/USD": Decimal("2.5"), "XRP/USD": Decimal(3)}
    symbols = ("ETH/USD", "LTC/USD", "XRP/USD", "DOGE/USD")
    # before any close: the seeded tickers (a symbol that is not a market: seeded too)
    assert [ctx.price(s) for s in symbols] == [Decimal("1.5"), Decimal("2.5"), Decimal(3), None]
    first = eth[100].ts + TF
    clock.set(first + hub.grace_ms)
    await hub.poll(first)
    closed = hub.price("kraken", "ETH/USD")
    assert closed is not None and closed != Decimal("1.5")
    assert [ctx.price(s) for s in symbols] == [closed, Decimal("2.5"), Decimal(3), None]
    assert {s: ctx.price(s) for s in symbols} == {s: ctx.prices().get(s) for s in symbols}
    ctx.exchange_id = "binance"  # another venue's closes are not this account's
    assert ctx.price("ETH/USD") == Decimal("1.5") == ctx.prices()["ETH/USD"]
    sub.close()
