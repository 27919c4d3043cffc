"""Stops that rest on the exchange, where the account supports them (Kraken spot
``stop-loss``, BingX swap ``STOP_MARKET``): a position's stop keeps protecting it while
the engine is down, paused or stopped.

The engine stays in charge: the stop price lives in ``positions`` and is trailed on
every candle. After each candle (and right after an entry) ``_protect`` makes the
exchange hold exactly one stop-market order for the position's amount at that price,
replacing it (cancel, then place: on spot the old order reserves the coins) when the
stop moved by at least ``RESTOP_MIN_MOVE``. Before the engine closes a position itself
(exit signal, or a candle that crossed the stop) ``_release`` cancels the resting stop;
when the cancel finds it already executed, the fill is recorded and the position is
not closed twice. A stop the exchange refuses is reported once and the symbol falls
back to the engine's check on every candle for the rest of the loop's life.

Stop orders go through the executor like every order: intent committed before the send,
one send, lookups by client id on doubt, fills recorded once (announced as "stops").
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from nija_tg.core.errors import RetryableError
from nija_tg.core.models import BalanceLine, FillInfo, MarketInfo, OrderStatus, OrderType, Side
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.bookkeeping import book_fill
from nija_tg.engine.execution import NOT_REFUSALS, Executor, OrderDraft
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
# cancel/place round trips; the engine's own check always uses the exact stop.
RESTOP_MIN_MOVE = Decimal("0.001")


class StopStillOpenError(RetryableError):
    """A resting stop could not be confirmed cancelled: the candle's actions on this
    symbol wait for the next candle (nothing is sent on a doubt)."""


def close_side(position_side: str) -> Side:
    return Side.SELL if position_side == "long" else Side.BUY


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

    def _exit_amount(self, p: PositionRow) -> Decimal:
        """What an order closing ``p`` may carry. Spot: never more than our position nor
        than the account holds of the base (free + held: a resting stop of ours holds
        some), as read this close (the user may hold coins of their own besides ours, or
        have sold some by hand), rounded down to the market's step. Swaps: the position."""
        market = self.markets.get(p.symbol)
        if market is None or market.kind == "swap":
            return p.amount
        held = self._holding(p)
        amount = p.amount if held is None else min(p.amount, held)
        return sellable_amount(market, amount)

    def _holding(self, p: PositionRow) -> Decimal | None:
        """What the account holds of ``p``'s base (free + held), as read this close;
        None for swaps or when unknown."""
        market = self.markets.get(p.symbol)
        balances = getattr(self, "account_balances", None)
        if market is None or market.kind == "swap" or balances is None:
            return None
        line = next((b for b in balances if b.currency == market.base), None)
        return Decimal(0) if line is None else line.free + line.used

    def _last_price(self, p: PositionRow) -> Decimal:
        prices = getattr(self, "_prices", None)
        price = prices().get(p.symbol) if prices is not None else None
        return price if price is not None and price > 0 else p.entry_price

    async def _reconcile(self, p: PositionRow) -> PositionRow | None:
        """Compare spot position ``p`` with what the account holds of its base. When
        the account holds less (the user sold by hand), book the difference as
        "closed outside the bot" at the last price (the whole position when what is left
        cannot be sold on its own) and tell the user once. Returns the position as it
        stands now (None: closed). Skipped while an order of ours on the symbol is
        unresolved (a resting stop may have just sold it: its fill is booked first)."""
        held = self._holding(p)
        if held is None or held >= p.amount:
            return p
        unresolved = await orders_repo.unresolved(self.db, self.user_id)
        if any(o.symbol == p.symbol for o in unresolved):
            return p
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
        outside the bot, told once) or ``dust`` (a remainder too small to be sold). The
        pseudo-fill's trade id starts with the kind; no fee, priced at ``price``."""
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
                spot=True,
                position_side=None,
                reduce_only=False,
                contract_size=market.contract_size,
                session_id=ex.session_id,
                mode=ex.mode,
            )
            if kind == "external":
                what = "closed" if amount >= p.amount else "reduced"
                text = (
                    f"ℹ️ Your {p.symbol} position was {what} outside the bot: the account "
                    f"holds less {market.base} than it ({amount} {market.base} no longer "
                    f"there). Booked at the last price {price}; the bot will not sell it."
                )
                key = f"external:{self.user_id}:{fill.trade_id}"
                await outbox.enqueue(tx, self.user_id, "fill", text, dedupe_key=key)
        self.held.invalidate()

    def _stop_draft(self, p: PositionRow, trigger: Decimal) -> OrderDraft:
        swap = self.markets[p.symbol].kind == "swap"
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

    async def _protect(self, p: PositionRow) -> None:
        """Make the exchange hold one stop order for ``p`` at its stop price."""
        if p.stop_price is None or not self._native(p.symbol):
            return
        trigger = round_step(p.stop_price, self.markets[p.symbol].price_step, down=False)
        if trigger <= 0:
            return
        resting = await orders_repo.open_stops(self.db, self.user_id, p.symbol)
        amount = self._exit_amount(p)
        market = self.markets[p.symbol]
        if market.kind != "swap" and (amount <= 0 or is_dust(market, amount, trigger)):
            return  # nothing the venue would accept: the engine's own check closes it
        if len(resting) == 1 and self._still_fits(resting[0], p, amount, trigger):
            return
        if await self._release(p.symbol):
            return  # a stop executed meanwhile: the position changed; next candle decides
        fresh = await self.held.get(p.symbol, p.side)
        if fresh is None:
            return
        draft = self._stop_draft(fresh, trigger)
        if draft.amount <= 0 or draft.amount > fresh.amount:
            log.info("user %s: no stop order for %s: nothing to sell", self.user_id, p.symbol)
            return  # never an order for more than our position
        await self._place_stop(draft)

    @staticmethod
    def _still_fits(order: OrderRow, p: PositionRow, amount: Decimal, trigger: Decimal) -> bool:
        if order.side is not close_side(p.side) or order.amount != amount:
            return False
        old = order.trigger_price
        assert old is not None
        return abs(trigger - old) < old * RESTOP_MIN_MOVE

    async def _place_stop(self, draft: OrderDraft) -> None:
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
            if after.status in (OrderStatus.OPEN, OrderStatus.SUBMITTED):
                raise StopStillOpenError(f"{symbol}: stop order still open after cancel")
        return fired

    async def _submit(self, draft: OrderDraft):  # provided by TradingActions
        raise NotImplementedError
