"""The stop-order part of the exchange contract: where an account says it takes stop
orders (``native_stops``) a stop-market order rests, is found by client id with its
trigger, cancels, and executes once when the price reaches it; elsewhere it is refused
before anything is sent (the engine then enforces the stop on every candle)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from nija_tg.core import errors as E
from nija_tg.core.models import OrderRequest, OrderStatus, OrderType, Side
from nija_tg.exchange.client_ids import new_client_order_id
from nija_tg.messages.errors import text as error_text
from tests.exchange.conftest import Venue

USER = 7
NATIVE = {"kraken", "bingx"}


async def bought(v: Venue) -> Decimal:
    amount = await v.amount_for(Decimal(100))
    cid = new_client_order_id(v.exchange_id, USER)
    state = await v.account.create_order(
        OrderRequest(v.symbol, Side.BUY, OrderType.MARKET, amount, cid)
    )
    assert state.status is OrderStatus.FILLED
    return state.filled


async def stop_request(v: Venue, amount: Decimal, trigger: Decimal) -> OrderRequest:
    swap = (await v.account.market(v.symbol)).kind == "swap"
    cid = new_client_order_id(v.exchange_id, USER)
    return OrderRequest(
        v.symbol,
        Side.SELL,
        OrderType.MARKET,
        amount,
        cid,
        reduce_only=swap,
        trigger_price=trigger,
    )


def native_only(v: Venue) -> None:
    if v.name not in NATIVE:
        pytest.skip(f"{v.name}: stops are the engine's")


async def test_stop_support_is_declared(venue: Venue):
    assert venue.account.native_stops is (venue.name in NATIVE)


async def test_stop_rests_is_found_with_its_trigger_and_cancels(venue: Venue):
    native_only(venue)
    price = await venue.price()
    amount = await bought(venue)
    r = await stop_request(venue, amount, price * Decimal("0.9"))
    state = await venue.account.create_order(r)
    step = (await venue.account.market(venue.symbol)).price_step or Decimal(0)
    assert state.status is OrderStatus.OPEN and state.filled == 0
    assert state.trigger_price is not None
    assert abs(state.trigger_price - price * Decimal("0.9")) <= step
    listed = {o.client_order_id: o for o in await venue.account.fetch_open_orders(venue.symbol)}
    assert listed[r.client_order_id].trigger_price == state.trigger_price
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.status is OrderStatus.OPEN
    assert found.trigger_price == state.trigger_price and found.side is Side.SELL
    canceled = await venue.account.cancel_order(venue.symbol, r.client_order_id)
    assert canceled.status is OrderStatus.CANCELED and canceled.filled == 0


async def test_stop_executes_once_when_the_price_reaches_it(venue: Venue):
    native_only(venue)
    price = await venue.price()
    amount = await bought(venue)
    t0 = int(time.time() * 1000)
    venue.freeze_clock(t0)
    r = await stop_request(venue, amount, price * Decimal("0.9"))
    await venue.account.create_order(r)
    await venue.set_price(price * Decimal("0.95"))  # not yet
    venue.freeze_clock(t0 + 146_000)
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.status is OrderStatus.OPEN
    await venue.set_price(price * Decimal("0.85"))
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled == amount and found.average is not None
    step = (await venue.account.market(venue.symbol)).price_step or Decimal(0)
    assert price * Decimal("0.8") < found.average <= price * Decimal("0.9") + step
    again = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert again is not None and again.filled == amount  # executed once
    # the stop's fill is booked with its fee, and at its fill time, not its placement
    market = await venue.account.market(venue.symbol)
    assert found.fee > 0 and found.fee_currency == market.quote
    assert found.ts == t0 and found.filled_at == t0 + 146_000


async def test_bingx_stop_watches_the_last_price_not_the_mark(venue: Venue):
    if venue.name != "bingx":
        pytest.skip("BingX's workingType")
    price = await venue.price()
    amount = await bought(venue)
    r = await stop_request(venue, amount, price * Decimal("0.9"))
    await venue.account.create_order(r)
    [order] = venue.emulator.orders_for_client_id(venue.emu_account, r.client_order_id)
    assert order.trigger_source == "last"  # sent workingType=CONTRACT_PRICE
    venue.emulator.set_mark_price(venue.symbol, price * Decimal("0.85"))  # mark through it
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.status is OrderStatus.OPEN
    await venue.set_price(price * Decimal("0.85"))  # the last price through it: fires
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.status is OrderStatus.FILLED


async def test_stop_is_refused_before_sending_where_stops_are_the_engines(venue: Venue):
    if venue.name in NATIVE:
        pytest.skip("this venue takes stop orders")
    price = await venue.price()
    amount = await bought(venue)
    posts = venue.order_posts() if venue.emulator is not None else 0
    r = await stop_request(venue, amount, price * Decimal("0.9"))
    with pytest.raises(E.OrderRejectedError) as err:
        await venue.account.create_order(r)
    assert "stop" in error_text(err.value).lower()
    if venue.emulator is not None:
        assert venue.order_posts() == posts  # nothing reached the exchange
    assert await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id) is None
