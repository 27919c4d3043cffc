"""Stops that rest on the exchange, where the account supports them (Kraken spot
``stop-loss``, BingX swap ``STOP_MARKET``): a position's stop keeps protecting it while
the engine is down, paused or stopped; and the reconciliation of our positions with
what the account holds.

The engine stays in charge: the stop price lives in ``positions`` and is trailed on
every candle. After each candle (and right after an entry) ``protect`` makes the
exchange hold exactly one stop-market order for the position's amount at that price.
A stop that moved by at least ``RESTOP_MIN_MOVE`` (or whose amount changed) is replaced
without a moment unprotected: on BingX the new stop is placed before the old one is
cancelled (swap stops reserve nothing); on Kraken the resting order is amended in place
(``AmendOrder``: same order, new trigger and amount); elsewhere cancel, then place. A
stop the price is already through is not sent: the stop is hit, and ``protect`` hands
the position back to its caller (``TradingActions``), which closes it at market at once
(likewise when the venue refuses a stop and its price is through it).
Before the engine closes a position itself (exit signal, or a candle that crossed the
stop) ``release`` cancels the resting stop; when the cancel finds it already executed,
the fill is recorded and the position is not closed twice. A stop the exchange refuses
is reported once and tried again on the next candle.

Reconciliation (``reconcile``): each close the loop reads what the account holds (spot:
the balance of the base, free + held; swaps: ``fetch_positions``, one call per account,
only while it holds a swap position of ours). When the account holds less than our
position (the user sold or closed it by hand), the resting stop is cancelled first (one
that fired is booked as such), then the difference is booked as "closed outside the
bot" at the last price and the user is told once; the stop is put back only for what is
left. An exit the venue refuses reads the account again and reconciles the same way
instead of being retried. The account holding more never grows our position.

Stop orders go through the executor like every order: intent committed before the send,
one send, lookups by client id on doubt, fills recorded once (announced as "stops").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.errors import (
    AuthenticationError,
    NijaError,
    NotFoundError,
    OrderRejectedError,
    RetryableError,
)
from nija_tg.core.events import ClosedOutside
from nija_tg.core.models import FillInfo, MarketInfo, OrderStatus, OrderType, Side
from nija_tg.engine.bookkeeping import book_fill
from nija_tg.engine.execution import NOT_REFUSALS, ExecutionResult, OrderDraft
from nija_tg.engine.loop_context import LoopContext
from nija_tg.engine.loop_orders import LoopOrders
from nija_tg.engine.notify import tell
from nija_tg.exchange.precision import is_dust, round_step, sellable_amount
from nija_tg.storage import fills as fills_repo
from nija_tg.storage import orders as orders_repo
from nija_tg.storage.orders import OrderRow
from nija_tg.storage.positions import PositionRow

log = logging.getLogger("nija_tg.engine.loop")

# A trailed stop is moved on the exchange once it moved this much (relative): fewer
# replacements; the engine's own check always uses the exact stop.
RESTOP_MIN_MOVE = Decimal("0.001")
# ExecutionResult.error of a close that found the position gone from the account: booked
# as closed outside the bot, nothing sent (or the exchange refused it for that reason)
CLOSED_OUTSIDE = "closed outside the bot"


class StopStillOpenError(RetryableError):
    """A resting stop could not be confirmed cancelled: the candle's actions on this
    symbol wait for the next candle (nothing is sent on a doubt)."""


@dataclass(frozen=True, slots=True)
class Reconciled:
    """A position compared with what the account holds of it."""

    position: PositionRow | None  # as it stands now (None: closed)
    outside: bool = False  # (part of) it was booked now as closed outside the bot


def close_side(position_side: str) -> Side:
    return Side.SELL if position_side == "long" else Side.BUY


def outside_result() -> ExecutionResult:
    """What a close returns for a position the account no longer held."""
    return ExecutionResult(0, "", OrderStatus.CANCELED, Decimal(0), None, 0, CLOSED_OUTSIDE)


class ExchangeStops:
    """The stops resting on the exchange and the reconciliation of the user's positions
    with what the account holds. Orders go through ``orders``; a stop whose price is
    already through is not closed here: ``protect`` returns the position, and the
    caller (``TradingActions``) closes it at market."""

    def __init__(self, ctx: LoopContext, orders: LoopOrders) -> None:
        self.ctx = ctx
        self.orders = orders

    def native(self, symbol: str) -> bool:
        """Whether the exchange holds the stop of a position on ``symbol`` (this close)."""
        ctx = self.ctx
        account = ctx.account
        return (
            account is not None
            and account.native_stops
            and symbol in ctx.markets
            and symbol not in ctx.stop_refused
        )

    # --- what the account holds ------------------------------------------------------

    async def read_account(self) -> None:
        """Read what the account holds now: the balances, and the swap positions when
        the user holds a swap position of ours (one call per account). Unreadable swap
        positions leave ``account_positions`` None (no reconciliation of swaps then)."""
        self.ctx.account_balances = await self.ctx.require_account().fetch_balance()
        await self._read_positions()

    async def _read_positions(self) -> None:
        """``fetch_positions`` once, for accounts holding a swap position of ours."""
        ctx = self.ctx
        ctx.account_positions = None
        if ctx.account is None:
            return
        if not any(ctx.is_swap(p.symbol) for p in await ctx.held.all()):
            return
        try:
            ctx.account_positions = await ctx.account.fetch_positions()
        except (AuthenticationError, RetryableError):
            raise
        except NijaError as exc:
            log.warning("user %s: positions not read (%s)", ctx.user_id, exc)

    async def reconcile_all(self) -> None:
        """Reconcile every open position with the account (loop start)."""
        await self.read_account()
        for p in list(await self.ctx.held.all()):
            if p.symbol in self.ctx.markets:
                await self.reconcile(p)

    def holding(self, p: PositionRow) -> Decimal | None:
        """What the account holds of ``p``: spot, the base (free + held); swaps, the
        contracts of the position on ``p``'s side; as read this close. None when
        unknown."""
        ctx = self.ctx
        market = ctx.markets.get(p.symbol)
        if market is None:
            return None
        if market.kind == "swap":
            rows = ctx.account_positions
            if rows is None:
                return None
            mine = (r.contracts for r in rows if r.symbol == p.symbol and r.side == p.side)
            return sum(mine, Decimal(0))
        balances = ctx.account_balances
        if balances is None:
            return None
        line = next((b for b in balances if b.currency == market.base), None)
        return Decimal(0) if line is None else line.free + line.used

    def exit_amount(self, p: PositionRow) -> Decimal:
        """What an order closing ``p`` may carry: never more than our position nor than
        the account holds of it (spot: the base, free + held, the user may hold coins of
        their own besides ours; swaps: the position on that side), as read this close,
        rounded down to the market's step."""
        market = self.ctx.markets.get(p.symbol)
        if market is None:
            return p.amount
        held = self.holding(p)
        amount = p.amount if held is None else min(p.amount, held)
        return sellable_amount(market, amount)

    def last_price(self, p: PositionRow) -> Decimal:
        price = self.ctx.price(p.symbol)
        return price if price is not None and price > 0 else p.entry_price

    async def reconcile(self, p: PositionRow) -> Reconciled:
        """Compare position ``p`` with what the account holds of it. When the account
        holds less (the user sold or closed it by hand), cancel our resting stop first
        (one that fired is booked as the stop it is), then book the difference as
        "closed outside the bot" at the last price (the whole position when what is
        left cannot be sold on its own) and tell the user once. Returns the position as
        it stands now (None: closed) and whether this booked it as closed outside (a
        position gone without that was closed by its resting stop). Skipped while an
        order of ours other than a resting stop is unresolved on the symbol (its fill
        is booked first)."""
        ctx = self.ctx
        held = self.holding(p)
        if held is None or held >= p.amount:
            return Reconciled(p)
        mine = [o for o in await orders_repo.unresolved(ctx.db, ctx.user_id)]
        mine = [o for o in mine if o.symbol == p.symbol]
        if any(o.trigger_price is None for o in mine):
            return Reconciled(p)
        if mine:
            # our resting stop: cancel it (it must not close what the user holds now);
            # a stop that fired meanwhile is recorded by the cancel and the read is stale
            await self.release(p.symbol)
            now = await ctx.held.get(p.symbol, p.side)
            if now is None or now.amount != p.amount:
                return Reconciled(now)
        market = ctx.markets[p.symbol]
        price = self.last_price(p)
        gone = p.amount - held
        whole = held <= 0 or is_dust(market, held, price)
        if whole:
            gone = p.amount
        booked = await self.book_outside(p, gone, price, "external")
        log.warning(
            "user %s: %s %s held %s < position %s: %s booked as closed outside the bot",
            ctx.user_id,
            p.symbol,
            p.side,
            held,
            p.amount,
            gone,
        )
        now = None if whole else await ctx.held.get(p.symbol, p.side)
        return Reconciled(now, outside=booked)

    async def book_outside(
        self, p: PositionRow, amount: Decimal, price: Decimal, kind: str
    ) -> bool:
        """Book ``amount`` of ``p`` as gone without an order of ours: ``external`` (sold
        or closed outside the bot, told once) or ``dust`` (a remainder too small to be
        sold). The pseudo-fill's trade id starts with the kind; no fee, priced at
        ``price``, stamped with the loop's clock (simulated time in a replay or a
        backtest, so the books it leaves are the same on every run). False when that
        pseudo-fill was booked already."""
        ctx = self.ctx
        ex = ctx.require_executor()
        now = ctx.clock.now_ms()
        fill = FillInfo(
            trade_id=f"{kind}:{p.symbol}:{p.side}:{now}",
            symbol=p.symbol,
            side=close_side(p.side),
            amount=amount,
            price=price,
            fee=Decimal(0),
            fee_currency="",
            ts=now,
        )
        market = ctx.markets[p.symbol]
        swap = market.kind == "swap"
        async with ctx.db.transaction() as tx:
            fill_id = await fills_repo.insert(tx, ctx.user_id, None, ex.exchange_id, fill)
            if fill_id is None:
                return False
            await book_fill(
                tx,
                user_id=ctx.user_id,
                fill_id=fill_id,
                symbol=p.symbol,
                side=fill.side,
                amount=amount,
                price=price,
                fee_quote=Decimal(0),
                spot=not swap,
                position_side=p.side.upper() if swap else None,
                reduce_only=swap,
                contract_size=market.contract_size,
                session_id=ex.session_id,
                mode=ex.mode,
            )
            if kind == "external":
                await tell(tx, ctx.user_id, outside_event(p, amount, price, market, fill.trade_id))
        ctx.held.invalidate()
        return True

    # --- the stop resting on the exchange ----------------------------------------------

    def _stop_draft(self, p: PositionRow, trigger: Decimal) -> OrderDraft:
        swap = self.ctx.is_swap(p.symbol)
        hedge = swap and self.ctx.hedge_mode
        return OrderDraft(
            symbol=p.symbol,
            side=close_side(p.side),
            type=OrderType.MARKET,
            amount=self.exit_amount(p),
            reduce_only=swap and not hedge,
            position_side=p.side.upper() if hedge else None,
            purpose="stop",
            trigger_price=trigger,
        )

    @staticmethod
    def _through(side: str, trigger: Decimal, price: Decimal | None) -> bool:
        """Whether ``price`` is already at or through a stop at ``trigger`` (a stop
        placed there would trigger at once)."""
        if price is None or price <= 0:
            return False
        return price <= trigger if side == "long" else price >= trigger

    async def protect(self, p: PositionRow) -> PositionRow | None:
        """Make the exchange hold one stop order for ``p`` at its stop price. Returns
        the position to close at market now as a stop hit (the price is through its
        stop: a stop placed there would trigger at once, or the venue refused it while
        the price was through), else None."""
        ctx = self.ctx
        if p.stop_price is None or not self.native(p.symbol):
            return None
        market = ctx.markets[p.symbol]
        trigger = round_step(p.stop_price, market.price_step, down=False)
        if trigger <= 0:
            return None
        resting = await orders_repo.open_stops(ctx.db, ctx.user_id, p.symbol)
        amount = self.exit_amount(p)
        if amount <= 0 or (market.kind != "swap" and is_dust(market, amount, trigger)):
            return None  # nothing the venue would accept: the engine's own check closes it
        if len(resting) == 1 and self._still_fits(resting[0], p, amount, trigger):
            return None
        if self._through(p.side, trigger, self.last_price(p)):
            # the price is already through the stop: placing it would trigger it at once
            # (or be refused); the stop is hit, close now
            log.info("user %s: %s stop %s crossed: closing", ctx.user_id, p.symbol, trigger)
            return p
        if resting and market.kind == "swap":
            return await self._replace_first(p, trigger, resting)
        if len(resting) == 1 and getattr(ctx.account, "amends_stops", False):
            if await self._amend(resting[0], p, amount, trigger):
                return None
        if await self.release(p.symbol):
            return None  # a stop executed meanwhile: the position changed; next candle decides
        fresh = await ctx.held.get(p.symbol, p.side)
        if fresh is None:
            return None
        _result, hit = await self._place_checked(fresh, trigger)
        return hit

    async def _place_checked(
        self, p: PositionRow, trigger: Decimal
    ) -> tuple[ExecutionResult | None, PositionRow | None]:
        """Place the stop order for ``p`` (never for more than our position). A stop
        the venue refuses while its price is through the trigger: ``p`` is returned as
        the position to close now."""
        ctx = self.ctx
        draft = self._stop_draft(p, trigger)
        if draft.amount <= 0 or draft.amount > p.amount:
            log.info("user %s: no stop order for %s: nothing to sell", ctx.user_id, p.symbol)
            return None, None  # never an order for more than our position
        result = await self._place_stop(draft)
        if p.symbol in ctx.stop_refused and await self._crossed_now(p, trigger):
            log.info("user %s: %s stop refused, price through it: closing", ctx.user_id, p.symbol)
            return result, p
        return result, None

    async def _crossed_now(self, p: PositionRow, trigger: Decimal) -> bool:
        """Whether the exchange's price now is through ``trigger`` (after a refusal)."""
        now = await self.orders.price_now(p.symbol, close_side(p.side))
        return self._through(p.side, trigger, now)

    async def _replace_first(
        self, p: PositionRow, trigger: Decimal, old: list[OrderRow]
    ) -> PositionRow | None:
        """Swaps (stops reserve nothing): place the new stop, then cancel the old ones,
        so the position is never without a stop on the exchange. A new stop that is not
        confirmed leaves the old ones in place (tried again next candle)."""
        result, hit = await self._place_checked(p, trigger)
        if result is None or result.status is not OrderStatus.OPEN:
            return hit
        executor = self.ctx.require_executor()
        fired = False
        for order in old:
            try:
                after = await executor.withdraw(order)
            finally:
                self.ctx.held.invalidate()
            if after.filled > 0:
                fired = True
                self.ctx.account_moved()  # the old stop filled: the reads are stale
            if after.status in (OrderStatus.OPEN, OrderStatus.SUBMITTED):
                raise StopStillOpenError(f"{p.symbol}: old stop order still open after cancel")
        if fired:  # the old stop closed the position meanwhile: the new one goes too
            await self.release(p.symbol)
        return hit

    async def _amend(self, order: OrderRow, p: PositionRow, amount: Decimal, trigger: Decimal):
        """Move the resting stop ``order`` in place (Kraken ``AmendOrder``): no moment
        without it. True when done; False when the venue refused (the order is gone,
        e.g. it fired or was cancelled by hand): the caller cancels and places instead.
        A doubt (network) leaves the terms as recorded: both the old and the new stop
        protect, and the next candle amends again (amending twice is harmless)."""
        ctx = self.ctx
        if order.status is not OrderStatus.OPEN or order.side is not close_side(p.side):
            return False
        amend = getattr(ctx.account, "amend_stop", None)
        if amend is None:
            return False
        try:
            await amend(order.symbol, order.client_order_id, amount, trigger)
        except AuthenticationError:
            raise
        except (OrderRejectedError, NotFoundError) as exc:
            log.info("user %s: amend of %s refused (%s)", ctx.user_id, order.client_order_id, exc)
            return False
        except NijaError as exc:
            log.warning("user %s: amend of %s: %s", ctx.user_id, order.client_order_id, exc)
            return True
        async with ctx.db.transaction() as tx:
            await orders_repo.amend_terms(tx, ctx.user_id, order.order_id, amount, trigger)
        log.info("user %s: %s stop amended to %s", ctx.user_id, p.symbol, trigger)
        return True

    @staticmethod
    def _still_fits(order: OrderRow, p: PositionRow, amount: Decimal, trigger: Decimal) -> bool:
        if order.side is not close_side(p.side) or order.amount != amount:
            return False
        old = order.trigger_price
        assert old is not None
        return abs(trigger - old) < old * RESTOP_MIN_MOVE

    async def _place_stop(self, draft: OrderDraft) -> ExecutionResult:
        result = await self.orders.submit(draft)
        refused = result.error is not None and result.error not in NOT_REFUSALS
        if result.status is OrderStatus.REJECTED and refused:
            self.ctx.stop_refused.add(draft.symbol)
            log.info(
                "user %s: %s stop order refused; the engine enforces it and tries again "
                "next candle",
                self.ctx.user_id,
                draft.symbol,
            )
        return result

    async def release(self, symbol: str) -> bool:
        """Cancel every resting stop of ``symbol``. True when one had executed (its fill
        is recorded now). Exchange errors propagate: nothing may act on a doubt."""
        ctx = self.ctx
        if ctx.account is None or not ctx.account.native_stops:
            return False
        executor = ctx.require_executor()
        fired = False
        for order in await orders_repo.open_stops(ctx.db, ctx.user_id, symbol):
            try:
                after = await executor.withdraw(order)
            finally:
                ctx.held.invalidate()  # a fill may have been recorded
            if after.filled > 0:
                fired = True
                ctx.account_moved()  # the account holds something else now
            if after.status in (OrderStatus.OPEN, OrderStatus.SUBMITTED):
                raise StopStillOpenError(f"{symbol}: stop order still open after cancel")
        return fired


def outside_event(
    p: PositionRow, amount: Decimal, price: Decimal, market: MarketInfo, trade_id: str
) -> ClosedOutside:
    """The one message about a position found (partly) closed outside the bot."""
    return ClosedOutside(
        symbol=p.symbol,
        side=p.side,
        base=market.base,
        held=p.amount,
        closed=amount,
        price=price,
        trade_id=trade_id,
        swap=market.kind == "swap",
        contracts=market.contract_size != 1,
        price_step=market.price_step,
    )
