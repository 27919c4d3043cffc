"""Orders: our client order id and state machine row, written before anything is sent.

Every function takes the user id and only ever touches that user's rows. Amounts and
prices are Decimal stored as TEXT.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Required, TypedDict, Unpack

from nija_tg.core.models import (
    TERMINAL_ORDER_STATUSES,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
)
from nija_tg.storage.db import Batched, Database, Reader, Transaction

UNRESOLVED = (OrderStatus.INTENT, OrderStatus.SUBMITTED, OrderStatus.OPEN)


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: int
    user_id: int
    client_order_id: str
    exchange_id: str
    mode: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None
    purpose: str
    status: OrderStatus
    exchange_order_id: str | None
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    error: str | None
    session_id: int | None
    reduce_only: bool
    position_side: str | None
    created_at: float
    updated_at: float
    trigger_price: Decimal | None = None  # set on exchange-native stop orders
    stop_price: Decimal | None = None  # the position's stop when the engine closed it itself
    refusal: str | None = None  # what the exchange refused it for (see ``refusal_run``)

    @property
    def native_stop(self) -> bool:
        """A stop-market order resting on the exchange (not the engine's market close)."""
        return self.trigger_price is not None


def _opt(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _row(r: sqlite3.Row | None) -> OrderRow | None:
    if r is None:
        return None
    return OrderRow(
        order_id=r["order_id"],
        user_id=r["user_id"],
        client_order_id=r["client_order_id"],
        exchange_id=r["exchange_id"],
        mode=r["mode"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        type=OrderType(r["type"]),
        amount=Decimal(r["amount"]),
        price=_opt(r["price"]),
        purpose=r["purpose"],
        status=OrderStatus(r["status"]),
        exchange_order_id=r["exchange_order_id"],
        filled=Decimal(r["filled"]),
        average=_opt(r["average"]),
        fee=Decimal(r["fee"]),
        error=r["error"],
        session_id=r["session_id"],
        reduce_only=bool(r["reduce_only"]),
        position_side=r["position_side"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        trigger_price=_opt(r["trigger_price"]),
        stop_price=_opt(r["stop_price"]),
        refusal=r["refusal"],
    )


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class NewOrder(TypedDict, total=False):
    """A new order row's fields: the keywords of ``insert``, ``create`` and
    ``insert_soon`` (one signature, one row builder: ``_new_row``)."""

    user_id: Required[int]
    client_order_id: Required[str]
    exchange_id: Required[str]
    mode: Required[str]
    symbol: Required[str]
    side: Required[Side]
    type: Required[OrderType]
    amount: Required[Decimal]
    price: Decimal | None  # default None
    purpose: str  # default "entry"
    session_id: int | None  # default None
    reduce_only: bool  # default False
    position_side: str | None  # default None
    status: OrderStatus  # default: the writer's (INTENT for insert, SUBMITTED for soon)
    exchange_order_id: str | None  # default None
    trigger_price: Decimal | None  # default None
    stop_price: Decimal | None  # default None


_NEW_ORDER_KEYS = frozenset(NewOrder.__annotations__)


async def create(tx: Transaction, **fields: Unpack[NewOrder]) -> int:
    """Insert a new order row (``insert``'s fields); returns its id."""
    return (await insert(tx, **fields)).order_id


_INSERT_HEAD = (
    "INSERT INTO orders(user_id, client_order_id, exchange_id, mode, symbol, side, type, "
    "amount, price, purpose, status, exchange_order_id, session_id, reduce_only, "
    "position_side, trigger_price, stop_price, created_at, updated_at) VALUES "
)
_INSERT_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _new_row(fields: NewOrder, status: OrderStatus) -> tuple:
    """A new order row's values in ``_INSERT_HEAD``'s column order (created now);
    ``status`` when ``fields`` do not say. A keyword ``NewOrder`` lacks is refused (as
    a signature would)."""
    if not fields.keys() <= _NEW_ORDER_KEYS:
        unknown = sorted(fields.keys() - _NEW_ORDER_KEYS)
        raise TypeError(f"unexpected order field(s): {', '.join(unknown)}")
    now = time.time()
    return (
        fields["user_id"],
        fields["client_order_id"],
        fields["exchange_id"],
        fields["mode"],
        fields["symbol"],
        fields["side"].value,
        fields["type"].value,
        str(fields["amount"]),
        _s(fields.get("price")),
        fields.get("purpose", "entry"),
        fields.get("status", status).value,
        fields.get("exchange_order_id"),
        fields.get("session_id"),
        int(fields.get("reduce_only", False)),
        fields.get("position_side"),
        _s(fields.get("trigger_price")),
        _s(fields.get("stop_price")),
        now,
        now,
    )


def _as_written(order_id: int, fields: NewOrder, p: tuple) -> OrderRow:
    """The row ``_new_row``'s values ``p`` make once inserted as ``order_id`` (the values
    are ours: nothing is parsed back but the text of Decimals, ~15 us an order)."""
    return OrderRow(
        order_id,
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        fields["side"],
        fields["type"],
        Decimal(p[7]),
        _opt(p[8]),
        p[9],
        OrderStatus(p[10]),  # the default's when ``fields`` do not say
        p[11],
        _ZERO,
        None,
        _ZERO,
        None,
        p[12],
        bool(p[13]),
        p[14],
        p[17],
        p[18],
        _opt(p[15]),
        _opt(p[16]),
        None,
    )


async def insert(tx: Transaction, **fields: Unpack[NewOrder]) -> OrderRow:
    """Insert a new order row (status INTENT unless ``fields`` say); returns it as
    stored (one statement: ``RETURNING``)."""
    params = _new_row(fields, OrderStatus.INTENT)
    row = await tx.fetchone(f"{_INSERT_HEAD}{_INSERT_VALUES} RETURNING *", params)
    out = _row(row)
    assert out is not None
    return out


# only the id comes back (the row is built from the values written: ``_as_written``)
_INSERT_LATER = Batched(
    _INSERT_HEAD,
    _INSERT_VALUES,
    " RETURNING order_id, client_order_id",
    returning="client_order_id",
)
_STATE_LATER = Batched(
    "UPDATE orders SET status = v.column3, filled = v.column4, average = v.column5, "
    "fee = v.column6, exchange_order_id = v.column7, updated_at = v.column8 FROM (VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?)",
    ") AS v WHERE orders.user_id = v.column1 AND orders.order_id = v.column2",
)


async def insert_soon(db: Database, **fields: Unpack[NewOrder]) -> OrderRow:
    """``insert`` of a new order (status SUBMITTED unless ``fields`` say: the
    executor's, committed before its send) left for a group's COMMIT, without a
    transaction body of its own (``Database.write_later``); returns the row once
    committed, as the group's one multi-row insert returned it."""
    params = _new_row(fields, OrderStatus.SUBMITTED)
    slot = await db.write_later(
        _INSERT_LATER,
        ("order.new", fields["client_order_id"]),
        params,
        returned=True,
    )
    assert slot is not None
    r = slot.row
    if r is None:
        raise RuntimeError("the order's insert returned no row")
    return _as_written(r["order_id"], fields, params)


_ZERO = Decimal(0)


def _moved(
    o: OrderRow,
    status: OrderStatus,
    filled: Decimal,
    average: Decimal | None,
    fee: Decimal,
    exchange_order_id: str | None,
    updated_at: float,
) -> OrderRow:
    """``o`` with a new state: ``dataclasses.replace`` written out (it runs several
    times per order, where the generic one cost ~35 us over the 25 fields)."""
    return OrderRow(
        o.order_id,
        o.user_id,
        o.client_order_id,
        o.exchange_id,
        o.mode,
        o.symbol,
        o.side,
        o.type,
        o.amount,
        o.price,
        o.purpose,
        status,
        exchange_order_id,
        filled,
        average,
        fee,
        o.error,
        o.session_id,
        o.reduce_only,
        o.position_side,
        o.created_at,
        updated_at,
        o.trigger_price,
        o.stop_price,
        o.refusal,
    )


def apply_state_later(tx: Transaction, known: OrderRow, state: OrderState) -> OrderRow | None:
    """``apply_state_rows`` against ``known`` (the row as the caller last wrote it: an
    order in flight that no other path touches), the update left for the group's
    COMMIT. Returns the row as it will be stored, or None when ``state`` changes
    nothing (the caller then reads the row: ``apply_state_rows``)."""
    after = _applied(known, state)
    if after is None:
        return None
    tx.later(
        _STATE_LATER,
        ("order.state", known.order_id),
        (
            known.user_id,
            known.order_id,
            after.status.value,
            str(after.filled),
            _s(after.average),
            str(after.fee),
            after.exchange_order_id,
            after.updated_at,
        ),
    )
    return after


def _applied(current: OrderRow, state: OrderState) -> OrderRow | None:
    """``current`` with the exchange's view ``state`` taken (a terminal status is
    never left, the filled amount never decreases); None when nothing changes."""
    status = state.status
    if current.status in TERMINAL_ORDER_STATUSES and status is not current.status:
        status = current.status
    filled = max(current.filled, state.filled)
    average = state.average if state.average is not None else current.average
    fee = max(current.fee, state.fee)
    exch_id = state.exchange_order_id or current.exchange_order_id
    if (
        status is current.status
        and filled == current.filled
        and average == current.average
        and fee == current.fee
        and exch_id == current.exchange_order_id
    ):
        return None
    return _moved(current, status, filled, average, fee, exch_id, time.time())


async def adopt(
    tx: Transaction,
    *,
    user_id: int,
    exchange_id: str,
    mode: str,
    state: OrderState,
    session_id: int | None = None,
) -> int | None:
    """Insert an order found on the exchange that the database lacks (ours by its client
    id). Returns the new id, or None when the client id is known already."""
    assert state.client_order_id
    row = await tx.fetchone(
        "SELECT 1 FROM orders WHERE client_order_id = ?", (state.client_order_id,)
    )
    if row is not None:
        return None
    order_id = await create(
        tx,
        user_id=user_id,
        client_order_id=state.client_order_id,
        exchange_id=exchange_id,
        mode=mode,
        symbol=state.symbol,
        side=state.side,
        type=state.type,
        amount=state.amount,
        price=state.price,
        purpose="stop" if state.trigger_price is not None else "adopted",
        session_id=session_id,
        status=OrderStatus.OPEN,
        exchange_order_id=state.exchange_order_id,
        trigger_price=state.trigger_price,
    )
    return order_id


async def mark_submitted(tx: Transaction, user_id: int, order_id: int) -> OrderRow | None:
    """Returns the row as stored (``RETURNING``: no read after the write)."""
    return await _set_status(tx, user_id, order_id, OrderStatus.SUBMITTED, None)


async def mark_rejected(
    tx: Transaction, user_id: int, order_id: int, error: str, refusal: str | None = None
) -> OrderRow | None:
    """``refusal``: set when the exchange refused the order (a kind: insufficient funds,
    or a digest of the reason); None for "not processed", "not found" and the like.
    Returns the row as stored."""
    return await _set_status(tx, user_id, order_id, OrderStatus.REJECTED, error, refusal)


async def amend_terms(
    tx: Transaction, user_id: int, order_id: int, amount: Decimal, trigger_price: Decimal
) -> None:
    """A resting stop order amended in place on the exchange: its new amount and trigger."""
    await tx.execute(
        "UPDATE orders SET amount = ?, trigger_price = ?, updated_at = ? "
        "WHERE user_id = ? AND order_id = ?",
        (str(amount), str(trigger_price), time.time(), user_id, order_id),
    )


async def _set_status(
    tx: Transaction,
    user_id: int,
    order_id: int,
    status: OrderStatus,
    error: str | None,
    refusal: str | None = None,
) -> OrderRow | None:
    return _row(
        await tx.fetchone(
            "UPDATE orders SET status = ?, error = COALESCE(?, error), "
            "refusal = COALESCE(?, refusal), updated_at = ? "
            "WHERE user_id = ? AND order_id = ? RETURNING *",
            (status.value, error, refusal, time.time(), user_id, order_id),
        )
    )


async def apply_state(tx: Transaction, user_id: int, order_id: int, state: OrderState) -> bool:
    """Take the exchange's view of the order. A terminal status is never left and the
    filled amount never decreases. Returns True when anything changed."""
    before, after = await apply_state_rows(tx, user_id, order_id, state)
    return before is not None and after is not before


async def apply_state_rows(
    tx: Transaction,
    user_id: int,
    order_id: int,
    state: OrderState,
    known: OrderRow | None = None,
) -> tuple[OrderRow | None, OrderRow | None]:
    """``apply_state`` returning (the row before, the row after): the same object when
    nothing changed; the update returns its row (``RETURNING``), no read after it.

    ``known``: the row as the caller last wrote it (an order it just submitted): not
    read again; the update applies only if the row is still that one (same
    ``updated_at``), else the row is read and the state applied to it."""
    current = known if known is not None else await get(tx, user_id, order_id)
    if current is None:
        return None, None
    status = state.status
    if current.status in TERMINAL_ORDER_STATUSES and status is not current.status:
        status = current.status
    filled = max(current.filled, state.filled)
    average = state.average if state.average is not None else current.average
    fee = max(current.fee, state.fee)
    exch_id = state.exchange_order_id or current.exchange_order_id
    changed = (
        status is not current.status
        or filled != current.filled
        or average != current.average
        or fee != current.fee
        or exch_id != current.exchange_order_id
    )
    if not changed:
        if known is not None:  # unchanged against the caller's copy: make sure of it
            return await apply_state_rows(tx, user_id, order_id, state)
        return current, current
    after = _row(
        await tx.fetchone(
            "UPDATE orders SET status = ?, filled = ?, average = ?, fee = ?, "
            "exchange_order_id = ?, updated_at = ? WHERE user_id = ? AND order_id = ? "
            "AND (? IS NULL OR updated_at = ?) RETURNING *",
            (
                status.value,
                str(filled),
                _s(average),
                str(fee),
                exch_id,
                time.time(),
                user_id,
                order_id,
                None if known is None else 1,
                current.updated_at,
            ),
        )
    )
    if after is None and known is not None:  # the row moved on since: read it
        return await apply_state_rows(tx, user_id, order_id, state)
    return current, after


async def get(db: Reader, user_id: int, order_id: int) -> OrderRow | None:
    return _row(
        await db.fetchone(
            "SELECT * FROM orders WHERE user_id = ? AND order_id = ?", (user_id, order_id)
        )
    )


async def get_by_client_id(db: Reader, user_id: int, client_order_id: str) -> OrderRow | None:
    return _row(
        await db.fetchone(
            "SELECT * FROM orders WHERE user_id = ? AND client_order_id = ?",
            (user_id, client_order_id),
        )
    )


async def unresolved(db: Reader, user_id: int) -> list[OrderRow]:
    """This user's orders in intent, submitted or open state, oldest first."""
    rows = await db.fetchall(
        "SELECT * FROM orders WHERE user_id = ? AND status IN (?, ?, ?) ORDER BY order_id",
        (user_id, *(s.value for s in UNRESOLVED)),
    )
    return [r for r in map(_row, rows) if r is not None]


async def open_stops(db: Reader, user_id: int, symbol: str) -> list[OrderRow]:
    """This user's unresolved exchange-native stop orders on ``symbol``, oldest first."""
    rows = await db.fetchall(
        "SELECT * FROM orders WHERE user_id = ? AND symbol = ? AND trigger_price IS NOT NULL "
        "AND status IN (?, ?, ?) ORDER BY order_id",
        (user_id, symbol, *(s.value for s in UNRESOLVED)),
    )
    return [r for r in map(_row, rows) if r is not None]


ACCEPTED = (OrderStatus.OPEN, OrderStatus.FILLED, OrderStatus.CANCELED)
RUN_LOOKBACK = 200  # orders of one kind looked at to find where a run of refusals began


async def refusal_run(
    db: Reader, user_id: int, symbol: str, purposes: tuple[str, ...], native: bool
) -> int | None:
    """Where the current run of identical refusals began: the id of the oldest order of
    this kind (``symbol``, one of ``purposes``, exchange-native stop or not) refused for
    the same reason as the newest refused one, with no order of the kind accepted and
    none refused for another reason since. Orders rejected without a refusal (not
    processed, not found) and orders in flight neither break nor start a run. None when
    the newest order of the kind was accepted (or none was refused)."""
    marks = ",".join("?" * len(purposes))
    null = "IS NOT NULL" if native else "IS NULL"
    rows = await db.fetchall(
        f"SELECT order_id, status, refusal FROM orders WHERE user_id = ? AND symbol = ? "
        f"AND purpose IN ({marks}) AND trigger_price {null} ORDER BY order_id DESC LIMIT ?",
        (user_id, symbol, *purposes, RUN_LOOKBACK),
    )
    kind: str | None = None
    start: int | None = None
    for r in rows:
        status = OrderStatus(r["status"])
        if status in ACCEPTED:
            break
        if status is not OrderStatus.REJECTED or r["refusal"] is None:
            continue
        if kind is None:
            kind = r["refusal"]
        elif r["refusal"] != kind:
            break
        start = r["order_id"]
    return start


async def list_for_user(
    db: Reader,
    user_id: int,
    *,
    limit: int = 50,
    status: OrderStatus | None = None,
    symbol: str | None = None,
) -> list[OrderRow]:
    """Newest first."""
    sql = "SELECT * FROM orders WHERE user_id = ?"
    params: list[object] = [user_id]
    if status is not None:
        sql += " AND status = ?"
        params.append(status.value)
    if symbol is not None:
        sql += " AND symbol = ?"
        params.append(symbol)
    sql += " ORDER BY order_id DESC LIMIT ?"
    params.append(max(1, min(limit, 1000)))
    return [r for r in map(_row, await db.fetchall(sql, params)) if r is not None]
