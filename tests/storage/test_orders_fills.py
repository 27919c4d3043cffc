"""Orders, fills and positions repositories: state machine rules, idempotent fills,
per-user scoping, schema migration 2."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.core.models import FillInfo, OrderState, OrderStatus, OrderType, Role, Side
from nija_tg.storage import fills, orders, positions, users
from nija_tg.storage.migrations import MIGRATIONS

A, B = 1, 2


@pytest.fixture
async def two_users(db):
    async with db.transaction() as tx:
        for uid in (A, B):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
    return db


async def new_order(db, uid: int, cid: str, status=OrderStatus.INTENT, **kw) -> int:
    async with db.transaction() as tx:
        return await orders.create(
            tx,
            user_id=uid,
            client_order_id=cid,
            exchange_id="kraken",
            mode="live",
            symbol="BTC/USD",
            side=Side.BUY,
            type=OrderType.LIMIT,
            amount=Decimal("0.5"),
            price=Decimal("100.5"),
            status=status,
            **kw,
        )


def state(status: OrderStatus, filled: str, **kw) -> OrderState:
    return OrderState(
        "X1", "c1", "BTC/USD", Side.BUY, OrderType.LIMIT, status, Decimal("0.5"),
        Decimal(filled), **kw,
    )  # fmt: skip


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "type": OrderType.LIMIT,
            "price": Decimal("100.50"),
            "reduce_only": True,
            "position_side": "LONG",
            "trigger_price": Decimal("99.0"),
            "stop_price": Decimal("98.10"),
            "purpose": "stop",
        },
    ],
)
async def test_insert_soon_returns_the_row_as_stored(two_users, extra):
    """The row insert_soon returns (built from the values it wrote and the returned id)
    is the row a read gives, field for field."""
    db = two_users
    fields = {
        "user_id": A,
        "client_order_id": f"soon{len(extra)}",
        "exchange_id": "kraken",
        "mode": "paper",
        "symbol": "ETH/USD",
        "side": Side.SELL,
        "type": OrderType.MARKET,
        "amount": Decimal("0.12340"),
        **extra,
    }
    row = await orders.insert_soon(db, **fields)
    assert row == await orders.get(db, A, row.order_id)
    assert row.status is OrderStatus.SUBMITTED


async def test_order_row_round_trip_and_migration_columns(two_users):
    db = two_users
    oid = await new_order(db, A, "c1", reduce_only=True, position_side="LONG", purpose="exit")
    row = await orders.get(db, A, oid)
    assert row.client_order_id == "c1" and row.status is OrderStatus.INTENT
    assert row.amount == Decimal("0.5") and row.price == Decimal("100.5")
    assert row.reduce_only and row.position_side == "LONG" and row.purpose == "exit"
    assert row.filled == 0 and row.average is None
    versions = [r[0] for r in await db.fetchall("SELECT version FROM schema_migrations")]
    assert versions == [version for version, _sql in MIGRATIONS]
    assert versions[:3] == [1, 2, 3]


async def test_state_machine_never_leaves_terminal_and_filled_never_drops(two_users):
    db = two_users
    oid = await new_order(db, A, "c1")
    async with db.transaction() as tx:
        await orders.mark_submitted(tx, A, oid)
        assert await orders.apply_state(tx, A, oid, state(OrderStatus.OPEN, "0.2"))
        assert await orders.apply_state(
            tx, A, oid, state(OrderStatus.FILLED, "0.5", average=Decimal(100), fee=Decimal(1))
        )
        assert not await orders.apply_state(tx, A, oid, state(OrderStatus.OPEN, "0.1"))
    row = await orders.get(db, A, oid)
    assert row.status is OrderStatus.FILLED and row.filled == Decimal("0.5")
    assert row.average == Decimal(100) and row.exchange_order_id == "X1"


async def test_rejected_keeps_error_and_unresolved_lists_only_pending(two_users):
    db = two_users
    o1 = await new_order(db, A, "c1")
    o2 = await new_order(db, A, "c2", status=OrderStatus.SUBMITTED)
    await new_order(db, A, "c3", status=OrderStatus.OPEN)
    await new_order(db, B, "c4", status=OrderStatus.OPEN)
    async with db.transaction() as tx:
        await orders.mark_rejected(tx, A, o1, "too small")
    assert (await orders.get(db, A, o1)).error == "too small"
    assert [r.client_order_id for r in await orders.unresolved(db, A)] == ["c2", "c3"]
    assert [r.order_id for r in await orders.list_for_user(db, A, limit=1)] != [o2]
    assert len(await orders.list_for_user(db, A, status=OrderStatus.OPEN)) == 1


async def test_orders_are_scoped_by_user(two_users):
    db = two_users
    oid = await new_order(db, A, "c1")
    assert await orders.get(db, B, oid) is None
    assert await orders.get_by_client_id(db, B, "c1") is None
    async with db.transaction() as tx:
        await orders.mark_rejected(tx, B, oid, "not yours")
    assert (await orders.get(db, A, oid)).status is OrderStatus.INTENT
    assert await orders.list_for_user(db, B) == []


async def test_adopt_inserts_once(two_users):
    db = two_users
    st = state(OrderStatus.OPEN, "0")
    async with db.transaction() as tx:
        first = await orders.adopt(tx, user_id=A, exchange_id="kraken", mode="live", state=st)
        again = await orders.adopt(tx, user_id=A, exchange_id="kraken", mode="live", state=st)
    assert first is not None and again is None
    row = await orders.get(db, A, first)
    assert row.status is OrderStatus.OPEN and row.purpose == "adopted"


def trade(tid: str, amount: str = "0.1", price: str = "100") -> FillInfo:
    return FillInfo(tid, "BTC/USD", Side.BUY, Decimal(amount), Decimal(price), Decimal("0.01"),
                    "USD", 1_700_000_000_000)  # fmt: skip


async def test_fill_insert_is_idempotent_per_user_and_exchange(two_users):
    db = two_users
    oid = await new_order(db, A, "c1")
    async with db.transaction() as tx:
        first = await fills.insert(tx, A, oid, "kraken", trade("T1"))
        assert await fills.insert(tx, A, oid, "kraken", trade("T1")) is None
        assert await fills.insert(tx, A, oid, "kraken", trade("T2", "0.2", "110")) is not None
        assert await fills.insert(tx, A, None, "bingx", trade("T1")) is not None
        await fills.set_realized_pnl(tx, A, first, Decimal("-1.5"))
    totals = await fills.order_totals(db, A, oid)
    assert (totals.amount, totals.cost, totals.count) == (Decimal("0.3"), Decimal(32), 2)
    assert await fills.exists(db, A, "kraken", "T1")
    assert not await fills.exists(db, B, "kraken", "T1")
    rows = await fills.for_order(db, A, oid)
    assert rows[0].realized_pnl == Decimal("-1.5") and rows[0].ts == 1_700_000_000
    assert await fills.realized_since(db, A) == [(1_700_000_000, Decimal("-1.5"))]
    assert await fills.list_for_user(db, B) == []
    assert len(await fills.list_for_user(db, A, symbol="BTC/USD")) == 3


async def test_positions_upsert_keeps_stop_and_scopes_by_user(two_users):
    db = two_users
    async with db.transaction() as tx:
        await positions.upsert(
            tx, A, "BTC/USD", "long", amount=Decimal(1), entry_price=Decimal(100),
            entry_fees=Decimal("0.1"), realized_pnl=Decimal(0),
        )  # fmt: skip
        assert await positions.set_stop(tx, A, "BTC/USD", "long", Decimal(95), Decimal(101))
        assert not await positions.set_stop(tx, B, "BTC/USD", "long", Decimal(95))
        await positions.upsert(
            tx, A, "BTC/USD", "long", amount=Decimal(2), entry_price=Decimal(105),
            entry_fees=Decimal("0.2"), realized_pnl=Decimal(0),
        )  # fmt: skip
    pos = await positions.get(db, A, "BTC/USD", "long")
    assert pos.amount == Decimal(2) and pos.stop_price == Decimal(95)
    assert pos.trail_anchor == Decimal(101) and pos.entry_fees == Decimal("0.2")
    assert await positions.list_for_user(db, B) == []
    assert set(await positions.for_symbol(db, A, "BTC/USD")) == {"long"}
    async with db.transaction() as tx:
        await positions.delete(tx, A, "BTC/USD", "long")
    assert await positions.list_for_user(db, A) == []


async def test_stop_orders_keep_their_trigger_and_are_listed_while_unresolved(two_users):
    db = two_users
    stop = await new_order(db, A, "s1", OrderStatus.OPEN, purpose="stop", trigger_price=Decimal(90))
    await new_order(db, A, "e1", OrderStatus.OPEN)  # a plain limit: not a stop
    await new_order(db, B, "s2", OrderStatus.OPEN, purpose="stop", trigger_price=Decimal(80))
    row = await orders.get(db, A, stop)
    assert row.trigger_price == Decimal(90) and row.native_stop
    assert not (await orders.get_by_client_id(db, A, "e1")).native_stop
    assert [r.client_order_id for r in await orders.open_stops(db, A, "BTC/USD")] == ["s1"]
    assert await orders.open_stops(db, A, "ETH/USD") == []
    async with db.transaction() as tx:
        await orders.apply_state(tx, A, stop, state(OrderStatus.CANCELED, "0"))
    assert await orders.open_stops(db, A, "BTC/USD") == []


async def test_adopted_stop_order_keeps_purpose_and_trigger(two_users):
    db = two_users
    st = state(OrderStatus.OPEN, "0", trigger_price=Decimal(95))
    async with db.transaction() as tx:
        oid = await orders.adopt(tx, user_id=A, exchange_id="kraken", mode="live", state=st)
    row = await orders.get(db, A, oid)
    assert row.purpose == "stop" and row.trigger_price == Decimal(95)
    assert [r.order_id for r in await orders.open_stops(db, A, "BTC/USD")] == [oid]


async def test_writes_return_their_rows_and_a_stale_known_row_is_read_again(two_users):
    db = two_users
    oid = await new_order(db, A, "k1")
    async with db.transaction() as tx:
        submitted = await orders.mark_submitted(tx, A, oid)
    assert submitted.status is OrderStatus.SUBMITTED and submitted.order_id == oid
    async with db.transaction() as tx:  # the caller's copy is current: no read needed
        before, after = await orders.apply_state_rows(
            tx, A, oid, state(OrderStatus.OPEN, "0.1"), submitted
        )
    assert before is submitted and after.status is OrderStatus.OPEN
    assert after.filled == Decimal("0.1") and after == await orders.get(db, A, oid)
    async with db.transaction() as tx:  # a stale copy: the row is read and the rules hold
        before, now = await orders.apply_state_rows(
            tx, A, oid, state(OrderStatus.OPEN, "0.05"), submitted
        )
    assert before == after and now.filled == Decimal("0.1")  # filled never decreases
    async with db.transaction() as tx:
        rejected = await orders.mark_rejected(tx, A, oid, "no", "refused:x")
    assert rejected.status is OrderStatus.REJECTED and rejected.refusal == "refused:x"
