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
from decimal import Decimal

from nija_tg.core.errors import RetryableError
from nija_tg.core.models import MarketInfo, OrderStatus, OrderType, Side
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.execution import NOT_REFUSALS, Executor, OrderDraft
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.exchange.precision import round_step
from nija_tg.exchange.protocol import TradingAccount
from nija_tg.storage import orders as orders_repo
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
    stop_refused: set[str]  # symbols whose stop orders the exchange refused
    account_hedged: bool | None  # the swap account's actual position mode, read at start

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

    def _stop_draft(self, p: PositionRow, trigger: Decimal) -> OrderDraft:
        swap = self.markets[p.symbol].kind == "swap"
        hedge = swap and self.hedge_mode
        return OrderDraft(
            symbol=p.symbol,
            side=close_side(p.side),
            type=OrderType.MARKET,
            amount=p.amount,
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
        if len(resting) == 1 and self._still_fits(resting[0], p, trigger):
            return
        if await self._release(p.symbol):
            return  # a stop executed meanwhile: the position changed; next candle decides
        fresh = await self.held.get(p.symbol, p.side)
        if fresh is None:
            return
        await self._place_stop(self._stop_draft(fresh, trigger))

    @staticmethod
    def _still_fits(order: OrderRow, p: PositionRow, trigger: Decimal) -> bool:
        if order.side is not close_side(p.side) or order.amount != p.amount:
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
                "user %s: %s stop order refused; the engine enforces it on every candle",
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
