"""The engine daemon: the reconciler turning desired state into one UserLoop per user who
trades or holds a position (the GateBoard telling each loop its gate and waking it for
a close request), the shared MarketHub feeding them candle closes, the heartbeat the
bot watches. Runs until ``stop_event`` is set, then drains: loops are cancelled (orders
in flight complete first), sessions closed, the last snapshots written. Notifications
are outbox rows: the bot process delivers them. A user's next loop starts only once
their previous loop and the step it was running have ended (``_run_to_end``): two loops
of one user never write at once.

Paper accounts price their market orders from the hub (``HubPrices``: the close the
loops just acted on, when it is fresh) instead of one ticker request per order, and
loops start in batches (``StartBatches``) so that thousands of them starting at once
do not all do their start-up work together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.core.events import LoopCrashed
from nija_tg.core.models import Candle, MarketInfo, Ticker, TradingMode
from nija_tg.engine import gc_tuning, notify
from nija_tg.engine.clock import Clock
from nija_tg.engine.heartbeat import Heartbeat
from nija_tg.engine.market_data import MarketHub
from nija_tg.engine.protection import GateBoard
from nija_tg.engine.reconciler import Reconciler
from nija_tg.engine.settings_watch import SettingsWatch
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.engine.user_loop import AccountFactory, LoopDeps, UserLoop
from nija_tg.exchange.protocol import MarketDataSource
from nija_tg.exchange.venue_health import VenueHealth
from nija_tg.runtime import Runtime
from nija_tg.services import desired_state
from nija_tg.storage.paper_store import SqlitePaperStore

log = logging.getLogger("nija_tg.engine")


class HubPrices:
    """The market data a paper account prices its orders from: the price now is the
    close of the market's newest closed candle the hub holds (what the loops just acted
    on), while that close is at most ``max_age_ms`` old; else (a market the hub does not
    follow, or a close request between candles) the venue's ticker. Everything else goes
    to the venue. 1,000 paper users entering at one close: no ticker request, where
    there was one per order."""

    def __init__(
        self, source: MarketDataSource, hub: MarketHub, clock: Clock, max_age_ms: int = 60_000
    ) -> None:
        self.source = source
        self.hub = hub
        self.clock = clock
        self.max_age_ms = max_age_ms
        self.hub_answers = 0  # prices the hub gave (tests, benchmarks)

    def fresh_price(self, exchange_id: str, symbol: str) -> Decimal | None:
        """The hub's newest close of the market, if fresh enough."""
        price = self.hub.price(exchange_id, symbol)
        if price is None:
            return None
        now = self.clock.now_ms()
        for key in self.hub.keys:
            if key.exchange != exchange_id or key.symbol != symbol:
                continue
            closed = self.hub.latest(key)
            if closed is not None and now - closed.closed_at <= self.max_age_ms:
                return price
        return None

    async def fetch_ticker(self, exchange_id: str, symbol: str) -> Ticker:
        price = self.fresh_price(exchange_id, symbol)
        if price is None:
            return await self.source.fetch_ticker(exchange_id, symbol)
        self.hub_answers += 1
        return Ticker(symbol, price, ts=self.clock.now_ms())

    async def fetch_ohlcv(
        self,
        exchange_id: str,
        symbol: str,
        timeframe: str,
        since: int | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        return await self.source.fetch_ohlcv(exchange_id, symbol, timeframe, since, limit)

    async def market(self, exchange_id: str, symbol: str) -> MarketInfo:
        return await self.source.market(exchange_id, symbol)

    def __getattr__(self, name: str) -> Any:  # e.g. a replay's mark_price
        return getattr(self.source, name)


class StartBatches:
    """Loops start ``size`` at a time: the next batch is let in once the hub counts as
    many more subscribers as the last batch started (their start-up done: settings,
    account, reconciliation, subscription), or after ``max_wait_s`` (a loop that ends at
    start never subscribes)."""

    def __init__(self, hub: MarketHub, size: int = 250, max_wait_s: float = 2.0) -> None:
        self.hub = hub
        self.size = max(1, size)
        self.max_wait_s = max_wait_s
        self._lock = asyncio.Lock()
        self._in_batch = 0
        self._target = 0
        self.batches = 0

    async def admit(self) -> None:
        async with self._lock:
            if self._in_batch >= self.size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.hub.wait_for_subscribers(self._target), self.max_wait_s
                    )
                self._in_batch = 0
            if self._in_batch == 0:
                self.batches += 1
                self._target = self.hub.subscribers
            self._in_batch += 1
            self._target += 1


