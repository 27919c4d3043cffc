"""One user's trading loop.

Start: load settings, build the account (paper, or live through the injected factory),
open a trading session, reconcile orders. Then on every candle close of the user's
markets: reload the settings if they changed (``SettingsWatch``: a /set or an admin
bound holds from the next decision, not from the next restart), enforce stops on the
candle, refresh equity and the snapshot (UTC day rollover, peak), apply the limits
(drawdown: pause and alert, then return; daily loss: no new entries today, one alert),
evaluate the strategy on the shared indicator frame and submit what the risk check
approves.

A key that stops working (AuthenticationError, VaultError) pauses the user with one
"connection" notification and ends the loop: no crash loop. Cancellation (stop, pause,
global halt, shutdown) never abandons an order in flight: the submit is shielded.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.core.errors import AuthenticationError, NijaError, RetryableError, VaultError
from nija_tg.core.models import MarketInfo, TradingMode, UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.clock import Clock
from nija_tg.engine.execution import Executor
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.loop_book import LoopBook, StopLoop
from nija_tg.engine.loop_support import connection_text, symbols_for
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.engine.settings_watch import SettingsWatch
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.engine.trading import TradingActions
from nija_tg.exchange.paper import InMemoryPaperStore, PaperAccount, PaperStore
from nija_tg.exchange.protocol import MarketDataSource, TradingAccount
from nija_tg.storage import credentials, outbox, sessions, settings_repo, users
from nija_tg.storage.db import Database
from nija_tg.strategies import Signal

log = logging.getLogger("nija_tg.engine.loop")

AccountFactory = Callable[[int], TradingAccount | Awaitable[TradingAccount]]


@dataclass
class LoopDeps:
    """What every user loop shares (built once by the daemon or the backtest)."""

    db: Database
    hub: MarketHub
    clock: Clock
    market_data: MarketDataSource  # prices and markets for paper accounts
    account_factory: AccountFactory | None = None  # live accounts (vault + gateway)
    paper_store: PaperStore | None = None
    paper_exchange: str = "kraken"  # paper users without a connected exchange
    paper_balance: Decimal = Decimal(10000)
    paper_currency: str | None = None  # default: USD on USD-quoted exchanges, else USDT
    paper_fee_rate: Decimal = Decimal("0.001")
    paper_slippage: Decimal = Decimal("0.0005")
    drain_seconds: float = 20.0
    executor_factory: Callable[..., Executor] = Executor
    # shared write-behind of snapshots (None: each loop writes its own, at once)
    snapshots: SnapshotWriter | None = None
    # settings changed while the loops run (None: settings are read once, at start)
    settings_watch: SettingsWatch | None = None

    def __post_init__(self) -> None:
        if self.snapshots is not None:
            self.hub.on_idle(self.snapshots.flush_soon, settle=self.snapshots.flush_logged)


class UserLoop(TradingActions, LoopBook):
    def __init__(self, deps: LoopDeps, user_id: int, symbols: list[str] | None = None) -> None:
        self.deps = deps
        self.symbols = symbols  # default: the allowed pairs on the user's exchange
        self.db = deps.db
        self.hub = deps.hub
        self.drain_seconds = deps.drain_seconds
        self.user_id = user_id
        self.settings = RiskSettings()
        self.settings_version = 0  # of the settings loaded (users.settings_version)
        self.resubscribe = False  # the markets changed with the settings
        self.mode = TradingMode.PAPER
        self.account: TradingAccount | None = None
        self.executor: Executor | None = None
        self.held = HeldPositions(deps.db, user_id)  # open positions, read once per close
        self.exchange_id = deps.paper_exchange
        self.session_id: int | None = None
        self.markets: dict[str, MarketInfo] = {}
        self.keys: list[MarketKey] = []
        self.day = ""
        self.sod_equity = Decimal(0)
        self.peak_equity = Decimal(0)
        self.start_equity = Decimal(0)
        self.equity = Decimal(0)
        self.blocked_day = ""  # UTC day on which the daily loss limit was announced
        self.seed_prices: dict[str, Decimal] = {}
        self.refusals: Counter[str] = Counter()  # risk check reasons, for status and tests
        self.stop_refused: set[str] = set()  # symbols whose exchange refused stop orders
        self.alerts: list[tuple[int, str]] = []  # (clock ms, kind) of limit notifications
        self.stopping = False  # set when the loop is cancelled: finish the step, no entries

    # --- life --------------------------------------------------------------------

    async def run(self) -> None:
        """The whole life of the loop; returns when the user got paused."""
        status = "crashed"
        sub = None
        try:
            await self._whole(self.start())
            sub = self.deps.hub.subscribe(self.keys)
            while True:
                if self.resubscribe:  # new pairs or timeframe: follow the new markets
                    sub.close()
                    sub = self.deps.hub.subscribe(self.keys)
                    self.resubscribe = False
                boundary, updated = await sub.next_close()
                if not await self._whole(self.on_close(boundary, updated)):
                    status = "paused"
                    return
        except (AuthenticationError, VaultError) as exc:
            status = "paused"
            await self._pause_connection(exc)
        except asyncio.CancelledError:
            status = "stopped"
            raise
        finally:
            if sub is not None:
                sub.close()
            await self.finish(status)

    async def _whole[T](self, step: Coroutine[Any, Any, T]) -> T:
        """Run one step (start, one candle) to its end even if the loop is cancelled
        meanwhile: a cancel waits for it (up to the drain time), then propagates. Orders
        and database transactions are never cut in half."""
        task = asyncio.ensure_future(step)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self.stopping = True  # the rest of this step places no new entries
            if not task.done():
                await asyncio.wait({task}, timeout=self.drain_seconds)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("user %s: step ended with %r", self.user_id, task.exception())
            raise

    async def start(self) -> None:
        uid = self.user_id
        self.settings_version, self.settings = await settings_repo.load_versioned(self.db, uid)
        user = await users.get_user(self.db, uid)
        self.mode = user.mode if user is not None else TradingMode.PAPER
        self.account = await self._build_account()
        self.exchange_id = self.account.exchange_id
        self.markets, self.keys = await self._resolve_markets(self.settings)
        await self._setup_swaps()
        previous = await sessions.list_for_user(self.db, uid, 1)
        await self._seed_prices()
        balances = await self.account.fetch_balance()
        self.equity = await self._equity(balances)
        async with self.db.transaction() as tx:
            await sessions.finish_running(tx, uid, "crashed")
            self.session_id = await sessions.start(
                tx, uid, self.exchange_id, self.mode.value, self.equity, self.settings.to_dict()
            )
        self.executor = self.deps.executor_factory(
            self.db,
            user_id=uid,
            exchange_id=self.exchange_id,
            mode=self.mode.value,
            account=self.account,
            session_id=self.session_id,
        )
        await self.executor.reconcile()
        self.held.invalidate()  # reconciling may have recorded fills
        restart = bool(previous) and previous[0].status in ("running", "crashed")
        await self._load_day_state(restart)
        log.info("user %s trading %s on %s (%s)", uid, len(self.keys), self.exchange_id, self.mode)

    async def finish(self, status: str) -> None:
        if self.session_id is None:
            return
        try:
            async with self.db.transaction() as tx:
                await sessions.finish(
                    tx, self.user_id, self.session_id, status=status, end_balance=self.equity
                )
        except Exception:
            log.exception("user %s: could not close the session", self.user_id)
        self.session_id = None

    async def _resolve_markets(
        self, settings: RiskSettings, keep: frozenset[str] = frozenset()
    ) -> tuple[dict[str, MarketInfo], list[MarketKey]]:
        """The markets of ``settings`` (allowed pairs, timeframe) on the user's exchange,
        plus the already known markets in ``keep`` (those holding a position)."""
        assert self.account is not None
        live = self.mode is TradingMode.LIVE
        wanted = self.symbols or symbols_for(self.exchange_id, settings.allowed_pairs, live=live)
        markets = {s: self.markets[s] for s in keep if s in self.markets}
        for symbol in wanted:
            if symbol in markets:
                continue
            try:
                markets[symbol] = await self.account.market(symbol)
            except (AuthenticationError, RetryableError):
                raise
            except NijaError as exc:
                log.info(
                    "user %s: %s not tradable here (%s)", self.user_id, symbol, type(exc).__name__
                )
        tf = settings.strategy_params.timeframe
        return markets, [MarketKey(self.exchange_id, s, tf) for s in sorted(markets)]

    async def _reload_settings(self, boundary: int) -> None:
        """Take the user's settings as stored now (clamped into the admin bounds) when
        they changed since this loop loaded them: risk limits hold from this close on;
        new pairs or a new timeframe move the subscription; a new position mode or
        leverage cap goes to the exchange. Markets holding a position stay managed."""
        watch = self.deps.settings_watch
        if watch is None:
            return
        known = await watch.version(self.user_id, boundary)
        if known is None or known <= self.settings_version:
            return
        version, new = await settings_repo.load_versioned(self.db, self.user_id)
        old = self.settings
        if new != old:
            log.info("user %s: settings changed (version %s)", self.user_id, version)
            moved = False
            if new.allowed_pairs != old.allowed_pairs or (
                new.strategy_params.timeframe != old.strategy_params.timeframe
            ):
                held = frozenset(p.symbol for p in await self.held.all())
                markets, keys = await self._resolve_markets(new, keep=held)
                if keys != self.keys:
                    self.markets, self.keys, self.resubscribe = markets, keys, True
                    moved = True
            self.settings = new
            swap = (new.position_mode, new.leverage_cap) != (old.position_mode, old.leverage_cap)
            if swap or moved:  # the swap markets (new ones too) get the mode and the cap
                await self._setup_swaps()
        self.settings_version = version

    async def _build_account(self) -> TradingAccount:
        d = self.deps
        if self.mode is TradingMode.LIVE:
            if d.account_factory is None:
                raise RuntimeError("live trading needs an account factory")
            made = d.account_factory(self.user_id)
            return await made if inspect.isawaitable(made) else made
        cred = await credentials.get(self.db, self.user_id)
        return PaperAccount(
            self.user_id,
            cred.exchange_id if cred is not None else d.paper_exchange,
            d.market_data,
            d.paper_store or InMemoryPaperStore(),
            fee_rate=d.paper_fee_rate,
            slippage=d.paper_slippage,
            starting_balance=d.paper_balance,
            starting_currency=d.paper_currency,
            clock=d.clock.now_ms,
        )

    async def _setup_swaps(self) -> None:
        assert self.account is not None
        s = self.settings
        hedged = s.position_mode == "hedge"
        for symbol, market in self.markets.items():
            if market.kind != "swap":
                continue
            # one call each: a refused mode change (e.g. while a position is open) must
            # not keep a lowered leverage cap from reaching the exchange
            await self._swap_call(symbol, self.account.set_position_mode, hedged, symbol)
            await self._swap_call(symbol, self.account.set_leverage, symbol, s.leverage_cap)

    async def _swap_call(self, symbol: str, call: Callable[..., Awaitable[None]], *args) -> None:
        try:
            await call(*args)
        except AuthenticationError:
            raise
        except NijaError as exc:
            log.warning("user %s: swap setup of %s: %s", self.user_id, symbol, exc)

    # --- one candle close ----------------------------------------------------------

    async def on_close(self, boundary: int, updated: list[MarketKey]) -> bool:
        """Handle one close of ``updated`` markets. False: the user got paused."""
        assert self.account is not None and self.executor is not None
        try:
            await self._reload_settings(boundary)
            if self.resubscribe:  # markets the loop no longer follows wait for the new ones
                updated = [k for k in updated if k in self.keys]
            await self.executor.refresh_open()
            self.held.invalidate()  # one read of the positions per close (then as changed)
            signals: dict[str, Signal] = {}
            for key in updated:
                signals[key.symbol] = await self._stops_and_signal(key)
            balances = await self.account.fetch_balance()
            held = await self.held.all()
            self.equity = await self._equity(balances, held)
            if all(p.symbol in self._prices() for p in held):
                await self._rollover()
                blocked = await self._check_limits()
            else:  # a held market has no price yet: equity is understated, judge later
                blocked = self.blocked_day == self.day
            await self._save_snapshot(balances, held, signals)
            for key in updated:
                await self._act(key, signals[key.symbol], blocked)
        except StopLoop:
            return False
        except RetryableError as exc:
            log.warning("user %s: candle %s skipped: %s", self.user_id, boundary, exc)
        return True

    async def _pause_connection(self, exc: BaseException) -> None:
        log.warning("user %s: key refused (%s); pausing", self.user_id, type(exc).__name__)
        self.alerts.append((self.deps.clock.now_ms(), "connection"))
        try:
            async with self.db.transaction() as tx:
                await users.set_status(tx, self.user_id, UserStatus.PAUSED, "connection")
                if self.mode is TradingMode.LIVE:
                    await credentials.mark_unverified(tx, self.user_id, "refused by the exchange")
                await outbox.enqueue(
                    tx, self.user_id, "connection", connection_text(self.exchange_id)
                )
        except Exception:
            log.exception("user %s: could not record the pause", self.user_id)
