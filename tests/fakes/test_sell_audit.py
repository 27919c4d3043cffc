"""The emulators' sell audit (tests/fakes/sell_audit.py) catches a bot sell larger than
our position, and only that: orders go through ccxt, unmodified, to the Kraken and BingX
emulators; the bot's orders carry client ids made by the bot's own generator, the user's
orders by hand carry none. Tests here over-sell on purpose, so they are marked
``sells_beyond_position`` (the autouse check in tests/conftest.py skips them)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.exchange.client_ids import new_client_order_id
from tests.fakes.bingx import BingXEmulator
from tests.fakes.kraken import KrakenEmulator
from tests.fakes.sell_audit import NETTED, ZERO, is_bot_id
from tests.fakes.test_bingx_emulator import make_client as bingx_client
from tests.fakes.test_kraken_emulator import make_client as kraken_client

ETH = "ETH/USD"
SWAP = "ETH/USDT:USDT"
UID = 7


def bot(exchange: str = "kraken") -> dict[str, str]:
    return {"clientOrderId": new_client_order_id(exchange, UID)}


def test_the_audit_knows_the_bots_client_ids():
    assert all(is_bot_id(new_client_order_id(x, UID)) for x in ("kraken", "bingx", "coinbase"))
    assert not is_bot_id(None) and not is_bot_id("manual-1") and not is_bot_id("")


@pytest.fixture
async def kraken():
    emu = KrakenEmulator()
    await emu.start()
    emu.set_price(ETH, Decimal(2000))
    yield emu
    await emu.stop()


@pytest.mark.sells_beyond_position
async def test_a_bot_sell_larger_than_our_position_is_a_violation(kraken):
    acct = kraken.add_account({"USD": Decimal(10000), "ETH": Decimal(5)})  # 5 ETH the user's
    client = kraken_client(kraken, acct)
    try:
        await client.create_order(ETH, "market", "buy", 0.5, None, bot())
        await client.create_order(ETH, "market", "sell", 0.5, None, bot())  # ours: fine
        assert kraken.ledger.audit.violations == []
        await client.create_order(ETH, "market", "buy", 0.5, None, bot())
        params = bot()
        await client.create_order(ETH, "market", "sell", 0.8, None, params)  # 0.3 theirs
    finally:
        await client.close()
    [v] = kraken.ledger.audit.violations
    assert v.client_id == params["clientOrderId"] and v.key == ("spot", "ETH")
    assert (v.sold, v.ours, v.held) == (Decimal("0.8"), Decimal("0.5"), Decimal("5.5"))
    assert kraken.ledger.audit.quantity(acct.api_key, ("spot", "ETH")) == ZERO


@pytest.mark.sells_beyond_position
async def test_a_stop_put_back_after_a_sale_by_hand_that_sells_the_users_coins(kraken):
    """Issue 16 bug 1 as the audit sees it: the user sells our position by hand; a bot
    stop for the old amount then sells the user's other coins."""
    acct = kraken.add_account({"USD": Decimal(10000), "ETH": Decimal(1)})
    client = kraken_client(kraken, acct)
    try:
        await client.create_order(ETH, "market", "buy", 0.4, None, bot())
        await client.create_order(ETH, "market", "sell", 0.4)  # by hand: no client id
        key = ("spot", "ETH")
        assert kraken.ledger.audit.quantity(acct.api_key, key) == Decimal("0.4")  # still held
        acct.balances["ETH"] -= Decimal("0.7")  # a withdrawal of the user's coins
        assert kraken.ledger.audit.quantity(acct.api_key, key) == Decimal("0.3")
        acct.balances["ETH"] += Decimal(2)  # a deposit never grows ours
        assert kraken.ledger.audit.quantity(acct.api_key, key) == Decimal("0.3")
        stop = {**bot(), "stopLossPrice": 1900}
        await client.create_order(ETH, "market", "sell", 0.4, None, stop)
        assert kraken.ledger.audit.violations == []  # resting: nothing sold yet
        kraken.set_price(ETH, Decimal(1850))
    finally:
        await client.close()
    [v] = kraken.ledger.audit.violations
    assert (v.sold, v.ours) == (Decimal("0.4"), Decimal("0.3"))


