"""Paper exchange specifics (the shared behaviour is in test_contract)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from nija_tg.core import errors as E
from nija_tg.core.models import (
    Candle,
    MarketInfo,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
)
from nija_tg.exchange.paper import (
    InMemoryPaperStore,
    PaperAccount,
    PaperState,
    market_fill_price,
    stop_fill_price,
)
from nija_tg.messages.errors import text as error_text

SYM = "BTC/USDT"


class Prices:
    """A MarketDataSource with prices set by the test."""

    def __init__(self) -> None:
        self.prices = {SYM: Decimal(50000)}
        self.calls = 0

    async def fetch_ohlcv(self, exchange_id, symbol, timeframe, since=None, limit=None):
        return []

    async def fetch_ticker(self, exchange_id, symbol):
        self.calls += 1
        return Ticker(symbol, self.prices[symbol])

    async def market(self, exchange_id, symbol):
        return MarketInfo(
            symbol,
            "BTC",
            "USDT",
            "spot",
            Decimal("0.0001"),
            Decimal("0.1"),
            Decimal("0.0001"),
            Decimal(5),
        )


def make(store=None, prices=None, **kw):
    prices = prices or Prices()
    store = store or InMemoryPaperStore()
    acct = PaperAccount(
        1, "bingx", prices, store, fee_rate=Decimal("0.001"), slippage=Decimal("0.01"), **kw
    )
    return acct, prices, store


def order(side, type_, amount, cid, price=None):
    return OrderRequest(SYM, side, type_, Decimal(amount), cid, price=price)


def bal(lines, cur):
    return next((b for b in lines if b.currency == cur), None)


async def test_starting_balance_default_and_configurable():
    acct, _, _ = make()
    assert bal(await acct.fetch_balance(), "USDT").total == Decimal(10000)
    kr = PaperAccount(1, "kraken", Prices(), InMemoryPaperStore())
    assert bal(await kr.fetch_balance(), "USD").total == Decimal(10000)
    custom, _, _ = make(starting_balance=Decimal(500), starting_currency="EUR")
    assert [(b.currency, b.total) for b in await custom.fetch_balance()] == [("EUR", 500)]


async def test_market_order_pays_slippage_and_fee():
    acct, _, _ = make()
    s = await acct.create_order(order(Side.BUY, OrderType.MARKET, "0.1", "c1"))
    assert s.status is OrderStatus.FILLED and s.average == Decimal(50500)  # +1 % slippage
    assert s.fee == Decimal("5.05") and s.fee_currency == "USDT"
    assert len(s.fills) == 1 and s.fills[0].client_order_id == "c1"
    lines = await acct.fetch_balance()
    assert bal(lines, "USDT").free == Decimal(10000) - Decimal(5050) - Decimal("5.05")
    assert bal(lines, "BTC").free == Decimal("0.1")
    s = await acct.create_order(order(Side.SELL, OrderType.MARKET, "0.1", "c2"))
    assert s.average == Decimal(49500)


async def test_limit_reserves_then_fills_on_cross_at_limit_price():
    acct, prices, _ = make()
    s = await acct.create_order(order(Side.BUY, OrderType.LIMIT, "0.1", "L1", Decimal(45000)))
    assert s.status is OrderStatus.OPEN
    usdt = bal(await acct.fetch_balance(), "USDT")
    assert usdt.used == Decimal("4504.5") and usdt.total == Decimal(10000)
    assert await acct.on_price(SYM, Decimal(46000)) == []
    prices.prices[SYM] = Decimal(44000)
    filled = await acct.check_limits()
    assert [f.client_order_id for f in filled] == ["L1"]
    got = await acct.fetch_order_by_client_id(SYM, "L1")
    assert got.status is OrderStatus.FILLED and got.average == Decimal(45000)
    usdt = bal(await acct.fetch_balance(), "USDT")
    assert usdt.used == 0 and usdt.free == Decimal(10000) - Decimal("4504.5")


async def test_marketable_limit_fills_at_once():
    acct, _, _ = make()
    s = await acct.create_order(order(Side.BUY, OrderType.LIMIT, "0.1", "L2", Decimal(51000)))
    assert s.status is OrderStatus.FILLED and s.average == Decimal(51000)


async def test_cancel_releases_reservation_and_frees_the_client_id():
    acct, _, _ = make()
    await acct.create_order(order(Side.BUY, OrderType.LIMIT, "0.1", "dup", Decimal(40000)))
    with pytest.raises(E.OrderRejectedError):
        await acct.create_order(order(Side.BUY, OrderType.LIMIT, "0.1", "dup", Decimal(40000)))
    c = await acct.cancel_order(SYM, "dup")
    assert c.status is OrderStatus.CANCELED
    assert bal(await acct.fetch_balance(), "USDT").used == 0
    assert (await acct.cancel_order(SYM, "dup")).status is OrderStatus.CANCELED  # idempotent
    again = await acct.create_order(order(Side.BUY, OrderType.LIMIT, "0.1", "dup", Decimal(40000)))
    assert again.status is OrderStatus.OPEN
    assert [o.client_order_id for o in await acct.fetch_open_orders()] == ["dup"]


async def test_rejections():
    acct, _, _ = make()
    with pytest.raises(E.InsufficientFundsError):
        await acct.create_order(order(Side.BUY, OrderType.MARKET, "1", "big"))
    with pytest.raises(E.InsufficientFundsError):
        await acct.create_order(order(Side.SELL, OrderType.LIMIT, "1", "s", Decimal(60000)))
    with pytest.raises(E.OrderRejectedError, match="zero|minimum"):
        await acct.create_order(order(Side.BUY, OrderType.MARKET, "0.00001", "tiny"))
    with pytest.raises(E.OrderRejectedError):
        await acct.create_order(order(Side.BUY, OrderType.LIMIT, "0.1", "nop"))
    with pytest.raises(E.NotFoundError):
        await acct.cancel_order(SYM, "never")
    assert await acct.fetch_order_by_client_id(SYM, "never") is None
    assert bal(await acct.fetch_balance(), "USDT").total == Decimal(10000)


async def test_state_persists_through_the_store_as_json():
    acct, prices, store = make()
    await acct.create_order(order(Side.BUY, OrderType.MARKET, "0.1", "p1"))
    await acct.create_order(order(Side.BUY, OrderType.LIMIT, "0.1", "p2", Decimal(40000)))
    json.dumps(store.saved[1])  # JSON-serialisable
    again = PaperAccount(1, "bingx", prices, store)
    assert await again.fetch_balance() == await acct.fetch_balance()
    assert (await again.fetch_order_by_client_id(SYM, "p1")).status is OrderStatus.FILLED
    assert [o.client_order_id for o in await again.fetch_open_orders(SYM)] == ["p2"]
    assert PaperState.from_dict(store.saved[1]).to_dict() == store.saved[1]


async def test_swap_calls_are_inert():
    acct, _, _ = make()
    assert await acct.fetch_positions() == []
    await acct.set_leverage(SYM, Decimal(3))
    await acct.set_position_mode(True)
    await acct.close()


async def test_stop_orders_are_refused_paper_stops_are_the_engines():
    acct, _, store = make()
    assert acct.native_stops is False
    request = OrderRequest(SYM, Side.SELL, OrderType.MARKET, Decimal("0.01"), "p-stop",
                           trigger_price=Decimal(45000))  # fmt: skip
    with pytest.raises(E.OrderRejectedError) as err:
        await acct.create_order(request)
    assert "stop" in error_text(err.value).lower()
    assert await acct.fetch_open_orders() == []


# --- the fill model: a close at a stop --------------------------------------------------


def stop_close(side, amount, cid, stop):
    return OrderRequest(SYM, side, OrderType.MARKET, Decimal(amount), cid, stop_price=stop)


async def test_a_close_at_a_stop_fills_at_the_stop_not_the_price_now():
    """The engine sees the stop touched on the candle that just closed and sells at
    market: the fill is at the stop (then slippage, fee), not at the price now."""
    candle = Candle(0, 49900.0, 50100.0, 47000.0, 50000.0, 1.0)  # opened above the stop
    acct, prices, _ = make(closed_candle=lambda symbol: candle)
    await acct.create_order(order(Side.BUY, OrderType.MARKET, "0.1", "in"))
    prices.prices[SYM] = Decimal(52000)  # the price now: ignored for a stop
    s = await acct.create_order(stop_close(Side.SELL, "0.1", "out", Decimal("48000.05")))
    # 48000.05 x 0.99 = 47520.0495, rounded down to the 0.1 price step
    assert s.average == Decimal("47520.0")
    assert s.fee == Decimal("0.1") * Decimal("47520.0") * Decimal("0.001")
    usdt = bal(await acct.fetch_balance(), "USDT")
    assert usdt.free == Decimal(10000) - Decimal("5055.05") + Decimal("4752.0") - s.fee


async def test_a_candle_that_gaps_through_the_stop_fills_at_its_open():
    gap_down = Candle(0, 46000.0, 47000.0, 45000.0, 46500.0, 1.0)  # opened below 48000
    acct, _, _ = make(closed_candle=lambda symbol: gap_down)
    await acct.create_order(order(Side.BUY, OrderType.MARKET, "0.1", "in"))
    s = await acct.create_order(stop_close(Side.SELL, "0.1", "out", Decimal(48000)))
    assert s.average == Decimal(46000) * Decimal("0.99")  # the open, less slippage
    # a short's stop (a buy): above the stop when the candle opened above it
    gap_up = Candle(0, 53000.0, 54000.0, 52500.0, 53500.0, 1.0)
    acct, _, _ = make(closed_candle=lambda symbol: gap_up)
    s = await acct.create_order(stop_close(Side.BUY, "0.1", "short-out", Decimal(52000)))
    assert s.average == Decimal(53000) * Decimal("1.01")
    inside = Candle(0, 51000.0, 52500.0, 50500.0, 52400.0, 1.0)  # opened below it
    acct, _, _ = make(closed_candle=lambda symbol: inside)
    s = await acct.create_order(stop_close(Side.BUY, "0.1", "short-out", Decimal(52000)))
    assert s.average == Decimal(52000) * Decimal("1.01")


def test_stop_fill_price_and_rounding_against_the_trader():
    assert stop_fill_price(Side.SELL, Decimal(100), Decimal(99)) == 99
    assert stop_fill_price(Side.SELL, Decimal(100), Decimal(101)) == 100
    assert stop_fill_price(Side.BUY, Decimal(100), Decimal(101)) == 101
    assert stop_fill_price(Side.BUY, Decimal(100), Decimal(99)) == 100
    assert stop_fill_price(Side.SELL, Decimal(100), None) == 100
    step = Decimal("0.01")
    assert market_fill_price(Side.BUY, Decimal("10.001"), Decimal(0), step) == Decimal("10.01")
    assert market_fill_price(Side.SELL, Decimal("10.009"), Decimal(0), step) == Decimal("10.00")
    assert market_fill_price(Side.BUY, Decimal("10"), Decimal("0.01"), step) == Decimal("10.1")
    assert market_fill_price(Side.BUY, Decimal("10.001"), Decimal(0), None) == Decimal("10.001")


def test_decimal_text_is_exact_and_never_scientific():
    from nija_tg.exchange.precision import decimal_text

    # 17 significant digits: a float keeps ~16 (float("12345678.123456789") loses the 9)
    assert decimal_text(Decimal("12345678.123456789")) == "12345678.123456789"
    assert decimal_text(Decimal("1E-8")) == "0.00000001"
    assert decimal_text(Decimal("2.5E+3")) == "2500"
    assert str(float(Decimal("12345678.123456789"))) != "12345678.123456789"
