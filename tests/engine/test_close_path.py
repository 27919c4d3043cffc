"""The cheap per-close path: the loop's view of its positions, the executor skipping the
poll of unresolved orders while it knows there are none, signals shared between users
in the same situation, and snapshots written for many users in one transaction."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pandas as pd

from nija_tg.core.models import OrderStatus, OrderType, Role, Side
from nija_tg.engine.clock import SimulatedClock
from nija_tg.engine.execution import Executor, OrderDraft
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.exchange.paper import PaperAccount
from nija_tg.storage import positions, sessions, snapshots, users
from nija_tg.storage.paper_store import SqlitePaperStore
from nija_tg.strategies import Action, Signal, Strategy, StrategyParams, StrategyPosition
from tests.engine.kill_points import FixedPrices
from tests.engine.replay import ReplaySource, real_candles

UID = 301
SYM = "BTC/USDT"
TF = 300_000


async def make_user(db, uid: int = UID) -> int:
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, uid, f"u{uid}", "U", Role.TRADER)
        return await sessions.start(tx, uid, "bingx", "paper", Decimal(10000), {})


def executor(db, prices: FixedPrices, session_id: int) -> Executor:
    paper = PaperAccount(UID, "bingx", prices, SqlitePaperStore(db), slippage=Decimal(0))
    return Executor(
        db,
        user_id=UID,
        exchange_id="bingx",
        mode="paper",
        account=paper,
        session_id=session_id,
        lookup_attempts=2,
        lookup_backoff=0.01,
    )


def buy(amount: str = "0.01", **kw) -> OrderDraft:
    return OrderDraft(SYM, Side.BUY, OrderType.MARKET, Decimal(amount), **kw)


# --- positions: one read, then only after changes -------------------------------------------


async def test_held_positions_reads_once_and_follows_the_loops_changes(db):
    session_id = await make_user(db)
    ex = executor(db, FixedPrices(), session_id)
    held = HeldPositions(db, UID)
    assert await held.all() == [] and await held.for_symbol(SYM) == {}
    assert await held.get(SYM, "long") is None
    assert held.reads == 1  # three questions, one query
    ex.held = held  # the loop's executor books its orders' fills on the view
    await ex.submit(buy())
    await ex.submit(buy("0.02"))
    (pos,) = await held.all()  # applied by the executor: not read again
    assert held.reads == 1
    assert pos == await positions.get(db, UID, SYM, "long")  # the view is the table
    assert pos.amount == Decimal("0.03")
    held.invalidate()  # nothing wrote around the view: it is kept
    assert await held.all() == [pos] and held.reads == 1
    async with db.transaction() as tx:  # the loop's own stop move
        await positions.set_stop(tx, UID, SYM, "long", Decimal(49000), Decimal(50500))
    held.stop_moved(SYM, "long", Decimal(49000), Decimal(50500))
    moved = await held.get(SYM, "long")
    stored = await positions.get(db, UID, SYM, "long")
    assert (moved.stop_price, moved.trail_anchor) == (stored.stop_price, stored.trail_anchor)
    assert held.reads == 1
    async with db.transaction() as tx:  # a write around the view (not the loop's)
        await positions.set_stop(tx, UID, SYM, "long", Decimal(48000), None)
    assert (await held.get(SYM, "long")).stop_price == Decimal(48000)
    assert held.reads == 2  # read again


async def test_a_second_view_of_the_user_sees_the_first_ones_writes(db):
    """Writes a loop books on its own view (left for the commit) still tell any other
    view of the same user that the rows moved."""
    session_id = await make_user(db)
    ex = executor(db, FixedPrices(), session_id)
    ours, other = HeldPositions(db, UID), HeldPositions(db, UID)
    assert await ours.all() == [] and await other.all() == []
    ex.held = ours
    await ex.submit(buy())
    (pos,) = await ours.all()
    assert ours.reads == 1
    assert await other.all() == [pos] and other.reads == 2


async def test_held_positions_follow_fills_booked_around_them(db):
    """An executor that does not book on the view (a look-up, a reconciliation) writes
    the positions at once: the view sees that and reads them again."""
    session_id = await make_user(db)
    ex = executor(db, FixedPrices(), session_id)
    held = HeldPositions(db, UID)
    assert await held.all() == []
    await ex.submit(buy())
    (pos,) = await held.all()
    assert pos == await positions.get(db, UID, SYM, "long") and held.reads == 2


async def test_a_close_booked_on_the_view_deletes_the_row_and_counts_the_trade(db):
    session_id = await make_user(db)
    ex = executor(db, FixedPrices(), session_id)
    held = HeldPositions(db, UID)
    ex.held = held
    await ex.submit(buy())
    await ex.submit(OrderDraft(SYM, Side.SELL, OrderType.MARKET, Decimal("0.01"), purpose="exit"))
    assert await held.all() == [] and await positions.list_for_user(db, UID) == []
    row = await db.fetchone("SELECT trades, pnl FROM trading_sessions WHERE session_id = ?",
                            (session_id,))  # fmt: skip
    assert row["trades"] == 1 and Decimal(row["pnl"]) < 0  # fees, same price
    fills = await db.fetchall("SELECT realized_pnl FROM fills ORDER BY fill_id")
    assert [f["realized_pnl"] for f in fills][0] is None and Decimal(fills[1]["realized_pnl"]) < 0
    assert held.reads == 1


async def test_the_sessions_pnl_is_kept_in_memory_until_written_around(db):
    """The executor's closed trades add to the session's P&L it knows (no read after
    the first); a P&L write around it (an immediate booking) makes it read again, and
    the stored P&L is the sum of every closed trade either way."""
    session_id = await make_user(db)
    ex = executor(db, FixedPrices(), session_id)
    ex.held = HeldPositions(db, UID)
    seen: list[str] = []
    db._writer.set_trace_callback(seen.append)

    def pnl_reads() -> int:
        return len([s for s in seen if s.startswith("SELECT pnl FROM trading_sessions")])

    async def round_trip() -> None:
        await ex.submit(buy())
        await ex.submit(OrderDraft(SYM, Side.SELL, OrderType.MARKET, Decimal("0.01"),
                                   purpose="exit"))  # fmt: skip

    await round_trip()
    await round_trip()
    assert pnl_reads() == 1  # the first closed trade only
    await ex.reconcile()  # at a loop's start: read there, off the close path
    seen.clear()
    await round_trip()
    assert pnl_reads() == 0
    async with db.transaction() as tx:  # a closed trade booked around the executor
        await sessions.add_trade_result(tx, UID, session_id, Decimal("5"))
    await round_trip()
    assert pnl_reads() == 2  # the write around it, then the executor's own read
    db._writer.set_trace_callback(None)
    fills = await db.fetchall(
        "SELECT realized_pnl FROM fills WHERE realized_pnl IS NOT NULL ORDER BY fill_id"
    )
    assert len(fills) == 4
    row = await sessions.get(db, UID, session_id)
    assert row.trades == 5
    assert row.pnl == sum((Decimal(f["realized_pnl"]) for f in fills), Decimal(5))


async def test_the_fills_ledger_holds_the_executors_fills_as_the_table_does(db):
    """The executor's committed fills reach its ledger with their ids, as
    ``cash_flows.fills_after`` would read them; a fill booked around the ledger (the
    executor without the loop's view records at once) makes it unsure (None)."""
    from nija_tg.storage import cash_flows, fills

    session_id = await make_user(db)
    ex = executor(db, FixedPrices(), session_id)
    ex.held = HeldPositions(db, UID)
    ex.fills_ledger.start(0, fills.written(UID))
    await ex.submit(buy())
    await ex.submit(buy("0.02"))
    known = ex.fills_ledger.after(0)
    table = [dict(r) for r in await cash_flows.fills_after(db, UID, 0)]
    assert known == table and len(known) == 2
    assert ex.fills_ledger.after(known[0]["fill_id"]) == table[1:]
    ex.held = None  # recorded at once, around the ledger
    await ex.submit(buy())
    assert ex.fills_ledger.after(known[0]["fill_id"]) is None


# --- executor: no poll while nothing can be unresolved --------------------------------------


async def test_refresh_open_polls_again_after_any_order_that_may_rest(db):
    session_id = await make_user(db)
    prices = FixedPrices()
    ex = executor(db, prices, session_id)
    await ex.reconcile()
    assert not ex.clean  # nothing known until a poll found nothing
    assert await ex.refresh_open() == 0
    assert ex.clean
    r = await ex.submit(buy())  # filled at once: still nothing to poll
    assert r.status is OrderStatus.FILLED and ex.clean
    limit = OrderDraft(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), price=Decimal(49000))
    r = await ex.submit(limit)
    assert r.status is OrderStatus.OPEN and not ex.clean
    prices.prices[SYM] = Decimal(48900)
    assert await ex.refresh_open() == 1  # the resting order is polled and filled
    assert not ex.clean  # this poll still saw it open
    assert await ex.refresh_open() == 0 and ex.clean


