"""The trading loop end to end in paper mode over real candles (scaled to USD-like
prices), several users with different limits sharing one MarketHub under a simulated
clock; and the loop's reaction to a key that stops working."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import Counter
from decimal import Decimal

from nija_tg.core.errors import AuthenticationError
from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.backtest import run_lockstep
from nija_tg.engine.clock import SimulatedClock, utc_day
from nija_tg.engine.market_data import MarketHub
from nija_tg.engine.user_loop import LoopDeps, UserLoop
from nija_tg.exchange.paper import InMemoryPaperStore
from nija_tg.storage import sessions, settings_repo, users
from tests.engine.replay import ReplaySource, real_candles
from tests.outbox_text import TEXT_COLUMNS, text_of

N = 450
TF = 300_000
PAIRS = ("ETH", "LTC", "ADA")
BASE = RiskSettings(allowed_pairs=PAIRS, max_open_positions=2)  # 2 of the 3 pairs at most
USERS = {
    11: dataclasses.replace(BASE, max_open_positions=1),
    12: dataclasses.replace(BASE, daily_loss_usd=Decimal(5), daily_loss_pct=Decimal("0.5")),
    13: dataclasses.replace(
        BASE,
        max_drawdown_pct=Decimal(1),
        max_position_usd=Decimal(5000),
        risk_per_trade_pct=Decimal(10),
        max_open_positions=3,
        daily_loss_usd=Decimal(100000),
        daily_loss_pct=Decimal(50),
    ),
    14: dataclasses.replace(BASE, allowed_pairs=("ETH",)),
    15: BASE,
}


async def add_user(db, uid: int, settings: RiskSettings, mode=TradingMode.PAPER) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, 1000 + uid, f"u{uid}", None, Role.TRADER)
        await settings_repo.save(tx, uid, settings)
        await users.set_trading(tx, uid, True)
        await users.set_mode(tx, uid, mode)


async def fills_of(db, uid: int) -> list[dict]:
    rows = await db.fetchall(
        "SELECT f.symbol, f.side, f.amount, f.price, f.realized_pnl, f.ts, o.purpose "
        "FROM fills f LEFT JOIN orders o ON o.order_id = f.order_id WHERE f.user_id = ? "
        "ORDER BY f.fill_id",
        (uid,),
    )
    return [dict(r) for r in rows]


async def outbox_of(db, uid: int, kind: str) -> list[str]:
    rows = await db.fetchall(
        f"SELECT {TEXT_COLUMNS} FROM outbox WHERE user_id = ? AND kind = ? ORDER BY outbox_id",
        (uid, kind),
    )
    return [text_of(r) for r in rows]


def max_open(fills: list[dict]) -> int:
    open_now: set[str] = set()
    most = 0
    for f in fills:
        if f["realized_pnl"] is None:
            open_now.add(f["symbol"])
        else:
            open_now.discard(f["symbol"])
        most = max(most, len(open_now))
    return most


async def test_paper_users_share_market_data_and_each_hits_its_own_limits(db):
    series = {("kraken", f"{b}/USD", "5m"): real_candles(f"{b}-BTC-5m.csv", limit=N) for b in PAIRS}
    eth = series[("kraken", "ETH/USD", "5m")]
    clock = SimulatedClock(eth[0].ts)
    source = ReplaySource(clock, series)
    hub = MarketHub(source, clock, lockstep=True, late_retries=0)
    deps = LoopDeps(db, hub, clock, source, paper_store=InMemoryPaperStore())
    for uid, settings in USERS.items():
        await add_user(db, uid, settings)
    loops = {uid: UserLoop(deps, uid) for uid in USERS}
    await asyncio.wait_for(run_lockstep(hub, list(loops.values()), eth[-1].ts + TF), 300)

    # market data: one request per market per candle close, whatever the user count
    assert set(hub.stats.per_boundary.values()) == {3}
    assert len(source.ohlcv_calls) == 3
    assert len(set(source.ohlcv_calls.values())) == 1
    assert hub.indicators.misses <= 3 * len(hub.stats.per_boundary)

    # 11: one position at a time; refused entries because of it
    f11 = await fills_of(db, 11)
    assert f11 and max_open(f11) == 1
    assert loops[11].refusals["max_open_positions"] > 0
    assert max_open(await fills_of(db, 15)) == 2  # the same market with max 2

    # 12: daily loss -> one notification per day, no entries after it that day
    alerts12 = [(ts, kind) for ts, kind in loops[12].alerts if kind == "daily_loss"]
    assert alerts12
    days = [utc_day(ts) for ts, _ in alerts12]
    assert len(days) == len(set(days))
    assert len(await outbox_of(db, 12, "daily_loss")) == len(days)
    for ts, _ in alerts12:
        day = utc_day(ts)
        later_entries = [
            f
            for f in await fills_of(db, 12)
            if f["realized_pnl"] is None and f["ts"] * 1000 > ts and utc_day(f["ts"] * 1000) == day
        ]
        assert later_entries == []
    assert loops[12].refusals["daily_loss"] > 0

    # 13: drawdown -> paused with one alert; no entries after it, but the positions it
    # held stay protected: only their stops closed them afterwards (issue 12 item 2)
    user13 = await users.get_user(db, 13)
    assert user13.status is UserStatus.PAUSED and user13.pause_reason == "drawdown"
    assert len(await outbox_of(db, 13, "drawdown")) == 1
    (paused_at, _kind) = next(a for a in loops[13].alerts if a[1] == "drawdown")
    later = [f for f in await fills_of(db, 13) if f["ts"] * 1000 > paused_at]
    assert later, "the data takes a held position through its stop after the pause"
    assert all(f["side"] == "sell" and f["purpose"] == "stop" for f in later), later
    held13 = {f["symbol"] for f in await fills_of(db, 13) if f["ts"] * 1000 <= paused_at}
    assert {f["symbol"] for f in later} <= held13
    (session13,) = await sessions.list_for_user(db, 13)
    assert session13.status == "paused"
    for uid in (11, 12, 14, 15):
        assert (await users.get_user(db, uid)).status is UserStatus.ACTIVE
        assert (await sessions.list_for_user(db, uid))[0].status == "stopped"

    # a daily summary for each UTC day that ended while the user traded, once each
    first_day, last_day = utc_day(eth[0].ts), utc_day(eth[-1].ts)
    assert first_day != last_day  # the replay crosses midnight
    summaries = await outbox_of(db, 15, "summary")
    assert len(summaries) == 1 and f"Daily summary {first_day}" in summaries[0]
    assert re.search(r"P&amp;L [+-][\d,]+\.\d\d USD, equity [\d,]+\.\d\d USD", summaries[0])
    assert re.search(r"; \d+ closed trades?, \d+ won", summaries[0])

    # snapshots for the bot
    snap = await db.fetchone("SELECT * FROM snapshots WHERE user_id = 15")
    assert snap["equity"] and snap["peak_equity"] and snap["day"] == utc_day(clock.now_ms())
    # (backtest == live paper: tests/engine/test_backtest_parity.py, over 5,760 candles
    # with a venue's minimums and the next-open fill model)


class RefusingAccountFactory:
    """A live account factory whose exchange refuses the key."""

    def __init__(self) -> None:
        self.calls = Counter()

    def __call__(self, user_id: int):
        self.calls[user_id] += 1
        raise AuthenticationError("exchange said: invalid key")


async def test_refused_key_pauses_the_user_once_and_the_loop_returns(db):
    eth = real_candles("ETH-BTC-5m.csv", limit=10)
    clock = SimulatedClock(eth[0].ts)
    source = ReplaySource(clock, {("kraken", "ETH/USD", "5m"): eth})
    hub = MarketHub(source, clock, lockstep=True)
    factory = RefusingAccountFactory()
    deps = LoopDeps(db, hub, clock, source, account_factory=factory)
    await add_user(db, 21, BASE, mode=TradingMode.LIVE)
    await asyncio.wait_for(UserLoop(deps, 21).run(), 10)  # returns, does not raise
    user = await users.get_user(db, 21)
    assert user.status is UserStatus.PAUSED and user.pause_reason == "connection"
    texts = await outbox_of(db, 21, "connection")
    assert len(texts) == 1 and "/connect" in texts[0] and "invalid key" not in texts[0]
    assert 21 not in await users.trading_user_ids(db)


class SlowAccount:
    """Wraps a paper account; create_order waits until released."""

    def __init__(self, inner, gate: asyncio.Event, entered: asyncio.Event) -> None:
        self.inner, self.gate, self.entered = inner, gate, entered
        self.exchange_id = inner.exchange_id

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def create_order(self, request):
        self.entered.set()
        await self.gate.wait()
        return await self.inner.create_order(request)


async def test_cancel_during_submit_lets_the_order_complete(db):
    from nija_tg.engine.execution import OrderDraft
    from nija_tg.exchange.paper import PaperAccount

    eth = real_candles("ETH-BTC-5m.csv", limit=20)
    clock = SimulatedClock(eth[5].ts + TF + 1)
    source = ReplaySource(clock, {("kraken", "ETH/USD", "5m"): eth})
    gate, entered = asyncio.Event(), asyncio.Event()

    def factory(uid: int):
        inner = PaperAccount(uid, "kraken", source, InMemoryPaperStore(), clock=clock.now_ms)
        return SlowAccount(inner, gate, entered)

    hub = MarketHub(source, clock)
    deps = LoopDeps(db, hub, clock, source, account_factory=factory, drain_seconds=10)
    await add_user(db, 31, dataclasses.replace(BASE, allowed_pairs=("ETH",)), TradingMode.LIVE)
    loop = UserLoop(deps, 31)
    await loop.start()
    from nija_tg.core.models import OrderType, Side

    draft = OrderDraft("ETH/USD", Side.BUY, OrderType.MARKET, Decimal("0.01"))
    task = asyncio.create_task(loop.orders.submit(draft))
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # waiting for the order in flight
    gate.set()
    results = await asyncio.gather(task, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    row = await db.fetchone("SELECT status, filled FROM orders WHERE user_id = 31")
    assert row["status"] == "filled" and Decimal(row["filled"]) == Decimal("0.01")
    await loop.finish("stopped")


async def test_swapped_ciphertext_is_refused_and_the_loop_does_not_start(db, vault):
    """User A's credential blob copied into user B's row: B's loop pauses B at once and
    tells them to reconnect; nothing is traded with A's keys."""
    from nija_tg.config import load_settings
    from nija_tg.engine_main import account_factory
    from nija_tg.exchange.ccxt_gateway import CcxtGateway
    from nija_tg.runtime import Runtime
    from nija_tg.storage import credentials

    eth = real_candles("ETH-BTC-5m.csv", limit=10)
    clock = SimulatedClock(eth[0].ts)
    source = ReplaySource(clock, {("kraken", "ETH/USD", "5m"): eth})
    hub = MarketHub(source, clock, lockstep=True)
    await add_user(db, 31, BASE, mode=TradingMode.LIVE)  # A
    await add_user(db, 32, BASE, mode=TradingMode.LIVE)  # B
    blob_a = vault.seal(31, "kraken", {"apiKey": "A-KEY-0123456789", "secret": "A-SECRET"})
    async with db.transaction() as tx:
        await credentials.store(tx, 31, "kraken", blob_a, "6789", verified=True)
        await credentials.store(tx, 32, "kraken", blob_a, "6789", verified=True)  # swapped
    gateway = CcxtGateway(exchange_urls={"kraken": "http://127.0.0.1:9"})  # never reached
    runtime = Runtime(load_settings({"NIJA_DATA_DIR": str(db.path.parent)}, dotenv=None), db, vault)
    deps = LoopDeps(db, hub, clock, source, account_factory=account_factory(runtime, gateway))
    try:
        await asyncio.wait_for(UserLoop(deps, 32).run(), 10)  # returns, does not raise
    finally:
        await gateway.close_all()
    user_b = await users.get_user(db, 32)
    assert user_b.status is UserStatus.PAUSED and user_b.pause_reason == "connection"
    texts = await outbox_of(db, 32, "connection")
    assert len(texts) == 1 and "/connect" in texts[0]
    assert await db.fetchone("SELECT 1 FROM orders WHERE user_id = 32") is None
    assert 32 not in await users.trading_user_ids(db)
    assert (await users.get_user(db, 31)).status is UserStatus.ACTIVE


