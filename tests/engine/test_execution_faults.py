"""Restart reconciliation: the state a crash leaves at each kill point, built by hand
and produced by a real SIGKILL of a child process; adoption of our orders."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path

import pytest

from nija_tg.core import errors as E
from nija_tg.core.models import OrderRequest, OrderStatus, OrderType, Role, Side
from nija_tg.engine.execution import NEVER_SENT, NOT_FOUND, Executor
from nija_tg.exchange.client_ids import new_client_order_id
from nija_tg.exchange.paper import PaperAccount
from nija_tg.storage import fills, orders, positions, users
from nija_tg.storage.db import Database
from nija_tg.storage.paper_store import SqlitePaperStore
from tests.conftest import PYTHON
from tests.engine.kill_points import FaultyAccount, FixedPrices

UID = 202
SYM = "BTC/USDT"
KILL_SCRIPT = Path(__file__).with_name("kill_points.py")


async def add_user(db, uid: int = UID) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)


def venue(db, uid: int = UID) -> tuple[FaultyAccount, PaperAccount]:
    paper = PaperAccount(uid, "bingx", FixedPrices(), SqlitePaperStore(db), slippage=Decimal(0))
    return FaultyAccount(paper), paper


def executor(db, account, **kw) -> Executor:
    opts = {"lookup_attempts": 3, "lookup_backoff": 0.01, **kw}
    return Executor(db, user_id=UID, exchange_id="bingx", mode="paper", account=account, **opts)


async def on_exchange(paper: PaperAccount, cid: str) -> int:
    return sum(1 for o in (await paper._load()).orders if o.client_order_id == cid)


async def fill_notes(db) -> int:
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM outbox WHERE user_id = ? AND kind = 'fill'", (UID,)
    )
    return row["n"]


async def intent(db, status: OrderStatus, otype=OrderType.MARKET, price=None) -> orders.OrderRow:
    cid = new_client_order_id("bingx", UID)
    async with db.transaction() as tx:
        oid = await orders.create(
            tx,
            user_id=UID,
            client_order_id=cid,
            exchange_id="bingx",
            mode="paper",
            symbol=SYM,
            side=Side.BUY,
            type=otype,
            amount=Decimal("0.01"),
            price=price,
            status=status,
        )
    return await orders.get(db, UID, oid)


def request_of(row: orders.OrderRow) -> OrderRequest:
    return OrderRequest(row.symbol, row.side, row.type, row.amount, row.client_order_id, row.price)


async def check_after_restart(
    db, account, paper, row, *, sent: bool, unsent_error: str = NEVER_SENT
) -> None:
    after = await orders.get(db, UID, row.order_id)
    assert account.creates == []  # reconcile never sends
    assert await on_exchange(paper, row.client_order_id) == int(sent)
    assert len(await fills.for_order(db, UID, row.order_id)) == int(sent)
    assert await fill_notes(db) == int(sent)
    if sent:
        assert after.status is OrderStatus.FILLED
        (pos,) = await positions.list_for_user(db, UID)
        assert pos.amount == Decimal("0.01")
    else:
        assert after.status is OrderStatus.REJECTED and after.error == unsent_error
        assert await positions.list_for_user(db, UID) == []
    # a second restart changes nothing
    assert await executor(db, account).reconcile() == 0
    assert len(await fills.for_order(db, UID, row.order_id)) == int(sent)
    assert await fill_notes(db) == int(sent)


# --- kill points, state built by hand ----------------------------------------------------


async def test_kill_point_a_intent_never_sent(db):
    await add_user(db)
    account, paper = venue(db)
    row = await intent(db, OrderStatus.INTENT)
    assert await executor(db, account).reconcile() == 1
    await check_after_restart(db, account, paper, row, sent=False)


async def test_kill_point_b_exchange_has_it_answer_not_recorded(db):
    await add_user(db)
    account, paper = venue(db)
    row = await intent(db, OrderStatus.SUBMITTED)
    await paper.create_order(request_of(row))  # the submit that reached the exchange
    assert await executor(db, account).reconcile() == 1
    await check_after_restart(db, account, paper, row, sent=True)


async def test_kill_point_c_answer_recorded_fill_not(db):
    """An open limit order was recorded; it filled on the exchange while we were down."""
    await add_user(db)
    account, paper = venue(db)
    row = await intent(db, OrderStatus.SUBMITTED, OrderType.LIMIT, Decimal(49000))
    state = await paper.create_order(request_of(row))
    async with db.transaction() as tx:
        await orders.apply_state(tx, UID, row.order_id, state)
    assert (await orders.get(db, UID, row.order_id)).status is OrderStatus.OPEN
    await paper.on_price(SYM, Decimal(48000))
    assert await executor(db, account).reconcile() == 1
    await check_after_restart(db, account, paper, row, sent=True)


async def test_submitted_not_found_after_window_is_rejected_with_one_lookup(db):
    await add_user(db)
    account, _ = venue(db)
    row = await intent(db, OrderStatus.SUBMITTED)
    async with db.transaction() as tx:
        await tx.execute("UPDATE orders SET updated_at = 0 WHERE order_id = ?", (row.order_id,))
    assert await executor(db, account).reconcile() == 1
    after = await orders.get(db, UID, row.order_id)
    assert after.status is OrderStatus.REJECTED and after.error == NOT_FOUND
    assert account.lookups == 1


async def test_fresh_submitted_never_sent_is_rejected_after_the_lookups(db):
    """A crash after the order's commit and before its send (kill point a) leaves a
    young SUBMITTED order the exchange never saw: looked up through the visibility
    window, then rejected, never sent."""
    await add_user(db)
    account, paper = venue(db)
    row = await intent(db, OrderStatus.SUBMITTED)
    assert await executor(db, account).reconcile() == 1
    after = await orders.get(db, UID, row.order_id)
    assert after.status is OrderStatus.REJECTED and after.error == NOT_FOUND
    assert account.lookups == 3 and account.creates == []
    assert await on_exchange(paper, row.client_order_id) == 0
    assert await executor(db, account).reconcile() == 0


async def test_fresh_submitted_waits_the_visibility_window(db):
    await add_user(db)
    account, paper = venue(db)
    row = await intent(db, OrderStatus.SUBMITTED)
    await paper.create_order(request_of(row))
    account.hide_lookups = 2
    assert await executor(db, account).reconcile() == 1
    assert (await orders.get(db, UID, row.order_id)).status is OrderStatus.FILLED
    assert account.lookups == 3


async def test_auth_error_during_reconcile_propagates_and_leaves_order(db):
    await add_user(db)
    account, _ = venue(db)
    row = await intent(db, OrderStatus.SUBMITTED)

    async def refuse(symbol, cid):
        raise E.AuthenticationError("revoked")

    account.fetch_order_by_client_id = refuse
    with pytest.raises(E.AuthenticationError):
        await executor(db, account).reconcile()
    assert (await orders.get(db, UID, row.order_id)).status is OrderStatus.SUBMITTED


# --- adoption --------------------------------------------------------------------------------


async def test_reconcile_adopts_our_open_orders_only(db):
    await add_user(db)
    account, paper = venue(db)
    ours = new_client_order_id("bingx", UID)
    others = new_client_order_id("bingx", UID + 1)
    for cid in (ours, others, "manual123"):
        req = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), cid, Decimal(40000))
        await paper.create_order(req)
    ex = executor(db, account)
    assert await ex.reconcile() == 1
    (row,) = await orders.list_for_user(db, UID)
    assert row.client_order_id == ours and row.status is OrderStatus.OPEN
    assert row.purpose == "adopted" and row.exchange_order_id
    assert await ex.reconcile() == 0  # known now
    await paper.on_price(SYM, Decimal(39000))
    assert await ex.refresh_open() == 1
    assert (await orders.get(db, UID, row.order_id)).status is OrderStatus.FILLED
    assert len(await fills.for_order(db, UID, row.order_id)) == 1
    assert await fill_notes(db) == 1


# --- real kill -9 -----------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["a", "b", "c"])
async def test_sigkill_at_each_point_then_restart(tmp_path, point):
    path = tmp_path / "kill.db"
    db = await Database.open(path)
    await add_user(db)
    await db.close()
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        str(KILL_SCRIPT),
        str(path),
        str(UID),
        point,
        SYM,
        "0.01",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode()

    db = await Database.open(path)
    try:
        (row,) = await orders.list_for_user(db, UID)
        # committed as SUBMITTED before the send (a: never sent); c's transaction was
        # rolled back
        assert row.status is OrderStatus.SUBMITTED
        assert await fills.for_order(db, UID, row.order_id) == []
        account, paper = venue(db)
        assert await executor(db, account).reconcile() == 1
        # a: looked up by client id on the paper venue, not there: rejected, not sent
        await check_after_restart(
            db, account, paper, row, sent=point != "a", unsent_error=NOT_FOUND
        )
        if point == "a":
            assert account.lookups >= 1
    finally:
        await db.close()
