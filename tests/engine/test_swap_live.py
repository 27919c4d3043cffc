"""LIVE swap trading end to end: the real daemon (reconciler, MarketHub, UserLoop,
Executor), the real ``CcxtGateway`` with vault-decrypted credentials, against the BingX
USDT-M perpetual emulator under a paced simulated clock (see swap_support.py).

Two users trade at once: one in one-way mode (leverage cap 3), one in hedge mode
(leverage cap 2), both on ETH and SOL perpetuals, with ``test_swapflip`` (long, exit,
short, exit, ... every candle). After every candle the database's positions must be the
exchange's; at the end every exchange order is one database order with one fill row,
closes carry the realised P&L, and entry sizes respect max_position_usd and
leverage_cap x equity.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal

import pytest

from nija_tg.storage import settings_repo, users
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.swap_support import SWAPFLIP, SwapFlipParams, SwapRig, SwapUser, swap_settings
from tests.fakes.bingx_ledger import DEFAULT_LEVERAGE
from tests.fakes.emulator_base import EmuOrder
from tests.outbox_text import TEXT_COLUMNS, text_of

ETH, SOL = "ETH/USDT:USDT", "SOL/USDT:USDT"
ONE_WAY, HEDGE = 1, 2
EXITS = ("exit", "stop")
CENT = Decimal("0.0001")


_drop_test_strategy = strategies_fixture(None, None, SWAPFLIP)


rig = rig_fixture(SwapRig)


def one_way_user(**changes) -> SwapUser:
    """One-way, leverage cap 3; the account starts in hedge mode (the engine must switch
    it). Sizes are capped by max_position_usd 300."""
    risk = dict(
        leverage_cap=3,
        position_mode="one_way",
        allowed_pairs=("ETH", "SOL"),
        strategy_params=SwapFlipParams(stop_pct=5.0),
    )
    return SwapUser(ONE_WAY, swap_settings(**{**risk, **changes}), start_hedged=True)


def hedge_user(**changes) -> SwapUser:
    """Hedge mode, leverage cap 2; the account starts in one-way mode. Sizes capped by
    max_position_usd 200."""
    risk = dict(
        leverage_cap=2,
        position_mode="hedge",
        allowed_pairs=("ETH", "SOL"),
        max_position_usd=Decimal(200),
        strategy_params=SwapFlipParams(stop_pct=5.0, phase=1),
    )
    return SwapUser(HEDGE, swap_settings(**{**risk, **changes}))


def leveraged_user(**changes) -> SwapUser:
    """Leverage cap 3 binds: the risk-based size (10% of equity at a 2% stop = 5x
    equity) and max_position_usd (100,000) are both larger."""
    risk = dict(
        leverage_cap=3,
        allowed_pairs=("ETH",),
        max_position_usd=Decimal(100000),
        risk_per_trade_pct=Decimal(10),
        strategy_params=SwapFlipParams(stop_pct=2.0),
    )
    return SwapUser(ONE_WAY, swap_settings(**{**risk, **changes}))


class Tracker:
    """Per-candle checks: DB positions == exchange positions; entry sizes within limits.
    Collects what happened for the final assertions."""

    def __init__(self, rig: SwapRig) -> None:
        self.rig = rig
        self.seen: dict[int, int] = {uid: 0 for uid in rig.users}
        self.sides: dict[int, Counter[str]] = {uid: Counter() for uid in rig.users}
        self.entries: dict[int, list[tuple[EmuOrder, Decimal]]] = {uid: [] for uid in rig.users}

    async def __call__(self) -> None:
        rig = self.rig
        for uid, u in rig.users.items():
            on_exchange = rig.exchange_positions(uid)
            assert await rig.db_positions(uid) == on_exchange, uid
            self.sides[uid].update(side for _, side, _ in on_exchange)
            rows = {r["client_order_id"].lower(): r for r in await rig.orders(uid)}
            new = rig.exchange_orders(uid)[self.seen[uid] :]
            self.seen[uid] += len(new)
            for o in new:
                if rows[o.client_id]["purpose"] == "entry":
                    # the loop sized it at the equity of this candle (before any order)
                    self.entries[uid].append((o, u.exchange_equities[-1]))
                    notional = o.amount * o.avg_price
                    assert notional <= u.risk.max_position_usd, (uid, notional)
                    assert notional <= u.risk.leverage_cap * u.exchange_equities[-1], uid
                    assert notional <= u.risk.leverage_cap * u.equities[-1], uid


# --- loop start: position mode and leverage ----------------------------------------------


async def test_loop_start_sets_position_mode_and_leverage_cap_for_each_symbol(rig):
    one, hedge = one_way_user(), hedge_user()
    await rig.start(one, hedge)
    ledger = rig.emu.ledger
    assert ledger.hedged == {hedge.acct.api_key}  # switched both ways
    for u in (one, hedge):
        for symbol in (ETH, SOL):
            cap = u.risk.leverage_cap
            assert cap != DEFAULT_LEVERAGE
            assert ledger.leverage[(u.acct.api_key, symbol)] == {"LONG": cap, "SHORT": cap}
    setup = Counter(rig.requests_before_first_order())
    # the mode is account-wide: read first, then switched once per account (each starts in
    # the other mode), not once per symbol
    assert setup[("POST", "/openApi/swap/v1/positionSide/dual")] == 2
    # one-way: one call (side BOTH) per symbol; hedge: LONG and SHORT per symbol
    assert setup[("POST", "/openApi/swap/v2/trade/leverage")] == 2 + 4
    assert rig.emu.ledger.orders == []


# --- trading: one-way and hedge users side by side -------------------------------------------


async def test_one_way_and_hedge_users_trade_both_sides_in_step_with_the_exchange(rig):
    one, hedge = one_way_user(), hedge_user()
    await rig.start(one, hedge)
    track = Tracker(rig)
    await rig.step(10, track)

    for u in (one, hedge):
        uid = u.uid
        ours = rig.exchange_orders(uid)
        assert all(n == 1 for n in Counter(o.client_id for o in ours).values())
        rows = {r["client_order_id"].lower(): r for r in await rig.orders(uid)}
        assert set(rows) == {o.client_id for o in ours}  # nothing rejected or missing
        assert {"long", "short"} <= set(track.sides[uid])  # shorts happen on swaps
        assert len(track.entries[uid]) >= 6
        entry_fee: dict[str, Decimal] = {}
        closes = Decimal(0)
        n_closes = 0
        for o in ours:
            row = rows[o.client_id]
            assert row["status"] == "filled" and o.status == "closed"
            fills = await rig.fills(row["order_id"])
            ex_fills = [f for f in rig.emu.ledger.fills if f.order_id == o.order_id]
            assert len(fills) == len(ex_fills) == 1
            fill = fills[0]
            assert Decimal(fill["amount"]) == o.amount == Decimal(row["amount"])
            assert Decimal(fill["price"]) == o.avg_price
            hedged = u is hedge
            if row["purpose"] == "entry":
                assert not o.reduce_only and not row["reduce_only"]
                want = ("LONG" if o.side == "buy" else "SHORT") if hedged else "BOTH"
                assert o.position_side == want
                assert row["position_side"] == (want if hedged else None)
                assert fill["realized_pnl"] is None
                entry_fee[o.symbol] = o.fee
            else:
                assert row["purpose"] in EXITS
                assert row["reduce_only"]  # an exit only ever reduces
                if hedged:  # BingX refuses reduceOnly in hedge mode: positionSide says it
                    want = "LONG" if o.side == "sell" else "SHORT"
                    assert (o.position_side, o.reduce_only) == (want, False)
                    assert row["position_side"] == want
                else:
                    assert (o.position_side, o.reduce_only) == ("BOTH", True)
                gross = rig.emu.ledger.profit[o.order_id]
                want_pnl = gross - o.fee - entry_fee.pop(o.symbol)
                assert abs(Decimal(fill["realized_pnl"]) - want_pnl) < CENT, o.client_id
                closes += Decimal(fill["realized_pnl"])
                n_closes += 1
        assert n_closes >= 5
        session = await rig.db.fetchone(
            "SELECT trades, wins, losses, pnl FROM trading_sessions WHERE user_id = ?", (uid,)
        )
        assert session["trades"] == n_closes == session["wins"] + session["losses"]
        assert abs(Decimal(session["pnl"]) - closes) < CENT
        n_fills = await rig.db.fetchone("SELECT COUNT(*) AS n FROM fills WHERE user_id = ?", (uid,))
        assert len(await rig.outbox(uid, "fill")) == n_fills["n"] == len(ours)
        assert (await users.get_user(rig.db, uid)).status.value == "active"


async def test_entry_size_is_capped_by_leverage_cap_times_equity(rig):
    u = leveraged_user()
    await rig.start(u)
    track = Tracker(rig)
    await rig.step(2, track)  # the first close is the entry candle of the cycle
    [(order, equity)] = track.entries[u.uid]
    price = order.avg_price
    notional = order.amount * price
    assert equity == u.usdt  # flat: the equity is the wallet
    assert notional <= 3 * equity
    assert notional > 3 * equity - price * Decimal("0.01")  # the cap bound (1 step below)
    summary = rig.emu.ledger.summary(u.acct.api_key)
    assert summary["used"] <= equity  # margin at the 3x the engine set


# --- restart with an open position ------------------------------------------------------------


async def test_restart_with_an_open_short_keeps_it_and_closes_it_reduce_only(rig):
    u = hedge_user(strategy_params=SwapFlipParams(period=4, phase=0, stop_pct=5.0))
    await rig.start(u)
    track = Tracker(rig)
    for _ in range(12):  # until a short is open
        await rig.step(1, track)
        if any(side == "short" for _, side, _ in rig.exchange_positions(u.uid)):
            break
    held = rig.exchange_positions(u.uid)
    assert held and {side for _, side, _ in held} == {"short"}
    await rig.restart()
    assert await rig.db_positions(u.uid) == held  # nothing booked or lost by the restart
    for _ in range(4):
        await rig.step(1, track)
        if not rig.exchange_positions(u.uid):
            break
    assert rig.exchange_positions(u.uid) == set() == await rig.db_positions(u.uid)
    ours = rig.exchange_orders(u.uid)
    assert all(n == 1 for n in Counter(o.client_id for o in ours).values())
    closes = [o for o in ours if o.side == "buy" and o.position_side == "SHORT"]
    assert len(closes) == len(held) and all(o.status == "closed" for o in closes)
    rows = await rig.orders(u.uid)
    assert len(rows) == len(ours) and all(r["status"] == "filled" for r in rows)
    for r in rows:
        assert len(await rig.fills(r["order_id"])) == 1
    sessions = await rig.db.fetchall(
        "SELECT status FROM trading_sessions WHERE user_id = ? ORDER BY session_id", (u.uid,)
    )
    assert [s["status"] for s in sessions] == ["stopped", "running"]


# --- known bugs ------------------------------------------------------------------------------


async def test_equity_with_an_open_swap_position_is_the_exchange_equity(rig):
    u = hedge_user(strategy_params=SwapFlipParams(period=4, stop_pct=5.0))
    await rig.start(u)
    await rig.step(8)
    marks = zip(u.equities, u.exchange_equities, u.exchange_upnl, strict=True)
    open_steps = [(mine, theirs, upnl) for mine, theirs, upnl in marks if abs(upnl) > 1]
    if not open_steps:
        pytest.fail("no candle with an open position in profit or loss")
    for mine, theirs, upnl in open_steps:
        assert abs(mine - theirs) < CENT, f"loop {mine} - exchange {theirs} (open P&L {upnl})"


async def test_total_exposure_stays_within_leverage_cap(rig):
    u = leveraged_user(allowed_pairs=("ETH", "SOL"), max_open_positions=2)
    await rig.start(u)
    await rig.step(2)
    rows = await rig.orders(u.uid)
    assert rows, "the flip-flop strategy enters on both symbols"
    # the first entry takes the leverage room; the second is sized to what is left (or
    # refused before sending): the exchange never has to refuse one
    exposure = sum(o.amount * o.avg_price for o in rig.exchange_orders(u.uid))
    assert [r["error"] for r in rows if r["status"] == "rejected"] == []
    assert exposure <= u.risk.leverage_cap * u.exchange_equities[-1]


async def test_losing_position_at_full_leverage_can_be_closed(rig):
    u = leveraged_user()
    await rig.start(u)
    await rig.step(5)  # long (step 1), exit, short (step 3), exit at a loss (step 4)
    rows = await rig.orders(u.uid)
    if len(rows) < 4 or rows[3]["purpose"] != "exit":
        pytest.fail(f"unexpected orders {[(r['purpose'], r['side']) for r in rows]}")
    assert rows[3]["status"] == "filled", rows[3]["error"]
    assert rig.exchange_positions(u.uid) == set()


async def test_lowered_leverage_cap_reaches_the_exchange_with_a_position_open(rig):
    u = one_way_user(strategy_params=SwapFlipParams(period=4, stop_pct=5.0))
    await rig.start(u)
    for _ in range(4):
        await rig.step(1)
        if rig.exchange_positions(u.uid):
            break
    if not rig.exchange_positions(u.uid):
        pytest.fail("no position opened")
    lowered = dataclasses.replace(u.risk, leverage_cap=2)
    async with rig.db.transaction() as tx:
        await settings_repo.save(tx, u.uid, lowered)
    await rig.restart()
    for symbol in (ETH, SOL):
        assert rig.emu.ledger.leverage[(u.acct.api_key, symbol)] == {"LONG": 2, "SHORT": 2}


async def test_a_refused_mode_switch_trades_in_the_accounts_actual_mode_and_tells_the_user(rig):
    """Issue 12 #6: the account holds an order of the user's own, so BingX refuses the
    switch to hedge mode; the engine must send one-way orders (no LONG/SHORT sides,
    which a one-way account refuses) and say so once, not only log it."""
    from tests.fakes.test_bingx_emulator import make_client

    hedge = hedge_user()
    await rig.start(hedge)
    await rig._stop_daemon()
    rig.emu.set_hedge_mode(hedge.acct, False)  # back to one-way, and an order of theirs
    own = make_client(rig.emu, rig.emu.credentials(hedge.acct))
    try:
        await own.create_order(ETH, "limit", "buy", 0.05, 100, {"clientOrderId": "mine"})
    finally:
        await own.close()
    await rig._launch()
    await rig.step(6)
    assert hedge.acct.api_key not in rig.emu.ledger.hedged  # the switch was refused
    ours = [o for o in rig.exchange_orders(hedge.uid) if o.client_id != "mine"]
    assert ours, "the engine traded"
    assert all(o.position_side == "BOTH" for o in ours)
    rows = {r["client_order_id"].lower(): r for r in await rig.orders(hedge.uid)}
    assert all(r["status"] == "filled" for r in rows.values())  # nothing refused
    told = await rig.db.fetchall(
        f"SELECT {TEXT_COLUMNS} FROM outbox WHERE user_id = ?", (hedge.uid,)
    )
    assert len([r for r in told if "position mode" in text_of(r)]) == 1
