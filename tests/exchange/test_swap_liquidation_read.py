"""What BingX answers for a position's liquidation price, through the real ccxt and
nija_tg's account against the emulator: a price for a leveraged position, 0 ("not
applicable") for one no price can liquidate; the account reads both positions the same
way (the engine takes no decision from the venue's figure), and the engine's own
estimate (core/liquidation.py, the position's own margin only) lies nearer the entry
than the venue's cross-margin price: the stop check errs on the safe side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from nija_tg.core.liquidation import liquidation_price
from nija_tg.core.models import OrderRequest, OrderType, Side
from nija_tg.exchange.ccxt_account import CcxtAccount
from nija_tg.exchange.client_ids import new_client_order_id
from tests.exchange.conftest import make_gateway
from tests.fakes.bingx import BingXEmulator
from tests.fakes.test_bingx_emulator import make_client

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
USER = 8


@pytest.fixture
async def venue() -> AsyncIterator[tuple[BingXEmulator, CcxtAccount]]:
    async with BingXEmulator() as emu:
        gw = make_gateway(emu)
        acct = emu.add_account({"USDT": Decimal(10000)})
        emu.set_price(BTC, Decimal(50000))
        emu.set_price(ETH, Decimal(3000))
        try:
            yield emu, gw.account(USER, "bingx", emu.credentials(acct))
        finally:
            await gw.close_all()


async def market(account: CcxtAccount, symbol: str, side: Side, amount: str) -> None:
    cid = new_client_order_id("bingx", USER)
    await account.create_order(OrderRequest(symbol, side, OrderType.MARKET, Decimal(amount), cid))


async def test_positions_read_alike_with_a_liquidation_price_or_none(venue):
    emu, account = venue
    await account.set_leverage(BTC, 10)
    await market(account, BTC, Side.SELL, "1")  # 10x short: liquidated above the entry
    await market(account, ETH, Side.BUY, "1")  # backed by more than its notional: 0
    rows = await wire_positions(emu)
    assert rows["BTC-USDT"]["liquidationPrice"] != "0"
    assert rows["ETH-USDT"]["liquidationPrice"] == "0"
    held = {(p.symbol, p.side): p for p in await account.fetch_positions()}
    assert held.keys() == {(BTC, "short"), (ETH, "long")}
    assert held[(BTC, "short")].contracts == 1 and held[(BTC, "short")].leverage == 10
    assert held[(ETH, "long")].contracts == 1 and held[(ETH, "long")].entry_price == 3000
    venue_liq = Decimal(rows["BTC-USDT"]["liquidationPrice"])
    ours = liquidation_price("short", Decimal(50000), 10)
    assert Decimal(50000) < ours < venue_liq  # our estimate is the nearer, safer one


async def wire_positions(emu: BingXEmulator) -> dict[str, dict]:
    """The positions answer as it crosses the wire (native symbol -> row), read with a
    raw ccxt client holding the same key."""
    acct = next(iter(emu.ledger.accounts.values()))
    client = make_client(emu, emu.credentials(acct))
    try:
        return {p["info"]["symbol"]: p["info"] for p in await client.fetch_positions()}
    finally:
        await client.close()