async def test_an_order_submitted_during_a_poll_keeps_the_executor_polling(db):
    session_id = await make_user(db)
    prices = FixedPrices()
    ex = executor(db, prices, session_id)
    limit = OrderDraft(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), price=Decimal(49000))
    placed = asyncio.ensure_future(ex.submit(limit))
    await asyncio.gather(ex.refresh_open(), placed)
    assert placed.result().status is OrderStatus.OPEN
    assert not ex.clean
    prices.prices[SYM] = Decimal(48000)
    assert await ex.refresh_open() == 1


# --- signals shared between users -------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CountParams(StrategyParams):
    pass


class Counting(Strategy):
    name = "test_counting"
    params_type = CountParams

    def __init__(self) -> None:
        self.decisions = 0

    def compute(self, frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        return frame.copy()

    def decide(self, frame, i, position, params, allow_short) -> Signal:
        self.decisions += 1
        action = Action.HOLD if position is not None else Action.ENTER_LONG
        return Signal(action, 0.5, 1.0, reason=f"close {frame['close'].iloc[i]}")


async def test_signal_is_evaluated_once_per_candle_and_situation():
    eth = real_candles("ETH-BTC-5m.csv", limit=40)
    key = MarketKey("kraken", "ETH/USD", "5m")
    clock = SimulatedClock(eth[30].ts)
    hub = MarketHub(ReplaySource(clock, {tuple(key): eth}), clock, late_retries=0)
    sub = hub.subscribe([key])
    strategy, params = Counting(), CountParams()
    assert hub.signal(key, strategy, params, None, False) is None  # no candles yet
    boundary = eth[30].ts // TF * TF
    await hub.poll(boundary)
    flat = hub.signal(key, strategy, params, None, False)
    assert flat is hub.signal(key, strategy, params, None, False)  # shared
    held = StrategyPosition("long", 10.0)
    in_position = hub.signal(key, strategy, params, held, False)
    assert in_position.action is Action.HOLD and flat.action is Action.ENTER_LONG
    hub.signal(key, strategy, params, StrategyPosition("long", 10.0), False)
    hub.signal(key, strategy, params, None, True)  # shorts allowed: a situation of its own
    assert strategy.decisions == 3
    clock.set(boundary + TF + 1)
    await hub.poll(boundary + TF)  # a new candle: evaluated afresh
    fresh = hub.signal(key, strategy, params, None, False)
    assert fresh is not flat and strategy.decisions == 4
    expected = strategy.evaluate(hub.prepared(key, strategy, params), None, params=params)
    assert fresh == expected
    sub.close()


# --- snapshots: one transaction per close -----------------------------------------------------


def snap(equity: int, day: str = "2026-01-01") -> snapshots.Snapshot:
    return snapshots.Snapshot(
        equity=Decimal(equity),
        balances=[{"currency": "USD", "free": str(equity), "used": "0", "total": str(equity)}],
        start_of_day_equity=Decimal(1000),
        peak_equity=Decimal(1100),
        day=day,
        updated_at=1.0,
    )


async def test_writer_commits_every_users_snapshot_in_one_transaction(db):
    for uid in range(1, 6):
        await make_user(db, uid)
    writer = SnapshotWriter(db, max_delay=60)
    for uid in range(1, 6):
        writer.put(uid, snap(1000 + uid), ts_s=100.0)
    writer.put(3, snap(2000), ts_s=400.0)  # the next close replaces the snapshot
    assert await snapshots.get(db, 3) is None  # nothing written yet
    assert (await writer.latest(3)).equity == Decimal(2000)  # a restarting loop sees it
    assert await writer.flush() == 5
    assert writer.batches == 1 and writer.pending == 0
    assert (await snapshots.get(db, 1)).equity == Decimal(1001)
    stored = await snapshots.get(db, 3)
    assert stored.equity == Decimal(2000) and stored.peak_equity == Decimal(1100)
    assert stored.day == "2026-01-01" and stored.updated_at == 1.0
    history = await snapshots.equity_history(db, 3)
    assert history == [(100.0, Decimal(1003)), (400.0, Decimal(2000))]  # every point kept
    assert await writer.flush() == 0
    await writer.close()


async def test_writer_flushes_by_itself_and_keeps_a_failed_batch(db):
    await make_user(db)
    writer = SnapshotWriter(db, max_delay=0.01)
    writer.put(UID, snap(1234), ts_s=100.0)
    for _ in range(2000):  # up to 20 s: patience on a loaded machine, not a measure
        if writer.pending == 0:
            break
        await asyncio.sleep(0.01)
    assert (await snapshots.get(db, UID)).equity == Decimal(1234)  # the delay flushed it

    class Broken:
        def transaction(self):
            raise OSError("disk gone (test)")

    writer.db = Broken()  # type: ignore[assignment]
    writer.put(UID, snap(1300), ts_s=200.0)
    try:
        await writer.flush()
    except OSError:
        pass
    assert writer.pending == 2  # snapshot and equity point wait for the next try
    writer.db = db
    await writer.close()
    assert (await snapshots.get(db, UID)).equity == Decimal(1300)
    assert [e for _, e in await snapshots.equity_history(db, UID)] == [1234, 1300]


async def test_hub_flushes_the_writer_when_every_loop_is_done():
    eth = real_candles("ETH-BTC-5m.csv", limit=40)
    key = MarketKey("kraken", "ETH/USD", "5m")
    clock = SimulatedClock(eth[30].ts)
    hub = MarketHub(ReplaySource(clock, {tuple(key): eth}), clock, late_retries=0)
    calls: list[str] = []

    async def settle() -> None:
        calls.append("settle")

    hub.on_idle(lambda: calls.append("idle"), settle=settle)
    sub = hub.subscribe([key])
    waiter = asyncio.ensure_future(sub.next_close())
    await asyncio.sleep(0)
    assert calls == ["idle"]  # the only subscriber waits: every loop is done
    await hub.settle()
    assert calls == ["idle", "settle"]
    waiter.cancel()
    sub.close()
