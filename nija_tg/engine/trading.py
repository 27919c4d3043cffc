"""The trading half of a user's loop: per market, enforce stops on the closed candle,
trail them (and keep the exchange's resting stop in step where the account supports
one, see ``exchange_stops``), evaluate the strategy on the shared indicator frame, size
entries through the risk check and submit through the executor (shielded from
cancellation).

An order the exchange refuses (insufficient funds, or any other stated reason) is told
to the user once per run of the same refusal: until the reason changes or an order of
that kind (entry, close, stop order; per symbol) is accepted. The run is read from the
orders table, so a restart does not repeat the message either. Answers that are not
refusals (not processed, not found after an unknown outcome) are not told. A close the
exchange refuses (or finds nothing to act on) first reads the account: a position it no
longer holds is booked as closed outside the bot (``exchange_stops._reconcile``), and
only a refusal for another reason is told."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING

from nija_tg.core import risk
from nija_tg.core import trading_core as core
from nija_tg.core.cash_flows import LimitMarks
from nija_tg.core.errors import AuthenticationError, NijaError
from nija_tg.core.models import (
    MarketInfo,
    OrderStatus,
    OrderType,
    PositionInfo,
    Side,
    TradingMode,
)
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate
from nija_tg.engine.exchange_stops import ExchangeStops, outside_result
from nija_tg.engine.execution import FUNDS, NOTHING_THERE, ExecutionResult, Executor, OrderDraft
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.loop_support import (
    close_failed_text,
    entry_funds_text,
    entry_refused_text,
    stop_order_failed_text,
)
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.exchange.precision import is_dust
from nija_tg.exchange.protocol import TradingAccount
from nija_tg.storage import orders as orders_repo
from nija_tg.storage import outbox, positions, users
from nija_tg.storage.db import Database
from nija_tg.storage.positions import PositionRow
from nija_tg.strategies import Action, Signal, get_strategy

if TYPE_CHECKING:
    from nija_tg.engine.user_loop import LoopDeps

log = logging.getLogger("nija_tg.engine.loop")


class TradingActions(ExchangeStops):
    """Mixin of UserLoop: the state it reads is set up by the loop's ``start``."""

    db: Database
    deps: LoopDeps
    user_id: int
    exchange_id: str
    hub: MarketHub
    drain_seconds: float
    settings: RiskSettings
    mode: TradingMode
    account: TradingAccount | None
    executor: Executor | None
    held: HeldPositions
    markets: dict[str, MarketInfo]
    equity: Decimal
    marks: LimitMarks  # what the limits are measured from (core/cash_flows.py)
    refusals: Counter[str]
    day: str  # the UTC day of the clock
    stopping: bool  # a stop was requested: no new entries (exits and stops still run)

    if TYPE_CHECKING:  # provided by UserLoop: the user's gate now

        @property
        def gate(self) -> Gate: ...

    async def _stops_and_signal(self, key: MarketKey) -> Signal:
        """Close positions whose stop the candle touched, trail the others; return the
        strategy's signal for this market (decisions: ``core/trading_core.py``)."""
        closed = self.hub.latest(key)
        if closed is None:
            return Signal(Action.HOLD, reason="no candles")
        held = await self.held.for_symbol(key.symbol)
        spos = core.strategy_position({side: _holding(p) for side, p in held.items()})
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
        for p in list(held.values()):
            now = await self._reconcile(p)  # sold outside the bot: booked, told once
            if now is None:
                continue
            p = now
            intent = core.stop_or_trail(self.settings, _holding(p), low, high, signal)
            if isinstance(intent, core.Close):
                # the "Stop hit" message is written with the close's fill (execution_record)
                await self._close(p, intent.purpose)
                continue
            if intent is not None:
                await self._set_stop(p.symbol, p.side, intent.stop, intent.anchor)
            fresh = await self.held.get(p.symbol, p.side)
            if fresh is not None:
                await self._protect(fresh)
        return signal

    async def _set_stop(
        self, symbol: str, side: str, stop: Decimal | None, anchor: Decimal | None
    ) -> None:
        async with self.db.transaction() as tx:
            moved = await positions.set_stop(tx, self.user_id, symbol, side, stop, anchor)
        if moved:
            self.held.stop_moved(symbol, side, stop, anchor)
        else:
            self.held.invalidate()

    async def _act(self, key: MarketKey, signal: Signal, blocked: bool) -> None:
        """The strategy's part, as the gate allows (``core.strategy_intents``)."""
        held = await self.held.for_symbol(key.symbol)
        intents = core.strategy_intents(
            key.symbol,
            signal,
            [_holding(p) for p in held.values()],
            self.gate,
            stopping=self.stopping,
            blocked=blocked,
        )
        if isinstance(intents, core.Refusal):
            self.refusals[intents.reason] += 1
        elif isinstance(intents, core.EntryWanted):
            await self._enter(key, intents)
        elif intents:
            for close in intents:
                await self._close(held[close.side], close.purpose)

    async def _enter(self, key: MarketKey, want: core.EntryWanted) -> None:
        assert self.account is not None
        market = self.markets[key.symbol]
        side = want.side
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
            start_of_day_equity=self.marks.daily_loss_base,
            peak_equity=self.marks.peak_equity_flow_adjusted,
            starting_equity=self.marks.starting_equity_plus_flows,
            realized_pnl_today=self.marks.pnl_today(self.equity),
            symbol=key.symbol,
            base=market.base,
            quote=market.quote,
            market_kind=market.kind,
            price=price,
            stop_distance=want.stop_distance,
            side=side,
            open_positions=[PositionInfo(p.symbol, p.side, p.amount, p.entry_price) for p in held],
            free_quote=free_quote,
            min_amount=market.min_amount,
            min_cost=market.min_cost,
            amount_step=market.amount_step,
            contract_size=market.contract_size,
            global_halted=await users.is_halted(self.db),
            # simulated fills slip against us: size so the filled notional stays capped
            slippage=self.deps.paper_slippage if self.mode is TradingMode.PAPER else Decimal(0),
        )
        sized = core.size_entry(want, ctx)
        if isinstance(sized, core.Refusal):
            self.refusals[sized.reason] += 1
            log.info("user %s: %s entry refused: %s", self.user_id, key.symbol, sized.reason)
            decision = sized.decision
            if decision is not None and decision.reason is risk.RiskReason.STOP_BEYOND_LIQUIDATION:
                await self._tell_settings_refusal(key.symbol, decision)
            return
        hedge = market.kind == "swap" and self.hedge_mode
        if market.kind == "swap" and not hedge and await self._opposite_held(key.symbol, side):
            # one-way mode nets an entry against the account's opposite position: the
            # entry would close the user's own position, not open ours
            self.refusals["opposite_position_held"] += 1
            log.info("user %s: %s entry refused: opposite position held", self.user_id, key.symbol)
            return
        draft = OrderDraft(
            symbol=key.symbol,
            side=Side.BUY if side == "long" else Side.SELL,
            type=OrderType.MARKET,
            amount=sized.amount,
            position_side=side.upper() if hedge else None,
            purpose="entry",
        )
        result = await self._submit(draft)
        if result.status is OrderStatus.REJECTED and result.refusal is not None:
            text = await self._entry_refused_text(market, draft, free_quote, result)
            await self._tell_refusal(draft, text)
        if result.filled > 0:
            first = core.stop_after_entry(sized, result.average or price)
            await self._set_stop(key.symbol, side, first.stop, first.anchor)
            held_now = await self.held.get(key.symbol, side)
            if held_now is not None:
                await self._protect(held_now)

    async def _opposite_held(self, symbol: str, side: str) -> bool:
        """Whether the account holds a position on ``symbol`` opposite to ``side`` (one
        that is not ours: we enter only when flat there). Unknown counts as held: an
        entry that could close what the user holds is not sent on a doubt."""
        assert self.account is not None
        rows = self.account_positions
        if rows is None:
            try:
                rows = self.account_positions = await self.account.fetch_positions()
            except AuthenticationError:
                raise
            except NijaError as exc:
                log.info("user %s: positions not read before an entry: %s", self.user_id, exc)
                return True
        other = "short" if side == "long" else "long"
        return any(r.symbol == symbol and r.side == other and r.contracts > 0 for r in rows)

    async def _close(self, p: PositionRow, purpose: str) -> ExecutionResult | None:
        """Close ``p`` at market. None when a resting stop on the exchange had already
        closed it (the stop is cancelled first otherwise); a result with error
        ``CLOSED_OUTSIDE`` when the account no longer held it (booked as closed outside
        the bot, found before sending or because the exchange refused the close)."""
        if self.account is not None and self.account.native_stops:
            await self._release(p.symbol)
            current = await self.held.get(p.symbol, p.side)
            if current is None:
                return None
            p = current
        self.outside_booked = None
        now = await self._reconcile(p)
        if now is None:  # the account no longer holds it: booked as closed outside
            return outside_result() if self.outside_booked == (p.symbol, p.side) else None
        p = now
        market = self.markets.get(p.symbol)
        swap = market is not None and market.kind == "swap"
        hedge = swap and self.hedge_mode
        draft = OrderDraft(
            symbol=p.symbol,
            side=Side.SELL if p.side == "long" else Side.BUY,
            type=OrderType.MARKET,
            amount=self._exit_amount(p),
            reduce_only=swap,
            position_side=p.side.upper() if hedge else None,
            purpose=purpose,
            stop_price=p.stop_price if purpose == "stop" else None,
        )
        price = self._last_price(p)
        held = self._holding(p)
        if (
            market is not None
            and not swap
            and (held is None or held >= p.amount)
            and is_dust(market, p.amount, price)
        ):
            # our position is too small to be sold on its own (the venue refuses it):
            # closed in our books as dust, no order
            await self._book_outside(p, p.amount, price, "dust")
            return None
        if draft.amount <= 0 or draft.amount > p.amount:
            # never sell more than our position; nothing sellable is not sent
            log.warning(
                "user %s: %s %s not sent: amount %s, position %s",
                self.user_id,
                purpose,
                p.symbol,
                draft.amount,
                p.amount,
            )
            return ExecutionResult(
                0, "", OrderStatus.REJECTED, Decimal(0), None, 0, "nothing to sell"
            )
        result = await self._submit(draft, tell=False)
        if result.status is OrderStatus.REJECTED and (
            result.refusal is not None or result.error == NOTHING_THERE
        ):
            # refused: maybe there is nothing (or less) to close. Read the account and
            # reconcile instead of trying again; told only when that was not the reason
            gone = await self._refused_close(p)
            if gone is not None:
                return gone
            await self._tell_submit_refusal(draft, result)
            return result
        rest = p.amount - result.filled
        if result.filled > 0 and rest > 0 and market is not None and not swap:
            if is_dust(market, rest, result.average or price):
                left = await self.held.get(p.symbol, p.side)
                if left is not None:  # what the exit left cannot be sold on its own
                    await self._book_outside(left, left.amount, result.average or price, "dust")
        return result

    async def _refused_close(self, p: PositionRow) -> ExecutionResult | None:
        """After the exchange refused to close ``p``: read the account; when it holds
        less than ``p``, book that as closed outside the bot and return the
        ``CLOSED_OUTSIDE`` result (the rest, if any, is closed on the next candle)."""
        await self._read_account()
        self.outside_booked = None
        await self._reconcile(p)
        if self.outside_booked == (p.symbol, p.side):
            return outside_result()
        return None

    async def _submit(self, draft: OrderDraft, *, tell: bool = True) -> ExecutionResult:
        """Submit shielded from cancellation: a stop or shutdown waits (up to the drain
        time) for the intent -> submitted -> outcome path to complete. A refused exit or
        stop order is told to the user (``tell``; ``_close`` tells after reconciling)."""
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
            if not task.done() or task.cancelled() or task.exception() is not None:
                self.account_balances = None
                self.account_positions = None
            elif task.result().filled > 0:
                self.account_balances = None  # the account holds something else now
                self.account_positions = None
        if result.status is OrderStatus.REJECTED:
            log.info(
                "user %s: %s %s rejected: %s",
                self.user_id,
                draft.purpose,
                draft.symbol,
                result.error,
            )
            if tell:
                await self._tell_submit_refusal(draft, result)
        return result

    async def _tell_submit_refusal(self, draft: OrderDraft, result: ExecutionResult) -> None:
        if draft.purpose not in ("entry", "close") and result.refusal is not None:
            # the exchange refused an exit or a stop order: tell the user (entries are
            # told by _enter, with the amounts; a close the user asked for by its
            # request); not-processed answers just retry
            if draft.trigger_price is not None:
                text = stop_order_failed_text(draft.symbol, result.error or "")
            else:
                text = close_failed_text(draft.symbol, draft.purpose, result.error or "")
            await self._tell_refusal(draft, text)

    async def _tell_settings_refusal(self, symbol: str, decision: risk.RiskDecision) -> None:
        """An entry the user's own settings make impossible (a swap stop beyond the
        liquidation price at their leverage) is told, once per symbol and UTC day: the
        user can act on it; the usual limits (open positions, daily loss) are not told."""
        key = f"risk:{self.user_id}:{decision.reason.value}:{symbol}:{self.day}"
        text = f"⚠️ No entry on {symbol}: {decision.message}"
        async with self.db.transaction() as tx:
            await outbox.enqueue(tx, self.user_id, "error", text, dedupe_key=key)

    async def _tell_refusal(self, draft: OrderDraft, text: str) -> None:
        """Queue ``text`` about the refused ``draft``, once per run of the same refusal of
        that kind of order (``orders.refusal_run``): a refusal repeating every candle is
        told once, again when its reason changes or after an order of the kind succeeded."""
        native = draft.trigger_price is not None
        entry = draft.purpose == "entry"
        purposes = ("stop",) if native else ("entry",) if entry else ("exit", "stop")
        run = await orders_repo.refusal_run(self.db, self.user_id, draft.symbol, purposes, native)
        what = "stop_order" if native else "entry" if entry else "close"
        key = f"refused:{self.user_id}:{what}:{draft.symbol}:{run}"
        async with self.db.transaction() as tx:
            await outbox.enqueue(tx, self.user_id, "error", text, dedupe_key=key)

    async def _entry_refused_text(
        self,
        market: MarketInfo,
        draft: OrderDraft,
        free_quote: Decimal | None,
        result: ExecutionResult,
    ) -> str:
        """The venue's reason; for insufficient funds, what the entry needed at the
        exchange's price now (the margin on a swap) against the free balance."""
        if result.refusal != FUNDS:
            return entry_refused_text(market.symbol, result.error or "")
        price = await self._price_now(market.symbol, draft.side)
        if price is None:
            price = self.hub.price(self.exchange_id, market.symbol) or Decimal(0)
        units = draft.amount * market.contract_size
        swap = market.kind == "swap"
        needed = units * price / (self.settings.leverage_cap if swap else 1)
        free = free_quote if free_quote is not None else await self._free(market.quote)
        return entry_funds_text(market, units, price, needed, free, self.exchange_id, swap=swap)

    async def _price_now(self, symbol: str, side: Side) -> Decimal | None:
        """The exchange's price a market order pays now (a buy the ask, a sell the bid;
        else the last trade), if it answers."""
        try:
            ticker = await self.deps.market_data.fetch_ticker(self.exchange_id, symbol)
        except Exception as exc:  # only for a message: the figure is left out
            log.info("user %s: ticker for a refusal message: %s", self.user_id, exc)
            return None
        quote = ticker.ask if side is Side.BUY else ticker.bid
        return quote or ticker.last

    async def _free(self, currency: str) -> Decimal | None:
        """The account's free balance of ``currency`` now (None when it cannot be read)."""
        assert self.account is not None
        try:
            lines = await self.account.fetch_balance()
        except AuthenticationError:
            raise
        except NijaError as exc:
            log.info("user %s: balance for a refusal message: %s", self.user_id, exc)
            return None
        return next((b.free for b in lines if b.currency == currency), Decimal(0))


def _holding(p: PositionRow) -> core.Holding:
    """The trading core's view of a stored position."""
    return core.Holding(p.symbol, p.side, p.amount, p.entry_price, p.stop_price, p.trail_anchor)
