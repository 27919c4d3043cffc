"""An order's fills written at once (``record_fills``: reconciliation, look-ups, stops
found filled) and left for the group's COMMIT (``record_fills_later``: the executor's
own orders) leave the same rows: the fills (price at the market's step, fee, realised
P&L), the positions (amounts, entry, fees, realised, a kept stop and ``opened_at``),
the session's results and the one notification. Each case runs the same order on two
databases set up alike, one per path, and compares the tables."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from nija_tg.core.models import FillInfo, OrderState, OrderStatus, OrderType, Role, Side
from nija_tg.engine.execution_record import MarketFacts, record_fills, record_fills_later
from nija_tg.storage import orders, positions, sessions, users
from nija_tg.storage.db import Database

UID = 7
SPOT = MarketFacts(True, "BTC", "USDT", Decimal(1), Decimal("0.01"))
SWAP = MarketFacts(False, "BTC", "USDT", Decimal("0.001"), Decimal("0.1"))
OLD = 1.0  # opened_at of the rows set up before the order (kept by both paths)
D = Decimal


def trade(tid: str, side: Side, amount: str, price: str, fee: str, cur: str) -> FillInfo:
    return FillInfo(tid, "", side, D(amount), D(price), D(fee), cur, 1_700_000_000_000)


# (name, facts, held before: [(side, amount, entry, entry fees, stop)], order keywords,
#  the order's trades, cumulative (filled, average, fee) when the venue lists no trades)
CASES = [
    (
        "spot buy opens, fee in base and in quote, a trade listed twice",
        SPOT,
        [],
        {"side": Side.BUY},
        [
            trade("t1", Side.BUY, "0.4", "100.1", "0.0004", "BTC"),
            trade("t1", Side.BUY, "0.4", "100.1", "0.0004", "BTC"),
            trade("t2", Side.BUY, "0.6", "101.987", "0.06", "USDT"),
        ],
        None,
    ),
    (
        "spot buy adds to a long with a stop",
        SPOT,
        [("long", "1", "90", "0.09", "80")],
        {"side": Side.BUY},
        [trade("t1", Side.BUY, "0.5", "99.9", "0.05", "USDT")],
        None,
    ),
    (
        "spot sell closes the long in two trades (a closed trade)",
        SPOT,
        [("long", "1", "90", "0.09", "80")],
        {"side": Side.SELL, "purpose": "exit"},
        [
            trade("t1", Side.SELL, "0.25", "110.5", "0.0002", "BTC"),
            trade("t2", Side.SELL, "0.75", "111", "0.08", "USDT"),
        ],
        None,
    ),
    (
        "spot sell closes part of the long, the fee absent",
        SPOT,
        [("long", "2", "90", "0.18", "80")],
        {"side": Side.SELL, "purpose": "exit"},
        [trade("t1", Side.SELL, "0.5", "95.5", "0", "")],
        None,
    ),
    (
        "spot stop order resting on the exchange fills (cumulative only, no trades)",
        SPOT,
        [("long", "1", "90", "0.09", "80")],
        {"side": Side.SELL, "purpose": "stop", "trigger_price": D("80")},
        [],
        ("1", "79.9", "0.08"),
    ),
    (
        "swap one-way buy closes the short and opens a long, fee in quote",
        SWAP,
        [("short", "3", "100", "0.3", "110")],
        {"side": Side.BUY},
        [
            trade("t1", Side.BUY, "2", "95", "0.2", "USDT"),
            trade("t2", Side.BUY, "3", "95.06", "0.3", "USDT"),
        ],
        None,
    ),
    (
        "swap hedge short opens, fee in base",
        SWAP,
        [("long", "1", "90", "0.1", None)],
        {"side": Side.SELL, "position_side": "SHORT"},
        [trade("t1", Side.SELL, "4", "100", "0.000004", "BTC")],
        None,
    ),
    (
        "swap hedge short partly closed, fee in base, then the rest with the fee absent",
        SWAP,
        [("short", "5", "100", "0.5", "105")],
        {"side": Side.BUY, "position_side": "SHORT", "purpose": "exit"},
        [
            trade("t1", Side.BUY, "2", "97", "0.000002", "BTC"),
            trade("t2", Side.BUY, "3", "97.81", "0", ""),
        ],
        None,
    ),
    (
        "swap hedge long opens and adds, fee in base",
        SWAP,
        [("long", "2", "90", "0.2", "85")],
        {"side": Side.BUY, "position_side": "LONG"},
        [trade("t1", Side.BUY, "3", "92", "0.000003", "BTC")],
        None,
    ),
    (
        "swap hedge long closed, fee in base (a closed trade)",
        SWAP,
        [("long", "2", "90", "0.2", "85")],
        {"side": Side.SELL, "position_side": "LONG", "purpose": "exit"},
        [trade("t1", Side.SELL, "2", "88", "0.000002", "BTC")],
        None,
    ),
    (
        "swap one-way reduce-only sell closes part of the long",
        SWAP,
        [("long", "4", "100", "0.4", "95")],
        {"side": Side.SELL, "reduce_only": True, "purpose": "exit"},
        [trade("t1", Side.SELL, "1", "104", "0.1", "USDT")],
        None,
    ),
]


async def _arrange(db: Database, facts: MarketFacts, held: list, fields: dict) -> tuple:
    symbol = "BTC/USDT" if facts.spot else "BTC/USDT:USDT"
    async with db.transaction() as tx:
        await users.upsert_user(tx, UID, UID, "u7", "U", Role.TRADER)
        session = await sessions.start(tx, UID, "bingx", "live", D(10000), {"k": 1})
        for side, amount, entry, fees, stop in held:
            await positions.upsert(
                tx,
                UID,
                symbol,
                side,
                amount=D(amount),
                entry_price=D(entry),
                entry_fees=D(fees),
                realized_pnl=D("1.5"),
                mode="live",
            )
            if stop is not None:
                await positions.set_stop(tx, UID, symbol, side, D(stop), D(stop) + 1)
        await tx.execute("UPDATE positions SET opened_at = ?, updated_at = ?", (OLD, OLD))
        order = await orders.insert(
            tx,
            user_id=UID,
            client_order_id="njtwin000000000001",
            exchange_id="bingx",
            mode="live",
            symbol=symbol,
            type=OrderType.MARKET,
            amount=D(100),
            status=OrderStatus.SUBMITTED,
            **fields,
        )
    return order, session


def _state(order, trades: list[FillInfo], cumulative: tuple | None) -> OrderState:
    if cumulative is None:
        filled = sum({t.trade_id: t.amount for t in trades}.values(), D(0))
        average, fee = None, D(0)
    else:
        filled, average, fee = (D(x) for x in cumulative)
    return OrderState(
        "X1",
        order.client_order_id,
        order.symbol,
        order.side,
        OrderType.MARKET,
        OrderStatus.FILLED,
        order.amount,
        filled,
        average=average,
        fee=fee,
        fee_currency="USDT",
        fills=tuple(trades),
        filled_at=1_700_000_000_500,
    )


async def _tables(db: Database) -> dict:
    fills = await db.fetchall("SELECT * FROM fills ORDER BY fill_id")
    rows = await db.fetchall("SELECT * FROM positions ORDER BY symbol, side")
    held = []
    for r in rows:
        r = dict(r)
        r["opened_at"] = "kept" if r["opened_at"] == OLD else "new"
        r["updated_at"] = "kept" if r["updated_at"] == OLD else "new"
        held.append(r)
    session = await db.fetchall(
        "SELECT session_id, trades, wins, losses, pnl FROM trading_sessions"
    )
    told = await db.fetchall(
        "SELECT user_id, chat_id, kind, text, silent, status, dedupe_key, event_type, payload "
        "FROM outbox ORDER BY outbox_id"
    )
    return {
        "fills": [dict(r) for r in fills],
        "positions": held,
        "sessions": [dict(r) for r in session],
        "outbox": [dict(r) for r in told],
    }


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_written_at_once_and_at_commit_the_rows_are_the_same(tmp_path, case):
    _, facts, held, fields, trades, cumulative = case
    now_db = await Database.open(tmp_path / "now.db")
    later_db = await Database.open(tmp_path / "later.db")
    try:
        order, session = await _arrange(now_db, facts, held, fields)
        twin, twin_session = await _arrange(later_db, facts, held, fields)
        assert (order.order_id, session) == (twin.order_id, twin_session)
        state = _state(order, trades, cumulative)
        keys = dict(user_id=UID, mode="live", order=order, state=state, facts=facts)

        async with now_db.transaction() as tx:
            n_now = await record_fills(tx, **keys, session_id=session)
        sides = await positions.for_symbol(later_db, UID, order.symbol)
        async with later_db.transaction(single=True) as tx:
            n_later, pnl_after, slots = await record_fills_later(
                tx, sides, **keys, session_id=session
            )

        assert n_now == n_later > 0
        assert [s is not None and s.row is not None for s, _ in slots] == [True] * n_later, slots
        now, later = await _tables(now_db), await _tables(later_db)
        for table in ("fills", "positions", "sessions", "outbox"):
            assert now[table] == later[table], table
        # the later path's view is the rows as committed
        assert sides == await positions.for_symbol(later_db, UID, order.symbol)
        (s,) = later["sessions"]
        assert pnl_after is None if s["trades"] == 0 else pnl_after == (session, D(s["pnl"]))
        # prices written with the market's places on both paths (``at_step``: "100.1"
        # at a 0.01 step is "100.10"); a trade listed twice recorded once
        places = -facts.price_step.as_tuple().exponent
        assert all(-D(f["price"]).as_tuple().exponent >= places for f in now["fills"])
        assert len({f["trade_id"] for f in now["fills"]}) == len(now["fills"]) == n_now
    finally:
        await now_db.close()
        await later_db.close()


async def test_the_cases_cover_what_they_say(tmp_path):
    """The table above books what its names claim (a case that stopped closing, say,
    would compare two empty session rows and prove nothing)."""
    seen = set()
    for i, (name, facts, held, fields, trades, cumulative) in enumerate(CASES):
        db = await Database.open(tmp_path / f"{i}.db")
        try:
            order, session = await _arrange(db, facts, held, fields)
            async with db.transaction() as tx:
                await record_fills(
                    tx,
                    user_id=UID,
                    mode="live",
                    order=order,
                    state=_state(order, trades, cumulative),
                    facts=facts,
                    session_id=session,
                )
            t = await _tables(db)
            (s,) = t["sessions"]
            if s["trades"]:
                seen.add("closed")
            if any(f["realized_pnl"] is not None for f in t["fills"]) and any(
                p["opened_at"] == "kept" for p in t["positions"]
            ):
                seen.add("partial")
            if any(p["opened_at"] == "new" for p in t["positions"]):
                seen.add("opened")
            curs = {f["fee_currency"] for f in t["fills"]}
            seen |= {f"fee {c}" for c in curs}
            if any(
                p["stop_price"] is not None and p["updated_at"] == "new" for p in t["positions"]
            ):
                seen.add("stop kept")
            assert len(t["outbox"]) == 1, name
        finally:
            await db.close()
    assert seen >= {
        "closed",
        "partial",
        "opened",
        "fee BTC",
        "fee USDT",
        "fee None",
        "stop kept",
    }


@pytest.mark.parametrize("later", [False, True], ids=["at once", "at commit"])
async def test_a_trade_listed_twice_does_not_crowd_out_the_next(tmp_path, later):
    """The order filled 1 in trades t1 (0.4, listed twice) and t2 (0.6): both are
    recorded now (the copy of t1 once counted against the filled amount and left t2 for
    a later look-up)."""
    db = await Database.open(tmp_path / "db")
    try:
        order, session = await _arrange(db, SPOT, [], {"side": Side.BUY})
        t1 = trade("t1", Side.BUY, "0.4", "100", "0.04", "USDT")
        t2 = replace(trade("t2", Side.BUY, "0.6", "101", "0.06", "USDT"), ts=t1.ts + 1)
        state = _state(order, [t1, t1, t2], None)
        keys = dict(user_id=UID, mode="live", order=order, state=state, facts=SPOT)
        async with db.transaction(single=later) as tx:
            if later:
                n, _, _ = await record_fills_later(tx, {}, **keys, session_id=session)
            else:
                n = await record_fills(tx, **keys, session_id=session)
        assert n == 2
        got = await db.fetchall("SELECT trade_id, amount FROM fills ORDER BY fill_id")
        assert [(r["trade_id"], r["amount"]) for r in got] == [("t1", "0.4"), ("t2", "0.6")]
        (pos,) = await positions.list_for_user(db, UID)
        assert pos.amount == D(1) and pos.entry_price == D("100.6")
    finally:
        await db.close()
