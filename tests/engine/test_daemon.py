"""The composed daemon: loops for trading users (and for users holding a position),
stop on "trading off" once nothing is held, crash alerts after repeated failures, clean
drain on stop."""

from __future__ import annotations

import asyncio
import dataclasses

from nija_tg.core.models import Role, TradingMode
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate
from nija_tg.engine.clock import SimulatedClock
from nija_tg.engine.daemon import Daemon
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.runtime import Runtime
from nija_tg.storage import positions, sessions, settings_repo, users
from tests.engine.kraken_live import (
    ALWAYS_IN,
    AlwaysInParams,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.replay import ReplaySource, real_candles
from tests.outbox_text import TEXT_COLUMNS, text_of


async def until(predicate, timeout=20.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await predicate():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.02)
    return True


async def add_user(db, uid, *, trading=True, mode=TradingMode.PAPER) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, 500 + uid, None, None, Role.TRADER)
        await settings_repo.save(tx, uid, RiskSettings(allowed_pairs=("ETH", "ADA")))
        await users.set_mode(tx, uid, mode)
        await users.set_trading(tx, uid, trading)


def make_daemon(settings, db, vault, **kw):
    series = {
        ("kraken", f"{b}/USD", "5m"): real_candles(f"{b}-BTC-5m.csv", limit=400)
        for b in ("ETH", "ADA")
    }
    clock = SimulatedClock(series[("kraken", "ETH/USD", "5m")][0].ts)
    source = ReplaySource(clock, series)
    hub = MarketHub(source, clock, lockstep=True, late_retries=0)
    runtime = Runtime(dataclasses.replace(settings, engine_drain_seconds=3.0), db, vault)
    return Daemon(runtime, market_data=source, clock=clock, hub=hub, poll_interval=0.05, **kw)


async def test_daemon_runs_trading_users_and_stops_cleanly(settings, db, vault):
    await add_user(db, 1)
    await add_user(db, 2)
    await add_user(db, 3, trading=False)
    daemon = make_daemon(settings, db, vault, account_factory=None)
    stop = asyncio.Event()
    runner = asyncio.create_task(daemon.run(stop))
    try:

        async def both_running():
            return set(daemon.loops) == {1, 2} and daemon.hub.published > 0

        async def both_subscribed():
            return daemon.hub.subscribers == 2

        assert await until(both_running)
        assert await until(both_subscribed)

        async def snapshots_written():
            rows = await db.fetchall("SELECT user_id FROM snapshots")
            return {r["user_id"] for r in rows} == {1, 2}

        assert await until(snapshots_written)
        async with db.transaction() as tx:
            await users.set_trading(tx, 2, False)

        async def two_stopped():
            if await positions.list_for_user(db, 2):  # protected until closed
                view = daemon.board.view(2)
                return 2 in daemon.loops and view is not None and view.gate is Gate.PROTECT
            rows = await sessions.list_for_user(db, 2)
            return 2 not in daemon.loops and rows and rows[0].status == "stopped"

        assert await until(two_stopped, 5)
        assert set(daemon.loops) <= {1, 2} and 1 in daemon.loops
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)
    assert daemon.loops == {}
    assert await sessions.running(db, 1) is None
    assert (await sessions.list_for_user(db, 1))[0].status == "stopped"
    assert await sessions.list_for_user(db, 3) == []


async def test_repeated_crashes_alert_the_user_once(settings, db, vault):
    await add_user(db, 7, mode=TradingMode.LIVE)
    calls = []

    def broken_factory(user_id: int):
        calls.append(user_id)
        raise RuntimeError("gateway bug")

    daemon = make_daemon(settings, db, vault, account_factory=broken_factory, backoff_base=0.01)
    daemon.reconciler.alert_after = 3
    stop = asyncio.Event()
    runner = asyncio.create_task(daemon.run(stop))
    try:

        async def alerted():
            row = await db.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'error'")
            return row["n"] >= 1

        assert await until(alerted)
        assert len(calls) >= 3
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)
    rows = await db.fetchall(
        f"SELECT {TEXT_COLUMNS} FROM outbox WHERE user_id = 7 AND kind = 'error'"
    )
    assert len(rows) == 1 and "gateway bug" not in text_of(rows[0])
    assert (await users.get_user(db, 7)).status.value == "active"  # a bug is not the user's fault


async def test_hub_prices_answer_from_a_fresh_close_else_ask_the_venue(settings, db, vault):
    daemon = make_daemon(settings, db, vault, account_factory=None, hub_prices=True)
    prices, hub = daemon.paper_prices, daemon.hub
    source, clock = prices.source, hub.clock
    assert (await prices.fetch_ticker("kraken", "ETH/USD")).last > 0  # no close yet
    assert source.ticker_calls == 1
    sub = hub.subscribe([MarketKey("kraken", "ETH/USD", "5m")])
    try:
        clock.set(clock.now_ms() + 300 * 300_000)  # the replay's window is there
        boundary = clock.now_ms() // 300_000 * 300_000
        await hub.poll(boundary)
        close = hub.latest(MarketKey("kraken", "ETH/USD", "5m")).last_close
        ticker = await prices.fetch_ticker("kraken", "ETH/USD")
        assert ticker.last == close and source.ticker_calls == 1 and prices.hub_answers == 1
        await prices.fetch_ticker("kraken", "ADA/USD")  # a market the hub does not follow
        assert source.ticker_calls == 2
        clock.set(boundary + prices.max_age_ms + 1)  # a close request between candles
        await prices.fetch_ticker("kraken", "ETH/USD")
        assert source.ticker_calls == 3
    finally:
        sub.close()


