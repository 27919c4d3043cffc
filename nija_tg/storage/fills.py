"""Fills: one row per exchange trade, keyed by (user_id, exchange_id, trade_id) so that
recording the same trade twice is a no-op. ``ts`` is stored in seconds (UTC epoch)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.models import FillInfo, Side
from nija_tg.storage.db import Batched, Reader, Returned, Transaction

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class FillRow:
    fill_id: int
    user_id: int
    order_id: int | None
    exchange_id: str
    trade_id: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    realized_pnl: Decimal | None
    ts: float


@dataclass(frozen=True, slots=True)
class OrderTotals:
    amount: Decimal = ZERO
    cost: Decimal = ZERO  # sum of amount x price
    fee: Decimal = ZERO
    count: int = 0


def _row(r: sqlite3.Row) -> FillRow:
    pnl = r["realized_pnl"]
    return FillRow(
        fill_id=r["fill_id"],
        user_id=r["user_id"],
        order_id=r["order_id"],
        exchange_id=r["exchange_id"],
        trade_id=r["trade_id"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        amount=Decimal(r["amount"]),
        price=Decimal(r["price"]),
        fee=Decimal(r["fee"]),
        fee_currency=r["fee_currency"],
        realized_pnl=None if pnl is None else Decimal(pnl),
        ts=r["ts"],
    )


_INSERT_HEAD = (
    "INSERT OR IGNORE INTO fills(user_id, order_id, exchange_id, trade_id, symbol, side, "
    "amount, price, fee, fee_currency, ts"
)
_INSERT_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"


def _new_row(user_id: int, order_id: int | None, exchange_id: str, fill: FillInfo) -> tuple:
    """A fill row's values in ``_INSERT_HEAD``'s column order."""
    return (
        user_id,
        order_id,
        exchange_id,
        fill.trade_id,
        fill.symbol,
        fill.side.value,
        str(fill.amount),
        str(fill.price),
        str(fill.fee),
        fill.fee_currency or None,
        fill.ts / 1000,
    )


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def insert(
    tx: Transaction, user_id: int, order_id: int | None, exchange_id: str, fill: FillInfo
) -> int | None:
    """Record ``fill``; returns the new fill id, or None when that trade is recorded
    already (then nothing else must change)."""
    _wrote(user_id)
    cur = await tx.execute(
        f"{_INSERT_HEAD}) VALUES {_INSERT_VALUES})",
        _new_row(user_id, order_id, exchange_id, fill),
    )
    return cur.lastrowid if cur.rowcount else None


_INSERT_LATER = Batched(
    f"{_INSERT_HEAD}, realized_pnl) VALUES ",
    f"{_INSERT_VALUES}, ?)",
    " RETURNING fill_id, user_id, exchange_id, trade_id",
    returning=("user_id", "exchange_id", "trade_id"),
)
# user id -> how many fills this process wrote for that user (a counter: a caller that
# keeps the user's recent fills in memory knows it has them all while only its own
# writes moved it)
_written: dict[int, int] = {}


def written(user_id: int) -> int:
    """How many fill inserts this process made for ``user_id`` (a counter)."""
    return _written.get(user_id, 0)


def _wrote(user_id: int) -> None:
    _written[user_id] = _written.get(user_id, 0) + 1


def insert_later(
    tx: Transaction,
    user_id: int,
    order_id: int | None,
    exchange_id: str,
    fill: FillInfo,
    realized_pnl: Decimal | None,
) -> Returned | None:
    """``insert`` (with the P&L it realised) left for the group's COMMIT: for a trade
    the caller knows is not recorded yet; its row (``fill_id``) once committed."""
    _wrote(user_id)
    return tx.later(
        _INSERT_LATER,
        ("fill", user_id, exchange_id, fill.trade_id),
        (*_new_row(user_id, order_id, exchange_id, fill), _s(realized_pnl)),
        returned=True,
    )


async def set_realized_pnl(tx: Transaction, user_id: int, fill_id: int, pnl: Decimal) -> None:
    await tx.execute(
        "UPDATE fills SET realized_pnl = ? WHERE user_id = ? AND fill_id = ?",
        (str(pnl), user_id, fill_id),
    )


async def exists(db: Reader, user_id: int, exchange_id: str, trade_id: str) -> bool:
    row = await db.fetchone(
        "SELECT 1 FROM fills WHERE user_id = ? AND exchange_id = ? AND trade_id = ?",
        (user_id, exchange_id, trade_id),
    )
    return row is not None


async def order_totals(db: Reader, user_id: int, order_id: int) -> OrderTotals:
    """What is recorded for one order so far (Decimal sums done in Python)."""
    rows = await db.fetchall(
        "SELECT amount, price, fee FROM fills WHERE user_id = ? AND order_id = ?",
        (user_id, order_id),
    )
    t = OrderTotals()
    for r in rows:
        a, p = Decimal(r["amount"]), Decimal(r["price"])
        t = OrderTotals(t.amount + a, t.cost + a * p, t.fee + Decimal(r["fee"]), t.count + 1)
    return t


async def for_order(db: Reader, user_id: int, order_id: int) -> list[FillRow]:
    rows = await db.fetchall(
        "SELECT * FROM fills WHERE user_id = ? AND order_id = ? ORDER BY fill_id",
        (user_id, order_id),
    )
    return [_row(r) for r in rows]


async def list_for_user(
    db: Reader, user_id: int, *, limit: int = 50, symbol: str | None = None
) -> list[FillRow]:
    """Newest first."""
    sql = "SELECT * FROM fills WHERE user_id = ?"
    params: list[object] = [user_id]
    if symbol is not None:
        sql += " AND symbol = ?"
        params.append(symbol)
    sql += " ORDER BY ts DESC, fill_id DESC LIMIT ?"
    params.append(max(1, min(limit, 1000)))
    return [_row(r) for r in await db.fetchall(sql, params)]


async def with_order_terms(db: Reader, user_id: int) -> list[dict]:
    """Every fill of ``user_id`` in the order recorded, as the database holds it (text
    columns as stored), with its order's purpose and stop price (None without an
    order): what a replay left, for comparing with a backtest."""
    rows = await db.fetchall(
        "SELECT f.symbol, f.side, f.amount, f.price, f.fee, f.realized_pnl, f.ts, "
        "o.purpose, o.stop_price FROM fills f LEFT JOIN orders o ON o.order_id = f.order_id "
        "WHERE f.user_id = ? ORDER BY f.fill_id",
        (user_id,),
    )
    return [dict(r) for r in rows]


async def realized_since(
    db: Reader, user_id: int, since_ts: float | None = None
) -> list[tuple[float, Decimal]]:
    """(ts seconds, realized P&L) of every fill that reduced a position, oldest first."""
    sql = "SELECT ts, realized_pnl FROM fills WHERE user_id = ? AND realized_pnl IS NOT NULL"
    params: list[object] = [user_id]
    if since_ts is not None:
        sql += " AND ts >= ?"
        params.append(since_ts)
    rows = await db.fetchall(sql + " ORDER BY ts, fill_id", params)
    return [(r["ts"], Decimal(r["realized_pnl"])) for r in rows]
