"""Issue 5 item 4 on swaps: every open BingX position has exactly one ``STOP_MARKET``
order resting on the exchange (reduce-only in one-way mode, by ``positionSide`` in hedge
mode), none rests without a position, and a stop the exchange fires is booked once.

The real daemon trades ``test_swapflip`` (long, exit, short, exit, ...) for a one-way
and a hedge user against the BingX emulator (see swap_support.py); the invariant is
checked after every candle.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.swap_support import SWAPFLIP, SwapFlipParams, SwapRig, SwapUser, swap_settings

ONE_WAY, HEDGE = 1, 2


_drop_test_strategy = strategies_fixture(None, None, SWAPFLIP)


rig = rig_fixture(SwapRig)


def user(uid: int, mode: str, **changes) -> SwapUser:
    risk = dict(
        leverage_cap=2,
        position_mode=mode,
        allowed_pairs=("ETH", "SOL"),
        max_position_usd=Decimal(200),
        strategy_params=SwapFlipParams(period=4, stop_pct=3.0, phase=uid),
    )
    return SwapUser(uid, swap_settings(**{**risk, **changes}), start_hedged=mode == "hedge")


async def check_one_stop_per_position(rig: SwapRig) -> None:
    for uid, u in rig.users.items():
        hedged = u.risk.position_mode == "hedge"
        resting = [o for o in rig.exchange_orders(uid, stops=True) if o.status == "open"]
        held = rig.exchange_positions(uid)
        assert len(resting) == len(held), (uid, held, resting)
        rows = {r["client_order_id"].lower(): r for r in await rig.orders(uid, stops=True)}
        positions = {
            (r["symbol"], r["side"]): r
            for r in await rig.db.fetchall("SELECT * FROM positions WHERE user_id = ?", (uid,))
        }
        for symbol, side, amount in held:
            close = "sell" if side == "long" else "buy"
            (stop,) = [o for o in resting if o.symbol == symbol and o.side == close]
            assert stop.amount == amount
            if hedged:
                assert (stop.position_side, stop.reduce_only) == (side.upper(), False)
            else:
                assert (stop.position_side, stop.reduce_only) == ("BOTH", True)
            want = Decimal(positions[(symbol, side)]["stop_price"])
            assert abs(stop.trigger_price - want) <= want * Decimal("0.001") + Decimal("0.01")
            assert rows[stop.client_id]["status"] == "open"


async def test_every_open_swap_position_has_one_resting_stop_and_no_more(rig):
    one, hedge = user(ONE_WAY, "one_way"), user(HEDGE, "hedge")
    await rig.start(one, hedge)
    await rig.step(10, lambda: check_one_stop_per_position(rig))
    for uid in rig.users:
        stops = rig.exchange_orders(uid, stops=True)
        assert len(stops) >= 2, "positions were opened and protected"
        assert Counter(o.status for o in stops)["canceled"] >= 1  # released before exits
        assert all(n == 1 for n in Counter(o.client_id for o in stops).values())
        sides = {o.side for o in stops}
        assert sides == {"buy", "sell"}  # longs and shorts were both protected


async def test_swap_stop_fired_by_the_exchange_is_booked_once(rig):
    u = user(ONE_WAY, "one_way", allowed_pairs=("ETH",))
    await rig.start(u)
    for _ in range(8):
        await rig.step()
        if rig.exchange_positions(u.uid):
            break
    ((symbol, side, amount),) = rig.exchange_positions(u.uid)
    (stop,) = [o for o in rig.exchange_orders(u.uid, stops=True) if o.status == "open"]
    beyond = Decimal(-10) if side == "long" else Decimal(10)
    rig.emu.set_price(symbol, stop.trigger_price + beyond)  # the exchange fires the stop
    assert stop.status == "closed" and not rig.exchange_positions(u.uid)
    trades_before = len(rig.exchange_orders(u.uid))
    await rig.step()
    assert await rig.db_positions(u.uid) == set()
    rows = {r["client_order_id"].lower(): r for r in await rig.orders(u.uid, stops=True)}
    assert rows[stop.client_id]["status"] == "filled"
    fills = await rig.fills(rows[stop.client_id]["order_id"])
    assert len(fills) == 1 and Decimal(fills[0]["amount"]) == amount
    assert fills[0]["realized_pnl"] is not None
    new = {o.client_id for o in rig.exchange_orders(u.uid)[trades_before:]}
    rows_now = await rig.orders(u.uid)
    purposes = [r["purpose"] for r in rows_now if r["client_order_id"].lower() in new]
    assert "exit" not in purposes  # the engine did not close what the stop had closed
    stops_told = await rig.outbox(u.uid, "stop")
    assert len(stops_told) == 1 and "🛑 <b>Stop hit on the exchange</b>: " in stops_told[0]
