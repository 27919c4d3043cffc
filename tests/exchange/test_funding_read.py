"""``CcxtAccount.fetch_funding`` (the engine's funding reader's source) against the
emulators: BingX's funding rows, pages followed past ccxt's 1,000-row answers, rows
de-duplicated by id; spot venues and paper accounts have none."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.exchange.ccxt_account import FUNDING_PAGE
from tests.exchange.conftest import make_gateway
from tests.fakes.bingx import BingXEmulator
from tests.fakes.kraken import KrakenEmulator
from tests.fakes.test_bingx_emulator import make_client

ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
MINUTE = 60_000
T0 = 1_700_000_000_000 // 3_600_000 * 3_600_000


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


async def test_bingx_funding_paged_sorted_and_filtered() -> None:
    emu = BingXEmulator()
    emu.clock_ms = Clock(T0)
    await emu.start()
    gw = make_gateway(emu)
    try:
        acct = emu.add_account()
        account = gw.account(1, "bingx", emu.credentials(acct))
        emu.set_price(ETH, Decimal(2000))
        emu.set_price(SOL, Decimal(100))
        # every minute on ETH (1,500 rows: more than one page), hourly on SOL
        emu.ledger.set_funding(ETH, "0.0001", interval_ms=MINUTE)
        emu.ledger.set_funding(SOL, "-0.001", interval_ms=60 * MINUTE)
        await account.fetch_balance()  # the emulator's settlement clock starts here
        await emu_order(emu, acct, ETH, "buy", Decimal(1))
        await emu_order(emu, acct, SOL, "sell", Decimal(2))
        emu.clock_ms.ms = T0 + 1500 * MINUTE
        everything = await account.fetch_funding(T0)
        eth = [p for p in everything if p.symbol == ETH]
        sol = [p for p in everything if p.symbol == SOL]
        assert len(eth) == 1500 > FUNDING_PAGE and len(sol) == 25
        assert len({p.payment_id for p in everything}) == len(everything)
        assert [p.ts_ms for p in everything] == sorted(p.ts_ms for p in everything)
        assert {p.amount for p in eth} == {Decimal("-0.2")}  # 1 x 2000 x 0.01 %, long
        assert {p.amount for p in sol} == {Decimal("-0.2")}  # 2 x 100 x 0.1 %, short
        assert {p.currency for p in everything} == {"USDT"}
        only_sol = await account.fetch_funding(T0 + 600 * MINUTE, [SOL])
        assert [p.ts_ms for p in only_sol] == [p.ts_ms for p in sol if p.ts_ms >= T0 + 600 * MINUTE]
    finally:
        await gw.close_all()
        await emu.stop()


async def emu_order(emu: BingXEmulator, acct, symbol: str, side: str, amount: Decimal) -> None:
    """A market order placed through ccxt itself (not the code under test)."""
    client = make_client(emu, emu.credentials(acct))
    try:
        await client.create_order(symbol, "market", side, float(amount))
    finally:
        await client.close()


async def test_spot_venues_have_no_funding() -> None:
    emu = KrakenEmulator()
    await emu.start()
    gw = make_gateway(emu)
    try:
        account = gw.account(2, "kraken", emu.credentials(emu.add_account()))
        assert await account.fetch_funding(0) == []
    finally:
        await gw.close_all()
        await emu.stop()
