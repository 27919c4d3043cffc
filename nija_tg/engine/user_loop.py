"""One user's trading loop: the live shell that composes the loop's parts.

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

The parts, each given what it uses in its constructor (no mixins): ``LoopContext``
(``loop_context``: the loop's state: settings, mode, markets, account, executor, held
positions, equity, marks, refusals), ``LoopBook`` (balances, equity, cash flows, limits,
snapshots, daily summary), ``LoopOrders`` (submits through the executor, shielded;
refusals told), ``ExchangeStops`` (stops resting on the venue, reconciliation with the
account), ``TradingActions`` (the trading core's decisions carried out: stops,
strategy, entries, closes) and ``UserCloses`` (the user's /close requests).

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
from decimal import Decimal
from typing import Any

from nija_tg.core.cash_flows import LimitMarks
from nija_tg.core.errors import AuthenticationError, NijaError, RetryableError, VaultError
from nija_tg.core.events import KeyDead, PositionModeRefused, Unprotected
from nija_tg.core.models import Candle, MarketInfo, TradingMode, UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_core import wants_action
from nija_tg.core.trading_gate import Gate, TradingSwitch, needs_loop
from nija_tg.engine.exchange_stops import ExchangeStops, close_side
from nija_tg.engine.execution import Executor
from nija_tg.engine.funding import FundingReader
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.loop_book import LoopBook
from nija_tg.engine.loop_context import AccountFactory, LoopContext, LoopDeps
from nija_tg.engine.loop_orders import LoopOrders
from nija_tg.engine.loop_support import symbols_for, unprotected
from nija_tg.engine.market_data import MarketKey
from nija_tg.engine.notify import tell
from nija_tg.engine.trading import TradingActions
from nija_tg.engine.user_closes import UserCloses
from nija_tg.exchange.paper import InMemoryPaperStore, PaperAccount
from nija_tg.exchange.protocol import PositionModeRefusedError, TradingAccount
from nija_tg.services.desired_state import UserState
from nija_tg.storage import close_requests, credentials, sessions, settings_repo, users
from nija_tg.storage import orders as orders_repo
from nija_tg.storage import positions as positions_repo
from nija_tg.strategies import Signal

__all__ = ["AccountFactory", "LoopDeps", "UserLoop"]

log = logging.getLogger("nija_tg.engine.loop")


class UserLoop:
    """One user's loop. ``_build_account`` is the seam for a loop that trades on an
    account of its own (the backtest's ``ReplayLoop`` overrides it)."""

    def __init__(self, deps: LoopDeps, user_id: int, symbols: list[str] | None = None) -> None:
        self.deps = deps
        self.user_id = user_id
        self.symbols = symbols  # default: the allowed pairs on the user's exchange
        self.db = deps.db
        self.ctx = ctx = LoopContext(
            user_id,
            deps.db,
            deps.clock,
            deps.hub,
            HeldPositions(deps.db, user_id),
            exchange_id=deps.paper_exchange,
        )
        self.book = LoopBook(ctx, snapshots=deps.snapshots, market_data=deps.market_data)
        self.orders = LoopOrders(ctx, deps.market_data, drain_seconds=deps.drain_seconds)
        self.stops = ExchangeStops(ctx, self.orders)
        self.trading = TradingActions(
            ctx, self.stops, self.orders, paper_slippage=deps.paper_slippage
        )
        self.closes = UserCloses(ctx, self.trading.close)
        self.funding = FundingReader(deps.db, user_id, deps.clock.now_ms)  # swaps' funding
        self.last_signals: dict[str, Signal] = {}  # of the last close (the snapshot's)
        self.resubscribe = False  # the markets changed with the settings
        self.end_status = "stopped"  # how the session ends when the loop ends by itself
        self.step: asyncio.Future | None = None  # the step running (or last run): the daemon
        # waits for it before it starts this user's next loop

    # --- what the daemon, the backtest and the tests read ---------------------------

    @property
    def settings(self) -> RiskSettings:
        return self.ctx.settings

    @property
    def settings_version(self) -> int:
        return self.ctx.settings_version

    @property
    def mode(self) -> TradingMode:
        return self.ctx.mode

    @property
    def exchange_id(self) -> str:
        return self.ctx.exchange_id

    @property
    def account(self) -> TradingAccount | None:
        return self.ctx.account

    @property
    def executor(self) -> Executor | None:
        return self.ctx.executor

    @property
    def held(self) -> HeldPositions:
        return self.ctx.held

    @property
    def markets(self) -> dict[str, MarketInfo]:
        return self.ctx.markets

    @property
    def keys(self) -> list[MarketKey]:
        return self.ctx.keys

    @property
    def view(self) -> UserState:
        return self.ctx.view

    @property
    def gate(self) -> Gate:
        return self.ctx.gate

    @property
    def equity(self) -> Decimal:
        return self.ctx.equity

    @property
    def marks(self) -> LimitMarks:
        return self.ctx.marks

    @property
    def day(self) -> str:
        return self.ctx.day

    @property
    def blocked_day(self) -> str:
        return self.ctx.blocked_day

    @property
    def refusals(self) -> Counter[str]:
        return self.ctx.refusals

    @property
    def alerts(self) -> list[tuple[int, str]]:
        return self.ctx.alerts

    @property
    def closes_done(self) -> int:
        return self.closes.closes_done

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
            sub = self.deps.hub.subscribe(self.ctx.keys)
            while True:
                if self.resubscribe:  # new pairs or timeframe: follow the new markets
                    await _drop(waits, "close")
                    sub.close()
                    sub = self.deps.hub.subscribe(self.ctx.keys)
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
            status = "paused" if self.ctx.view.paused else "stopped"
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
        task = self.step = asyncio.ensure_future(step)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self.ctx.stopping = True  # the rest of this step places no new entries
            if not task.done():
                await asyncio.wait({task}, timeout=self.deps.drain_seconds)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("user %s: step ended with %r", self.user_id, task.exception())
            raise

    async def start(self) -> None:
        ctx = self.ctx
        uid = self.user_id
        ctx.settings_version, ctx.settings = await settings_repo.load_versioned(self.db, uid)
        user = await users.get_user(self.db, uid)
        ctx.mode = user.mode if user is not None else TradingMode.PAPER
        ctx.held.mode = ctx.mode.value  # a paper loop never touches a live position
        ctx.view = await self._read_view(user)
        ctx.account = await self._build_account()
        ctx.exchange_id = ctx.account.exchange_id
        ctx.markets, ctx.keys = await self._resolve_markets(ctx.settings)
        await self._setup_swaps()
        previous = await sessions.list_for_user(self.db, uid, 1)
        await self.book.seed_prices()
        balances = await ctx.account.fetch_balance()
        ctx.equity = await self.book.equity_now(balances)
        async with self.db.transaction() as tx:
            await sessions.finish_running(tx, uid, "crashed")
            ctx.session_id = await sessions.start(
                tx,
                uid,
                ctx.exchange_id,
                ctx.mode.value,
                ctx.equity,
                ctx.settings.to_dict(),
            )
        ctx.executor = self.deps.executor_factory(
            self.db,
            user_id=uid,
            exchange_id=ctx.exchange_id,
            mode=ctx.mode.value,
            account=ctx.account,
            session_id=ctx.session_id,
        )
        await ctx.executor.reconcile()
        ctx.held.invalidate()  # reconciling may have recorded fills
        await self.stops.reconcile_all()  # positions closed by hand while the engine was away
        restart = bool(previous) and previous[0].status in ("running", "crashed")
        await self.book.load_marks(restart, balances)
        if previous and self._resumed_since(previous[0]):
            # resumed while no loop ran (a running loop resets the peak when it sees the
            # resume, ``_refresh_view``): the drawdown is measured from here too, not
            # from a peak the user was paused at, or one raised while paused
            ctx.marks = dataclasses.replace(ctx.marks, peak_equity_flow_adjusted=ctx.equity)
            self.book.put_marks()
            log.info("user %s resumed since the last session; peak equity %s", uid, ctx.equity)
        log.info(
            "user %s trading %s on %s (%s)",
            uid,
            len(ctx.keys),
            ctx.exchange_id,
            ctx.mode,
        )

    def _resumed_since(self, previous: sessions.SessionRow) -> bool:
        """Whether the user's last session on this account ended paused (the loop ended
        protecting nothing, or a dead key) and they are no longer paused now. A session
        that crashed while its user was paused is not told apart (its status is
        "crashed")."""
        ctx = self.ctx
        return (
            previous.status == "paused"
            and previous.mode == ctx.mode.value
            and previous.exchange_id == ctx.exchange_id
            and not ctx.view.paused
        )

    async def finish(self, status: str) -> None:
        if self.ctx.session_id is None:
            return
        try:
            async with self.db.transaction() as tx:
                await sessions.finish(
                    tx,
                    self.user_id,
                    self.ctx.session_id,
                    status=status,
                    end_balance=self.ctx.equity,
                )
        except Exception:
            log.exception("user %s: could not close the session", self.user_id)
        self.ctx.session_id = None

    async def _resolve_markets(
        self, settings: RiskSettings, keep: frozenset[str] = frozenset()
    ) -> tuple[dict[str, MarketInfo], list[MarketKey]]:
        """The markets of ``settings`` (allowed pairs, timeframe) on the user's exchange,
        plus the already known markets in ``keep`` (those holding a position)."""
        assert self.ctx.account is not None
        live = self.ctx.mode is TradingMode.LIVE
        wanted = self.symbols or symbols_for(
            self.ctx.exchange_id, settings.allowed_pairs, live=live
        )
        markets = {s: self.ctx.markets[s] for s in keep if s in self.ctx.markets}
        for symbol in wanted:
            if symbol in markets:
                continue
            try:
                markets[symbol] = await self.ctx.account.market(symbol)
            except (AuthenticationError, RetryableError):
                raise
            except NijaError as exc:
                log.info(
                    "user %s: %s not tradable here (%s)", self.user_id, symbol, type(exc).__name__
                )
        tf = settings.strategy_params.timeframe
        return markets, [MarketKey(self.ctx.exchange_id, s, tf) for s in sorted(markets)]

    async def _reload_settings(self, boundary: int) -> None:
        """Take the user's settings as stored now (clamped into the admin bounds) when
        they changed since this loop loaded them: risk limits hold from this close on;
        new pairs or a new timeframe move the subscription; a new position mode or
        leverage cap goes to the exchange. Markets holding a position stay managed."""
        ctx = self.ctx
        watch = self.deps.settings_watch
        if watch is None:
            return
        known = await watch.version(self.user_id, boundary)
        if known is None or known <= ctx.settings_version:
            return
        version, new = await settings_repo.load_versioned(self.db, self.user_id)
        old = ctx.settings
        if new != old:
            log.info("user %s: settings changed (version %s)", self.user_id, version)
            moved = False
            if new.allowed_pairs != old.allowed_pairs or (
                new.strategy_params.timeframe != old.strategy_params.timeframe
            ):
                held = frozenset(p.symbol for p in await ctx.held.all())
                markets, keys = await self._resolve_markets(new, keep=held)
                if keys != ctx.keys:
                    ctx.markets, ctx.keys, self.resubscribe = markets, keys, True
                    moved = True
            ctx.settings = new
            swap = (new.position_mode, new.leverage_cap) != (old.position_mode, old.leverage_cap)
            if swap or moved:  # the swap markets (new ones too) get the mode and the cap
                await self._setup_swaps()
        ctx.settings_version = version

    async def _build_account(self) -> TradingAccount:
        d = self.deps
        if self.ctx.mode is TradingMode.LIVE:
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
        closed = next((self.ctx.hub.latest(k) for k in self.ctx.keys if k.symbol == symbol), None)
        return None if closed is None else closed.last

    async def _setup_swaps(self) -> None:
        """The position mode (account-wide on BingX: set once, read back) and the
        leverage cap of every swap market. A refused mode switch leaves the account in
        its actual mode, which the orders then follow; the user is told once."""
        ctx = self.ctx
        assert ctx.account is not None
        s = ctx.settings
        swaps = [symbol for symbol, market in ctx.markets.items() if market.kind == "swap"]
        if not swaps:
            return
        want = s.position_mode == "hedge"
        try:
            ctx.account_hedged = await ctx.account.set_position_mode(want, swaps[0])
        except PositionModeRefusedError as exc:
            ctx.account_hedged = exc.hedged
            log.warning("user %s: position mode switch refused: %s", self.user_id, exc)
            async with self.db.transaction() as tx:
                refused = PositionModeRefused(exc.reason, want, ctx.session_id)
                await tell(tx, self.user_id, refused)
        except AuthenticationError:
            raise
        except NijaError as exc:
            log.warning("user %s: position mode of %s: %s", self.user_id, swaps[0], exc)
        for symbol in swaps:
            # one call each: a refused mode change must not keep a lowered leverage cap
            # from reaching the exchange
            await self._swap_call(symbol, ctx.account.set_leverage, symbol, s.leverage_cap)

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
        ctx = self.ctx
        assert ctx.account is not None and ctx.executor is not None
        try:
            await self._reload_settings(boundary)
            self._refresh_view()
            if self.resubscribe:  # markets the loop no longer follows wait for the new ones
                updated = [k for k in updated if k in ctx.keys]
            await ctx.executor.refresh_open()
            ctx.held.invalidate()  # one read of the positions per close (then as changed)
            await self.funding.on_close(  # booked once each; at most hourly (engine/funding.py)
                ctx.account,
                exchange_id=ctx.exchange_id,
                mode=ctx.mode.value,
                session_id=ctx.session_id,
                held=await ctx.held.all(),
                markets=ctx.markets,
                boundary_ms=boundary,
            )
            # one read of the balances per close, before any exit: exits and stops are
            # sized to what the account holds; read again only when an order filled
            await self.stops.read_account()  # balances, and swap positions while some are held
            await self.book.note_cash_flow()  # a deposit or withdrawal since the last close
            await self.closes.answer_pending(asked=ctx.view.asks_close)
            # a stop the exchange refused last candle is tried again on this one (the
            # refusal may have been passing: the price through it, funds held); the
            # engine's own check covers the candle in between
            ctx.stop_refused.clear()
            signals = await self.trading.signals(updated)
            balances = ctx.account_balances
            if balances is None:
                balances = await ctx.account.fetch_balance()
            ctx.account_balances = balances
            held = await ctx.held.all()
            prices = ctx.prices()  # the hub's closes: one read for the close's figures
            ctx.equity = await self.book.equity_now(balances, held, prices)
            priced = all(p.symbol in prices for p in held)
            if priced:
                await self.book.rollover()
            # the snapshot and equity point first: a drawdown pause below is reported
            # with the equity that caused it and the positions still held
            await self.book.save_snapshot(balances, held, signals, prices=prices)
            if priced:
                blocked = await self.book.check_limits(ctx.gate)
            else:  # a held market has no price yet: equity is understated, judge later
                blocked = ctx.blocked_day == ctx.day
            self.last_signals = signals
            for key in updated:
                signal = signals[key.symbol]
                if wants_action(signal):  # a hold wants nothing (most markets, most closes)
                    await self.trading.act(key, signal, blocked)
            await self._snapshot_after_fills()
        except RetryableError as exc:
            log.warning("user %s: candle %s skipped: %s", self.user_id, boundary, exc)
        return await self._still_needed()

    async def on_requests(self) -> bool:
        """Between closes: answer the user's close requests now. False: the loop ends."""
        assert self.ctx.executor is not None
        try:
            self._refresh_view()
            await self.closes.answer_pending(asked=True)
            await self._snapshot_after_fills()
        except RetryableError as exc:
            log.warning("user %s: close request waits: %s", self.user_id, exc)
        return await self._still_needed()

    async def _snapshot_after_fills(self) -> None:
        """/balance after each fill, not a candle later: when an order filled since the
        account was last read (``ctx.account_balances`` None: ``LoopContext.account_moved``),
        read the balances again and write the snapshot again (equity, balances,
        positions) without an equity point (one per close: live and backtest curves
        stay alike). The new read also sizes what this loop sends before the next close;
        ``ctx.equity`` stays the close's (what the limits and the sizing judged)."""
        ctx = self.ctx
        if ctx.account_balances is not None or ctx.account is None:
            return
        balances = await ctx.account.fetch_balance()
        ctx.account_balances = balances
        held = await ctx.held.all()
        equity = await self.book.equity_now(balances, held)
        await self.book.save_snapshot(balances, held, self.last_signals, point=False, equity=equity)

    # --- the gate ------------------------------------------------------------------------

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
        if board is None or board.version < self.ctx.own_pause:
            return
        known = board.view(self.user_id)
        if known is None:
            return
        if self.ctx.view.paused and not known.paused:
            # resumed (/trade on after a drawdown, an admin's /resume) while the loop
            # kept protecting: the drawdown is measured from here
            self.ctx.marks = dataclasses.replace(
                self.ctx.marks, peak_equity_flow_adjusted=self.ctx.equity
            )
            self.book.put_marks()
            log.info("user %s resumed; peak equity reset to %s", self.user_id, self.ctx.equity)
        self.ctx.view = known

    async def _still_needed(self) -> bool:
        """Whether the loop goes on: its user trades, holds a position or waits for a
        close (``needs_loop``)."""
        view = self.ctx.view
        if needs_loop(
            view.switch, paused=view.paused, holds_positions=bool(await self.ctx.held.all())
        ):
            return True
        if await close_requests.pending_for_user(self.db, self.user_id):
            return True  # a close that could not go out yet (retried on the next close)
        self.end_status = "paused" if view.paused else "stopped"
        log.info("user %s: nothing to trade or protect; the loop ends", self.user_id)
        return False

    async def _pause_connection(self, exc: BaseException) -> None:
        log.warning("user %s: key refused (%s); pausing", self.user_id, type(exc).__name__)
        self.ctx.alerts.append((self.deps.clock.now_ms(), "connection"))
        try:
            lines = await self._protection_report()
            async with self.db.transaction() as tx:
                await users.set_status(tx, self.user_id, UserStatus.PAUSED, "connection")
                if self.ctx.mode is TradingMode.LIVE:
                    await credentials.mark_unverified(tx, self.user_id, "refused by the exchange")
                await tell(tx, self.user_id, KeyDead(self.ctx.exchange_id, lines))
        except Exception:
            log.exception("user %s: could not record the pause", self.user_id)

    async def _protection_report(self) -> tuple[Unprotected, ...]:
        """One line per open position of this account: protected by a stop resting on
        the exchange, or by nothing now that the engine cannot reach the account."""
        if self.ctx.mode is not TradingMode.LIVE:
            return ()
        held = await positions_repo.list_for_user(self.db, self.user_id, self.ctx.mode.value)
        resting: dict[tuple[str, str], Decimal | None] = {}
        for p in held:
            stops = await orders_repo.open_stops(self.db, self.user_id, p.symbol)
            side = close_side(p.side)
            resting[(p.symbol, p.side)] = next(
                (o.trigger_price for o in stops if o.side is side), None
            )
        steps = {s: m.price_step for s, m in self.ctx.markets.items()}
        return unprotected(held, resting, steps)


async def _drop(waits: dict[str, asyncio.Future], name: str) -> None:
    """Cancel a wait and let it finish before the subscription is closed: a close wait
    cancelled while idle tells the hub it is active again as it unwinds, and done after
    the unsubscribe that would count one loop as busy for ever (the hub never idle)."""
    future = waits.pop(name, None)
    if future is not None and not future.done():
        future.cancel()
        await asyncio.wait({future})
