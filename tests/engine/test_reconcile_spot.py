"""Issue 16 on Kraken spot, in the running daemon against the Kraken emulator
(``ProtectRig``, ``StopRig``): a ``/close`` of a position sold by hand is answered as
closed outside the bot (the refused sale reads the account instead of being told as a
refusal); a trailed stop is moved in place with ``AmendOrder`` (never a moment without
a stop on the exchange); a stop the price is already through closes the position at
market at once ("Stop hit", told once) instead of resting a stop that triggers on
arrival; a deposit of extra coins never grows our position or its stop."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.storage import close_requests
from tests.engine.kraken_live import (
    AlwaysInParams,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.live_child import FLIPFLOP, FlipFlopParams
from tests.engine.live_rig import until
from tests.engine.protect_rig import ETH, TF, ProtectRig, always_in
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.test_exchange_stops import StopRig
from tests.fakes.test_kraken_emulator import make_client

UID = 73
CANCEL = "/0/private/CancelOrder"


_test_strategies = strategies_fixture(
    register_test_strategies, unregister_test_strategies, FLIPFLOP
)


rig = rig_fixture(lambda s, d, v: ProtectRig(s, d, v, UID))


@pytest.fixture
async def stop_rig(settings, db, vault):
    r = StopRig(settings, db, vault)
    yield r
    await r.close()


async def hold_live(rig: ProtectRig, **risk):
    """One entry on the first candle, then hold (stop 3%); its stop rests on Kraken."""
    first = rig.emu.candles[ETH][320][0]
    params = FlipFlopParams(period=1000, phase=(-(first // TF)) % 1000, stop_pct=3.0)
    settings = always_in(strategy=FLIPFLOP, strategy_params=params, **risk)
    await rig.start(settings, live=True)
    await rig.step()
    pos = await rig.position()
    assert pos is not None and pos.stop_price is not None, "the first candle should enter"
    (stop,) = rig.exchange_orders(stops=True)
    return pos, stop


async def sell_by_hand(rig, stop_id: str, amount: Decimal) -> None:
    """The user cancels our stop and sells ``amount`` ETH on the exchange themselves."""
    client = make_client(rig.emu, rig.acct)
    try:
        await client.cancel_order(stop_id, ETH)
        await client.create_order(ETH, "market", "sell", float(amount))
    finally:
        await client.close()


async def test_close_of_a_position_sold_by_hand_says_it_was_closed_outside(rig):
    """Between candles the user sells our position by hand and sends /close. The loop's
    balances are a candle old: the sale is sent and Kraken refuses it (insufficient
    funds); the refusal makes the loop read the account, book the close outside the bot
    and answer so: not "refused", not "closed by its stop", no retry."""
    pos, stop = await hold_live(rig)
    await sell_by_hand(rig, stop.order_id, pos.amount)
    loop = rig.loop
    async with rig.db.transaction() as tx:
        request_id, _ = await close_requests.request(tx, UID, ETH)
    assert await until(lambda: loop.closes_done == 1, 5), "request not answered"
    assert (await close_requests.get(rig.db, request_id)).result == "close_nothing"
    [answer] = await rig.outbox("info")
    assert "Nothing to close" in answer and "closed outside the bot" in answer
    assert "stop-loss" not in answer and "refused" not in answer
    assert await rig.position() is None
    assert len([t for t in await rig.outbox() if "outside the bot" in t]) == 2
    assert await rig.outbox("error") == [] and await rig.outbox("stop") == []
    await rig.step()  # nothing more is sent for it
    ours = [o for o in rig.exchange_orders(stops=False) if o.side == "sell"]
    assert all(o.status != "closed" for o in ours), "the engine sold nothing itself"


async def test_a_trailed_stop_is_amended_in_place_never_cancelled(stop_rig):
    """Kraken: every move of the trailed stop is one AmendOrder on the same order (the
    stop rests on the exchange all along); no CancelOrder while the position is held."""
    rig = stop_rig
    await rig.start(stop_pct=1.0)  # trailing on: the stop follows new highs
    await rig.step()
    (stop,) = rig.exchange_stops("open")
    first = stop.trigger_price
    for _ in range(12):
        await rig.step()
        if await rig.position() is None:
            break
        assert rig.exchange_stops() == [stop] and stop.status == "open"
        pos = await rig.position()
        assert abs(stop.trigger_price - pos.stop_price) <= pos.stop_price * Decimal("0.001") + (
            Decimal("0.01")
        )
        row = (await rig.rows())[stop.client_id]
        assert Decimal(row["trigger_price"]) == stop.trigger_price
        assert Decimal(row["amount"]) == stop.amount == pos.amount
    assert stop.trigger_price > first, "the data should raise the trailing stop"
    assert rig.emu.trading.amends, "moved by AmendOrder"
    if await rig.position() is not None:
        assert ("POST", CANCEL) not in rig.emu.requests


async def test_a_stop_the_price_is_already_through_closes_at_market_at_once(rig):
    """The candle spikes up and falls back: the trailed stop (high minus 1%) ends above
    the close. A stop order there would trigger on arrival (or be refused): the engine
    closes the position at market at once and says "Stop hit" once; no stop order is
    ever placed above the price."""
    tight = AlwaysInParams(stop_pct=1.0)
    await rig.start(always_in(strategy_params=tight, trailing_stop=True), live=True)
    await rig.step()
    pos = await rig.position()
    assert pos is not None
    entry = pos.entry_price
    row = rig.next_row()
    row[1], row[2], row[3], row[4] = (
        float(entry),
        float(entry * Decimal("1.05")),
        float(entry),
        float(entry * Decimal("1.02")),
    )
    close = rig.emu.round_price(ETH, entry * Decimal("1.02"))
    rig.emu.set_price(ETH, close)
    await rig.step()
    assert await rig.position() is None
    assert all(o.trigger_price < entry for o in rig.exchange_orders(stops=True))
    sells = [f for f in await rig.fills() if f["side"] == "sell"]
    assert len(sells) == 1 and sells[0]["purpose"] == "stop" and sells[0]["trigger_price"] is None
    (hit,) = await rig.outbox("stop")
    assert "Stop hit" in hit


async def test_a_deposit_of_extra_coins_never_grows_our_position(stop_rig):
    """The user deposits ETH while our position is open: the position, its stop and the
    exit stay ours; the deposit stays the user's."""
    rig = stop_rig
    await rig.start(period=4, trailing_stop=False)  # enter at slot 0, exit at slot 2
    await rig.step()
    pos = await rig.position()
    (stop,) = rig.exchange_stops("open")
    rig.acct.balances["ETH"] += Decimal(3)  # the deposit
    await rig.step()
    assert (await rig.position()).amount == pos.amount
    assert rig.exchange_stops("open") == [stop] and stop.amount == pos.amount
    await rig.step()  # the exit
    assert await rig.position() is None
    sold = [o for o in rig.exchange_orders() if o.side == "sell" and o.status == "closed"]
    assert len(sold) == 1 and sold[0].amount == pos.amount
    assert rig.acct.balances["ETH"] == Decimal(3)
    assert not [t for _, t in await rig.outbox() if "outside the bot" in t]
