"""How a user's loop sends an order: through its executor (intent committed before the
send, one send, look-ups on doubt, fills recorded once), shielded from cancellation, and
how it tells the user about an order the exchange refused.

An order the exchange refuses (insufficient funds, or any other stated reason) is told
to the user once per run of the same refusal: until the reason changes or an order of
that kind (entry, close, stop order; per symbol) is accepted. The run is read from the
orders table, so a restart does not repeat the message either. Answers that are not
refusals (not processed, not found after an unknown outcome) are not told."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from decimal import Decimal

from nija_tg.core.errors import ErrorReason
from nija_tg.core.events import ExitRefused, Refusal, StopOrderRefused
from nija_tg.core.models import OrderStatus, Side
from nija_tg.engine import notify
from nija_tg.engine.execution import ExecutionResult, OrderDraft
from nija_tg.engine.loop_context import LoopContext
from nija_tg.exchange.protocol import MarketDataSource
from nija_tg.storage import orders as orders_repo

log = logging.getLogger("nija_tg.engine.loop")


class LoopOrders:
    def __init__(
        self, ctx: LoopContext, market_data: MarketDataSource, *, drain_seconds: float
    ) -> None:
        self.ctx = ctx
        self.market_data = market_data
        self.drain_seconds = drain_seconds

    async def submit(self, draft: OrderDraft, *, tell: bool = True) -> ExecutionResult:
        """Submit shielded from cancellation: a stop or shutdown waits (up to the drain
        time) for the intent -> submitted -> outcome path to complete. A refused exit or
        stop order is told to the user (``tell``; a close tells after reconciling)."""
        ctx = self.ctx
        executor = ctx.require_executor()
        executor.held = ctx.held  # the order's fills are booked on the loop's view
        task = asyncio.ensure_future(executor.submit(draft))
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait({task}, timeout=self.drain_seconds)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("user %s: submit ended with %s", ctx.user_id, task.exception())
            raise
        finally:
            if not task.done() or task.cancelled() or task.exception() is not None:
                ctx.held.drop()  # the outcome is not known here: read the positions again
                ctx.account_moved()
            elif task.result().filled > 0:
                ctx.account_moved()  # the account holds something else now
        if result.status is OrderStatus.REJECTED:
            log.info(
                "user %s: %s %s rejected: %s",
                ctx.user_id,
                draft.purpose,
                draft.symbol,
                result.error,
            )
            if tell:
                await self.tell_submit_refusal(draft, result)
        return result

    async def tell_submit_refusal(self, draft: OrderDraft, result: ExecutionResult) -> None:
        if draft.purpose not in ("entry", "close") and result.refusal is not None:
            # the exchange refused an exit or a stop order: tell the user (entries are
            # told by the entry, with the amounts; a close the user asked for by its
            # request); not-processed answers just retry
            refused: Refusal
            if draft.trigger_price is not None:
                refused = StopOrderRefused(draft.symbol, ErrorReason.decode(result.error))
            else:
                reason = ErrorReason.decode(result.error)
                refused = ExitRefused(draft.symbol, draft.purpose, reason)
            await self.tell_refusal(draft, refused)

    async def tell_refusal(self, draft: OrderDraft, event: Refusal) -> None:
        """Tell ``event`` about the refused ``draft``, once per run of the same refusal of
        that kind of order (``orders.refusal_run``): a refusal repeating every candle is
        told once, again when its reason changes or after an order of the kind succeeded."""
        uid = self.ctx.user_id
        native = draft.trigger_price is not None
        entry = draft.purpose == "entry"
        purposes = ("stop",) if native else ("entry",) if entry else ("exit", "stop")
        run = await orders_repo.refusal_run(self.ctx.db, uid, draft.symbol, purposes, native)
        async with self.ctx.db.transaction() as tx:
            await notify.tell(tx, uid, dataclasses.replace(event, run=run))

    async def price_now(self, symbol: str, side: Side) -> Decimal | None:
        """The exchange's price a market order pays now (a buy the ask, a sell the bid;
        else the last trade), if it answers."""
        try:
            ticker = await self.market_data.fetch_ticker(self.ctx.exchange_id, symbol)
        except Exception as exc:  # only for a message or a check: the figure is left out
            log.info("user %s: ticker not read: %s", self.ctx.user_id, exc)
            return None
        quote = ticker.ask if side is Side.BUY else ticker.bid
        return quote or ticker.last
