"""Start-up reconciliation of young SUBMITTED orders (engine/execution.py ``_find``).

Since the order's row is committed as SUBMITTED before its send, a crash between the two
leaves a SUBMITTED order that may or may not have left. At restart each is looked up at
once, then, not found, once (twice) at the end of its visibility window counted from its
commit: the restart waits what is left of the window, for all of the user's orders
together, never the whole backoff per order one after the other. The guarantees stay:
nothing is sent, an order the exchange shows within its window is found and booked, one
it does not show by then is rejected ``NOT_FOUND``."""

from __future__ import annotations

import asyncio
import time

from nija_tg.core.models import OrderStatus
from nija_tg.engine.execution import NOT_FOUND
from nija_tg.storage import fills, orders
from tests.engine.kill_points import FaultyAccount
from tests.engine.test_execution_faults import (
    UID,
    add_user,
    executor,
    intent,
    on_exchange,
    request_of,
    venue,
)


class WatchedAccount(FaultyAccount):
    """Records every look-up (client id, wall time, how many were in flight then); an
    order is shown only from ``visible_at[cid]`` (wall time) on: the exchange's
    visibility delay, in time rather than in look-ups."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.calls: list[tuple[str, float]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.visible_at: dict[str, float] = {}

    async def fetch_order_by_client_id(self, symbol, cid):
        self.calls.append((cid, time.time()))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.02)  # the request's round trip
            if time.time() < self.visible_at.get(cid, 0.0):
                self.lookups += 1
                return None
            return await super().fetch_order_by_client_id(symbol, cid)
        finally:
            self.in_flight -= 1

    def times(self, cid: str) -> list[float]:
        return [t for c, t in self.calls if c == cid]


async def aged(db, row, seconds: float) -> orders.OrderRow:
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE orders SET updated_at = ? WHERE order_id = ?",
            (time.time() - seconds, row.order_id),
        )
    return await orders.get(db, UID, row.order_id)


async def test_young_unsent_orders_wait_what_is_left_of_their_window_together(db):
    """Three SUBMITTED orders never sent, 95% through their window at the restart: each
    is looked up at once and at the end of its window (then once more), all together;
    the whole backoff (6 look-ups each, one order after the other) is not run."""
    await add_user(db)
    _, paper = venue(db)
    account = WatchedAccount(paper)
    ex = executor(db, account, lookup_attempts=6, lookup_backoff=0.05)
    window = ex.visibility_window  # 3.15 s
    rows = [
        await aged(db, await intent(db, OrderStatus.SUBMITTED), 0.95 * window) for _ in range(3)
    ]
    assert await asyncio.wait_for(ex.reconcile(), 60) == 3
    for row in rows:
        after = await orders.get(db, UID, row.order_id)
        assert after.status is OrderStatus.REJECTED and after.error == NOT_FOUND
        assert await on_exchange(paper, row.client_order_id) == 0
        at = account.times(row.client_order_id)
        assert len(at) == 3  # at once, at the end of the window, once more
        assert at[0] < row.updated_at + window <= at[1] < at[2]  # decided after the window
    assert account.creates == []
    # together: every order's first look-up came before any order's deciding one
    firsts = [account.times(r.client_order_id)[0] for r in rows]
    decisive = [account.times(r.client_order_id)[1] for r in rows]
    assert max(firsts) < min(decisive) and account.most_in_flight >= 2
    assert await executor(db, account).reconcile() == 0


async def test_an_order_the_exchange_shows_late_in_its_window_is_found_and_booked(db):
    """Sent just before the crash; the exchange shows it only late in the window: the
    first look-up finds nothing, the one at the window's end finds it; booked once."""
    await add_user(db)
    _, paper = venue(db)
    account = WatchedAccount(paper)
    ex = executor(db, account, lookup_attempts=6, lookup_backoff=0.02)
    window = ex.visibility_window  # 1.26 s
    row = await intent(db, OrderStatus.SUBMITTED)
    await paper.create_order(request_of(row))  # reached the exchange
    account.visible_at[row.client_order_id] = row.updated_at + 0.7 * window
    assert await ex.reconcile() == 1
    after = await orders.get(db, UID, row.order_id)
    assert after.status is OrderStatus.FILLED
    assert len(await fills.for_order(db, UID, row.order_id)) == 1
    at = account.times(row.client_order_id)
    assert len(at) == 2 and at[1] >= row.updated_at + window
    assert account.creates == [] and await on_exchange(paper, row.client_order_id) == 1
    assert await executor(db, account).reconcile() == 0
    assert len(await fills.for_order(db, UID, row.order_id)) == 1


async def test_an_order_the_exchange_shows_at_once_is_booked_without_waiting(db):
    await add_user(db)
    _, paper = venue(db)
    account = WatchedAccount(paper)
    ex = executor(db, account, lookup_attempts=6, lookup_backoff=0.5)  # a 31.5 s window
    row = await intent(db, OrderStatus.SUBMITTED)
    await paper.create_order(request_of(row))
    assert await asyncio.wait_for(ex.reconcile(), 20) == 1
    assert (await orders.get(db, UID, row.order_id)).status is OrderStatus.FILLED
    assert len(account.times(row.client_order_id)) == 1
