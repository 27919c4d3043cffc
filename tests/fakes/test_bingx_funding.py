"""The BingX emulator's funding: settlements at the set times on open positions, the
wallet moved like the venue's cross-margin account, and the income rows ccxt's
``fetch_funding_history`` reads (``GET /openApi/swap/v2/user/income``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import ccxt
import pytest

from tests.fakes.bingx import BingXEmulator
from tests.fakes.bingx_ledger import FUNDING_INTERVAL_MS
from tests.fakes.emulator_base import EmuAccount
from tests.fakes.test_bingx_emulator import make_client

ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
HOUR = 3_600_000
T0 = 1_700_000_000_000 // FUNDING_INTERVAL_MS * FUNDING_INTERVAL_MS + HOUR  # 01:00 UTC


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
async def emu() -> AsyncIterator[BingXEmulator]:
    emulator = BingXEmulator()
    emulator.clock_ms = Clock(T0)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def account(emu: BingXEmulator) -> EmuAccount:
    return emu.add_account()


@pytest.fixture
async def ex(emu: BingXEmulator, account: EmuAccount):
    client = make_client(emu, emu.credentials(account))
    yield client
    await client.close()


async def test_funding_is_charged_at_settlement_times_and_read_by_ccxt(emu, ex, account):
    emu.set_price(ETH, Decimal("2000"))
    emu.ledger.set_funding(ETH, "0.0001")  # every 8 h: 00:00, 08:00, 16:00 UTC
    await ex.create_order(ETH, "market", "buy", 1, None, {"clientOrderId": "l1"})
    wallet = account.balances["USDT"]
    emu.clock_ms.ms = T0 + 6 * HOUR  # 07:00: no settlement passed
    assert await ex.fetch_funding_history(ETH) == []
    emu.clock_ms.ms = T0 + 16 * HOUR  # 17:00: 08:00 and 16:00 passed
    rows = await ex.fetch_funding_history(ETH)
    assert [r["timestamp"] for r in rows] == [T0 + 7 * HOUR, T0 + 15 * HOUR]
    assert [r["amount"] for r in rows] == [-0.2, -0.2]  # 1 ETH x 2000 x 0.01 %, long pays
    assert {r["symbol"] for r in rows} == {ETH} and {r["code"] for r in rows} == {"USDT"}
    assert len({r["id"] for r in rows}) == 2 and all(r["id"] for r in rows)
    assert account.balances["USDT"] == wallet - Decimal("0.4")
    balance = await ex.fetch_balance()
    assert Decimal(str(balance["USDT"]["total"])) == wallet - Decimal("0.4")


async def test_short_receives_and_filters_apply(emu, ex, account):
    emu.set_price(ETH, Decimal("2000"))
    emu.set_price(SOL, Decimal("100"))
    emu.ledger.set_funding(ETH, "0.0001")
    emu.ledger.set_funding(SOL, "-0.001", interval_ms=HOUR)  # hourly, negative: longs earn
    await ex.create_order(ETH, "market", "sell", 2, None, {"clientOrderId": "s1"})
    await ex.create_order(SOL, "market", "buy", 3, None, {"clientOrderId": "l2"})
    emu.clock_ms.ms = T0 + 8 * HOUR  # 09:00
    eth = await ex.fetch_funding_history(ETH)
    assert [r["amount"] for r in eth] == [0.4]  # the short receives 2 x 2000 x 0.01 %
    sol = await ex.fetch_funding_history(SOL)
    assert len(sol) == 8 and {r["amount"] for r in sol} == {0.3}
    both = await ex.fetch_funding_history()
    assert len(both) == 9
    since = await ex.fetch_funding_history(None, T0 + 5 * HOUR)
    assert len(since) == 5  # SOL at 06:00, 07:00, 08:00 (two), 09:00
    until = await ex.fetch_funding_history(None, None, None, {"until": T0 + 2 * HOUR})
    assert [r["timestamp"] for r in until] == [T0 + HOUR, T0 + 2 * HOUR]
    assert len(await ex.fetch_funding_history(None, None, 3)) == 3


async def test_no_funding_without_a_position_or_a_rate(emu, ex, account):
    emu.set_price(ETH, Decimal("2000"))
    emu.set_price(SOL, Decimal("100"))
    emu.ledger.set_funding(ETH, "0.0001")
    await ex.create_order(SOL, "market", "buy", 1, None, {"clientOrderId": "l3"})
    wallet = account.balances["USDT"]
    emu.clock_ms.ms = T0 + 24 * HOUR
    assert await ex.fetch_funding_history() == []
    assert account.balances["USDT"] == wallet


async def test_a_closed_position_pays_no_more(emu, ex, account):
    emu.set_price(ETH, Decimal("2000"))
    emu.ledger.set_funding(ETH, "0.0001")
    await ex.create_order(ETH, "market", "buy", 1, None, {"clientOrderId": "l4"})
    emu.clock_ms.ms = T0 + 8 * HOUR
    await ex.create_order(ETH, "market", "sell", 1, None, {"reduceOnly": True})
    emu.clock_ms.ms = T0 + 40 * HOUR
    rows = await ex.fetch_funding_history(ETH)
    assert [r["timestamp"] for r in rows] == [T0 + 7 * HOUR]


async def test_income_parameters_are_checked(emu, ex):
    with pytest.raises(ccxt.BadRequest):
        await ex.fetch_funding_history(None, None, 1001)
    with pytest.raises(ccxt.BadRequest):
        await ex.swapV2PrivateGetUserIncome({"incomeType": "BOGUS"})
    other = await ex.swapV2PrivateGetUserIncome({"incomeType": "TRANSFER"})
    assert other["code"] == 0 and other["data"] == []
