"""One contract every TradingAccount passes: the paper exchange and the ccxt gateway
against the Kraken, BingX and Coinbase emulators (real ccxt, real wire format)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from nija_tg.core import errors as E
from nija_tg.core.models import OrderRequest, OrderStatus, OrderType, Side
from nija_tg.exchange.client_ids import is_ours, new_client_order_id
from nija_tg.messages.errors import text as error_text
from tests.exchange.conftest import ORDER_PATHS, Venue

USER = 7


def req(v: Venue, side: Side, type_: OrderType, amount: Decimal, price=None, cid=None):
    cid = cid or new_client_order_id(v.exchange_id, USER)
    return OrderRequest(v.symbol, side, type_, amount, cid, price=price)


def quote_total(lines, currency: str) -> Decimal:
    return sum((b.total for b in lines if b.currency == currency), Decimal(0))


def needs_emulator(v: Venue) -> None:
    if v.is_paper:
        pytest.skip("faults and keys only exist on emulated exchanges")


async def assert_fee(v: Venue, state) -> None:
    """Every venue here charges a fee on every fill, in the quote currency (Kraken's
    ``fciq``, Coinbase's USD, BingX's USDT, paper's quote): it must be booked, never 0."""
    assert state.filled > 0
    market = await v.account.market(v.symbol)
    assert state.fee > 0 and state.fee_known, f"{v.name}: fill without its fee"
    assert state.fee_currency == market.quote


# --- balances and market data ----------------------------------------------------------


async def test_balance_has_quote_funds(venue: Venue):
    lines = await venue.account.fetch_balance()
    quote = "USDT" if venue.exchange_id == "bingx" else "USD"
    assert quote_total(lines, quote) > 0
    assert all(b.total == b.free + b.used for b in lines)


async def test_ohlcv_and_ticker(venue: Venue):
    candles = await venue.gateway.fetch_ohlcv(venue.exchange_id, venue.symbol, "5m", limit=20)
    assert 0 < len(candles) <= 20
    assert [c.ts for c in candles] == sorted(c.ts for c in candles)
    assert all(c.low <= c.close <= c.high for c in candles)
    ticker = await venue.gateway.fetch_ticker(venue.exchange_id, venue.symbol)
    assert ticker.last > 0
    market = await venue.account.market(venue.symbol)
    assert market.symbol == venue.symbol and market.amount_step


# --- orders ----------------------------------------------------------------------------


async def test_market_buy_fills_and_is_found_by_client_id(venue: Venue):
    amount = await venue.amount_for(Decimal(100))
    r = req(venue, Side.BUY, OrderType.MARKET, amount)
    state = await venue.account.create_order(r)
    assert state.client_order_id == r.client_order_id and is_ours(state.client_order_id, USER)
    assert state.status is OrderStatus.FILLED
    # the size asked, in base units, everywhere (Coinbase too: ``base_size``, not quote)
    assert state.filled == amount
    await assert_fee(venue, state)
    assert state.filled_at is not None and state.filled_at >= (state.ts or 0)
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None
    assert found.exchange_order_id == state.exchange_order_id
    assert found.status is OrderStatus.FILLED and found.side is Side.BUY
    await assert_fee(venue, found)
    assert found.fee == state.fee and found.filled_at == state.filled_at


async def test_market_sell_after_buy(venue: Venue):
    amount = await venue.amount_for(Decimal(100))
    bought = await venue.account.create_order(req(venue, Side.BUY, OrderType.MARKET, amount))
    state = await venue.account.create_order(req(venue, Side.SELL, OrderType.MARKET, bought.filled))
    assert state.status is OrderStatus.FILLED and state.side is Side.SELL
    await assert_fee(venue, state)


async def test_selling_what_a_market_buy_got_leaves_no_dust(venue: Venue):
    if venue.exchange_id == "bingx":
        pytest.skip("swaps: a position closes by its size, no coins are held")
    market = await venue.account.market(venue.symbol)
    amount = await venue.amount_for(Decimal(57))
    bought = await venue.account.create_order(req(venue, Side.BUY, OrderType.MARKET, amount))
    held = {b.currency: b.total for b in await venue.account.fetch_balance()}
    assert held.get(market.base) == bought.filled == amount
    await venue.account.create_order(req(venue, Side.SELL, OrderType.MARKET, bought.filled))
    left = {b.currency: b.total for b in await venue.account.fetch_balance()}
    assert left.get(market.base, Decimal(0)) == 0


async def test_limit_order_rests_lists_and_cancels(venue: Venue):
    price = await venue.price()
    amount = await venue.amount_for(Decimal(100))
    r = req(venue, Side.BUY, OrderType.LIMIT, amount, price=price * Decimal("0.8"))
    state = await venue.account.create_order(r)
    assert state.status is OrderStatus.OPEN and state.filled == 0
    step = (await venue.account.market(venue.symbol)).price_step or Decimal(0)
    assert state.price is not None and abs(state.price - price * Decimal("0.8")) <= step
    open_ids = [o.client_order_id for o in await venue.account.fetch_open_orders(venue.symbol)]
    assert r.client_order_id in open_ids
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.status is OrderStatus.OPEN
    canceled = await venue.account.cancel_order(venue.symbol, r.client_order_id)
    assert canceled.status is OrderStatus.CANCELED
    after = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert after is not None and after.status is OrderStatus.CANCELED
    open_ids = [o.client_order_id for o in await venue.account.fetch_open_orders(venue.symbol)]
    assert r.client_order_id not in open_ids


async def test_limit_order_fills_when_price_crosses(venue: Venue):
    price = await venue.price()
    amount = await venue.amount_for(Decimal(100))
    t0 = int(time.time() * 1000)
    venue.freeze_clock(t0)
    r = req(venue, Side.BUY, OrderType.LIMIT, amount, price=price * Decimal("0.95"))
    placed = await venue.account.create_order(r)
    assert placed.status is OrderStatus.OPEN and placed.filled_at is None
    venue.freeze_clock(t0 + 146_000)  # the price comes down 2 min 26 s later
    await venue.set_price(price * Decimal("0.9"))
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled == amount
    await assert_fee(venue, found)
    # placed at t0, filled at t1: ``ts`` is the placement, ``filled_at`` the fill
    assert found.ts == t0 and found.filled_at == t0 + 146_000


async def test_free_balance_excludes_funds_held_by_open_orders(venue: Venue):
    price = await venue.price()
    amount = await venue.amount_for(Decimal(100))
    limit = (price * Decimal("0.8")).quantize(Decimal("0.01"))
    before = await venue.quote_line()
    r = req(venue, Side.BUY, OrderType.LIMIT, amount, price=limit)
    assert (await venue.account.create_order(r)).status is OrderStatus.OPEN
    after = await venue.quote_line()
    assert after.total == after.free + after.used
    if venue.exchange_id == "bingx":  # swaps hold margin (notional / leverage), not cost
        assert after.free < before.free - amount * limit / 20
    else:  # spot: the cost of the buy (fee included where the venue holds it) is held
        held, tiny = after.used - before.used, Decimal("1e-6")  # ccxt hands over floats
        assert amount * limit - tiny <= held <= amount * limit * Decimal("1.01")
        assert abs(after.free - (before.free - held)) < tiny
        assert abs(after.total - before.total) < tiny


async def test_limit_sell_rests_above_market(venue: Venue):
    price = await venue.price()
    amount = await venue.amount_for(Decimal(100))
    bought = await venue.account.create_order(req(venue, Side.BUY, OrderType.MARKET, amount))
    r = req(venue, Side.SELL, OrderType.LIMIT, bought.filled, price=price * Decimal("1.2"))
    state = await venue.account.create_order(r)
    assert state.status is OrderStatus.OPEN and state.side is Side.SELL
    assert (await venue.account.cancel_order(venue.symbol, r.client_order_id)).status is (
        OrderStatus.CANCELED
    )


async def test_unknown_client_id_is_none_and_cancel_is_not_found(venue: Venue):
    cid = new_client_order_id(venue.exchange_id, USER)
    assert await venue.account.fetch_order_by_client_id(venue.symbol, cid) is None
    with pytest.raises(E.NotFoundError):
        await venue.account.cancel_order(venue.symbol, cid)


async def test_below_minimum_is_rejected_before_sending(venue: Venue):
    market = await venue.account.market(venue.symbol)
    tiny = (market.amount_step or Decimal("1e-8")) / 10
    before = 0 if venue.is_paper else venue.order_posts()
    with pytest.raises(E.OrderRejectedError) as info:
        await venue.account.create_order(req(venue, Side.BUY, OrderType.MARKET, tiny))
    assert "too small" in error_text(info.value).lower()
    if not venue.is_paper:
        assert venue.order_posts() == before


async def test_duplicate_open_client_id(venue: Venue):
    price = await venue.price()
    amount = await venue.amount_for(Decimal(100))
    r = req(venue, Side.BUY, OrderType.LIMIT, amount, price=price * Decimal("0.8"))
    first = await venue.account.create_order(r)
    if venue.exchange_id == "coinbase" and not venue.is_paper:
        # Coinbase documents client_order_id as idempotent: the earlier order comes back.
        again = await venue.account.create_order(r)
        assert again.exchange_order_id == first.exchange_order_id
        assert len(venue.emulator.orders_for_client_id(venue.emu_account, r.client_order_id)) == 1
        return
    with pytest.raises(E.OrderRejectedError):
        await venue.account.create_order(r)
    await venue.account.cancel_order(venue.symbol, r.client_order_id)


async def test_insufficient_funds(venue: Venue):
    amount = await venue.amount_for(Decimal(10_000_000))
    with pytest.raises(E.InsufficientFundsError):
        await venue.account.create_order(req(venue, Side.BUY, OrderType.MARKET, amount))


# --- faults (emulators only) -------------------------------------------------------------


async def test_rate_limit_on_read_maps_to_rate_limited(venue: Venue):
    needs_emulator(venue)
    await venue.account.fetch_balance()  # markets loaded
    venue.emulator.faults.arm("http_429")
    with pytest.raises(E.RateLimitedError) as info:
        await venue.account.fetch_balance()
    assert venue.emu_account.secret not in str(info.value)


async def test_server_error_on_read_is_retryable_and_retried(venue: Venue):
    needs_emulator(venue)
    await venue.account.fetch_balance()
    venue.emulator.faults.arm("http_500")
    with pytest.raises(E.RetryableError):
        await venue.account.fetch_balance()
    venue.account._core.read_retries = 2  # noqa: SLF001 - same client, retries on
    venue.account._core.retry_delay_s = 0.01  # noqa: SLF001
    venue.emulator.faults.arm("http_500")
    assert await venue.account.fetch_balance()


async def test_auth_fault_maps_to_authentication_error(venue: Venue):
    needs_emulator(venue)
    await venue.account.fetch_balance()
    venue.emulator.faults.arm("auth")
    with pytest.raises(E.AuthenticationError):
        await venue.account.fetch_balance()


async def test_stale_nonce_is_retryable(venue: Venue):
    needs_emulator(venue)
    if venue.exchange_id == "coinbase":
        pytest.skip("Coinbase JWTs have no nonce/timestamp error of their own")
    await venue.account.fetch_balance()
    venue.emulator.faults.arm("stale_nonce")
    with pytest.raises(E.RetryableError):
        await venue.account.fetch_balance()


@pytest.mark.parametrize("fault", ["timeout_after_accept", "drop_response"])
async def test_submit_with_lost_answer_is_unknown_outcome_sent_once(venue: Venue, fault):
    needs_emulator(venue)
    amount = await venue.amount_for(Decimal(100))
    r = req(venue, Side.BUY, OrderType.MARKET, amount)
    before = venue.order_posts()
    venue.emulator.faults.arm(fault, only_paths=(ORDER_PATHS[venue.exchange_id],))
    with pytest.raises(E.UnknownOutcomeError):
        await venue.account.create_order(r)
    assert venue.order_posts() == before + 1
    found = await venue.account.fetch_order_by_client_id(venue.symbol, r.client_order_id)
    assert found is not None and found.client_order_id == r.client_order_id
    assert len(venue.emulator.orders_for_client_id(venue.emu_account, r.client_order_id)) == 1


async def test_submit_rate_limited_is_retryable_and_not_placed(venue: Venue):
    needs_emulator(venue)
    amount = await venue.amount_for(Decimal(100))
    r = req(venue, Side.BUY, OrderType.MARKET, amount)
    before = venue.order_posts()
    venue.emulator.faults.arm("http_429", only_paths=(ORDER_PATHS[venue.exchange_id],))
    with pytest.raises(E.RateLimitedError):
        await venue.account.create_order(r)
    assert venue.order_posts() == before + 1
    assert venue.emulator.orders_for_client_id(venue.emu_account, r.client_order_id) == []


async def test_submit_server_error_is_unknown_outcome_sent_once(venue: Venue):
    needs_emulator(venue)
    amount = await venue.amount_for(Decimal(100))
    before = venue.order_posts()
    venue.emulator.faults.arm("http_500", only_paths=(ORDER_PATHS[venue.exchange_id],))
    with pytest.raises(E.UnknownOutcomeError):
        await venue.account.create_order(req(venue, Side.BUY, OrderType.MARKET, amount))
    assert venue.order_posts() == before + 1


async def test_wrong_secret_and_revoked_key_are_authentication_errors(venue: Venue):
    needs_emulator(venue)
    creds = venue.emulator.credentials(venue.emulator.add_account())
    good = dict(creds)
    other = venue.emulator.credentials(venue.emulator.add_account())
    creds["secret"] = other["secret"]
    wrong = venue.gateway.account(99, venue.exchange_id, creds)
    with pytest.raises(E.AuthenticationError) as info:
        await wrong.fetch_balance()
    assert creds["secret"] not in str(info.value) and creds["secret"] not in error_text(info.value)
    venue.emulator.revoke(venue.emu_account)
    with pytest.raises(E.AuthenticationError):
        await venue.account.fetch_balance()
    assert await venue.gateway.account(98, venue.exchange_id, good).fetch_balance()


# --- verify --------------------------------------------------------------------------------


async def test_verify_good_key(venue: Venue):
    needs_emulator(venue)
    result = await venue.gateway.verify(
        venue.exchange_id, venue.emulator.credentials(venue.emu_account)
    )
    assert result.ok and result.reason is None
    assert result.balances
    assert result.can_withdraw is False and result.withdraw_proof == "proven_no_withdraw"
    if venue.exchange_id != "kraken":  # Kraken lists no permissions, it only refuses calls
        assert result.permissions


async def test_verify_refuses_withdrawal_keys(venue: Venue):
    needs_emulator(venue)
    acct = venue.emulator.add_account(can_withdraw=True)
    result = await venue.gateway.verify(venue.exchange_id, venue.emulator.credentials(acct))
    assert not result.ok and result.can_withdraw is True
    assert result.withdraw_proof == "can_withdraw"
    assert "can withdraw" in error_text(result.reason)


async def test_verify_failures_have_distinct_polite_reasons(venue: Venue):
    needs_emulator(venue)
    creds = venue.emulator.credentials(venue.emulator.add_account())
    creds["secret"] = venue.emulator.credentials(venue.emulator.add_account())["secret"]
    bad = await venue.gateway.verify(venue.exchange_id, creds)
    unknown = await venue.gateway.verify("no-such-exchange", creds)
    from tests.exchange.conftest import make_gateway

    class Closed:
        exchange_id = venue.exchange_id
        base_url = "http://127.0.0.1:9"  # discard port: connection refused

    down = await make_gateway(Closed).verify(venue.exchange_id, creds)
    reasons = {error_text(r.reason) for r in (bad, unknown, down) if r.reason is not None}
    assert not (bad.ok or unknown.ok or down.ok)
    assert len(reasons) == 3
    for reason in reasons:
        assert creds["secret"] not in reason and creds["apiKey"] not in reason


# --- swaps -----------------------------------------------------------------------------------


async def test_swap_leverage_position_mode_and_positions(venue: Venue):
    if venue.exchange_id != "bingx" or venue.is_paper:
        assert await venue.account.fetch_positions() == []
        assert await venue.account.set_position_mode(False) is False
        assert await venue.account.fetch_position_mode() is False
        return
    assert await venue.account.set_position_mode(False) is False
    await venue.account.set_leverage(venue.symbol, Decimal(3))
    amount = await venue.amount_for(Decimal(100))
    await venue.account.create_order(req(venue, Side.BUY, OrderType.MARKET, amount))
    positions = await venue.account.fetch_positions([venue.symbol])
    assert len(positions) == 1
    assert positions[0].side == "long" and positions[0].contracts == amount
    await venue.account.create_order(req(venue, Side.SELL, OrderType.MARKET, amount))
    assert await venue.account.fetch_positions([venue.symbol]) == []
    assert await venue.account.set_position_mode(True) is True
    assert await venue.account.fetch_position_mode(venue.symbol) is True
    await venue.account.set_leverage(venue.symbol, Decimal(2))