async def test_paper_fills_take_the_hub_price_and_loops_start_in_batches(settings, db, vault):
    """12 paper users entering on the first close they see: no ticker request for
    their orders (the hub's close prices them); their loops were let in 5 at a time."""
    register_test_strategies()
    try:
        risk = RiskSettings(
            strategy=ALWAYS_IN,
            strategy_params=AlwaysInParams(stop_pct=50.0),
            allowed_pairs=("ETH",),
        )
        for uid in range(1, 13):
            await add_user(db, uid)
            async with db.transaction() as tx:
                await settings_repo.save(tx, uid, risk)
        daemon = make_daemon(
            settings, db, vault, account_factory=None, hub_prices=True, start_batch=5
        )
        stop = asyncio.Event()
        runner = asyncio.create_task(daemon.run(stop))
        try:

            async def all_filled():
                row = await db.fetchone("SELECT COUNT(DISTINCT user_id) AS n FROM fills")
                return row["n"] == 12

            assert await until(all_filled)
        finally:
            stop.set()
            await asyncio.wait_for(runner, 20)
        assert daemon.starts.batches >= 3
        assert daemon.paper_prices.source.ticker_calls == 0
        assert daemon.paper_prices.hub_answers >= 12
    finally:
        unregister_test_strategies()


# --- a step that outlasts its loop (daemon._run_to_end) -------------------------------


class StepOutlivesLoop:
    """What ``_run_to_end`` reads of a UserLoop: a loop whose ``run`` ends while the step
    it started (an order call that hangs) runs on until ``release`` is set."""

    def __init__(self, drain_seconds: float) -> None:
        self.user_id = 4242
        self.deps = dataclasses.make_dataclass("Deps", ["drain_seconds"])(drain_seconds)
        self.step: asyncio.Future | None = None
        self.release = asyncio.Event()

    async def run(self) -> None:
        self.step = asyncio.ensure_future(self.release.wait())


async def test_a_hung_step_is_warned_about_again_while_it_is_waited_for(caplog):
    """The loop ended, its step hangs: ``_run_to_end`` waits (the user's next loop and
    the account's release wait with it) and says so again every few drain times, not
    once; ``StepWaits`` counts the step waited for and the warnings."""
    from nija_tg.engine.daemon import STEP_WARN_DRAINS, StepWaits, _run_to_end

    loop = StepOutlivesLoop(drain_seconds=0.05)
    waits = StepWaits()
    caplog.set_level("WARNING", logger="nija_tg.engine")
    end = asyncio.create_task(_run_to_end(loop, waits))  # type: ignore[arg-type]
    period = STEP_WARN_DRAINS * 0.05
    await asyncio.sleep(3.5 * period)
    assert not end.done() and waits.waiting == 1
    warned = [r for r in caplog.records if r.levelname == "WARNING" and "4242" in r.message]
    assert len(warned) >= 3 and waits.warnings == len(warned)  # at the end, then again
    assert "still runs" in warned[-1].message
    end.cancel()  # held back until the step ends
    await asyncio.sleep(period)
    assert not end.done()
    loop.release.set()
    try:
        await asyncio.wait_for(end, 5)
    except asyncio.CancelledError:
        pass
    assert end.cancelled() and waits.waiting == 0


async def test_a_hung_step_shows_in_the_engine_metrics(db):
    """An operator sees the step that holds a user's next loop: the daemon's step waits
    served by the engine's metrics while it hangs, and back to none once it ends."""
    import socket
    import urllib.request

    from nija_tg.engine.clock import WallClock
    from nija_tg.engine.daemon import STEP_WARN_DRAINS, StepWaits, _run_to_end
    from nija_tg.engine.market_data import MarketHub
    from nija_tg.engine.metrics import EngineMetrics

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def scrape() -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }

    waits = StepWaits()
    clock = WallClock()
    metrics = EngineMetrics(
        db, MarketHub(None, clock), lambda: 0, lambda: None, lambda: 0,  # type: ignore[arg-type]
        now_ms=clock.now_ms, step_waits=waits,
    )  # fmt: skip
    metrics.serve(port, "127.0.0.1")
    loop = StepOutlivesLoop(drain_seconds=0.05)
    end = asyncio.create_task(_run_to_end(loop, waits))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(2.5 * STEP_WARN_DRAINS * 0.05)
        await metrics.refresh()
        hung = await asyncio.to_thread(scrape)
        assert hung["nija_loop_steps_waited"] == 1
        assert hung["nija_loop_step_wait_warnings_total"] >= 2
        loop.release.set()
        await asyncio.wait_for(end, 5)
        await metrics.refresh()
        ended = await asyncio.to_thread(scrape)
        assert ended["nija_loop_steps_waited"] == 0
        # A warning may fall between the scrape above and the release; none may come
        # once the step has ended, however long the operator keeps looking.
        assert (
            ended["nija_loop_step_wait_warnings_total"]
            >= hung["nija_loop_step_wait_warnings_total"]
        )
        await asyncio.sleep(3 * STEP_WARN_DRAINS * 0.05)
        await metrics.refresh()
        later = await asyncio.to_thread(scrape)
        assert later["nija_loop_steps_waited"] == 0
        assert (
            later["nija_loop_step_wait_warnings_total"]
            == ended["nija_loop_step_wait_warnings_total"]
        )
    finally:
        loop.release.set()
        await asyncio.to_thread(metrics.close)