class Daemon:
    """The composed engine; ``run_daemon`` is the usual way in."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        account_factory: AccountFactory | None,
        market_data: MarketDataSource,
        clock: Clock,
        hub: MarketHub | None = None,
        release_account: Callable[[int, str], Awaitable[None]] | None = None,
        poll_interval: float = 0.25,
        backoff_base: float = 1.0,
        venues: VenueHealth | None = None,
        heartbeat_interval_s: float = 5.0,
        metrics_port: int | None = None,
        metrics_listen: str = "127.0.0.1",
        hub_prices: bool = False,
        start_batch: int = 250,
        freeze_after_start: bool = False,
        freeze_wait_s: float = 120.0,
    ) -> None:
        settings = runtime.settings
        self.db = runtime.db
        self.hub = hub or MarketHub(market_data, clock)
        # hub_prices: paper orders priced from the hub (engine_main turns it on)
        self.paper_prices = HubPrices(market_data, self.hub, clock) if hub_prices else None
        self.starts = StartBatches(self.hub, start_batch)
        self.release_account = release_account
        self.drain_seconds = settings.engine_drain_seconds
        self.board = GateBoard()
        self.deps = LoopDeps(
            db=self.db,
            hub=self.hub,
            clock=clock,
            market_data=self.paper_prices or market_data,
            account_factory=account_factory,
            paper_store=SqlitePaperStore(self.db),
            paper_balance=Decimal(str(settings.paper_start_balance)),
            drain_seconds=self.drain_seconds,
            snapshots=SnapshotWriter(self.db),
            settings_watch=SettingsWatch(self.db),
            board=self.board,
        )
        self.loops: dict[int, UserLoop] = {}
        # the task of each user's current loop life (``_loop``): a user's next life waits
        # for the previous one to end, its in-flight step included
        self.lives: dict[int, asyncio.Task] = {}
        self.step_waits = StepWaits()  # steps outlasting their loop, waited for
        # freeze_after_start (engine_main): the collector's long-lived objects frozen
        # once the first desired loops are subscribed (gc_tuning)
        self.freeze_after_start = freeze_after_start
        self.freeze_wait_s = freeze_wait_s
        self.first_desired: asyncio.Future[int] | None = None
        self.gc_frozen: tuple[int, int] | None = None  # (objects frozen, loops subscribed)
        self.heartbeat = Heartbeat(
            self.db, self.hub, lambda: len(self.loops), venues, interval_s=heartbeat_interval_s
        )
        self.metrics = None
        if metrics_port is not None:
            from nija_tg.engine.metrics import EngineMetrics

            self.metrics = EngineMetrics(
                self.db,
                self.hub,
                lambda: len(self.loops),
                lambda: self.heartbeat.last_beat_at,
                lambda: self.heartbeat.last_backlog,
                now_ms=clock.now_ms,
                step_waits=self.step_waits,
            )
            self.metrics.serve(metrics_port, metrics_listen)
        self.reconciler = Reconciler(
            desired_users=self._desired,
            change_counter=lambda: desired_state.change_counter(self.db),
            loop_factory=self._loop,
            on_crash_alert=self._crash_alert,
            poll_interval=poll_interval,
            backoff_base=backoff_base,
        )

    async def _desired(self) -> set[int]:
        """Who needs a loop; their gates go to the board (and close requests wake)."""
        state = await desired_state.read(self.db)
        self.board.update(state)
        if self.first_desired is not None and not self.first_desired.done():
            self.first_desired.set_result(len(state.loops))
        return state.loops

    async def _loop(self, user_id: int) -> None:
        """One life of the user's loop. It starts only once the user's previous life has
        ended, the step its loop was running included; it ends only once its own step
        has (``_run_to_end``)."""
        me = asyncio.current_task()
        assert me is not None
        while (previous := self.lives.get(user_id)) is not None and not previous.done():
            log.info("user %s: the next loop waits for the previous one's step", user_id)
            await asyncio.wait({previous})
        self.lives[user_id] = me  # taken with no await since the check above
        try:
            await self.starts.admit()
            loop = UserLoop(self.deps, user_id)
            self.loops[user_id] = loop
            try:
                await _run_to_end(loop, self.step_waits)
            finally:
                if self.loops.get(user_id) is loop:
                    del self.loops[user_id]
                if self.release_account is not None and loop.mode is TradingMode.LIVE:
                    try:
                        await self.release_account(user_id, loop.exchange_id)
                    except Exception:
                        log.exception("releasing the account of user %s failed", user_id)
        finally:
            if self.lives.get(user_id) is me:
                del self.lives[user_id]

    async def _crash_alert(self, user_id: int, failures: int, error: BaseException) -> None:
        log.error("loop of user %s failed %d times: %s", user_id, failures, type(error).__name__)
        async with self.db.transaction() as tx:
            await notify.tell(tx, user_id, LoopCrashed(failures))

    async def _freeze_once_started(self) -> None:
        """Once the loops desired at start are subscribed to the hub (or after
        ``freeze_wait_s``: a loop that ends at start never subscribes), the collector's
        long-lived objects are frozen (gc_tuning.freeze_long_lived)."""
        assert self.first_desired is not None
        count = await self.first_desired
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.hub.wait_for_subscribers(count), self.freeze_wait_s)
        subscribed = self.hub.subscribers
        self.gc_frozen = (gc_tuning.freeze_long_lived(), subscribed)

    async def run(self, stop: asyncio.Event) -> None:
        if self.freeze_after_start:
            self.first_desired = asyncio.get_running_loop().create_future()
        tasks = [
            asyncio.create_task(self.hub.run(stop), name="market-hub"),
            asyncio.create_task(self.reconciler.run(stop), name="reconciler"),
            asyncio.create_task(self.heartbeat.run(stop), name="heartbeat"),
        ]
        if self.metrics is not None:
            tasks.append(asyncio.create_task(self.metrics.run(stop), name="metrics"))
        if self.freeze_after_start:
            tasks.append(asyncio.create_task(self._freeze_once_started(), name="gc-freeze"))
        log.info("engine running")
        try:
            await stop.wait()
        finally:
            log.info("engine stopping: draining loops")
            # loops bound their own wait by the drain time; the runtime is closed only
            # after them (engine_main), so give them all of it
            await self.reconciler.shutdown(grace=max(0.1, self.drain_seconds))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.deps.snapshots is not None:
                try:
                    await self.deps.snapshots.close()  # the loops' last snapshots
                except Exception:
                    log.exception("writing the last snapshots failed")
            if self.metrics is not None:
                await asyncio.to_thread(self.metrics.close)
            log.info("engine stopped")


# While ``_run_to_end`` waits for a step that outlasted its loop: a warning every this
# many drain times (at most one every STEP_WARN_MIN_S), and one when it begins
STEP_WARN_DRAINS = 3
STEP_WARN_MIN_S = 0.1


@dataclass
class StepWaits:
    """Steps that outlasted their loop's drain time, which ``_run_to_end`` waits for (a
    hung order call holds the user's next loop and the account's release): how many
    are waited for now, and the warnings logged about them. ``Daemon.step_waits``, for
    an operator's metrics (engine/metrics.py serves both)."""

    waiting: int = 0
    warnings: int = 0