async def test_fills_within_our_position_are_not_violations(kraken):
    """Not marked: the autouse check would fail this test on any violation."""
    acct = kraken.add_account({"USD": Decimal(10000)})
    client = kraken_client(kraken, acct)
    try:
        await client.create_order(ETH, "market", "buy", 1, None, bot())
        await client.create_order(ETH, "market", "buy", 2)  # the user's own
        await client.create_order(ETH, "market", "sell", 0.25, None, bot())
        await client.create_order(ETH, "market", "sell", 0.75, None, bot())
    finally:
        await client.close()
    audit = kraken.ledger.audit
    assert audit.violations == [] and audit.bot_sells == 2
    assert audit.quantity(acct.api_key, ("spot", "ETH")) == ZERO
    assert acct.balances["ETH"] == 2


@pytest.fixture
async def bingx():
    emu = BingXEmulator()
    await emu.start()
    emu.set_price(SWAP, Decimal(3000))
    yield emu
    await emu.stop()


@pytest.mark.sells_beyond_position
async def test_a_bot_close_beyond_our_swap_position_is_a_violation(bingx):
    acct = bingx.add_account()
    client = bingx_client(bingx, bingx.credentials(acct))
    key = ("swap", SWAP, "BOTH", "long")
    try:
        await client.create_order(SWAP, "market", "buy", 1, None, bot("bingx"))
        await client.create_order(SWAP, "market", "buy", 1)  # the user adds by hand
        await client.create_order(SWAP, "market", "sell", 0.5, None, {"reduceOnly": True})
        assert bingx.ledger.audit.quantity(acct.api_key, key) == Decimal(1)
        await client.create_order(SWAP, "market", "sell", 1.2, None, {"reduceOnly": True})
        assert bingx.ledger.audit.quantity(acct.api_key, key) == Decimal("0.3")  # clamped
        assert bingx.ledger.audit.violations == []
        params = {**bot("bingx"), "reduceOnly": True}
        await client.create_order(SWAP, "market", "sell", 0.3, None, params)  # ours: fine
        await client.create_order(SWAP, "market", "sell", 1, None, bot("bingx"))  # opens short
        await client.create_order(SWAP, "market", "buy", 1, None, bot("bingx"))  # closes it
        assert bingx.ledger.audit.violations == []
        await client.create_order(SWAP, "market", "buy", 2)  # the user's long
        params = {**bot("bingx"), "reduceOnly": True}
        await client.create_order(SWAP, "market", "sell", 2, None, params)
    finally:
        await client.close()
    [v] = bingx.ledger.audit.violations
    assert v.client_id == params["clientOrderId"] and v.key == key
    assert (v.sold, v.ours, v.held) == (Decimal(2), ZERO, Decimal(2))


@pytest.mark.sells_beyond_position
async def test_a_one_way_entry_netted_against_the_users_own_position_is_a_violation(bingx):
    """One-way mode: the account holds the user's own long; the bot's short entry (not
    reduce-only) first closes that long on the exchange, then opens the short."""
    acct = bingx.add_account()
    client = bingx_client(bingx, bingx.credentials(acct))
    try:
        await client.create_order(SWAP, "market", "buy", 1)  # the user's own long
        await client.create_order(SWAP, "market", "sell", 1.5, None, bot("bingx"))
    finally:
        await client.close()
    [v] = bingx.ledger.audit.violations
    assert v.key == ("swap", SWAP, "BOTH", "long") and (v.sold, v.ours) == (Decimal(1), ZERO)
    assert v.how == NETTED
    short = ("swap", SWAP, "BOTH", "short")
    assert bingx.ledger.audit.quantity(acct.api_key, short) == Decimal("0.5")  # ours
