"""Order execution: the one safe path from "the loop wants an order" to recorded fills.

1. The order's row with our client order id, status SUBMITTED, is committed before
   anything is sent (the intent and the "about to send" mark in one commit).
2. The single network call.
3. The answer (or, on any doubt, a lookup by client id) is recorded in one transaction
   with its fills, positions, P&L, session counters and the fill notification.

A crash between 1 and 2 leaves a SUBMITTED order that never left: the restart's
``reconcile`` cannot tell it from one that left and whose answer was lost, so it looks
it up by client id like any SUBMITTED order and, not found, marks it rejected
(``NOT_FOUND``); never sent again. One that is younger than the exchange's visibility
window is looked up at once, then (not found) at the end of its window, counted from
its commit: a restart waits only what is left of the window, for all of the user's
orders together (``_find``), not the whole backoff per order. Rows in status INTENT
(written by versions that committed the intent and the SUBMITTED mark apart) are still
resolved: one look-up, then rejected (``NEVER_SENT``).

A submit is never sent twice: an unknown outcome (``UnknownOutcomeError``: a timeout, a
connection reset after sending, a 5xx without an answer that proves anything, or any
unexpected exception) is resolved by looking the order up by client id (with backoff
covering the exchange's visibility delay). ``reconcile`` does the same at loop start
for every unfinished order, and adopts open orders carrying our prefix that the
database lacks.

An answer that proves the order was not placed is no doubt and needs no look-up: a
rejection (``OrderRejectedError``), "nothing to act on" (``NotFoundError``) and "not
processed" (``RetryableError`` on a submit: HTTP 429 / rate limit, a stale nonce,
maintenance, a request that never left us; see docs/exchange-errors.md). A "not
processed" exit or stop is sent again at once as a new order (new client id) with a
backoff bounded by seconds (``retry_backoff``, ``retries``); an entry waits for the
next candle's signal.

Every order of a user is created by that user's executor (the engine runs one loop, so
one executor, per user). So once ``refresh_open`` has found nothing unresolved, the
executor knows there is nothing to poll until it submits or adopts an order itself, and
skips the query (``clean``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from dataclasses import dataclass, replace
from decimal import Decimal

from nija_tg.core.errors import (
    AuthenticationError,
    InsufficientFundsError,
    NotFoundError,
    OrderRejectedError,
    RetryableError,
)
from nija_tg.core.models import (
    TERMINAL_ORDER_STATUSES,
    FillInfo,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
)
from nija_tg.engine.execution_record import (
    MarketFacts,
    priced,
    record_fills,
    record_fills_later,
)
from nija_tg.engine.fills_ledger import FillsLedger
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.exchange.client_ids import is_ours, new_client_order_id
from nija_tg.exchange.protocol import TradingAccount
from nija_tg.storage import orders as orders_repo
from nija_tg.storage import positions as positions_repo
from nija_tg.storage import sessions as sessions_repo
from nija_tg.storage.db import Database, Returned, Transaction
from nija_tg.storage.orders import OrderRow

log = logging.getLogger(__name__)

NEVER_SENT = "never sent"
NOT_FOUND = "not found after unknown outcome"
UNKNOWN = "outcome unknown; will check again"
NOTHING_THERE = "the exchange found nothing to act on"  # e.g. no position to close
NOT_PROCESSED = "not processed by the exchange"  # rate limit, nonce, maintenance: retry
# Outcomes that are not a refusal worth telling the user about: the engine tries again.
NOT_REFUSALS = frozenset({NOT_FOUND, NEVER_SENT, UNKNOWN, NOTHING_THERE, NOT_PROCESSED})
# ExecutionResult.refusal (and orders.refusal): what the exchange refused an order for
FUNDS = "insufficient_funds"
REFUSED = "refused"  # followed by ":" and a digest of the reason


def refusal_kind(err: OrderRejectedError) -> str:
    """The kind of a refusal: insufficient funds, or the reason with its figures left out
    (a minimum or a price in the text changes every candle; the reason does not)."""
    if isinstance(err, InsufficientFundsError):
        return FUNDS
    reason = re.sub(r"\d+(?:[.,]\d+)*", "#", err.reason.encode())
    return f"{REFUSED}:{hashlib.sha256(reason.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class OrderDraft:
    """What the loop wants; the executor adds the client id."""

    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None
    reduce_only: bool = False
    position_side: str | None = None
    purpose: str = "entry"  # entry | exit | stop | take_profit
    trigger_price: Decimal | None = None  # a stop-market order resting on the exchange
    stop_price: Decimal | None = None  # the stop that made the engine close (purpose stop)


@dataclass(frozen=True)
class ExecutionResult:
    order_id: int
    client_order_id: str
    status: OrderStatus
    filled: Decimal
    average: Decimal | None
    fills_recorded: int
    error: str | None = None  # a refusal's ErrorReason.encode(), or the outcome (the constants)
    refusal: str | None = None  # set when the exchange refused the order (refusal_kind)
    attempts: int = 1  # orders sent for it ("not processed" answers are sent again)


# Look-ups in flight at once for one user's unfinished orders at start-up (``reconcile``)
STARTUP_LOOKUPS = 4

# Reads of a filled order whose answer carried no fee before it is booked with the fee
# it reports (0): a venue that never reports fees cannot hold the order open for good.
FEE_WAITS = 3


class Executor:
    """Places and tracks one user's orders on one account."""

    def __init__(
        self,
        db: Database,
        *,
        user_id: int,
        exchange_id: str,
        mode: str,
        account: TradingAccount,
        session_id: int | None = None,
        lookup_attempts: int = 6,
        lookup_backoff: float = 0.5,
        retries: int = 4,
        retry_backoff: float = 0.25,
    ) -> None:
        self.db = db
        self.user_id = user_id
        self.exchange_id = exchange_id
        self.mode = mode
        self.account = account
        self.session_id = session_id
        self.lookup_attempts = max(1, lookup_attempts)
        self.lookup_backoff = lookup_backoff
        self.retries = max(0, retries)  # "not processed" exits and stops: sent again
        self.retry_backoff = retry_backoff  # 0.25, 0.5, 1, 2 s: under 4 s in all
        self._facts: dict[str, MarketFacts] = {}
        self._fee_waits: dict[int, int] = {}  # order id -> reads that came without a fee
        self._inflight: set[str] = set()
        self._lookup_slots: asyncio.Semaphore | None = None  # set during ``reconcile``
        # True: this user has no unresolved order (none found since, none placed since)
        self.clean = False
        self._placed = 0  # orders submitted or adopted so far (guards ``clean``)
        self._none_recorded = False  # the order being recorded had no fill before
        # the loop's view of the user's positions (None: none): the fills of an order
        # just submitted are booked on it (no read) and applied to it once committed;
        # fills recorded any other way write the positions around it, and the view
        # reads them again (``positions.written``)
        self.held: HeldPositions | None = None
        # the session's P&L as committed by this executor's last closed trade (session
        # id, P&L, ``sessions.pnl_written`` then): used instead of a read while no other
        # P&L write of the session happened in this process (one loop per user)
        self._session_pnl: tuple[int, Decimal, int] | None = None
        # the fills this executor committed since the loop's last look at the table
        # (``LoopBook.note_balances`` reads them from here while it can)
        self.fills_ledger = FillsLedger(user_id)

    def _known_session_pnl(self) -> tuple[int, Decimal] | None:
        known = self._session_pnl
        if known is None or sessions_repo.pnl_written(self.user_id, known[0]) != known[2]:
            return None
        return known[0], known[1]

    def _placing(self) -> int:
        """An order is about to be created (submit, adoption): polling is needed again."""
        self.clean = False
        self._placed += 1
        return self._placed

    @property
    def visibility_window(self) -> float:
        """Seconds the lookups after an unknown outcome wait in total."""
        return self.lookup_backoff * (2**self.lookup_attempts - 1)

    # --- submit -------------------------------------------------------------------------

    async def submit(self, draft: OrderDraft) -> ExecutionResult:
        """Commit the intent, send once, record the outcome. An exit or stop the exchange
        did not process (rate limit, nonce, maintenance) is sent again at once as a new
        order, ``retries`` times with a short backoff; an entry is not (the next candle's
        signal decides again)."""
        retries = 0 if draft.purpose == "entry" else self.retries
        result = await self._submit_once(draft)
        attempt = 0
        while result.error == NOT_PROCESSED and attempt < retries:
            await asyncio.sleep(self.retry_backoff * 2**attempt)
            attempt += 1
            log.info("user %s: %s %s not processed; sending it again", self.user_id,
                     draft.purpose, draft.symbol)  # fmt: skip
            result = await self._submit_once(draft)
        return result if attempt == 0 else replace(result, attempts=attempt + 1)

    async def _submit_once(self, draft: OrderDraft) -> ExecutionResult:
        if draft.amount <= 0:
            raise ValueError("order amount must be positive")
        if draft.type is OrderType.LIMIT and draft.price is None:
            raise ValueError("a limit order needs a price")
        if draft.trigger_price is not None and draft.type is not OrderType.MARKET:
            raise ValueError("a stop order is a market order with a trigger price")
        cid = new_client_order_id(self.exchange_id, self.user_id)
        was_clean = self.clean
        mine = self._placing()
        self._inflight.add(cid)
        result: ExecutionResult | None = None
        try:
            order = await self._commit_intent(draft, cid)
            request = OrderRequest(
                symbol=draft.symbol,
                side=draft.side,
                type=draft.type,
                amount=draft.amount,
                client_order_id=cid,
                price=draft.price,
                reduce_only=draft.reduce_only,
                position_side=draft.position_side,
                trigger_price=draft.trigger_price,
                stop_price=draft.stop_price,
            )
            try:
                state = await self._send(request)
            except AuthenticationError as err:
                await self._reject(order, str(err))
                raise
            except OrderRejectedError as err:
                kind = refusal_kind(err)
                row = await self._reject(order, str(err), kind)
                result = _result(row, 0, err.reason.encode(), refusal=kind)
                return result
            except NotFoundError as err:
                # the exchange answered that what the order acts on does not exist (BingX
                # 80017 "position not exist" for a stop with nothing to close): nothing
                # was placed, so no look-up
                row = await self._reject(order, str(err))
                return _result(row, 0, NOTHING_THERE)
            except RetryableError as err:
                # the exchange answered, and its answer proves the order was not placed
                # (429, nonce, maintenance), or the request never left us: no look-up
                log.info("user %s: submit %s not processed (%s)", self.user_id, cid, err)
                row = await self._reject(order, f"{NOT_PROCESSED}: {err}")
                result = _result(row, 0, NOT_PROCESSED)
                return result
            except Exception as err:  # any doubt is resolved by lookup
                log.warning(
                    "user %s: submit %s outcome unknown (%s); looking it up",
                    self.user_id,
                    cid,
                    type(err).__name__,
                )
                result = await self._resolve(order, self.lookup_attempts, NOT_FOUND)
                return result
            # the row as _commit_intent wrote it: no other path touches an order
            # in flight (``_inflight``), and the update checks it is still that row
            n, row = await self._record_row(order, state, known=True)
            result = _result(row, n)
            return result
        finally:
            self._inflight.discard(cid)
            final = result is not None and result.status in TERMINAL_ORDER_STATUSES
            if was_clean and final and mine == self._placed and not self._inflight:
                self.clean = True  # it ended final: still nothing to poll

    async def _commit_intent(self, draft: OrderDraft, cid: str) -> OrderRow:
        """The order's row, committed as SUBMITTED before the send (module docstring:
        the intent and the mark in one commit, one commit wait per order instead of
        two): the insert is left for the group's COMMIT (one multi-row insert for every
        user's order of the group) and returns the row."""
        return await orders_repo.insert_soon(
            self.db,
            user_id=self.user_id,
            client_order_id=cid,
            exchange_id=self.exchange_id,
            mode=self.mode,
            symbol=draft.symbol,
            side=draft.side,
            type=draft.type,
            amount=draft.amount,
            price=draft.price,
            purpose=draft.purpose,
            session_id=self.session_id,
            reduce_only=draft.reduce_only,
            position_side=draft.position_side,
            trigger_price=draft.trigger_price,
            stop_price=draft.stop_price,
            status=OrderStatus.SUBMITTED,
        )

    async def _send(self, request: OrderRequest) -> OrderState:
        return await self.account.create_order(request)

    async def _reject(self, order: OrderRow, error: str, refusal: str | None = None) -> OrderRow:
        """The order rejected; returns its row as stored (``order`` if it vanished)."""
        async with self.db.transaction(single=True) as tx:
            row = await orders_repo.mark_rejected(tx, self.user_id, order.order_id, error, refusal)
        return row or order

    # --- resolution and recording ------------------------------------------------------------

    async def _lookup(self, order: OrderRow, attempts: int) -> tuple[OrderState | None, bool]:
        """(state, answered): ``answered`` is True when the exchange's last answer was
        "no such order" (rather than an error). More than one attempt: each waits
        ``lookup_backoff`` doubling first. At start-up (``reconcile``) at most
        ``STARTUP_LOOKUPS`` requests of the user's look-ups are in flight at once."""
        answered = False
        for i in range(attempts):
            if attempts > 1:
                await asyncio.sleep(self.lookup_backoff * 2**i)
            try:
                async with self._lookup_slots or contextlib.nullcontext():
                    state = await self.account.fetch_order_by_client_id(
                        order.symbol, order.client_order_id
                    )
            except AuthenticationError:
                raise
            except Exception as err:  # retried, then left unresolved
                log.info("user %s: lookup %s failed: %s", self.user_id, order.client_order_id, err)
                answered = False
                continue
            if state is not None:
                return state, True
            answered = True
        return None, answered

    async def _resolve(self, order: OrderRow, attempts: int, reason: str) -> ExecutionResult:
        state, answered = await self._lookup(order, attempts)
        return await self._resolved(order, state, answered, reason)

    async def _resolved(
        self, order: OrderRow, state: OrderState | None, answered: bool, reason: str
    ) -> ExecutionResult:
        """Record a look-up's outcome: the state found; or, when the exchange answered
        that it has no such order, rejected with ``reason``; else left as it is."""
        if state is not None:
            n, row = await self._record_row(order, state)
            return _result(row, n)
        if answered:
            return _result(await self._reject(order, reason), 0, reason)
        return _result(order, 0, UNKNOWN)

    async def _market_facts(self, symbol: str) -> MarketFacts:
        if symbol not in self._facts:
            try:
                self._facts[symbol] = MarketFacts.of(await self.account.market(symbol))
            except Exception as err:  # bookkeeping must not fail on it
                log.info("market %s unavailable (%s); guessing from the symbol", symbol, err)
                return MarketFacts.guess(symbol)
        return self._facts[symbol]

    async def _record(self, order: OrderRow, state: OrderState) -> int:
        """Order state + new fills + positions + notification, in one transaction.
        Returns the number of fills recorded now."""
        return (await self._record_row(order, state))[0]

    async def _record_row(
        self, order: OrderRow, state: OrderState, known: bool = False
    ) -> tuple[int, OrderRow]:
        """``_record``, also returning the order's row as stored afterwards (the writes
        return it: nothing is read again)."""
        facts = await self._market_facts(order.symbol)
        if state.status in (OrderStatus.FILLED, OrderStatus.CANCELED) and not priced(state):
            state = replace(state, status=OrderStatus.OPEN)  # revisit until priced
        if state.status is OrderStatus.FILLED and not state.fee_known:
            # the venue's answer carried no fee (even re-read): not booked as a free fill;
            # left open for the next look-up (refresh_open), FEE_WAITS reads at most
            waits = self._fee_waits.get(order.order_id, 0) + 1
            self._fee_waits[order.order_id] = waits
            if waits <= FEE_WAITS:
                log.info(
                    "user %s: %s filled, fee not known yet", self.user_id, order.client_order_id
                )
                async with self.db.transaction() as tx:
                    waiting = replace(state, status=OrderStatus.OPEN)
                    _, row = await orders_repo.apply_state_rows(
                        tx, self.user_id, order.order_id, waiting
                    )
                return 0, row or order
            log.warning(
                "user %s: %s: no fee after %d reads; booked with the fee reported",
                self.user_id,
                order.client_order_id,
                waits - 1,
            )
        self._fee_waits.pop(order.order_id, None)
        held = self.held
        if known and held is not None and order.filled <= 0:
            recorded = await self._record_later(order, state, facts, held)
            if recorded is not None:
                return recorded
        async with self.db.transaction() as tx:
            before, fresh = await orders_repo.apply_state_rows(
                tx, self.user_id, order.order_id, state, order if known else None
            )
            assert before is not None and fresh is not None
            # no fill can be recorded for an order whose filled amount was 0: they are
            # written with it (below), so the fills table need not be asked
            self._none_recorded = before.filled <= 0  # read before _record_fills awaits
            n = await self._record_fills(tx, fresh, state, facts)
        return n, fresh

    async def _record_later(
        self, order: OrderRow, state: OrderState, facts: MarketFacts, held: HeldPositions
    ) -> tuple[int, OrderRow] | None:
        """``_record_row`` for an order this executor just submitted (``order`` is its
        row as written, nothing recorded for it yet): the fills booked on the loop's
        view of the positions, every write (the notification too) left for the group's
        COMMIT; the view takes the new rows once committed. None when the state changes
        nothing (the caller records it as usual)."""
        sides = await held.booked(order.symbol)
        try:
            async with self.db.transaction(single=True) as tx:
                fresh = orders_repo.apply_state_later(tx, order, state)
                if fresh is None:
                    return None
                # the body does not wait on anything from here: the writes counted are
                # this order's own
                counted = positions_repo.written(self.user_id)
                n, pnl_after, booked = await record_fills_later(
                    tx,
                    sides,
                    user_id=self.user_id,
                    mode=self.mode,
                    order=fresh,
                    state=state,
                    facts=facts,
                    session_id=self.session_id,
                    session_pnl=self._known_session_pnl(),
                )
                writes = positions_repo.written(self.user_id) - counted
                if pnl_after is not None:  # counted now: another write after ours shows
                    session, pnl = pnl_after
                    mark = sessions_repo.pnl_written(self.user_id, session)
        except BaseException:
            held.drop()  # whatever was written, the view is read again
            self._session_pnl = None
            self.fills_ledger.drop()
            raise
        held.apply(order.symbol, sides, writes)
        if pnl_after is not None:
            self._session_pnl = (session, pnl, mark)
        self._ledger_add(booked)
        return n, fresh

    def _ledger_add(self, booked: list[tuple[Returned | None, FillInfo]]) -> None:
        """The committed fills (with the ids they came back with) to the ledger; one
        without an id (not inserted) makes the ledger unsure."""
        rows = []
        for slot, f in booked:
            if slot is None or slot.row is None:
                self.fills_ledger.drop()
                return
            rows.append(
                {
                    "fill_id": slot.row["fill_id"],
                    "symbol": f.symbol,
                    "side": f.side.value,
                    "amount": str(f.amount),
                    "price": str(f.price),
                    "fee": str(f.fee),
                    "fee_currency": f.fee_currency or None,
                }
            )
        self.fills_ledger.add(rows, len(booked))

    async def _record_fills(
        self, tx: Transaction, order: OrderRow, state: OrderState, facts: MarketFacts
    ) -> int:
        first, self._none_recorded = self._none_recorded, False
        return await record_fills(
            tx,
            user_id=self.user_id,
            mode=self.mode,
            order=order,
            state=state,
            facts=facts,
            session_id=self.session_id,
            none_recorded=first,
        )

    # --- reconcile / refresh ----------------------------------------------------------------

    async def reconcile(self) -> int:
        """Resolve every intent/submitted/open order of this user, then adopt open orders
        carrying our prefix that the database lacks. Returns how many orders changed.

        The orders' look-ups (and a young SUBMITTED order's wait for the end of its
        visibility window) run concurrently, ``STARTUP_LOOKUPS`` requests at a time
        (the account's client spaces them within the venue's rate limit); what they
        found is recorded one order after the other, in the database's order."""
        self._placing()
        changed = 0
        rows = [
            order
            for order in await orders_repo.unresolved(self.db, self.user_id)
            if order.client_order_id not in self._inflight
        ]
        self._lookup_slots = asyncio.Semaphore(STARTUP_LOOKUPS)
        try:
            found = await _all_or_none([self._find(order, startup=True) for order in rows])
        finally:
            self._lookup_slots = None
        for order, seen in zip(rows, found, strict=True):
            if seen is not None and await self._apply_found(order, seen):
                changed += 1
        for state in await self.account.fetch_open_orders():
            cid = state.client_order_id
            if not is_ours(cid, self.user_id):
                continue
            self._placing()
            async with self.db.transaction() as tx:
                order_id = await orders_repo.adopt(
                    tx,
                    user_id=self.user_id,
                    exchange_id=self.exchange_id,
                    mode=self.mode,
                    state=state,
                    session_id=self.session_id,
                )
                row = (
                    None if order_id is None else await orders_repo.get(tx, self.user_id, order_id)
                )
            if row is not None:
                log.info("user %s: adopted open order %s", self.user_id, cid)
                await self._record(row, state)
                changed += 1
        await self._learn_session_pnl()
        return changed

    async def _learn_session_pnl(self) -> None:
        """The session's P&L read once at start, off the close path: the executor's
        closed trades add to it from then on (``_session_pnl``)."""
        sid = self.session_id
        if sid is None:
            return
        mark = sessions_repo.pnl_written(self.user_id, sid)
        row = await sessions_repo.get(self.db, self.user_id, sid)
        if row is not None and sessions_repo.pnl_written(self.user_id, sid) == mark:
            self._session_pnl = (sid, row.pnl, mark)

    async def refresh_open(self) -> int:
        """Poll this user's open (and stale submitted) orders and record their fills.
        For the paper exchange this first fills resting limit orders the price crossed."""
        check = getattr(self.account, "check_limits", None)
        if check is not None:
            try:
                await check()
            except AuthenticationError:
                raise
            except Exception as err:  # prices come back next time
                log.info("user %s: paper limit check failed: %s", self.user_id, err)
        if self.clean:
            return 0
        changed = 0
        placed, inflight = self._placed, bool(self._inflight)
        unresolved = await orders_repo.unresolved(self.db, self.user_id)
        for order in unresolved:
            if order.client_order_id in self._inflight or order.status is OrderStatus.INTENT:
                continue
            if await self._settle(order, startup=False):
                changed += 1
        if not unresolved and not inflight and not self._inflight and placed == self._placed:
            self.clean = True
        return changed

    async def _settle(self, order: OrderRow, *, startup: bool) -> bool:
        """Bring one unfinished order up to date. True when it changed."""
        seen = await self._find(order, startup=startup)
        return seen is not None and await self._apply_found(order, seen)

    async def _find(
        self, order: OrderRow, *, startup: bool
    ) -> tuple[OrderState | None, bool] | None:
        """Look one unfinished order up: (state, answered) as ``_lookup`` gives them, or
        None for a SUBMITTED order left as it is now (younger than its visibility window,
        outside start-up).

        A SUBMITTED order at start-up: looked up at once (found: done); else the look-up
        that decides waits for the end of its visibility window (``updated_at`` +
        ``visibility_window``: what is left of it, none for an older order), then is
        made once, and once more ``lookup_backoff`` later when the first found nothing
        or failed. An order the exchange shows within the window is found and booked;
        one it does not show then is rejected (``NOT_FOUND``); nothing is ever sent."""
        if order.status is not OrderStatus.SUBMITTED:
            return await self._lookup(order, 1)
        left = order.updated_at + self.visibility_window - time.time()
        if left <= 0:
            return await self._lookup(order, 1)
        if not startup:
            return None
        found = await self._lookup(order, 1)
        if found[0] is not None:
            return found
        await asyncio.sleep(max(0.0, order.updated_at + self.visibility_window - time.time()))
        found = await self._lookup(order, 1)
        if found[0] is not None:
            return found
        await asyncio.sleep(self.lookup_backoff)
        return await self._lookup(order, 1)

    async def _apply_found(self, order: OrderRow, seen: tuple[OrderState | None, bool]) -> bool:
        """Record what ``_find`` found for ``order``. True when the order changed."""
        before = (order.status, order.filled)
        state, answered = seen
        if order.status is OrderStatus.INTENT:
            # an INTENT row (older versions) was never sent: SUBMITTED was committed
            # apart, before sending
            if state is None:
                await self._reject(order, NEVER_SENT)
                return True
            _, row = await self._record_row(order, state)
            after = (row.status, row.filled)
        elif order.status is OrderStatus.SUBMITTED:
            result = await self._resolved(order, state, answered, NOT_FOUND)
            after = (result.status, result.filled)
        else:
            if state is None:
                log.info("user %s: open order %s not found", self.user_id, order.client_order_id)
                return False
            _, row = await self._record_row(order, state)
            after = (row.status, row.filled)
        return after != before

    # --- cancel ---------------------------------------------------------------------------

    async def cancel(self, client_order_id: str) -> ExecutionResult | None:
        """Cancel one of this user's open orders and record the outcome (fills that
        happened meanwhile included). None when the order is not this user's."""
        order = await orders_repo.get_by_client_id(self.db, self.user_id, client_order_id)
        if order is None:
            return None
        if order.status in (OrderStatus.OPEN, OrderStatus.SUBMITTED):
            state = await self.account.cancel_order(order.symbol, client_order_id)
            n, row = await self._record_row(order, state)
            return _result(row, n)
        return _result(order, 0)

    async def withdraw(self, order: OrderRow) -> OrderRow:
        """Cancel a resting order (a stop on the exchange) and record the outcome, fills
        that happened first included. Returns the row as recorded afterwards. Errors other
        than "no such order" propagate: the caller must not act as if it were gone."""
        if order.status in (OrderStatus.INTENT, OrderStatus.SUBMITTED):
            # first learn whether it reached the exchange (a young SUBMITTED one stays
            # as it is within the visibility window: the caller must wait)
            await self._settle(order, startup=False)
            fresh = await orders_repo.get(self.db, self.user_id, order.order_id)
            assert fresh is not None
            order = fresh
        if order.status is OrderStatus.OPEN:
            try:
                state = await self.account.cancel_order(order.symbol, order.client_order_id)
            except NotFoundError:
                await self._resolve(order, 1, NOT_FOUND)
            else:
                await self._record(order, state)
        row = await orders_repo.get(self.db, self.user_id, order.order_id)
        assert row is not None
        return row


async def _all_or_none(aws: list) -> list:
    """Await every one of ``aws`` concurrently; on the first error cancel the others
    (awaited) and raise that error."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _result(
    row: OrderRow, fills: int, error: str | None = None, refusal: str | None = None
) -> ExecutionResult:
    """The outcome, from the order's row as the last write returned it."""
    return ExecutionResult(
        order_id=row.order_id,
        client_order_id=row.client_order_id,
        status=row.status,
        filled=row.filled,
        average=row.average,
        fills_recorded=fills,
        error=error,
        refusal=refusal,
    )
