"""Issue 16 "never sell more than our position", issue 12 "Quantity handling": spot exits
and stops are sized to min(our position, what the account holds of the base: free +
held), read from the balances the loop fetched this close. The real daemon runs against
the Kraken emulator (``StopRig``); the user's own coins and a sale by hand are made on
the emulator, the sale with a raw ccxt client holding the user's key."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.storage import positions
from tests.engine.live_child import FLIPFLOP
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.test_exchange_stops import SYMBOL, UID, StopRig, entered
from tests.fakes.test_kraken_emulator import make_client

_drop_test_strategy = strategies_fixture(None, None, FLIPFLOP)


rig = rig_fixture(StopRig)


def eth(rig: StopRig) -> Decimal:
    return rig.acct.balances.get("ETH", Decimal(0))


def sells(rig: StopRig) -> list:
    return [o for o in rig.exchange_orders() if o.side == "sell"]


async def sell_by_hand(rig: StopRig, stop_id: str, amount: Decimal) -> None:
    """The user cancels our stop and sells ``amount`` ETH on the exchange themselves."""
    client = make_client(rig.emu, rig.acct)
    try:
        await client.cancel_order(stop_id, SYMBOL)
        await client.create_order(SYMBOL, "market", "sell", float(amount))
    finally:
        await client.close()


async def test_own_coins_of_the_user_are_never_sold_by_our_stop_or_exit(rig):
    await rig.start(period=4, trailing_stop=False)  # enter at slot 0, exit at slot 2
    rig.acct.balances["ETH"] = Decimal(5)  # the user's own coins, deposited before the entry
    pos = await entered(rig)
    (stop,) = rig.exchange_stops("open")
    assert stop.amount == pos.amount  # our position, not the whole balance
    await rig.step(2)
    assert await rig.position() is None
    assert all(o.amount <= pos.amount for o in sells(rig))
    filled = [o for o in sells(rig) if o.status == "closed"]
    assert len(filled) == 1 and filled[0].amount == pos.amount
    assert eth(rig) == Decimal(5)  # the user's own coins stay
    await rig.assert_books_match()


async def test_after_a_partial_sale_by_hand_the_stop_and_exit_sell_only_what_is_left(rig):
    await rig.start(period=4, trailing_stop=False)
    pos = await entered(rig)
    (stop,) = rig.exchange_stops("open")
    half = (pos.amount / 2).quantize(Decimal("0.00000001"))
    await sell_by_hand(rig, stop.order_id, half)
    left = eth(rig)
    assert left == pos.amount - half
    await rig.step()  # reduced to what the account holds; the stop put back for it
    now = await rig.position()
    assert now is not None and now.amount == left
    assert len([t for _, t in await rig.outbox() if "outside the bot" in t]) == 1
    again = rig.exchange_stops("open")
    assert len(again) == 1 and again[0].amount == left
    told = [t for k, t in await rig.outbox() if k == "error"]
    assert told == [], "the stop must not be refused for insufficient funds"
    await rig.step()  # the exit sells what is left, never our whole position
    ours = [o for o in sells(rig) if o is not stop]  # sent after the sale by hand
    assert all(o.amount <= left for o in ours)
    assert eth(rig) == 0


async def test_after_a_full_sale_by_hand_the_close_is_booked_once_and_nothing_is_sold(rig):
    """Issue 16 items 1 and 2: the user cancels our stop and sells our whole position by
    hand. The next candle the engine books it as closed outside the bot (at the last
    price), tells once, never puts the stop back, never sends a sell, never says "Stop
    hit"; the user's other coins stay untouched."""
    await rig.start(period=4, trailing_stop=False)
    rig.acct.balances["BTC"] = Decimal("0.05")  # the user's other coins
    pos = await entered(rig)
    (stop,) = rig.exchange_stops("open")
    await sell_by_hand(rig, stop.order_id, pos.amount)
    assert eth(rig) == 0
    before = len(rig.exchange_orders())
    await rig.step(3)  # the stop check, the exit signal, a later candle
    assert await rig.position() is None
    assert len(rig.exchange_orders()) == before, "no stop put back, no sell sent"
    assert not rig.exchange_stops("open")
    told = await rig.outbox()
    outside = [t for _, t in told if "outside the bot" in t]
    assert len(outside) == 1 and SYMBOL in outside[0]
    assert not any("Stop hit" in t for _, t in told)
    assert not [t for k, t in told if k == "error"]
    assert rig.acct.balances["BTC"] == Decimal("0.05")
    row = await rig.db.fetchone(
        "SELECT * FROM fills WHERE user_id = ? AND trade_id LIKE 'external:%'", (UID,)
    )
    assert row is not None and Decimal(row["amount"]) == pos.amount


async def test_a_position_below_the_venue_minimum_is_closed_as_dust_without_an_order(rig):
    """Issue 12 "Quantity handling": a remainder below the venue's minimum (Kraken ETH
    0.002) cannot be sold: the exit books it as dust, sends nothing, and it no longer
    counts as an open position."""
    await rig.start(period=4, trailing_stop=False)
    dust = Decimal("0.0005")
    rig.acct.balances["ETH"] = dust
    async with rig.db.transaction() as tx:
        await positions.upsert(
            tx,
            UID,
            SYMBOL,
            "long",
            amount=dust,
            entry_price=Decimal(2000),
            entry_fees=Decimal(0),
            realized_pnl=Decimal(0),
        )
    await rig.step(3)  # held: no entry at slot 0; the exit at slot 2 finds dust
    assert await rig.position() is None
    assert rig.exchange_orders() == [], "no order for dust"
    assert eth(rig) == dust
    row = await rig.db.fetchone(
        "SELECT * FROM fills WHERE user_id = ? AND trade_id LIKE 'dust:%'", (UID,)
    )
    assert row is not None and Decimal(row["amount"]) == dust
    assert not [t for k, t in await rig.outbox() if k == "error"]
