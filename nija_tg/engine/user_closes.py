"""Closes the user asked for (/close, the Close button on /positions): the loop closes
the named open positions at market on its next step, whatever the gate.

The bot writes a close request (``storage.close_requests``) and bumps the change
counter; the reconciler's next read (0.25 s) wakes the loop (``GateBoard.poke``), which
answers every pending request of its user at once, between candle closes, and again on
every close while one waits. Each position goes through ``TradingActions.close`` like
any exit: a stop resting on the exchange is cancelled first (a stop that had fired
meanwhile is recorded, and nothing is sold twice), one market order through the executor, the fill
booked once and told once (the fill message says "closed at your request"; it is
delivered whatever the user's /notify settings). A request that finds nothing open is
answered politely, saying why when the position turned out closed by its stop or
outside the bot (the account no longer held it: booked as such, nothing sold); a
refused close is told with the exchange's reason. A request the
engine could not act on for ``REQUEST_TTL_S`` (it was down, or the account unreachable)
is not carried out at a price the user never saw: they are told and may ask again. Only
an explicit close ends the protection of a position.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from nija_tg.core import events_codec
from nija_tg.core.errors import ErrorReason
from nija_tg.core.events import CloseAnswer, CloseExpired, CloseNothing, CloseRefused
from nija_tg.core.models import OrderStatus
from nija_tg.engine.exchange_stops import CLOSED_OUTSIDE
from nija_tg.engine.execution import NOT_PROCESSED, NOTHING_THERE, ExecutionResult
from nija_tg.engine.loop_context import LoopContext
from nija_tg.engine.notify import tell
from nija_tg.storage import close_requests
from nija_tg.storage.close_requests import DONE, FAILED, NOTHING, CloseRequest
from nija_tg.storage.positions import PositionRow

log = logging.getLogger("nija_tg.engine.loop")

# closes one position at market (``TradingActions.close``): None when a resting stop had
# closed it; an ExecutionResult (``CLOSED_OUTSIDE`` when the account no longer held it)
CloseFn = Callable[[PositionRow, str], Awaitable[ExecutionResult | None]]

REQUEST_TTL_S = 900.0  # a close asked for longer ago than this is not carried out


# a refused close's outcome that is not the exchange's stated reason, as a reason
_OUTCOME_REASONS = {
    NOT_PROCESSED: ErrorReason("exchange_not_answering"),
    NOTHING_THERE: ErrorReason("nothing_to_act_on"),
}


def _reason(result: ExecutionResult) -> ErrorReason:
    """Why the exchange refused a close, as data (``messages.errors`` words it)."""
    return _OUTCOME_REASONS.get(result.error or "") or ErrorReason.decode(result.error)


class UserCloses:
    """The user's close requests, answered through ``close`` (each position like any
    exit of the loop)."""

    def __init__(self, ctx: LoopContext, close: CloseFn) -> None:
        self.ctx = ctx
        self.close = close
        self.closes_done = 0  # requests answered (tests)
        # a request may be waiting: set at start, by a wake-up, by the board, and while
        # one could not be answered yet; otherwise no query is made for requests on a close
        self.close_pending = True

    async def answer_pending(self, *, asked: bool = False) -> None:
        """Answer every pending close request of the user, if one may be waiting."""
        if not (asked or self.close_pending):
            return
        self.close_pending = True  # until every request found was answered
        for request in await close_requests.pending_for_user(self.ctx.db, self.ctx.user_id):
            await self._answer(request)
        self.close_pending = False

    async def _answer(self, request: CloseRequest) -> None:
        age = time.time() - request.created_at
        rid = request.request_id
        if age > REQUEST_TTL_S:
            await self._finish(request, FAILED, CloseExpired(rid, request.symbol, age))
            return
        targets = [p for p in await self.ctx.held.all() if request.covers(p.symbol, p.side)]
        if not targets:
            await self._finish(request, NOTHING, CloseNothing(rid, request.symbol, request.side))
            return
        results: list[tuple[PositionRow, ExecutionResult | None]] = []
        for p in targets:
            log.info("user %s: closing %s %s on request", self.ctx.user_id, p.symbol, p.side)
            results.append((p, await self.close(p, "close")))
        refused = [(p, r) for p, r in results if r is not None and r.status is OrderStatus.REJECTED]
        stopped = [p for p, r in results if r is None]  # a resting stop had closed it
        outside = [p for p, r in results if r is not None and r.error == CLOSED_OUTSIDE]
        if refused:
            reasons = tuple((p.symbol, _reason(r)) for p, r in refused)
            await self._finish(request, FAILED, CloseRefused(rid, reasons))
        elif len(stopped) + len(outside) == len(results):
            gone = stopped + outside
            symbol = request.symbol if request.symbol is not None else gone[0].symbol
            side = request.side if request.symbol is not None else None
            nothing = CloseNothing(rid, symbol, side, outside=bool(outside), stopped=bool(stopped))
            await self._finish(request, NOTHING, nothing)
        else:  # sent: each fill is told with its own message ("closed at your request")
            await self._finish(request, DONE, None)
        self.closes_done += 1

    async def _finish(self, request: CloseRequest, status: str, answer: CloseAnswer | None) -> None:
        """The request handled; ``answer`` told (a close sent is answered by its fills)."""
        ctx = self.ctx
        # the request keeps the answer's type; its words are the bot's (the outbox row)
        text = "" if answer is None else events_codec.type_name(answer)
        async with ctx.db.transaction() as tx:
            if await close_requests.finish(tx, request.request_id, status, text) and answer:
                await tell(tx, ctx.user_id, answer)