async def _run_to_end(loop: UserLoop, waits: StepWaits | None = None) -> None:
    """Run ``loop`` and return (or raise) only once it and its last step have ended.

    A cancel (the reconciler stopping the loop; it cancels again on every pass until the
    task ends) reaches the loop once: the loop finishes its step (orders in flight
    included; ``UserLoop._whole`` waits up to the drain time) and ends. Later cancels
    are held back until then, and so is the end of a step that outlasted the drain time
    (``UserLoop.step``): while it runs, its order's answer and fills still go to this
    loop's executor, session and account client, so no other loop of the user may start,
    nor may the account be released. The cancel is raised at the end. While it waits
    for such a step it logs a warning every ``STEP_WARN_DRAINS`` drain times, counted in
    ``waits``."""
    run = asyncio.ensure_future(loop.run())
    cancelled = False
    while not run.done():
        try:
            await asyncio.wait({run})
        except asyncio.CancelledError:
            if not cancelled:
                run.cancel()
            cancelled = True
    step = loop.step
    if step is not None and not step.done():
        drain = loop.deps.drain_seconds
        log.warning(
            "user %s: the loop ended while its step still runs (drain time %.1f s); waiting for it",
            loop.user_id,
            drain,
        )
        every = max(STEP_WARN_DRAINS * drain, STEP_WARN_MIN_S)
        began = time.monotonic()
        if waits is not None:
            waits.waiting += 1
            waits.warnings += 1
        try:
            while not step.done():
                try:
                    await asyncio.wait({step}, timeout=every)
                except asyncio.CancelledError:
                    cancelled = True
                    continue
                if not step.done():
                    if waits is not None:
                        waits.warnings += 1
                    log.warning(
                        "user %s: the loop's step still runs %.0f s after the loop ended "
                        "(drain time %.1f s); the user's next loop and the account's "
                        "release wait for it",
                        loop.user_id,
                        time.monotonic() - began,
                        drain,
                    )
        finally:
            if waits is not None:
                waits.waiting -= 1
    if cancelled:
        if not run.cancelled() and (error := run.exception()) is not None:
            log.warning("user %s: loop ended with %s", loop.user_id, type(error).__name__)
        raise asyncio.CancelledError
    await run  # the loop's own end: returned, cancelled or raised


async def run_daemon(
    runtime: Runtime,
    stop_event: asyncio.Event,
    *,
    account_factory: AccountFactory | None,
    market_data: MarketDataSource,
    clock: Clock,
    **options: Any,
) -> None:
    """Run the engine until ``stop_event`` is set, then drain within the drain time."""
    daemon = Daemon(
        runtime, account_factory=account_factory, market_data=market_data, clock=clock, **options
    )
    await daemon.run(stop_event)
