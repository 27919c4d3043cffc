"""One user's trading loop.

Start: load settings, build the account (paper, or live through the injected factory),
open a trading session, reconcile orders, answer close requests already waiting. Then
on every candle close of the user's markets: reload the settings if they changed
(``SettingsWatch``: a /set or an admin bound holds from the next decision, not from the
next restart), read the user's gate (``GateBoard``: switch, pause, global halt), enforce
stops on the candle, refresh equity and the snapshot (UTC day rollover, peak), apply the
limits (drawdown: snapshot and equity point first, then pause and alert; daily loss: no
new entries today, one alert), evaluate the strategy on the shared indicator frame and
submit what the gate and the risk check allow. Between closes, a close request of the
user (/close, the Close button) wakes the loop at once.

Protection is independent of trading: stops (the engine's candle check, the exchange's
resting stops, trailing), the booking of stop fills and the snapshot run in every gate;
entries need ACTIVE, strategy exits ACTIVE or EXITS_ONLY. A loop whose user trades
(switch on or exits only, not paused) or holds a position keeps running; one whose user
does neither (and has no close request waiting) ends by itself.

A key that stops working (AuthenticationError, VaultError) pauses the user with one
"connection" notification that says which open positions the exchange still protects
(a resting stop) and which nothing protects now, and ends the loop: no crash loop.
Cancellation (trading off with nothing held, shutdown) never abandons an order in
flight: the submit is shielded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.core.cash_flows import fresh_marks
from nija_tg.core.errors import AuthenticationError, NijaError, RetryableError, VaultError
from nija_tg.core.models import BalanceLine, Candle, MarketInfo, TradingMode, UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate, TradingSwitch, needs_loop
from nija_tg.engine.clock import Clock
from nija_tg.engine.exchange_stops import close_side
from nija_tg.engine.execution import Executor
from nija_tg.engine.funding import FundingReader
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.loop_book import LoopBook
from nija_tg.engine.loop_support import connection_text, symbols_for, unprotected_lines
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.engine.protection import GateBoard
from nija_tg.engine.settings_watch import SettingsWatch
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.engine.trading import TradingActions
from nija_tg.engine.user_closes import UserCloses
from nija_tg.exchange.paper import InMemoryPaperStore, PaperAccount, PaperStore
from nija_tg.exchange.protocol import (
    MarketDataSource,
    PositionModeRefusedError,
    TradingAccount,
)
from nija_tg.services.desired_state import UserState
from nija_tg.storage import close_requests, credentials, outbox, sessions, settings_repo, users
from nija_tg.storage import orders as orders_repo
from nija_tg.storage import positions as positions_repo
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
    # the gates the reconciler last read, and close-request wake-ups (None: a loop reads
    # its gate once, at start, and sees close requests at candle closes only)
    board: GateBoard | None = None

    def __post_init__(self) -> None:
        if self.snapshots is not None:
            self.hub.on_idle(self.snapshots.flush_soon, settle=self.snapshots.flush_logged)


class UserLoop(UserCloses, TradingActions, LoopBook):
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
        self.funding = FundingReader(deps.db, user_id, deps.clock.now_ms)  # swaps' funding
        # the user's switch, pause and the halt (their gate), as last known
        self.view = UserState(user_id, TradingSwitch.ON, False, None, False, False, False)
        self.own_pause = -1  # change counter of the loop's own pause (board older: ignored)
        self.end_status = "stopped"  # how the session ends when the loop ends by itself
        self.exchange_id = deps.paper_exchange
        self.session_id: int | None = None
        self.markets: dict[str, MarketInfo] = {}
        self.keys: list[MarketKey] = []
        # what the daily loss and the drawdown are measured from (core/cash_flows.py)
        self.marks = fresh_marks("", Decimal(0))
        self.equity = Decimal(0)
        self.blocked_day = ""  # UTC day on which the daily loss limit was announced
        self.seed_prices: dict[str, Decimal] = {}
        self.refusals: Counter[str] = Counter()  # risk check reasons, for status and tests
        self.stop_refused: set[str] = set()  # symbols whose stop the exchange refused this close
        self.account_hedged: bool | None = None  # the swap account's actual position mode
        self.account_balances: list[BalanceLine] | None = None  # read this close (exits)
        self.alerts: list[tuple[int, str]] = []  # (clock ms, kind) of limit notifications
        self.stopping = False  # set when the loop is cancelled: finish the step, no entries

    # --- life --------------------------------------------------------------------

    async def run(self) -> None:
        """The whole life of the loop; returns when its user neither trades nor holds a
        position any more, or their key stopped working."""
        status = "crashed"
        sub = None
        board = self.deps.board
        poke = board.attach(self.user_id) if board is not None else None
        waits: dict[str, asyncio.Future] = {}
        try:
            await self._whole(self.start())
            if not await self._whole(self.on_requests()):
                status = self.end_status
                return
            sub = self.deps.hub.subscribe(self.keys)
            while True:
                if self.resubscribe:  # new pairs or timeframe: follow the new markets
                    await _drop(waits, "close")
                    sub.close()
                    sub = self.deps.hub.subscribe(self.keys)
                    self.resubscribe = False
                if "close" not in waits:
                    waits["close"] = asyncio.ensure_future(sub.next_close())
                if poke is not None and "poke" not in waits:
                    waits["poke"] = asyncio.ensure_future(poke.wait())
                await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
                if "poke" in waits and waits["poke"].done():
                    del waits["poke"]
                    assert poke is not None
                    poke.clear()
                    if not await self._whole(self.on_requests()):
                        status = self.end_status
                        return
                    continue  # the candle close still to come is waited for as it was
                boundary, updated = waits.pop("close").result()
                if not await self._whole(self.on_close(boundary, updated)):
                    status = self.end_status
                    return
        except (AuthenticationError, VaultError) as exc:
            status = "paused"
            await self._pause_connection(exc)
        except asyncio.CancelledError:
            status = "paused" if self.view.paused else "stopped"
            raise
        finally:
            for name in list(waits):
                await _drop(waits, name)
            if board is not None and poke is not None:
                board.detach(self.user_id, poke)
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
        self.held.mode = self.mode.value  # a paper loop never touches a live position
        self.view = await self._read_view(user)
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
        await self._reconcile_all()  # positions closed by hand while the engine was away
        restart = bool(previous) and previous[0].status in ("running", "crashed")
        await self._load_marks(restart, balances)
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
            closed_candle=self._closed_candle,  # stops fill at the stop or a gap's open
        )

    def _closed_candle(self, symbol: str) -> Candle | None:
        """The last closed candle of ``symbol`` the loop acted on (None: none yet)."""
        closed = next((self.hub.latest(k) for k in self.keys if k.symbol == symbol), None)
        return None if closed is None else closed.last

    async def _setup_swaps(self) -> None:
        """The position mode (account-wide on BingX: set once, read back) and the
        leverage cap of every swap market. A refused mode switch leaves the account in
        its actual mode, which the orders then follow; the user is told once."""
        assert self.account is not None
        s = self.settings
        swaps = [symbol for symbol, market in self.markets.items() if market.kind == "swap"]
        if not swaps:
            return
        want = s.position_mode == "hedge"
        try:
            self.account_hedged = await self.account.set_position_mode(want, swaps[0])
        except PositionModeRefusedError as exc:
            self.account_hedged = exc.hedged
            log.warning("user %s: position mode switch refused: %s", self.user_id, exc)
            async with self.db.transaction() as tx:
                await outbox.enqueue(
                    tx,
                    self.user_id,
                    "error",
                    "⚠️ " + exc.user_message,
                    dedupe_key=f"position-mode:{self.user_id}:{self.session_id}:{want}",
                )
        except AuthenticationError:
            raise
        except NijaError as exc:
            log.warning("user %s: position mode of %s: %s", self.user_id, swaps[0], exc)
        for symbol in swaps:
            # one call each: a refused mode change must not keep a lowered leverage cap
            # from reaching the exchange
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
        """Handle one close of ``updated`` markets. False: the loop ends (its user
        neither trades nor holds a position any more)."""
        assert self.account is not None and self.executor is not None
        try:
            await self._reload_settings(boundary)
            self._refresh_view()
            if self.resubscribe:  # markets the loop no longer follows wait for the new ones
                updated = [k for k in updated if k in self.keys]
            await self.executor.refresh_open()
            self.held.invalidate()  # one read of the positions per close (then as changed)
            await self.funding.on_close(  # booked once each; at most hourly (engine/funding.py)
                self.account,
                exchange_id=self.exchange_id,
                mode=self.mode.value,
                session_id=self.session_id,
                held=await self.held.all(),
                markets=self.markets,
                boundary_ms=boundary,
            )
            # one read of the balances per close, before any exit: exits and stops are
            # sized to what the account holds; read again only when an order filled
            await self._read_account()  # balances, and swap positions while some are held
            await self._note_cash_flow()  # a deposit or withdrawal since the last close
            await self._close_requested(asked=self.view.asks_close)
            # a stop the exchange refused last candle is tried again on this one (the
            # refusal may have been passing: the price through it, funds held); the
            # engine's own check covers the candle in between
            self.stop_refused.clear()
            signals: dict[str, Signal] = {}
            for key in updated:
                signals[key.symbol] = await self._stops_and_signal(key)
            balances = self.account_balances
            if balances is None:
                balances = await self.account.fetch_balance()
            self.account_balances = balances
            held = await self.held.all()
            self.equity = await self._equity(balances, held)
            priced = all(p.symbol in self._prices() for p in held)
            if priced:
                await self._rollover()
            # the snapshot and equity point first: a drawdown pause below is reported
            # with the equity that caused it and the positions still held
            await self._save_snapshot(balances, held, signals)
            if priced:
                blocked = await self._check_limits(self.gate)
            else:  # a held market has no price yet: equity is understated, judge later
                blocked = self.blocked_day == self.day
            for key in updated:
                await self._act(key, signals[key.symbol], blocked)
        except RetryableError as exc:
            log.warning("user %s: candle %s skipped: %s", self.user_id, boundary, exc)
        return await self._still_needed()

    async def on_requests(self) -> bool:
        """Between closes: answer the user's close requests now. False: the loop ends."""
        assert self.executor is not None
        try:
            self._refresh_view()
            await self._close_requested(asked=True)
        except RetryableError as exc:
            log.warning("user %s: close request waits: %s", self.user_id, exc)
        return await self._still_needed()

    # --- the gate ------------------------------------------------------------------------

    @property
    def gate(self) -> Gate:
        return self.view.gate

    async def _read_view(self, user: users.UserRow | None) -> UserState:
        """The user's gate at start: from the board when it knows them, else read."""
        board = self.deps.board
        known = board.view(self.user_id) if board is not None else None
        if known is not None:
            return known
        if user is None:
            return UserState(self.user_id, TradingSwitch.OFF, True, None, False, False, False)
        viewer = user.role.value == "viewer"
        return UserState(
            user_id=self.user_id,
            switch=TradingSwitch.OFF if viewer else user.switch,
            paused=user.status is UserStatus.PAUSED,
            pause_reason=user.pause_reason,
            halted=await users.is_halted(self.db),
            holds=False,
            asks_close=False,
        )

    def _refresh_view(self) -> None:
        """The gate as the reconciler last read it (no query). A read older than the
        loop's own pause does not undo it."""
        board = self.deps.board
        if board is None or board.version < self.own_pause:
            return
        known = board.view(self.user_id)
        if known is None:
            return
        if self.view.paused and not known.paused:
            # resumed (/trade on after a drawdown, an admin's /resume) while the loop
            # kept protecting: the drawdown is measured from here
            self.marks = dataclasses.replace(self.marks, peak_equity_flow_adjusted=self.equity)
            self._put_marks()
            log.info("user %s resumed; peak equity reset to %s", self.user_id, self.equity)
        self.view = known

    async def _still_needed(self) -> bool:
        """Whether the loop goes on: its user trades, holds a position or waits for a
        close (``needs_loop``)."""
        view = self.view
        if needs_loop(view.switch, paused=view.paused, holds_positions=bool(await self.held.all())):
            return True
        if await close_requests.pending_for_user(self.db, self.user_id):
            return True  # a close that could not go out yet (retried on the next close)
        self.end_status = "paused" if view.paused else "stopped"
        log.info("user %s: nothing to trade or protect; the loop ends", self.user_id)
        return False

    async def _paused_by_engine(self, reason: str) -> None:
        """Record that this loop paused its user: the gate is PROTECT from now on, until
        a read of the desired state made after the pause says otherwise."""
        row = await self.db.fetchone("SELECT value FROM app_state WHERE key = 'change_counter'")
        self.own_pause = int(row["value"]) if row is not None else 0
        self.view = dataclasses.replace(self.view, paused=True, pause_reason=reason)

    async def _pause_connection(self, exc: BaseException) -> None:
        log.warning("user %s: key refused (%s); pausing", self.user_id, type(exc).__name__)
        self.alerts.append((self.deps.clock.now_ms(), "connection"))
        try:
            lines = await self._protection_report()
            async with self.db.transaction() as tx:
                await users.set_status(tx, self.user_id, UserStatus.PAUSED, "connection")
                if self.mode is TradingMode.LIVE:
                    await credentials.mark_unverified(tx, self.user_id, "refused by the exchange")
                await outbox.enqueue(
                    tx, self.user_id, "connection", connection_text(self.exchange_id, lines)
                )
        except Exception:
            log.exception("user %s: could not record the pause", self.user_id)

    async def _protection_report(self) -> list[str]:
        """One line per open position of this account: protected by a stop resting on
        the exchange, or by nothing now that the engine cannot reach the account."""
        if self.mode is not TradingMode.LIVE:
            return []
        held = await positions_repo.list_for_user(self.db, self.user_id, self.mode.value)
        resting: dict[tuple[str, str], Decimal | None] = {}
        for p in held:
            stops = await orders_repo.open_stops(self.db, self.user_id, p.symbol)
            side = close_side(p.side)
            resting[(p.symbol, p.side)] = next(
                (o.trigger_price for o in stops if o.side is side), None
            )
        steps = {s: m.price_step for s, m in self.markets.items()}
        return unprotected_lines(held, resting, steps)


async def _drop(waits: dict[str, asyncio.Future], name: str) -> None:
    """Cancel a wait and let it finish before the subscription is closed: a close wait
    cancelled while idle tells the hub it is active again as it unwinds, and done after
    the unsubscribe that would count one loop as busy for ever (the hub never idle)."""
    future = waits.pop(name, None)
    if future is not None and not future.done():
        future.cancel()
        await asyncio.wait({future})
