"""Issue 16 on swaps: positions reconciled with the account (``fetch_positions``, one
call per account per candle while a swap position of ours is open, and at loop start).

The real daemon trades BingX swaps against the emulator (``SwapRig``: real ccxt gateway,
reconciler, loops); the user closes or reduces a position by hand with their own ccxt
client, in one-way and hedge mode. Also: a ``/close`` of a position already closed by
hand is answered as such (the refused close reads the account instead of being retried
or told as a refusal), and a trailed stop is replaced without a moment unprotected (the
new stop is placed before the old one is cancelled)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.storage import close_requests, positions, users
from tests.engine.live_rig import advance_candle, until
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.swap_support import (
    SWAPFLIP,
    TF,
    SwapFlipParams,
    SwapRig,
    SwapUser,
    swap_settings,
)
from tests.fakes.test_bingx_emulator import make_client
from tests.outbox_text import TEXT_COLUMNS, text_of

UID = 7
ETH = "ETH/USDT:USDT"


_drop_test_strategy = strategies_fixture(None, None, SWAPFLIP)


rig = rig_fixture(SwapRig)


def holder(rig: SwapRig, mode: str, **changes) -> SwapUser:
    """A user whose first candle enters long on ETH, then holds (no exit for 250
    candles); trailing off unless asked."""
    first = rig.emu.candles[ETH][320][0]
    period = 500
    phase = (-(first // TF)) % (2 * period)  # slot 0 of an even cycle: long
    params = SwapFlipParams(period=period, phase=phase, stop_pct=3.0)
    risk = dict(
        leverage_cap=2,
        position_mode=mode,
        allowed_pairs=("ETH",),
        max_position_usd=Decimal(200),
        strategy_params=params,
    )
    return SwapUser(UID, swap_settings(**{**risk, **changes}), start_hedged=mode == "hedge")


async def entered(rig: SwapRig, mode: str, **changes):
    u = holder(rig, mode, **changes)
    await rig.start(u)
    await rig.step()
    ((symbol, side, amount),) = rig.exchange_positions(UID)
    assert (symbol, side) == (ETH, "long")
    (stop,) = open_stops(rig)
    return u, amount, stop


def open_stops(rig: SwapRig) -> list:
    return [o for o in rig.exchange_orders(UID, stops=True) if o.status == "open"]


async def close_by_hand(rig: SwapRig, u: SwapUser, amount: Decimal, mode: str) -> None:
    """The user sells ``amount`` of their long on the exchange's site (our stop stays)."""
    client = make_client(rig.emu, rig.emu.credentials(u.acct))
    params = {"positionSide": "LONG"} if mode == "hedge" else {"reduceOnly": True}
    try:
        await client.create_order(ETH, "market", "sell", float(amount), None, params)
    finally:
        await client.close()


async def told(rig: SwapRig) -> list[tuple[str, str]]:
    rows = await rig.db.fetchall(
        f"SELECT kind, {TEXT_COLUMNS} FROM outbox WHERE user_id = ? ORDER BY outbox_id", (UID,)
    )
    return [(r["kind"], text_of(r)) for r in rows]


@pytest.mark.parametrize("mode", ["one_way", "hedge"])
async def test_swap_closed_by_hand_is_booked_once_and_its_stop_cancelled(rig, mode):
    u, amount, stop = await entered(rig, mode)
    await close_by_hand(rig, u, amount, mode)
    assert rig.exchange_positions(UID) == set()
    trades_before = len(rig.exchange_orders(UID))
    await rig.step()  # one positions read: closed outside the bot
    assert await rig.db_positions(UID) == set()
    assert stop.status == "canceled" and open_stops(rig) == []
    row = await rig.db.fetchone(
        "SELECT * FROM fills WHERE user_id = ? AND trade_id LIKE 'external:%'", (UID,)
    )
    assert row is not None and Decimal(row["amount"]) == amount and row["order_id"] is None
    await rig.step(2)  # later candles change nothing
    assert len(rig.exchange_orders(UID)) == trades_before, "no close sent for what is gone"
    assert len(rig.exchange_orders(UID, stops=True)) == 1, "no stop put back"
    messages = await told(rig)
    outside = [t for _, t in messages if "outside the bot" in t]
    assert len(outside) == 1 and ETH in outside[0] and "closed" in outside[0]
    assert not any("Stop hit" in t for _, t in messages)
    assert not [t for k, t in messages if k == "error"]


