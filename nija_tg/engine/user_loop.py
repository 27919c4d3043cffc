"""One user's trading loop.

Start: load settings, build the account (paper, or live through the injected factory),
open a trading session, reconcile orders. Then on every candle close of the user's
markets: enforce stops on the candle, refresh equity and the snapshot (UTC day
rollover, peak), apply the limits (drawdown: pause and alert, then return; daily loss:
no new entries today, one alert), evaluate the strategy on the shared indicator frame
and submit what the risk check approves.

A key that stops working (AuthenticationError, VaultError) pauses the user with one
"connection" notification and ends the loop: no crash loop. Cancellation (stop, pause,
global halt, shutdown) never abandons an order in flight: the submit is shielded.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.core import risk
from nija_tg.core.errors import AuthenticationError, NijaError, RetryableError, VaultError
from nija_tg.core.models import MarketInfo, OrderStatus, OrderType, Side, TradingMode, UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine import loop_store
from nija_tg.engine.clock import Clock, utc_day
from nija_tg.engine.execution import ExecutionResult, Executor, OrderDraft
from nija_tg.engine.loop_support import (
    connection_text,
    daily_loss_text,
    drawdown_text,
    equity_of,
    stop_text,
    symbols_for,
)
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.exchange.paper import InMemoryPaperStore, PaperAccount, PaperStore
from nija_tg.exchange.protocol import MarketDataSource, TradingAccount
from nija_tg.storage import credentials, outbox, positions, sessions, settings_repo, users
from nija_tg.storage.db import Database
from nija_tg.storage.positions import PositionRow
from nija_tg.strategies import Signal, StrategyPosition, get_strategy

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
    paper_fee_rate: Decimal = Decimal("0.001")
    paper_slippage: Decimal = Decimal("0.0005")
    drain_seconds: float = 20.0
    executor_factory: Callable[..., Executor] = Executor


class StopLoop(Exception):
    """The loop ends by itself (the user was paused)."""


class UserLoop:
    def __init__(self, deps: LoopDeps, user_id: int) -> None:
        self.deps = deps
        self.db = deps.db
        self.user_id = user_id
        self.settings = RiskSettings()
        self.mode = TradingMode.PAPER
        self.account: TradingAccount | None = None
        self.executor: Executor | None = None
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

    # --- life --------------------------------------------------------------------

    async def run(self) -> None:
        """The whole life of the loop; returns when the user got paused."""
        status = "crashed"
        sub = None
        try:
            await self.start()
            sub = self.deps.hub.subscribe(self.keys)
            while True:
                boundary, updated = await sub.next_close()
                if not await self.on_close(boundary, updated):
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

    async def start(self) -> None:
        uid = self.user_id
        self.settings = await settings_repo.load(self.db, uid)
        user = await users.get_user(self.db, uid)
        self.mode = user.mode if user is not None else TradingMode.PAPER
        self.account = await self._build_account()
        self.exchange_id = self.account.exchange_id
        live = self.mode is TradingMode.LIVE
        tf = self.settings.strategy_params.timeframe
        for symbol in symbols_for(self.exchange_id, self.settings.allowed_pairs, live=live):
            try:
                self.markets[symbol] = await self.account.market(symbol)
            except (AuthenticationError, RetryableError):
                raise
            except NijaError as exc:
                log.info("user %s: %s not tradable here (%s)", uid, symbol, type(exc).__name__)
        self.keys = [MarketKey(self.exchange_id, s, tf) for s in sorted(self.markets)]
        await self._setup_swaps()
        previous = await sessions.list_for_user(self.db, uid, 1)
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
            clock=d.clock.now_ms,
        )

    async def _setup_swaps(self) -> None:
        assert self.account is not None
        hedged = self.settings.position_mode == "hedge"
        for symbol, market in self.markets.items():
            if market.kind != "swap":
                continue
            try:
                await self.account.set_position_mode(hedged, symbol)
                await self.account.set_leverage(symbol, self.settings.leverage_cap)
            except AuthenticationError:
                raise
            except NijaError as exc:
                log.warning("user %s: swap setup of %s: %s", self.user_id, symbol, exc)

    async def _load_day_state(self, restart: bool) -> None:
        snap = await loop_store.load_snapshot(self.db, self.user_id)
        self.day = utc_day(self.deps.clock.now_ms())
        same_day = snap is not None and snap.day == self.day
        self.sod_equity = snap.start_of_day_equity if same_day and snap.start_of_day_equity else self.equity
        peak = snap.peak_equity if restart and snap is not None else None
        self.peak_equity = max(peak or self.equity, self.equity)
        self.start_equity = self.equity

    # --- one candle close ----------------------------------------------------------

    async def on_close(self, boundary: int, updated: list[MarketKey]) -> bool:
        """Handle one close of ``updated`` markets. False: the user got paused."""
        assert self.account is not None and self.executor is not None
        try:
            await self.executor.refresh_open()
            signals: dict[str, Signal] = {}
            for key in updated:
                signals[key.symbol] = await self._stops_and_signal(key)
            balances = await self.account.fetch_balance()
            held = await positions.list_for_user(self.db, self.user_id)
            self.equity = await self._equity(balances, held)
            self._rollover()
            blocked = await self._check_limits()
            await self._save_snapshot(balances, held, signals)
            for key in updated:
                await self._act(key, signals[key.symbol], blocked)
        except StopLoop:
            return False
        except RetryableError as exc:
            log.warning("user %s: candle %s skipped: %s", self.user_id, boundary, exc)
        return True

    def _rollover(self) -> None:
        day = utc_day(self.deps.clock.now_ms())
        if day != self.day:
            self.day, self.sod_equity = day, self.equity
        self.peak_equity = max(self.peak_equity, self.equity)

    async def _check_limits(self) -> bool:
        """Drawdown: pause (StopLoop). Daily loss: True (no entries) + one alert a day."""
        s = self.settings
        if risk.drawdown_breached(self.equity, self.peak_equity, s.max_drawdown_pct):
            pct = risk.drawdown_pct(self.equity, self.peak_equity)
            async with self.db.transaction() as tx:
                await users.set_status(tx, self.user_id, UserStatus.PAUSED, "drawdown")
                await outbox.enqueue(
                    tx, self.user_id, "drawdown", drawdown_text(pct, s.max_drawdown_pct)
                )
            log.info("user %s paused: drawdown %.2f%%", self.user_id, pct)
            raise StopLoop
        pnl_today = self.equity - self.sod_equity
        if not risk.daily_loss_breached(pnl_today, self.sod_equity, s.daily_loss_pct, s.daily_loss_usd):
            return False
        if self.blocked_day != self.day:
            self.blocked_day = self.day
            limit = risk.daily_loss_limit(self.sod_equity, s.daily_loss_pct, s.daily_loss_usd)
            async with self.db.transaction() as tx:
                await outbox.enqueue(
                    tx,
                    self.user_id,
                    "daily_loss",
                    daily_loss_text(-pnl_today, limit),
                    dedupe_key=f"daily_loss:{self.user_id}:{self.day}",
                )
        return True

    async def _stops_and_signal(self, key: MarketKey) -> Signal:
        """Close positions whose stop the candle touched, trail the others; return the
        strategy's signal for this market."""
        closed = self.deps.hub.latest(key)
        strategy = get_strategy(self.settings.strategy)
        params = self.settings.strategy_params
        prepared = self.deps.hub.prepared(key, strategy, params)
        if closed is None or prepared is None:
            return Signal("hold", reason="no candles")
        held = await positions.for_symbol(self.db, self.user_id, key.symbol)
        pos = held.get("long") or held.get("short")
        spos = None if pos is None else StrategyPosition(pos.side, float(pos.entry_price))
        allow_short = self.markets[key.symbol].kind == "swap"
        signal = strategy.evaluate(prepared, spos, params=params, allow_short=allow_short)
        candle = closed.last
        low, high = Decimal(str(candle.low)), Decimal(str(candle.high))
        for p in held.values():
            if p.stop_price is not None and risk.stop_hit(p.side, p.stop_price, low, high):
                await self._close(p, "stop")
                async with self.db.transaction() as tx:
                    text = stop_text(p.symbol, p.side, p.stop_price, self.mode.value)
                    await outbox.enqueue(tx, self.user_id, "stop", text)
                continue
            await self._trail(p, signal, low, high)
        return signal

    async def _trail(self, p: PositionRow, signal: Signal, low: Decimal, high: Decimal) -> None:
        distance = self._trail_distance(signal)
        if distance is None:
            return
        best = high if p.side == "long" else low
        anchor = p.trail_anchor if p.trail_anchor is not None else p.entry_price
        anchor = max(anchor, best) if p.side == "long" else min(anchor, best)
        stop = p.stop_price
        if self.settings.trailing_stop:
            stop = risk.update_trailing_stop(p.side, p.entry_price, stop, anchor, distance)
        elif stop is None:
            stop = risk.initial_stop(p.side, p.entry_price, distance)
        if stop != p.stop_price or anchor != p.trail_anchor:
            async with self.db.transaction() as tx:
                await positions.set_stop(tx, self.user_id, p.symbol, p.side, stop, anchor)

    def _trail_distance(self, signal: Signal) -> Decimal | None:
        atr = signal.indicators.get("atr")
        if atr is not None and atr == atr and atr > 0:
            return Decimal(str(atr)) * self.settings.trailing_atr_multiplier
        return Decimal(str(signal.stop_distance)) if signal.stop_distance > 0 else None

    async def _act(self, key: MarketKey, signal: Signal, blocked: bool) -> None:
        held = await positions.for_symbol(self.db, self.user_id, key.symbol)
        if signal.action == "exit":
            for p in held.values():
                await self._close(p, "exit")
        elif signal.is_entry and not held and not blocked:
            await self._enter(key, signal)

    async def _enter(self, key: MarketKey, signal: Signal) -> None:
        assert self.account is not None
        market = self.markets[key.symbol]
        side = "long" if signal.action == "enter_long" else "short"
        price = self.deps.hub.price(key.exchange, key.symbol)
        if price is None:
            return
        held = await positions.list_for_user(self.db, self.user_id)
        free_quote = None
        if market.kind == "spot":
            lines = await self.account.fetch_balance()
            free_quote = next((b.free for b in lines if b.currency == market.quote), Decimal(0))
        ctx = risk.RiskContext(
            settings=self.settings,
            equity=self.equity,
            start_of_day_equity=self.sod_equity,
            peak_equity=self.peak_equity,
            starting_equity=self.start_equity,
            realized_pnl_today=self.equity - self.sod_equity,
            symbol=key.symbol,
            base=market.base,
            quote=market.quote,
            market_kind=market.kind,
            price=price,
            stop_distance=Decimal(str(signal.stop_distance)),
            side=side,
            open_positions=[p.info for p in map(_Held, held)],
            free_quote=free_quote,
            min_amount=market.min_amount,
            min_cost=market.min_cost,
            amount_step=market.amount_step,
            contract_size=market.contract_size,
            global_halted=await users.is_halted(self.db),
        )
        decision = risk.check_entry(ctx)
        if not decision.approved:
            log.info("user %s: %s entry refused: %s", self.user_id, key.symbol, decision.reason)
            return
        hedge = market.kind == "swap" and self.settings.position_mode == "hedge"
        draft = OrderDraft(
            symbol=key.symbol,
            side=Side.BUY if side == "long" else Side.SELL,
            type=OrderType.MARKET,
            amount=decision.amount,
            position_side=side.upper() if hedge else None,
            purpose="entry",
        )
        result = await self._submit(draft)
        if result.filled > 0:
            entry = result.average or price
            stop = risk.initial_stop(side, entry, Decimal(str(signal.stop_distance)))
            async with self.db.transaction() as tx:
                await positions.set_stop(tx, self.user_id, key.symbol, side, stop, entry)

    async def _close(self, p: PositionRow, purpose: str) -> ExecutionResult:
        market = self.markets.get(p.symbol)
        swap = market is not None and market.kind == "swap"
        hedge = swap and self.settings.position_mode == "hedge"
        draft = OrderDraft(
            symbol=p.symbol,
            side=Side.SELL if p.side == "long" else Side.BUY,
            type=OrderType.MARKET,
            amount=p.amount,
            reduce_only=swap,
            position_side=p.side.upper() if hedge else None,
            purpose=purpose,
        )
        return await self._submit(draft)

    async def _submit(self, draft: OrderDraft) -> ExecutionResult:
        """Submit shielded from cancellation: a stop or shutdown waits (up to the drain
        time) for the intent -> submitted -> outcome path to complete."""
        assert self.executor is not None
        task = asyncio.ensure_future(self.executor.submit(draft))
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait({task}, timeout=self.deps.drain_seconds)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("user %s: submit ended with %s", self.user_id, task.exception())
            raise
        if result.status is OrderStatus.REJECTED:
            log.info("user %s: %s %s rejected: %s", self.user_id, draft.purpose, draft.symbol, result.error)
        return result

    # --- equity and snapshot -------------------------------------------------------

    def _prices(self) -> dict[str, Decimal]:
        out = {}
        for symbol in self.markets:
            price = self.deps.hub.price(self.exchange_id, symbol)
            if price is not None:
                out[symbol] = price
        return out

    async def _equity(self, balances, held: list[PositionRow] | None = None) -> Decimal:
        if held is None:
            held = await positions.list_for_user(self.db, self.user_id)
        return equity_of(balances, self.markets, self._prices(), held)

    async def _save_snapshot(self, balances, held, signals: dict[str, Signal]) -> None:
        last: dict[str, Any] | None = None
        if signals:
            last = {
                s: {"action": str(g.action), "confidence": g.confidence, "reason": g.reason}
                for s, g in signals.items()
            }
        async with self.db.transaction() as tx:
            await loop_store.save_snapshot(
                tx,
                self.user_id,
                ts_s=self.deps.clock.now_ms() / 1000,
                equity=self.equity,
                balances=balances,
                positions=held,
                prices=self._prices(),
                last_signal=last,
                start_of_day_equity=self.sod_equity,
                peak_equity=self.peak_equity,
                day=self.day,
            )

    async def _pause_connection(self, exc: BaseException) -> None:
        log.warning("user %s: key refused (%s); pausing", self.user_id, type(exc).__name__)
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


class _Held:
    """A position row seen as the PositionInfo the risk check wants."""

    def __init__(self, row: PositionRow) -> None:
        from nija_tg.core.models import PositionInfo

        self.info = PositionInfo(row.symbol, row.side, row.amount, row.entry_price)
