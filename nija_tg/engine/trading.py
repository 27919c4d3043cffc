"""The trading half of a user's loop: per market, enforce stops on the closed candle,
trail them (and keep the exchange's resting stop in step where the account supports
one, see ``exchange_stops``), evaluate the strategy on the shared indicator frame, size
entries through the risk check and submit through the executor (shielded from
cancellation)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from decimal import Decimal

from nija_tg.core import risk
from nija_tg.core.models import (
    MarketInfo,
    OrderStatus,
    OrderType,
    PositionInfo,
    Side,
    TradingMode,
)
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.exchange_stops import ExchangeStops
from nija_tg.engine.execution import (
    NOT_REFUSALS,
    ExecutionResult,
    Executor,
    OrderDraft,
)
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.loop_support import close_failed_text, stop_order_failed_text, stop_text
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.exchange.protocol import TradingAccount
from nija_tg.storage import outbox, positions, users
from nija_tg.storage.db import Database
from nija_tg.storage.positions import PositionRow
from nija_tg.strategies import Action, Signal, StrategyPosition, get_strategy

log = logging.getLogger("nija_tg.engine.loop")


class TradingActions(ExchangeStops):
    """Mixin of UserLoop: the state it reads is set up by the loop's ``start``."""

    db: Database
    user_id: int
    hub: MarketHub
    drain_seconds: float
    settings: RiskSettings
    mode: TradingMode
    account: TradingAccount | None
    executor: Executor | None
    held: HeldPositions
    markets: dict[str, MarketInfo]
    equity: Decimal
    sod_equity: Decimal
    peak_equity: Decimal
    start_equity: Decimal
    refusals: Counter[str]
    day: str  # the UTC day of the clock
    stopping: bool  # a stop was requested: no new entries (exits and stops still run)

    async def _stops_and_signal(self, key: MarketKey) -> Signal:
        """Close positions whose stop the candle touched, trail the others; return the
        strategy's signal for this market."""
        closed = self.hub.latest(key)
        if closed is None:
            return Signal(Action.HOLD, reason="no candles")
        held = await self.held.for_symbol(key.symbol)
        pos = held.get("long") or held.get("short")
        spos = None if pos is None else StrategyPosition(pos.side, float(pos.entry_price))
        allow_short = self.markets[key.symbol].kind == "swap"
        strategy = get_strategy(self.settings.strategy)
        params = self.settings.strategy_params
        signal = self.hub.signal(key, strategy, params, spos, allow_short)
        if signal is None:
            return Signal(Action.HOLD, reason="no candles")
        if not held:
            if self._native(key.symbol):
                await self._release(key.symbol)  # a stop left without a position
            return signal
        candle = closed.last
        low, high = Decimal(str(candle.low)), Decimal(str(candle.high))
        for p in held.values():
            if p.stop_price is not None and risk.stop_hit(p.side, p.stop_price, low, high):
                if await self._close(p, "stop") is not None:
                    async with self.db.transaction() as tx:
                        text = stop_text(p.symbol, p.side, p.stop_price, self.mode.value)
                        await outbox.enqueue(tx, self.user_id, "stop", text)
                continue
            await self._trail(p, signal, low, high)
            fresh = await self.held.get(p.symbol, p.side)
            if fresh is not None:
                await self._protect(fresh)
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
            await self._set_stop(p.symbol, p.side, stop, anchor)

    async def _set_stop(
        self, symbol: str, side: str, stop: Decimal | None, anchor: Decimal | None
    ) -> None:
        async with self.db.transaction() as tx:
            moved = await positions.set_stop(tx, self.user_id, symbol, side, stop, anchor)
        if moved:
            self.held.stop_moved(symbol, side, stop, anchor)
        else:
            self.held.invalidate()

    def _trail_distance(self, signal: Signal) -> Decimal | None:
        atr = signal.indicators.get("atr")
        if atr is not None and atr == atr and atr > 0:
            return Decimal(str(atr)) * self.settings.trailing_atr_multiplier
        return Decimal(str(signal.stop_distance)) if signal.stop_distance > 0 else None

    async def _act(self, key: MarketKey, signal: Signal, blocked: bool) -> None:
        held = await self.held.for_symbol(key.symbol)
        if signal.action is Action.EXIT:
            for p in held.values():
                await self._close(p, "exit")
        elif signal.is_entry and not held:
            if self.stopping:
                self.refusals["stopping"] += 1
            elif blocked:
                self.refusals["daily_loss"] += 1
            else:
                await self._enter(key, signal)

    async def _enter(self, key: MarketKey, signal: Signal) -> None:
        assert self.account is not None
        market = self.markets[key.symbol]
        side = "long" if signal.action is Action.ENTER_LONG else "short"
        price = self.hub.price(key.exchange, key.symbol)
        if price is None:
            return
        held = await self.held.all()
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
            open_positions=[PositionInfo(p.symbol, p.side, p.amount, p.entry_price) for p in held],
            free_quote=free_quote,
            min_amount=market.min_amount,
            min_cost=market.min_cost,
            amount_step=market.amount_step,
            contract_size=market.contract_size,
            global_halted=await users.is_halted(self.db),
        )
        decision = risk.check_entry(ctx)
        if not decision.approved:
            self.refusals[decision.reason.value] += 1
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
            await self._set_stop(key.symbol, side, stop, entry)
            held_now = await self.held.get(key.symbol, side)
            if held_now is not None:
                await self._protect(held_now)

    async def _close(self, p: PositionRow, purpose: str) -> ExecutionResult | None:
        """Close ``p`` at market; None when a resting stop on the exchange had already
        closed it (the stop is cancelled first otherwise)."""
        if self.account is not None and self.account.native_stops:
            await self._release(p.symbol)
            current = await self.held.get(p.symbol, p.side)
            if current is None:
                return None
            p = current
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
                await asyncio.wait({task}, timeout=self.drain_seconds)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("user %s: submit ended with %s", self.user_id, task.exception())
            raise
        finally:
            self.held.invalidate()  # the order's fills moved the positions
        if result.status is OrderStatus.REJECTED:
            log.info(
                "user %s: %s %s rejected: %s",
                self.user_id,
                draft.purpose,
                draft.symbol,
                result.error,
            )
            refused = result.error is not None and result.error not in NOT_REFUSALS
            if draft.purpose != "entry" and refused:  # the exchange refused a close: tell
                # the user (once per symbol and day); transient failures just retry
                if draft.trigger_price is not None:
                    text = stop_order_failed_text(draft.symbol, result.error or "")
                    what = "stop_order_failed"
                else:
                    text = close_failed_text(draft.symbol, draft.purpose, result.error or "")
                    what = "close_failed"
                async with self.db.transaction() as tx:
                    await outbox.enqueue(
                        tx,
                        self.user_id,
                        "error",
                        text,
                        dedupe_key=f"{what}:{self.user_id}:{draft.symbol}:{self.day}",
                    )
        return result
