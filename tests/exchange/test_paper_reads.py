"""Paper reads kept between moves: the balance lines made at one read are answered again
until a balance moves, and the limit check skips an account with nothing resting. The
oracle is the same account read afresh from its store (nothing kept)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nija_tg.core.models import MarketInfo, OrderRequest, OrderStatus, OrderType, Side, Ticker
from nija_tg.exchange.paper import InMemoryPaperStore, PaperAccount, PaperState

SYM = "BTC/USDT"


class Prices:
    """A MarketDataSource with prices set by the test."""

    def __init__(self) -> None:
        self.price = Decimal(50000)
        self.calls = 0

    async def fetch_ohlcv(self, exchange_id, symbol, timeframe, since=None, limit=None):
        return []

    async def fetch_ticker(self, exchange_id, symbol):
        self.calls += 1
        return Ticker(symbol, self.price)

    async def market(self, exchange_id, symbol):
        step = Decimal("0.0001")
        return MarketInfo(symbol, "BTC", "USDT", "spot", step, Decimal("0.1"), step, Decimal(5))


class HeldSaves(InMemoryPaperStore):
    """A store whose saves wait for the test (``release``) while ``hold`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.saving = asyncio.Event()
        self.release = asyncio.Event()

    async def save_paper_state(self, user_id: int | str, state: PaperState) -> None:
        if self.hold:
            self.saving.set()
            await self.release.wait()
        await super().save_paper_state(user_id, state)


def account(store: InMemoryPaperStore, prices: Prices) -> PaperAccount:
    return PaperAccount(1, "bingx", prices, store, fee_rate=Decimal("0.001"), slippage=Decimal(0))


def request(side: Side, type_: OrderType, amount: str, cid: str, price: int | None = None):
    limit = None if price is None else Decimal(price)
    return OrderRequest(SYM, side, type_, Decimal(amount), cid, price=limit)


async def fresh_read(store: InMemoryPaperStore, prices: Prices) -> list:
    return await account(store, prices).fetch_balance()


async def test_every_move_shows_in_the_next_read():
    store, prices = InMemoryPaperStore(), Prices()
    acct = account(store, prices)
    steps = [  # (what it does, whether it moves a balance)
        (lambda: acct.create_order(request(Side.BUY, OrderType.MARKET, "0.1", "m1")), True),
        (lambda: acct.create_order(request(Side.BUY, OrderType.LIMIT, "0.05", "l1", 45000)), True),
        (lambda: acct.cancel_order(SYM, "l1"), True),
        (lambda: acct.create_order(request(Side.SELL, OrderType.LIMIT, "0.04", "l2", 52000)), True),
        (acct.check_limits, False),  # the price is under the limit: it rests
        (lambda: acct.create_order(request(Side.SELL, OrderType.MARKET, "0.02", "m2")), True),
    ]
    before = await acct.fetch_balance()
    assert before == await fresh_read(store, prices)
    for step, moves in steps:
        await step()
        read = await acct.fetch_balance()
        assert read == await fresh_read(store, prices)
        assert read == await acct.fetch_balance()  # kept: the same lines again
        assert (read != before) == moves
        before = read
    prices.price = Decimal(53000)  # through the resting sell: filled by the check
    filled = await acct.check_limits()
    assert [s.client_order_id for s in filled] == ["l2"]
    assert filled[0].status is OrderStatus.FILLED
    after = await acct.fetch_balance()
    assert after == await fresh_read(store, prices) and after != before


async def test_the_limit_check_asks_no_price_when_nothing_rests():
    store, prices = InMemoryPaperStore(), Prices()
    acct = account(store, prices)
    assert await acct.check_limits() == []
    await acct.create_order(request(Side.BUY, OrderType.MARKET, "0.1", "m1"))
    asked = prices.calls
    assert await acct.check_limits() == []
    assert prices.calls == asked
    await acct.create_order(request(Side.BUY, OrderType.LIMIT, "0.05", "l1", 45000))
    asked = prices.calls
    assert await acct.check_limits() == []  # rests: its price is asked
    assert prices.calls == asked + 1


async def test_a_read_during_an_order_waits_for_it_and_shows_its_fill():
    store, prices = HeldSaves(), Prices()
    acct = account(store, prices)
    start = await acct.fetch_balance()  # kept from here
    store.hold = True
    placing = asyncio.ensure_future(
        acct.create_order(request(Side.BUY, OrderType.MARKET, "0.1", "m1"))
    )
    await store.saving.wait()  # filled in memory, its save not done
    read = asyncio.ensure_future(acct.fetch_balance())
    await asyncio.sleep(0.05)
    assert not read.done()  # no answer while the order is being placed
    store.release.set()
    await placing
    lines = await read
    assert lines != start
    store.hold = False
    assert lines == await fresh_read(store, prices)