@pytest.mark.parametrize("mode", ["one_way", "hedge"])
async def test_swap_reduced_by_hand_keeps_a_stop_for_what_is_left(rig, mode):
    u, amount, stop = await entered(rig, mode)
    part = (amount / 2).quantize(Decimal("0.01"))
    await close_by_hand(rig, u, part, mode)
    left = amount - part
    await rig.step()
    assert await rig.db_positions(UID) == {(ETH, "long", left)}
    assert stop.status == "canceled"
    (again,) = open_stops(rig)
    assert again.amount == left and again.side == "sell"
    if mode == "hedge":
        assert (again.position_side, again.reduce_only) == ("LONG", False)
    else:
        assert again.reduce_only
    await rig.step()
    assert open_stops(rig) == [again]  # kept, not replaced every candle
    outside = [t for _, t in await told(rig) if "outside the bot" in t]
    assert len(outside) == 1 and "reduced" in outside[0]


async def test_extra_contracts_opened_by_hand_never_grow_our_position(rig):
    """The account holding more than our position (the user added by hand) changes
    nothing: our position and its stop stay ours."""
    u, amount, stop = await entered(rig, "hedge")
    client = make_client(rig.emu, rig.emu.credentials(u.acct))
    try:
        await client.create_order(ETH, "market", "buy", 0.5, None, {"positionSide": "LONG"})
    finally:
        await client.close()
    await rig.step(2)
    assert await rig.db_positions(UID) == {(ETH, "long", amount)}
    assert open_stops(rig) == [stop] and stop.amount == amount
    assert not [t for _, t in await told(rig) if "outside the bot" in t]


@pytest.mark.parametrize("mode", ["one_way", "hedge"])
async def test_close_request_of_a_swap_closed_by_hand_says_so(rig, mode):
    """Between candles the user closes by hand, then asks the bot to close. The loop's
    positions read is a candle old: the close is sent and refused (nothing to close);
    the refusal makes the loop read the account, book the close outside the bot and
    answer that, instead of "refused" or "closed by its stop"."""
    u, amount, stop = await entered(rig, mode)
    await close_by_hand(rig, u, amount, mode)
    loop = rig.daemon.loops[UID]
    async with rig.db.transaction() as tx:
        request_id, _ = await close_requests.request(tx, UID, ETH)
    assert await until(lambda: loop.closes_done == 1, 5), "request not answered"
    assert (await close_requests.get(rig.db, request_id)).result == "close_nothing"
    [answer] = [t for k, t in await told(rig) if k == "info"]
    assert "closed outside the bot" in answer and "Nothing to close" in answer
    assert "stop-loss" not in answer and "refused" not in answer
    assert await rig.db_positions(UID) == set()
    messages = await told(rig)
    assert len([t for _, t in messages if "outside the bot" in t]) == 2  # booking, answer
    assert not [t for k, t in messages if k == "error"]
    assert not any("Stop hit" in t for _, t in messages)
    await rig.step()
    assert await rig.db_positions(UID) == set() and open_stops(rig) == []


async def test_a_trailed_swap_stop_is_replaced_without_a_gap(rig):
    """Every replacement of the BingX stop places the new one first: at each cancel of
    one of our stops another one of ours is already resting (the emulator logs each
    cancel with the number of orders placed by then)."""
    await entered(rig, "one_way", trailing_stop=True)
    await rig.step(12)
    assert rig.exchange_positions(UID), "held throughout (no close cancels the last stop)"
    stops = {o.order_id: o for o in rig.exchange_orders(UID, stops=True)}
    assert len(stops) >= 2, "the data should move the trailed stop at least once"
    placed = [o.order_id for o in rig.emu.ledger.orders if o.order_id in stops]
    cancels = [(oid, n) for oid, n in rig.emu.cancel_log if oid in stops]
    assert len(cancels) == len(stops) - 1
    gone: set[str] = set()
    for oid, orders_by_then in cancels:
        gone.add(oid)
        existing = {o.order_id for o in rig.emu.ledger.orders[:orders_by_then]}
        resting = [x for x in placed if x in existing and x not in gone]
        assert resting, f"stop {oid} cancelled while no other stop of ours rested"
    assert len(open_stops(rig)) == 1