async def test_a_cancelled_step_finishes_without_new_entries(db):
    """SIGTERM cancels the loop mid-candle: the step runs to its end (orders already in
    flight complete) but places no new entry after the cancel."""
    from nija_tg.engine.market_data import MarketKey
    from nija_tg.strategies import Action, Signal

    eth = real_candles("ETH-BTC-5m.csv", limit=20)
    clock = SimulatedClock(eth[5].ts + TF + 1)
    source = ReplaySource(clock, {("kraken", "ETH/USD", "5m"): eth})
    deps = LoopDeps(db, MarketHub(source, clock), clock, source, drain_seconds=10)
    await add_user(db, 33, dataclasses.replace(BASE, allowed_pairs=("ETH",)))
    loop = UserLoop(deps, 33)
    await loop.start()
    gate, reached = asyncio.Event(), asyncio.Event()
    entry = Signal(Action.ENTER_LONG, confidence=0.9, stop_distance=1.0, reason="test")

    async def step() -> None:  # a candle whose second half comes after the cancel
        reached.set()
        await gate.wait()
        await loop.trading.act(MarketKey("kraken", "ETH/USD", "5m"), entry, False)

    task = asyncio.create_task(loop._whole(step()))
    await asyncio.wait_for(reached.wait(), 5)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # the step is allowed to finish
    gate.set()
    results = await asyncio.gather(task, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert loop.refusals["stopping"] == 1
    assert await db.fetchone("SELECT 1 FROM orders WHERE user_id = 33") is None
    await loop.finish("stopped")
