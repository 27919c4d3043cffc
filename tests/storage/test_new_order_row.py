"""``orders.insert`` (at once) and ``orders.insert_soon`` (left for a group's COMMIT)
take one set of fields (``NewOrder``) and build the row with one builder: the same
fields give the same stored row, whichever writes it; only the default status differs
(INTENT at once, SUBMITTED for the executor's ``insert_soon``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.core.models import OrderStatus, OrderType, Role, Side
from nija_tg.storage import orders, users

UID = 3
SAME = ("created_at", "updated_at", "order_id", "client_order_id")

FIELDS = [
    {},
    {"status": OrderStatus.SUBMITTED},
    {
        "type": OrderType.LIMIT,
        "price": Decimal("100.50"),
        "reduce_only": True,
        "position_side": "SHORT",
        "purpose": "exit",
        "session_id": None,
        "status": OrderStatus.OPEN,
        "exchange_order_id": "X-42",
    },
    {
        "purpose": "stop",
        "trigger_price": Decimal("97.0"),
        "stop_price": Decimal("98.10"),
        "exchange_order_id": "X-43",
    },
]


@pytest.fixture
async def user_db(db):
    async with db.transaction() as tx:
        await users.upsert_user(tx, UID, UID, None, None, Role.TRADER)
    return db


def fields(cid: str, extra: dict) -> dict:
    return {
        "user_id": UID,
        "client_order_id": cid,
        "exchange_id": "bingx",
        "mode": "live",
        "symbol": "ETH/USDT",
        "side": Side.SELL,
        "type": OrderType.MARKET,
        "amount": Decimal("0.12340"),
        **extra,
    }


def _comparable(row: orders.OrderRow) -> dict:
    return {k: getattr(row, k) for k in row.__slots__ if k not in SAME}


@pytest.mark.parametrize("extra", FIELDS)
async def test_insert_and_insert_soon_store_the_same_row(user_db, extra):
    db = user_db
    async with db.transaction() as tx:
        now = await orders.insert(tx, **fields("now1", extra))
    soon = await orders.insert_soon(db, **fields("soon1", extra))
    stored_now = await orders.get(db, UID, now.order_id)
    stored_soon = await orders.get(db, UID, soon.order_id)
    assert soon == stored_soon and now == stored_now  # each returns its row as stored
    if "status" in extra:
        assert _comparable(stored_now) == _comparable(stored_soon)
    else:  # the writers' default statuses, and nothing else, differ
        assert stored_now.status is OrderStatus.INTENT
        assert stored_soon.status is OrderStatus.SUBMITTED
        a, b = _comparable(stored_now), _comparable(stored_soon)
        assert a.pop("status") != b.pop("status") and a == b
    assert stored_now.exchange_order_id == extra.get("exchange_order_id")


async def test_a_field_no_order_has_is_refused_by_both(user_db):
    db = user_db
    bad = fields("bad1", {"filled": Decimal(1)})
    with pytest.raises(TypeError, match="filled"):
        async with db.transaction() as tx:
            await orders.insert(tx, **bad)
    with pytest.raises(TypeError, match="filled"):
        await orders.insert_soon(db, **bad)
    assert await orders.get_by_client_id(db, UID, "bad1") is None