async def test_a_refused_stop_the_venue_price_is_through_closes_at_market_at_once(rig):
    """The candle spikes and the trailed stop moves up, still below the candle's close
    (the engine's own check lets it through) but above the exchange's price now: the
    venue refuses the new stop. The engine reads the venue's price, sees the stop
    crossed and closes at market at once ("Stop hit" once), keeping nothing resting."""
    await entered(rig, "one_way", trailing_stop=True)
    pos = await positions.get(rig.db, UID, ETH, "long")
    entry = pos.entry_price
    closed = (rig.clock.now_ms() + TF) // TF * TF - TF
    row = next(r for r in rig.emu.candles[ETH] if int(r[0]) == closed)
    row[1], row[2], row[3], row[4] = (
        float(entry),
        float(entry * Decimal("1.06")),
        float(entry),
        float(entry * Decimal("1.05")),
    )
    # the new stop: 1.06 E minus 3% of the close, about 1.0285 E; the venue is at 1.02 E
    rig.emu.set_price(ETH, (entry * Decimal("1.02")).quantize(Decimal("0.01")))
    rig.emu.refused_types.add("STOP_MARKET")
    await advance_candle(rig.clock, rig.hub)
    assert await rig.db_positions(UID) == set()
    assert rig.exchange_positions(UID) == set()
    assert open_stops(rig) == []
    exits = [o for o in rig.exchange_orders(UID) if o.side == "sell"]
    assert len(exits) == 1 and exits[0].status == "closed"
    rows = await rig.orders(UID)
    assert [r["purpose"] for r in rows if r["side"] == "sell"] == ["stop"]
    hits = [t for k, t in await told(rig) if k == "stop"]
    assert len(hits) == 1 and "Stop hit" in hits[0]
    assert exits[0].amount == pos.amount


async def test_swap_stop_fired_while_trading_is_off_is_booked_and_told_at_once(rig):
    """Trading off with a swap position open: the loop keeps protecting it; the
    exchange fires the resting stop and the very next candle books it once and tells
    once ("Stop hit on the exchange"), with no close of ours told."""
    _, amount, stop = await entered(rig, "hedge")
    async with rig.db.transaction() as tx:
        await users.set_trading(tx, UID, False)
    counter = await users.change_counter(rig.db)
    assert await until(lambda: rig.daemon.board.version >= counter), "not read"
    assert UID in rig.daemon.loops  # kept for the open position
    rig.emu.set_price(ETH, stop.trigger_price - 10)  # the exchange fires the stop
    assert stop.status == "closed" and rig.exchange_positions(UID) == set()
    trades = len(rig.exchange_orders(UID))
    await rig.step()
    assert await rig.db_positions(UID) == set()
    rows = {r["client_order_id"].lower(): r for r in await rig.orders(UID, stops=True)}
    (fill,) = await rig.fills(rows[stop.client_id]["order_id"])
    assert Decimal(fill["amount"]) == amount
    assert len(rig.exchange_orders(UID)) == trades, "nothing sent after the stop fired"
    messages = await told(rig)
    stops = [t for k, t in messages if k == "stop"]
    assert len(stops) == 1 and stops[0].startswith("🛑 <b>Stop hit on the exchange</b>: long")
    assert [t for _, t in messages if "Stop hit" in t] == stops  # no close of ours told
    assert not any("outside the bot" in t for _, t in messages)
    assert not (await users.get_user(rig.db, UID)).trading_on


async def test_no_entry_nets_against_the_users_own_opposite_position(rig):
    """One-way mode: the user holds a short of their own; the strategy's long entry
    would only close it (BingX nets one-way orders), so it is not sent."""
    u = holder(rig, "one_way")
    await rig.start(u)
    client = make_client(rig.emu, rig.emu.credentials(u.acct))
    try:
        await client.create_order(ETH, "market", "sell", 0.1, None, {})
    finally:
        await client.close()
    await rig.step(2)
    assert rig.exchange_positions(UID) == {(ETH, "short", Decimal("0.1"))}
    assert await rig.db_positions(UID) == set()
    assert all(o.client_id is None for o in rig.exchange_orders(UID)), "no order of ours"
    assert rig.daemon.loops[UID].refusals["opposite_position_held"] >= 1
