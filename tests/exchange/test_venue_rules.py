"""Venue rules the engine relies on, through the real ccxt against the emulators: the
account's actual position mode (and a refused switch), a swap account's equity with an
open profit and an open loss (the venue's own ``equity``, not ccxt's total), the fee of a
fill whose answers leave it out, and what counts as dust."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from nija_tg.core.models import BalanceLine, MarketInfo, OrderRequest, OrderType, PositionInfo, Side
from nija_tg.exchange.ccxt_account import CcxtAccount
from nija_tg.exchange.ccxt_convert import swap_equity, to_balances, to_order
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.client_ids import new_client_order_id
from nija_tg.exchange.precision import is_dust, sellable_amount
from nija_tg.exchange.protocol import PositionModeRefusedError
from nija_tg.messages.errors import text as error_text
from tests.exchange.conftest import make_gateway
from tests.fakes.bingx import BingXEmulator
from tests.fakes.coinbase import CoinbaseEmulator
from tests.fakes.emulator_base import EmuAccount

SWAP = "ETH/USDT:USDT"
MODE_PATH = "/openApi/swap/v1/positionSide/dual"
USER = 7


@dataclass
class Rig:
    emu: BingXEmulator
    gw: CcxtGateway
    acct: EmuAccount
    account: CcxtAccount

    def mode_posts(self) -> int:
        return sum(1 for m, p in self.emu.requests if m == "POST" and p == MODE_PATH)

    async def order(self, side: Side, amount: str, **kw: Any):
        cid = new_client_order_id("bingx", USER)
        req = OrderRequest(SWAP, side, OrderType.MARKET, Decimal(amount), cid, **kw)
        return await self.account.create_order(req)


@pytest.fixture
async def bingx() -> AsyncIterator[Rig]:
    async with BingXEmulator() as emu:
        gw = make_gateway(emu)
        acct = emu.add_account({"USDT": Decimal(10000)})
        emu.set_price(SWAP, Decimal(3000))
        try:
            yield Rig(emu, gw, acct, gw.account(USER, "bingx", emu.credentials(acct)))
        finally:
            await gw.close_all()


# --- position mode ---------------------------------------------------------------------


async def test_position_mode_is_read_from_the_account(bingx: Rig):
    assert await bingx.account.fetch_position_mode(SWAP) is False
    bingx.emu.set_hedge_mode(bingx.acct, True)  # switched by hand on the exchange
    assert await bingx.account.fetch_position_mode(SWAP) is True


async def test_set_position_mode_returns_the_mode_and_sends_nothing_when_it_holds(bingx: Rig):
    assert await bingx.account.set_position_mode(False, SWAP) is False
    assert bingx.mode_posts() == 0  # already one-way: read, nothing sent
    assert await bingx.account.set_position_mode(True, SWAP) is True
    assert bingx.mode_posts() == 1
    assert await bingx.account.fetch_position_mode(SWAP) is True


async def test_refused_switch_raises_with_the_actual_mode(bingx: Rig):
    await bingx.order(Side.BUY, "0.1")  # a one-way position: BingX refuses any switch
    with pytest.raises(PositionModeRefusedError) as info:
        await bingx.account.set_position_mode(True, SWAP)
    assert info.value.hedged is False  # the engine must send one-way orders
    assert "position" in error_text(info.value).lower()
    assert await bingx.account.fetch_position_mode(SWAP) is False
    # and an order for the actual mode goes through (reduce-only in one-way mode)
    closed = await bingx.order(Side.SELL, "0.1", reduce_only=True)
    assert closed.filled == Decimal("0.1")
    assert await bingx.account.set_position_mode(True, SWAP) is True  # flat now


async def test_spot_exchange_has_no_hedge_mode():
    async with CoinbaseEmulator() as emu:
        gw = make_gateway(emu)
        try:
            account = gw.account(USER, "coinbase", emu.credentials(emu.add_account()))
            assert await account.fetch_position_mode() is False
            assert await account.set_position_mode(False) is False
            with pytest.raises(PositionModeRefusedError) as info:
                await account.set_position_mode(True)
            assert info.value.hedged is False
        finally:
            await gw.close_all()


async def test_refused_switch_from_hedge_keeps_hedge(bingx: Rig):
    bingx.emu.set_hedge_mode(bingx.acct, True)
    await bingx.order(Side.BUY, "0.1", position_side="LONG")
    with pytest.raises(PositionModeRefusedError) as info:
        await bingx.account.set_position_mode(False, SWAP)
    assert info.value.hedged is True


# --- swap equity -----------------------------------------------------------------------


async def test_equity_with_an_open_profit_is_the_venues_equity(bingx: Rig):
    await bingx.order(Side.BUY, "1")  # 3000 notional, fee 1.5
    bingx.emu.set_price(SWAP, Decimal(3100))  # +100 open profit
    [line] = await bingx.account.fetch_balance()
    assert line.wallet == Decimal("9998.5") and line.unrealized_pnl == Decimal(100)
    assert line.equity == Decimal("10098.5")
    assert line.total == Decimal("9998.5")  # ccxt: available + used = the wallet
    assert await bingx.account.fetch_equity("USDT") == Decimal("10098.5")


async def test_equity_with_an_open_loss_is_the_venues_equity(bingx: Rig):
    await bingx.order(Side.SELL, "1")  # a short at 3000
    bingx.emu.set_price(SWAP, Decimal(3100))  # -100 open loss
    [line] = await bingx.account.fetch_balance()
    assert line.equity == Decimal("9898.5") and line.unrealized_pnl == Decimal(-100)
    assert await bingx.account.fetch_equity("USDT") == Decimal("9898.5")
    assert await bingx.account.fetch_equity("USDC") is None  # no such account


def test_ccxts_recorded_real_balance_answer():
    """ccxt's recorded real v3 answer (no ``maxWithdrawAmount``), through ccxt's own
    parser: ccxt's total is the wallet; the equity comes from the venue's field."""
    answer = {
        "code": 0,
        "msg": "",
        "data": [
            {
                "userId": "116***295",
                "asset": "USDT",
                "balance": "194.8212",
                "equity": "196.7431",
                "unrealizedProfit": "1.9219",
                "realisedProfit": "-109.2504",
                "availableMargin": "193.7609",
                "usedMargin": "1.0602",
                "freezedMargin": "0.0000",
                "shortUid": "12851936",
            }
        ],
    }
    [line] = to_balances(ccxt.bingx().parse_balance(answer))
    assert line.total == Decimal("194.8211")  # availableMargin + usedMargin: no profit
    assert line.equity == Decimal("196.7431") and line.wallet == Decimal("194.8212")
    assert swap_equity(line, []) == Decimal("196.7431")


def test_equity_without_a_venue_field_is_wallet_plus_open_pnl():
    line = BalanceLine("USDT", Decimal(900), Decimal(100), Decimal(1000))
    pos = [
        PositionInfo(SWAP, "long", Decimal(1), Decimal(3000), unrealized_pnl=Decimal("25")),
        PositionInfo("BTC/USDT:USDT", "short", Decimal(1), Decimal(1), Decimal("-40")),
    ]
    assert swap_equity(line, pos) == Decimal(985)
    assert swap_equity(None, pos) is None


# --- fees that the answers leave out ------------------------------------------------------


async def test_a_fill_without_a_fee_in_its_answer_gets_it_from_the_order(bingx: Rig):
    state = await bingx.order(Side.BUY, "1")  # BingX answers the create without commission
    assert state.fee == Decimal("1.5") and state.fee_currency == "USDT"
    assert state.ts is not None and state.filled_at is not None


async def test_a_fee_left_out_of_the_order_too_comes_from_its_trades(bingx: Rig):
    placed = await bingx.order(Side.BUY, "1")
    raw = await bingx.account._c.fetch_order(placed.exchange_order_id, SWAP)  # noqa: SLF001
    raw["fee"] = {"currency": "USDT", "cost": None}  # as if the query had no commission
    raw["fees"] = [raw["fee"]]
    raw["lastTradeTimestamp"] = None
    done = await bingx.account._with_fees(raw, SWAP, refetch=False)  # noqa: SLF001
    assert Decimal(done["fee"]["cost"]) == Decimal("1.5") and done["fee"]["currency"] == "USDT"
    fill_s = bingx.emu.ledger.fills[-1].ts_ms // 1000 * 1000  # BingX fills: whole seconds
    assert done["lastTradeTimestamp"] == fill_s


def test_a_fill_whose_fee_no_answer_gave_says_so():
    terse = {"id": "1", "status": "closed", "amount": 1, "filled": 1, "average": 3000}
    state = to_order({**terse, "fee": {"cost": None, "currency": "USDT"}}, symbol=SWAP)
    assert state.fee == 0 and state.fee_known is False  # unknown, not free
    state = to_order({**terse, "fee": {"cost": 1.5, "currency": "USDT"}}, symbol=SWAP)
    assert state.fee == Decimal("1.5") and state.fee_known is True
    resting = {**terse, "status": "open", "filled": 0}
    assert to_order(resting, symbol=SWAP).fee_known is True  # nothing filled, nothing owed


# --- Coinbase: base-size buys, and dust ---------------------------------------------------


async def test_coinbase_market_buy_is_sent_in_base_units():
    async with CoinbaseEmulator() as emu:
        gw = make_gateway(emu)
        try:
            acct = emu.add_account()
            account = gw.account(USER, "coinbase", emu.credentials(acct))
            emu.set_price("ADA/USD", Decimal("0.5"))
            cid = new_client_order_id("coinbase", USER)
            req = OrderRequest("ADA/USD", Side.BUY, OrderType.MARKET, Decimal("579.27"), cid)
            state = await account.create_order(req)
            assert state.filled == Decimal("579.27") and state.fee > 0
            [order] = emu.orders_for_client_id(acct, cid)
            assert emu.trading.configs[order.order_id] == {
                "market_market_ioc": {"base_size": "579.27"}
            }
            assert acct.balances["ADA"] == Decimal("579.27")  # all of it can be sold again
        finally:
            await gw.close_all()


def test_dust_is_what_the_venue_minimum_or_step_cannot_carry():
    market = MarketInfo(
        "ADA/USD",
        "ADA",
        "USD",
        "spot",
        amount_step=Decimal("0.01"),
        min_amount=Decimal("0.1"),
        min_cost=Decimal("1"),
    )
    assert sellable_amount(market, Decimal("579.2710713187")) == Decimal("579.27")
    assert is_dust(market, Decimal("0.0010713187"), Decimal("0.5"))  # rounds to nothing
    assert is_dust(market, Decimal("0.05"), Decimal("0.5"))  # below the minimum amount
    assert is_dust(market, Decimal("1.5"), Decimal("0.5"))  # 0.75 USD < the 1 USD minimum
    assert not is_dust(market, Decimal("2.5"), Decimal("0.5"))
    assert not is_dust(market, Decimal("1.5"), None)  # no price: only amount rules
    assert not is_dust(market, Decimal(0), Decimal("0.5"))
