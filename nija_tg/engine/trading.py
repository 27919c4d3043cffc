"""The live shell around the trading core (``core/trading_core.py``) for one user's
loop: per market that closed a candle, the hub's candle and shared signal and the
positions held go into the core's pure decisions, and their intents come out as I/O:
a stop the candle touched -> a market close through the executor (``Close``); a
trailed stop -> ``positions`` and the exchange's resting stop (``MoveStop``, see
``exchange_stops``); the strategy's exit -> a market close; an entry the gate allows ->
the risk check's size with the account's figures (``size_entry``) -> a market order ->
its first stop from the fill (``stop_after_entry``). Refusals are counted, never sent.

Every order goes through ``LoopOrders`` (``loop_orders``): the executor commits the
intent before the send, records the outcome and its fills once; refused orders are
told once per run. A close the exchange refuses (or finds nothing to act on) first
reads the account: a position it no longer holds is booked as closed outside the bot
(``ExchangeStops.reconcile``), and only a refusal for another reason is told."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from nija_tg.core import risk
from nija_tg.core import trading_core as core
from nija_tg.core.errors import AuthenticationError, ErrorReason, NijaError
from nija_tg.core.events import EntryBlocked, EntryNoFunds, EntryRefused
from nija_tg.core.models import (
    TERMINAL_ORDER_STATUSES,
    MarketInfo,
    OrderStatus,
    OrderType,
    PositionInfo,
    Side,
    TradingMode,
)
from nija_tg.engine.exchange_stops import ExchangeStops, outside_result
from nija_tg.engine.execution import FUNDS, NOTHING_THERE, ExecutionResult, OrderDraft
from nija_tg.engine.free_quote import FreeQuote
from nija_tg.engine.loop_context import LoopContext
from nija_tg.engine.loop_orders import LoopOrders
from nija_tg.engine.market_data import MarketKey
from nija_tg.engine.notify import tell
from nija_tg.exchange.precision import is_dust
from nija_tg.storage import positions, users
from nija_tg.storage.positions import PositionRow
from nija_tg.strategies import Action, Signal, get_strategy

# a close whose amount, at the market's step, is nothing the exchange can sell: never sent
NOTHING_SELLABLE = ErrorReason("nothing_sellable")
log = logging.getLogger("nija_tg.engine.loop")


class TradingActions:
    """The live shell around the trading core for one user's loop: feeds the core
    (``core.trading_core``) the hub's closed candle and signal and the positions held,
    and carries out its intents: closes and entries through ``orders`` (the executor),
    stop moves in ``positions``, the resting stops through ``stops``."""

    def __init__(
        self,
        ctx: LoopContext,
        stops: ExchangeStops,
        orders: LoopOrders,
        *,
        paper_slippage: Decimal,
    ) -> None:
        self.ctx = ctx
        self.stops = stops
        self.orders = orders
        self.paper_slippage = paper_slippage  # what paper fills slip (entries sized for it)
        self.free_quote = FreeQuote()  # spot entries of one close sized on one read

    async def signals(self, updated: list[MarketKey]) -> dict[str, Signal]:
        """``stops_and_signal`` of every market that closed, in order; symbol -> signal.

        A market where the user holds no position (and no stop rests on the exchange to
        release) needs no I/O and no stop decision: its signal is the hub's shared one
        for a flat position, taken here without the per-market awaits (most markets of
        most users on every close). Which markets are held is read once, before the
        first: a market's stop or exit changes only that market's rows, and nothing
        opens a position before ``act``."""
        ctx = self.ctx
        if not updated:
            return {}
        held = {p.symbol for p in await ctx.held.all()}
        strategy = get_strategy(ctx.settings.strategy)
        params = ctx.settings.strategy_params
        hub, markets = ctx.hub, ctx.markets
        out: dict[str, Signal] = {}
        for key in updated:
            symbol = key.symbol
            if symbol in held or self.stops.native(symbol):
                out[symbol] = await self.stops_and_signal(key)
                continue
            signal = None
            if hub.latest(key) is not None:
                allow_short = markets[symbol].kind == "swap"
                signal = hub.signal(key, strategy, params, None, allow_short)
            out[symbol] = signal if signal is not None else Signal(Action.HOLD, reason="no candles")
        return out

    async def stops_and_signal(self, key: MarketKey) -> Signal:
        """Close positions whose stop the candle touched, trail the others; return the
        strategy's signal for this market (decisions: ``core/trading_core.py``)."""
        ctx = self.ctx
        closed = ctx.hub.latest(key)
        if closed is None:
            return Signal(Action.HOLD, reason="no candles")
        held = await ctx.held.for_symbol(key.symbol)
        spos = core.strategy_position({side: _holding(p) for side, p in held.items()})
        allow_short = ctx.markets[key.symbol].kind == "swap"
        strategy = get_strategy(ctx.settings.strategy)
        params = ctx.settings.strategy_params
        signal = ctx.hub.signal(key, strategy, params, spos, allow_short)
        if signal is None:
            return Signal(Action.HOLD, reason="no candles")
        if not held:
            if self.stops.native(key.symbol):
                await self.stops.release(key.symbol)  # a stop left without a position
            return signal
        candle = closed.last
        low, high = Decimal(str(candle.low)), Decimal(str(candle.high))
        for p in list(held.values()):
            now = (await self.stops.reconcile(p)).position  # sold outside: booked, told
            if now is None:
                continue
            p = now
            intent = core.stop_or_trail(ctx.settings, _holding(p), low, high, signal)
            if isinstance(intent, core.Close):
                # the "Stop hit" message is written with the close's fill (execution_record)
                await self.close(p, intent.purpose)
                continue
            if intent is not None:
                await self.set_stop(p.symbol, p.side, intent.stop, intent.anchor)
            fresh = await ctx.held.get(p.symbol, p.side)
            if fresh is not None:
                await self.protect(fresh)
        return signal

    async def protect(self, p: PositionRow) -> None:
        """The exchange's resting stop kept in step with ``p`` (``ExchangeStops``); a
        stop the price is already through is hit: ``p`` is closed at market now."""
        hit = await self.stops.protect(p)
        if hit is not None:
            await self.close(hit, "stop")

    async def set_stop(
        self, symbol: str, side: str, stop: Decimal | None, anchor: Decimal | None
    ) -> None:
        """The position's stop moved: committed before the loop goes on, the update
        left for the group's COMMIT (one statement for every user's moved stops of the
        group, no savepoint) when the loop's view holds the position."""
        ctx = self.ctx
        await ctx.held.all()  # the view, read if it must be
        if not ctx.held.has(symbol, side):
            return  # no such position open (the view is exact): nothing to move
        await positions.set_stop_soon(ctx.db, ctx.user_id, symbol, side, stop, anchor, time.time())
        ctx.held.stop_moved(symbol, side, stop, anchor)

    async def act(self, key: MarketKey, signal: Signal, blocked: bool) -> None:
        """The strategy's part, as the gate allows (``core.strategy_intents``)."""
        if not core.wants_action(signal):
            return  # a hold (most markets, most closes): nothing to read or decide
        ctx = self.ctx
        if ctx.account_balances is not None:  # the close's read (or one since its fills)
            self.free_quote.read(ctx.account_balances)
        held = await ctx.held.for_symbol(key.symbol)
        intents = core.strategy_intents(
            key.symbol,
            signal,
            [_holding(p) for p in held.values()],
            ctx.gate,
            stopping=ctx.stopping,
            blocked=blocked,
        )
        if isinstance(intents, core.Refusal):
            ctx.refusals[intents.reason] += 1
        elif isinstance(intents, core.EntryWanted):
            await self.enter(key, intents)
        elif intents:
            for close in intents:
                await self.close(held[close.side], close.purpose)

    async def enter(self, key: MarketKey, want: core.EntryWanted) -> None:
        ctx = self.ctx
        assert ctx.account is not None
        market = ctx.markets[key.symbol]
        side = want.side
        price = ctx.hub.price(key.exchange, key.symbol)
        if price is None:
            return
        held = await ctx.held.all()
        free_quote = None
        if market.kind == "spot":
            free_quote = await self._free_quote(market.quote)
        figures = risk.RiskContext(
            settings=ctx.settings,
            equity=ctx.equity,
            start_of_day_equity=ctx.marks.daily_loss_base,
            peak_equity=ctx.marks.peak_equity_flow_adjusted,
            starting_equity=ctx.marks.starting_equity_plus_flows,
            realized_pnl_today=ctx.marks.pnl_today(ctx.equity),
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
            global_halted=await users.is_halted(ctx.db),
            # simulated fills slip against us: size so the filled notional stays capped
            slippage=self.paper_slippage if ctx.mode is TradingMode.PAPER else Decimal(0),
        )
        sized = core.size_entry(want, figures)
        if isinstance(sized, core.Refusal):
            ctx.refusals[sized.reason] += 1
            log.info("user %s: %s entry refused: %s", ctx.user_id, key.symbol, sized.reason)
            decision = sized.decision
            if decision is not None and decision.reason is risk.RiskReason.STOP_BEYOND_LIQUIDATION:
                await self._tell_settings_refusal(key.symbol, decision)
            return
        hedge = market.kind == "swap" and ctx.hedge_mode
        if market.kind == "swap" and not hedge and await self._opposite_held(key.symbol, side):
            # one-way mode nets an entry against the account's opposite position: the
            # entry would close the user's own position, not open ours
            ctx.refusals["opposite_position_held"] += 1
            log.info("user %s: %s entry refused: opposite position held", ctx.user_id, key.symbol)
            return
        draft = OrderDraft(
            symbol=key.symbol,
            side=Side.BUY if side == "long" else Side.SELL,
            type=OrderType.MARKET,
            amount=sized.amount,
            position_side=side.upper() if hedge else None,
            purpose="entry",
        )
        result = await self.orders.submit(draft)
        if market.kind == "spot":
            if result.status not in TERMINAL_ORDER_STATUSES:
                self.free_quote.forget()  # it may have filled: the next entry reads again
            elif result.filled > 0:
                cost = result.filled * (result.average or price) * market.contract_size
                self.free_quote.bought(market.quote, cost)
        if result.status is OrderStatus.REJECTED and result.refusal is not None:
            read = free_quote if ctx.account_balances is not None else None  # else an estimate
            refused = await self._entry_refusal(market, draft, read, result)
            await self.orders.tell_refusal(draft, refused)
        if result.filled > 0:
            first = core.stop_after_entry(sized, result.average or price)
            await self.set_stop(key.symbol, side, first.stop, first.anchor)
            held_now = await ctx.held.get(key.symbol, side)
            if held_now is not None:
                await self.protect(held_now)

    async def _opposite_held(self, symbol: str, side: str) -> bool:
        """Whether the account holds a position on ``symbol`` opposite to ``side`` (one
        that is not ours: we enter only when flat there). Unknown counts as held: an
        entry that could close what the user holds is not sent on a doubt."""
        ctx = self.ctx
        assert ctx.account is not None
        rows = ctx.account_positions
        if rows is None:
            try:
                rows = ctx.account_positions = await ctx.account.fetch_positions()
            except AuthenticationError:
                raise
            except NijaError as exc:
                log.info("user %s: positions not read before an entry: %s", ctx.user_id, exc)
                return True
        other = "short" if side == "long" else "long"
        return any(r.symbol == symbol and r.side == other and r.contracts > 0 for r in rows)

    async def close(self, p: PositionRow, purpose: str) -> ExecutionResult | None:
        """Close ``p`` at market. None when a resting stop on the exchange had already
        closed it (the stop is cancelled first otherwise); a result with error
        ``CLOSED_OUTSIDE`` when the account no longer held it (booked as closed outside
        the bot, found before sending or because the exchange refused the close)."""
        ctx = self.ctx
        if ctx.account is not None and ctx.account.native_stops:
            await self.stops.release(p.symbol)
            current = await ctx.held.get(p.symbol, p.side)
            if current is None:
                return None
            p = current
        found = await self.stops.reconcile(p)
        if found.position is None:  # booked as closed outside, or a resting stop closed it
            return outside_result() if found.outside else None
        p = found.position
        market = ctx.markets.get(p.symbol)
        swap = market is not None and market.kind == "swap"
        hedge = swap and ctx.hedge_mode
        draft = OrderDraft(
            symbol=p.symbol,
            side=Side.SELL if p.side == "long" else Side.BUY,
            type=OrderType.MARKET,
            amount=self.stops.exit_amount(p),
            reduce_only=swap,
            position_side=p.side.upper() if hedge else None,
            purpose=purpose,
            stop_price=p.stop_price if purpose == "stop" else None,
        )
        price = self.stops.last_price(p)
        held = self.stops.holding(p)
        if (
            market is not None
            and not swap
            and (held is None or held >= p.amount)
            and is_dust(market, p.amount, price)
        ):
            # our position is too small to be sold on its own (the venue refuses it):
            # closed in our books as dust, no order
            await self.stops.book_outside(p, p.amount, price, "dust")
            return None
        if draft.amount <= 0 or draft.amount > p.amount:
            # never sell more than our position; nothing sellable is not sent
            log.warning(
                "user %s: %s %s not sent: amount %s, position %s",
                ctx.user_id,
                purpose,
                p.symbol,
                draft.amount,
                p.amount,
            )
            return ExecutionResult(
                0, "", OrderStatus.REJECTED, Decimal(0), None, 0, NOTHING_SELLABLE.encode()
            )
        result = await self.orders.submit(draft, tell=False)
        if result.status is OrderStatus.REJECTED and (
            result.refusal is not None or result.error == NOTHING_THERE
        ):
            # refused: maybe there is nothing (or less) to close. Read the account and
            # reconcile instead of trying again; told only when that was not the reason
            gone = await self._refused_close(p)
            if gone is not None:
                return gone
            await self.orders.tell_submit_refusal(draft, result)
            return result
        rest = p.amount - result.filled
        if result.filled > 0 and rest > 0 and market is not None and not swap:
            if is_dust(market, rest, result.average or price):
                left = await ctx.held.get(p.symbol, p.side)
                if left is not None:  # what the exit left cannot be sold on its own
                    await self.stops.book_outside(
                        left, left.amount, result.average or price, "dust"
                    )
        return result

    async def _refused_close(self, p: PositionRow) -> ExecutionResult | None:
        """After the exchange refused to close ``p``: read the account; when it holds
        less than ``p``, book that as closed outside the bot and return the
        ``CLOSED_OUTSIDE`` result (the rest, if any, is closed on the next candle)."""
        await self.stops.read_account()
        if (await self.stops.reconcile(p)).outside:
            return outside_result()
        return None

    async def _tell_settings_refusal(self, symbol: str, decision: risk.RiskDecision) -> None:
        """An entry the user's own settings make impossible (a swap stop beyond the
        liquidation price at their leverage) is told, once per symbol and UTC day: the
        user can act on it; the usual limits (open positions, daily loss) are not told."""
        ctx = self.ctx
        blocked = EntryBlocked(symbol, decision.reason.value, decision.figures, ctx.day)
        async with ctx.db.transaction() as tx:
            await tell(tx, ctx.user_id, blocked)

    async def _entry_refusal(
        self,
        market: MarketInfo,
        draft: OrderDraft,
        free_quote: Decimal | None,
        result: ExecutionResult,
    ) -> EntryRefused | EntryNoFunds:
        """The venue's reason; for insufficient funds, what the entry needed at the
        exchange's price now (the margin on a swap) against the free balance."""
        ctx = self.ctx
        if result.refusal != FUNDS:
            return EntryRefused(market.symbol, ErrorReason.decode(result.error))
        price = await self.orders.price_now(market.symbol, draft.side)
        if price is None:
            price = ctx.hub.price(ctx.exchange_id, market.symbol) or Decimal(0)
        units = draft.amount * market.contract_size
        swap = market.kind == "swap"
        needed = units * price / (ctx.settings.leverage_cap if swap else 1)
        free = free_quote if free_quote is not None else await self._free(market.quote)
        return EntryNoFunds(
            symbol=market.symbol,
            base=market.base,
            quote=market.quote,
            units=units,
            price=price,
            needed=needed,
            free=free,
            exchange_id=ctx.exchange_id,
            swap=swap,
            price_step=market.price_step,
        )

    async def _free_quote(self, currency: str) -> Decimal:
        """What a spot entry may spend of ``currency``: this close's read of the account
        less what the close's filled buys spent (``FreeQuote``); read again only when
        no read of this close stands (an order's outcome unknown)."""
        ctx = self.ctx
        if ctx.account_balances is not None:  # read since the last fill
            self.free_quote.read(ctx.account_balances)
        free = self.free_quote.free(currency)
        if free is None:
            lines = await ctx.require_account().fetch_balance()
            ctx.account_balances = lines
            self.free_quote.read(lines)
            free = self.free_quote.free(currency)
        assert free is not None
        return free

    async def _free(self, currency: str) -> Decimal | None:
        """The account's free balance of ``currency`` now (None when it cannot be read)."""
        ctx = self.ctx
        assert ctx.account is not None
        try:
            lines = await ctx.account.fetch_balance()
        except AuthenticationError:
            raise
        except NijaError as exc:
            log.info("user %s: balance for a refusal message: %s", ctx.user_id, exc)
            return None
        return next((b.free for b in lines if b.currency == currency), Decimal(0))


def _holding(p: PositionRow) -> core.Holding:
    """The trading core's view of a stored position."""
    return core.Holding(p.symbol, p.side, p.amount, p.entry_price, p.stop_price, p.trail_anchor)
