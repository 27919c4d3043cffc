"""Stops that rest on the exchange, where the account supports them (Kraken spot
``stop-loss``, BingX swap ``STOP_MARKET``): a position's stop keeps protecting it while
the engine is down, paused or stopped; and the reconciliation of our positions with
what the account holds.

The engine stays in charge: the stop price lives in ``positions`` and is trailed on
every candle. After each candle (and right after an entry) ``_protect`` makes the
exchange hold exactly one stop-market order for the position's amount at that price.
A stop that moved by at least ``RESTOP_MIN_MOVE`` (or whose amount changed) is replaced
without a moment unprotected: on BingX the new stop is placed before the old one is
cancelled (swap stops reserve nothing); on Kraken the resting order is amended in place
(``AmendOrder``: same order, new trigger and amount); elsewhere cancel, then place. A
stop the price is already through is not sent: the stop is hit, the position is closed
at market at once (likewise when the venue refuses a stop and its price is through it).
Before the engine closes a position itself (exit signal, or a candle that crossed the
stop) ``_release`` cancels the resting stop; when the cancel finds it already executed,
the fill is recorded and the position is not closed twice. A stop the exchange refuses
is reported once and tried again on the next candle.

Reconciliation (``_reconcile``): each close the loop reads what the account holds (spot:
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
import time
from decimal import Decimal

from nija_tg.core.errors import (
    AuthenticationError,
    NijaError,
    NotFoundError,
    OrderRejectedError,
    RetryableError,
)
from nija_tg.core.models import (
    BalanceLine,
    FillInfo,
    MarketInfo,
    OrderStatus,
    OrderType,
    PositionInfo,
    Side,
)
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.bookkeeping import book_fill
from nija_tg.engine.execution import NOT_REFUSALS, ExecutionResult, Executor, OrderDraft
from nija_tg.engine.execution_record import fmt_amount, fmt_price
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.exchange.precision import is_dust, round_step, sellable_amount
from nija_tg.exchange.protocol import TradingAccount
from nija_tg.storage import fills as fills_repo
from nija_tg.storage import orders as orders_repo
from nija_tg.storage import outbox
from nija_tg.storage.db import Database
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


def close_side(position_side: str) -> Side:
    return Side.SELL if position_side == "long" else Side.BUY


def outside_result() -> ExecutionResult:
    """What ``_close`` returns for a position the account no longer held."""
    return ExecutionResult(0, "", OrderStatus.CANCELED, Decimal(0), None, 0, CLOSED_OUTSIDE)


class ExchangeStops:
    """Mixin of the trading loop (state set up by the loop's ``start``)."""

    db: Database
    user_id: int
    settings: RiskSettings
    account: TradingAccount | None
    executor: Executor | None
    held: HeldPositions  # the loop's view of its open positions
    markets: dict[str, MarketInfo]
    stop_refused: set[str]  # symbols whose stop orders the exchange refused this close
    account_hedged: bool | None  # the swap account's actual position mode, read at start
    # The account's balances as the loop last read them this close (None once an order
    # filled since: the read no longer tells what the account holds)
    account_balances: list[BalanceLine] | None
    # The account's swap positions as read this close (None: not read, or stale)
    account_positions: list[PositionInfo] | None = None
    # (symbol, side) of the last position booked as closed outside the bot
    outside_booked: tuple[str, str] | None = None

    @property
    def hedge_mode(self) -> bool:
        """The position mode orders must be sent for: the account's actual mode when the
        loop could read it (a refused switch leaves the account in its old mode), else
        the setting."""
        if self.account_hedged is not None:
            return self.account_hedged
        return self.settings.position_mode == "hedge"

    def _native(self, symbol: str) -> bool:
        account = self.account
        return (
            account is not None
            and account.native_stops
            and symbol in self.markets
            and symbol not in self.stop_refused
        )

    def _is_swap(self, symbol: str) -> bool:
        market = self.markets.get(symbol)
        return market is not None and market.kind == "swap"

    # --- what the account holds ------------------------------------------------------

    async def _read_account(self) -> None:
        """Read what the account holds now: the balances, and the swap positions when
        the user holds a swap position of ours (one call per account). Unreadable swap
        positions leave ``account_positions`` None (no reconciliation of swaps then)."""
        assert self.account is not None
        self.account_balances = await self.account.fetch_balance()
        await self._read_positions()

    async def _read_positions(self) -> None:
        """``fetch_positions`` once, for accounts holding a swap position of ours."""
        self.account_positions = None
        if self.account is None:
            return
        if not any(self._is_swap(p.symbol) for p in await self.held.all()):
            return
        try:
            self.account_positions = await self.account.fetch_positions()
        except (AuthenticationError, RetryableError):
            raise
        except NijaError as exc:
            log.warning("user %s: positions not read (%s)", self.user_id, exc)

    async def _reconcile_all(self) -> None:
        """Reconcile every open position with the account (loop start)."""
        await self._read_account()
        for p in list(await self.held.all()):
            if p.symbol in self.markets:
                await self._reconcile(p)

    def _holding(self, p: PositionRow) -> Decimal | None:
        """What the account holds of ``p``: spot, the base (free + held); swaps, the
        contracts of the position on ``p``'s side; as read this close. None when
        unknown."""
        market = self.markets.get(p.symbol)
        if market is None:
            return None
        if market.kind == "swap":
            rows = self.account_positions
            if rows is None:
                return None
            mine = (r.contracts for r in rows if r.symbol == p.symbol and r.side == p.side)
            return sum(mine, Decimal(0))
        balances = getattr(self, "account_balances", None)
        if balances is None:
            return None
        line = next((b for b in balances if b.currency == market.base), None)
        return Decimal(0) if line is None else line.free + line.used

    def _exit_amount(self, p: PositionRow) -> Decimal:
        """What an order closing ``p`` may carry: never more than our position nor than
        the account holds of it (spot: the base, free + held, the user may hold coins of
        their own besides ours; swaps: the position on that side), as read this close,
        rounded down to the market's step."""
        market = self.markets.get(p.symbol)
        if market is None:
            return p.amount
        held = self._holding(p)
        amount = p.amount if held is None else min(p.amount, held)
        return sellable_amount(market, amount)

    def _last_price(self, p: PositionRow) -> Decimal:
        prices = getattr(self, "_prices", None)
        price = prices().get(p.symbol) if prices is not None else None
        return price if price is not None and price > 0 else p.entry_price

    async def _reconcile(self, p: PositionRow) -> PositionRow | None:
        """Compare position ``p`` with what the account holds of it. When the account
        holds less (the user sold or closed it by hand), cancel our resting stop first
        (one that fired is booked as the stop it is), then book the difference as
        "closed outside the bot" at the last price (the whole position when what is
        left cannot be sold on its own) and tell the user once. Returns the position as
        it stands now (None: closed). Skipped while an order of ours other than a
        resting stop is unresolved on the symbol (its fill is booked first)."""
        held = self._holding(p)
        if held is None or held >= p.amount:
            return p
        mine = [o for o in await orders_repo.unresolved(self.db, self.user_id)]
        mine = [o for o in mine if o.symbol == p.symbol]
        if any(o.trigger_price is None for o in mine):
            return p
        if mine:
            # our resting stop: cancel it (it must not close what the user holds now);
            # a stop that fired meanwhile is recorded by the cancel and the read is stale
            await self._release(p.symbol)
            now = await self.held.get(p.symbol, p.side)
            if now is None or now.amount != p.amount:
                return now
        market = self.markets[p.symbol]
        price = self._last_price(p)
        gone = p.amount - held
        whole = held <= 0 or is_dust(market, held, price)
        if whole:
            gone = p.amount
        await self._book_outside(p, gone, price, "external")
        log.warning(
            "user %s: %s %s held %s < position %s: %s booked as closed outside the bot",
            self.user_id,
            p.symbol,
            p.side,
            held,
            p.amount,
            gone,
        )
        return None if whole else await self.held.get(p.symbol, p.side)

    async def _book_outside(self, p: PositionRow, amount: Decimal, price: Decimal, kind: str):
        """Book ``amount`` of ``p`` as gone without an order of ours: ``external`` (sold
        or closed outside the bot, told once) or ``dust`` (a remainder too small to be
        sold). The pseudo-fill's trade id starts with the kind; no fee, priced at
        ``price``."""
        assert self.executor is not None
        now = int(time.time() * 1000)
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
        market = self.markets[p.symbol]
        swap = market.kind == "swap"
        ex = self.executor
        async with self.db.transaction() as tx:
            fill_id = await fills_repo.insert(tx, self.user_id, None, ex.exchange_id, fill)
            if fill_id is None:
                return
            await book_fill(
                tx,
                user_id=self.user_id,
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
                text = outside_text(p, amount, price, market)
                key = f"external:{self.user_id}:{fill.trade_id}"
                await outbox.enqueue(tx, self.user_id, "fill", text, dedupe_key=key)
        if kind == "external":
            self.outside_booked = (p.symbol, p.side)
        self.held.invalidate()

    # --- the stop resting on the exchange ----------------------------------------------

    def _stop_draft(self, p: PositionRow, trigger: Decimal) -> OrderDraft:
        swap = self._is_swap(p.symbol)
        hedge = swap and self.hedge_mode
        return OrderDraft(
            symbol=p.symbol,
            side=close_side(p.side),
            type=OrderType.MARKET,
            amount=self._exit_amount(p),
            reduce_only=swap and not hedge,
            position_side=p.side.upper() if hedge else None,
            purpose="stop",
            trigger_price=trigger,
        )

    def _through(self, side: str, trigger: Decimal, price: Decimal | None) -> bool:
        """Whether ``price`` is already at or through a stop at ``trigger`` (a stop
        placed there would trigger at once)."""
        if price is None or price <= 0:
            return False
        return price <= trigger if side == "long" else price >= trigger

    async def _protect(self, p: PositionRow) -> None:
        """Make the exchange hold one stop order for ``p`` at its stop price."""
        if p.stop_price is None or not self._native(p.symbol):
            return
        market = self.markets[p.symbol]
        trigger = round_step(p.stop_price, market.price_step, down=False)
        if trigger <= 0:
            return
        resting = await orders_repo.open_stops(self.db, self.user_id, p.symbol)
        amount = self._exit_amount(p)
        if amount <= 0 or (market.kind != "swap" and is_dust(market, amount, trigger)):
            return  # nothing the venue would accept: the engine's own check closes it
        if len(resting) == 1 and self._still_fits(resting[0], p, amount, trigger):
            return
        if self._through(p.side, trigger, self._last_price(p)):
            # the price is already through the stop: placing it would trigger it at once
            # (or be refused); the stop is hit, close now
            log.info("user %s: %s stop %s crossed: closing", self.user_id, p.symbol, trigger)
            await self._close(p, "stop")
            return
        if resting and market.kind == "swap":
            await self._replace_first(p, trigger, resting)
            return
        if len(resting) == 1 and getattr(self.account, "amends_stops", False):
            if await self._amend(resting[0], p, amount, trigger):
                return
        if await self._release(p.symbol):
            return  # a stop executed meanwhile: the position changed; next candle decides
        fresh = await self.held.get(p.symbol, p.side)
        if fresh is None:
            return
        await self._place_checked(fresh, trigger)

    async def _place_checked(self, p: PositionRow, trigger: Decimal) -> ExecutionResult | None:
        """Place the stop order for ``p`` (never for more than our position). A stop
        the venue refuses while its price is through the trigger closes ``p`` now."""
        draft = self._stop_draft(p, trigger)
        if draft.amount <= 0 or draft.amount > p.amount:
            log.info("user %s: no stop order for %s: nothing to sell", self.user_id, p.symbol)
            return None  # never an order for more than our position
        result = await self._place_stop(draft)
        if p.symbol in self.stop_refused and await self._crossed_now(p, trigger):
            log.info("user %s: %s stop refused, price through it: closing", self.user_id, p.symbol)
            await self._close(p, "stop")
        return result

    async def _crossed_now(self, p: PositionRow, trigger: Decimal) -> bool:
        """Whether the exchange's price now is through ``trigger`` (after a refusal)."""
        price_now = getattr(self, "_price_now", None)
        if price_now is None:
            return False
        return self._through(p.side, trigger, await price_now(p.symbol, close_side(p.side)))

    async def _replace_first(self, p: PositionRow, trigger: Decimal, old: list[OrderRow]) -> None:
        """Swaps (stops reserve nothing): place the new stop, then cancel the old ones,
        so the position is never without a stop on the exchange. A new stop that is not
        confirmed leaves the old ones in place (tried again next candle)."""
        result = await self._place_checked(p, trigger)
        if result is None or result.status is not OrderStatus.OPEN:
            return
        assert self.executor is not None
        fired = False
        for order in old:
            try:
                after = await self.executor.withdraw(order)
            finally:
                self.held.invalidate()
            fired = fired or after.filled > 0
            if after.status in (OrderStatus.OPEN, OrderStatus.SUBMITTED):
                raise StopStillOpenError(f"{p.symbol}: old stop order still open after cancel")
        if fired:  # the old stop closed the position meanwhile: the new one goes too
            await self._release(p.symbol)

    async def _amend(self, order: OrderRow, p: PositionRow, amount: Decimal, trigger: Decimal):
        """Move the resting stop ``order`` in place (Kraken ``AmendOrder``): no moment
        without it. True when done; False when the venue refused (the order is gone,
        e.g. it fired or was cancelled by hand): the caller cancels and places instead.
        A doubt (network) leaves the terms as recorded: both the old and the new stop
        protect, and the next candle amends again (amending twice is harmless)."""
        if order.status is not OrderStatus.OPEN or order.side is not close_side(p.side):
            return False
        amend = getattr(self.account, "amend_stop", None)
        if amend is None:
            return False
        try:
            await amend(order.symbol, order.client_order_id, amount, trigger)
        except AuthenticationError:
            raise
        except (OrderRejectedError, NotFoundError) as exc:
            log.info("user %s: amend of %s refused (%s)", self.user_id, order.client_order_id, exc)
            return False
        except NijaError as exc:
            log.warning("user %s: amend of %s: %s", self.user_id, order.client_order_id, exc)
            return True
        async with self.db.transaction() as tx:
            await orders_repo.amend_terms(tx, self.user_id, order.order_id, amount, trigger)
        log.info("user %s: %s stop amended to %s", self.user_id, p.symbol, trigger)
        return True

    @staticmethod
    def _still_fits(order: OrderRow, p: PositionRow, amount: Decimal, trigger: Decimal) -> bool:
        if order.side is not close_side(p.side) or order.amount != amount:
            return False
        old = order.trigger_price
        assert old is not None
        return abs(trigger - old) < old * RESTOP_MIN_MOVE

    async def _place_stop(self, draft: OrderDraft) -> ExecutionResult:
        result = await self._submit(draft)
        refused = result.error is not None and result.error not in NOT_REFUSALS
        if result.status is OrderStatus.REJECTED and refused:
            self.stop_refused.add(draft.symbol)
            log.info(
                "user %s: %s stop order refused; the engine enforces it and tries again "
                "next candle",
                self.user_id,
                draft.symbol,
            )
        return result

    async def _release(self, symbol: str) -> bool:
        """Cancel every resting stop of ``symbol``. True when one had executed (its fill
        is recorded now). Exchange errors propagate: nothing may act on a doubt."""
        if self.account is None or not self.account.native_stops:
            return False
        assert self.executor is not None
        fired = False
        for order in await orders_repo.open_stops(self.db, self.user_id, symbol):
            try:
                after = await self.executor.withdraw(order)
            finally:
                self.held.invalidate()  # a fill may have been recorded
            if after.filled > 0:
                fired = True
                self.account_positions = None  # the account holds something else now
            if after.status in (OrderStatus.OPEN, OrderStatus.SUBMITTED):
                raise StopStillOpenError(f"{symbol}: stop order still open after cancel")
        return fired

    async def _submit(self, draft: OrderDraft, *, tell: bool = True) -> ExecutionResult:
        raise NotImplementedError  # provided by TradingActions

    async def _close(self, p: PositionRow, purpose: str) -> ExecutionResult | None:
        raise NotImplementedError  # provided by TradingActions


def outside_text(p: PositionRow, amount: Decimal, price: Decimal, market: MarketInfo) -> str:
    """The one message about a position found (partly) closed outside the bot."""
    what = "closed" if amount >= p.amount else "reduced"
    at = fmt_price(price, market.price_step)
    if market.kind == "swap":
        unit = "contracts" if market.contract_size != 1 else market.base
        return (
            f"ℹ️ Your {p.symbol} {p.side} was {what} outside the bot: the exchange shows "
            f"{fmt_amount(p.amount - amount)} {unit} where the bot held "
            f"{fmt_amount(p.amount)} ({fmt_amount(amount)} {unit} closed outside). Booked at "
            f"the last price {at}; the bot will not close it again."
        )
    return (
        f"ℹ️ Your {p.symbol} position was {what} outside the bot: the account holds less "
        f"{market.base} than it ({fmt_amount(amount)} {market.base} no longer there). "
        f"Booked at the last price {at}; the bot will not sell it."
    )
