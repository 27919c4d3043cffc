"""Open positions as the engine books them from fills: one row per (user, symbol, side).
A row exists only while the position is open; closing deletes it. Stops and the trailing
anchor are set by the trading loop and survive adds. Each row records the mode (paper or
live) it was opened in: a user's loop manages only the positions of its own mode."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal

from nija_tg.storage.db import Batched, Database, Reader, Transaction


@dataclass(frozen=True, slots=True)
class PositionRow:
    user_id: int
    symbol: str
    side: str  # "long" | "short"
    amount: Decimal
    entry_price: Decimal
    stop_price: Decimal | None
    trail_anchor: Decimal | None
    realized_pnl: Decimal  # net P&L already realised by partial reductions
    entry_fees: Decimal  # entry fees not yet charged to realised P&L
    opened_at: float
    updated_at: float
    mode: str | None = None  # "paper" | "live" (None: rows from before it was recorded)


# Writes this process made to each user's positions, by any path: the statements that
# run at once (``upsert``, ``delete``, ``set_stop``) and the writes left for a COMMIT
# (``*_later``, ``set_stop_soon``). A trading loop's view of the positions
# (``engine/held_positions.py``) knows how many of them were its own: a count that moved
# by more was written around it, and the view reads the rows again.
_written: dict[int, int] = {}


def written(user_id: int) -> int:
    """How many writes this process made to ``user_id``'s positions (a counter)."""
    return _written.get(user_id, 0)


def _wrote(user_id: int) -> None:
    _written[user_id] = _written.get(user_id, 0) + 1


def _opt(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _row(r: sqlite3.Row) -> PositionRow:
    return PositionRow(
        user_id=r["user_id"],
        symbol=r["symbol"],
        side=r["side"],
        amount=Decimal(r["amount"]),
        entry_price=Decimal(r["entry_price"]),
        stop_price=_opt(r["stop_price"]),
        trail_anchor=_opt(r["trail_anchor"]),
        realized_pnl=Decimal(r["realized_pnl"]),
        entry_fees=Decimal(r["entry_fees"]),
        opened_at=r["opened_at"],
        updated_at=r["updated_at"],
        mode=r["mode"],
    )


async def list_for_user(db: Reader, user_id: int, mode: str | None = None) -> list[PositionRow]:
    """The user's open positions, oldest first; with ``mode``, only those opened in that
    mode (and rows that do not say)."""
    if mode is None:
        rows = await db.fetchall(
            "SELECT * FROM positions WHERE user_id = ? ORDER BY opened_at, symbol, side",
            (user_id,),
        )
    else:
        rows = await db.fetchall(
            "SELECT * FROM positions WHERE user_id = ? AND (mode IS NULL OR mode = ?) "
            "ORDER BY opened_at, symbol, side",
            (user_id, mode),
        )
    return [_row(r) for r in rows]


async def for_symbol(db: Reader, user_id: int, symbol: str) -> dict[str, PositionRow]:
    """This user's open sides of ``symbol``: {"long": row, "short": row} (either may lack)."""
    rows = await db.fetchall(
        "SELECT * FROM positions WHERE user_id = ? AND symbol = ?", (user_id, symbol)
    )
    return {r["side"]: _row(r) for r in rows}


async def get(db: Reader, user_id: int, symbol: str, side: str) -> PositionRow | None:
    r = await db.fetchone(
        "SELECT * FROM positions WHERE user_id = ? AND symbol = ? AND side = ?",
        (user_id, symbol, side),
    )
    return None if r is None else _row(r)


async def upsert(
    tx: Transaction,
    user_id: int,
    symbol: str,
    side: str,
    *,
    amount: Decimal,
    entry_price: Decimal,
    entry_fees: Decimal,
    realized_pnl: Decimal,
    mode: str | None = None,
) -> None:
    """Open or resize a position; an existing row keeps its stop, trailing anchor and
    mode. A new row records ``mode`` (default: the user's mode now)."""
    now = time.time()
    await upsert_row(
        tx,
        PositionRow(
            user_id, symbol, side, amount, entry_price, None, None, realized_pnl,
            entry_fees, now, now, mode,
        ),
    )  # fmt: skip


def _upsert_params(row: PositionRow) -> tuple:
    """An upsert's values (``upsert_row``'s and ``upsert_later``'s), in column order."""
    return (
        row.user_id,
        row.symbol,
        row.side,
        str(row.amount),
        str(row.entry_price),
        str(row.entry_fees),
        str(row.realized_pnl),
        row.opened_at,
        row.updated_at,
        row.mode,
    )


_UPSERT_COLUMNS = (
    "INSERT INTO positions(user_id, symbol, side, amount, entry_price, entry_fees, "
    "realized_pnl, opened_at, updated_at, mode) VALUES "
)
_ON_CONFLICT = (
    " ON CONFLICT(user_id, symbol, side) DO UPDATE SET amount = excluded.amount, "
    "entry_price = excluded.entry_price, entry_fees = excluded.entry_fees, "
    "realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at"
)


async def upsert_row(tx: Transaction, row: PositionRow) -> None:
    """``row`` written at once: its amounts, its ``opened_at``/``updated_at`` and its
    mode for a new row (None: the user's mode now); an existing row keeps its stop,
    anchor, ``opened_at`` and mode (``row``'s stop and anchor are never written)."""
    _wrote(row.user_id)
    await tx.execute(
        f"{_UPSERT_COLUMNS}(?, ?, ?, ?, ?, ?, ?, ?, ?, "
        f"COALESCE(?, (SELECT mode FROM users WHERE user_id = ?))){_ON_CONFLICT}",
        (*_upsert_params(row), row.user_id),
    )


async def delete(tx: Transaction, user_id: int, symbol: str, side: str) -> None:
    _wrote(user_id)
    await tx.execute(
        "DELETE FROM positions WHERE user_id = ? AND symbol = ? AND side = ?",
        (user_id, symbol, side),
    )


async def set_stop(
    tx: Transaction,
    user_id: int,
    symbol: str,
    side: str,
    stop_price: Decimal | None,
    trail_anchor: Decimal | None = None,
) -> bool:
    """Set the stop (and trailing anchor) of an open position; False when none is open."""
    _wrote(user_id)
    cur = await tx.execute(
        "UPDATE positions SET stop_price = ?, trail_anchor = ?, updated_at = ? "
        "WHERE user_id = ? AND symbol = ? AND side = ?",
        (
            None if stop_price is None else str(stop_price),
            None if trail_anchor is None else str(trail_anchor),
            time.time(),
            user_id,
            symbol,
            side,
        ),
    )
    return bool(cur.rowcount)


# --- writes left for the group's COMMIT (``Transaction.later``): one statement per group


def _key(user_id: int, symbol: str, side: str) -> tuple[str, int, str, str]:
    return ("position", user_id, symbol, side)


_UPSERT_LATER = Batched(_UPSERT_COLUMNS, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _ON_CONFLICT)
_DELETE_LATER = Batched(
    "DELETE FROM positions WHERE (user_id, symbol, side) IN (VALUES ", "(?, ?, ?)", ")"
)
_STOP_LATER = Batched(
    "UPDATE positions SET stop_price = v.column4, trail_anchor = v.column5, "
    "updated_at = v.column6 FROM (VALUES ",
    "(?, ?, ?, ?, ?, ?)",
    ") AS v WHERE positions.user_id = v.column1 AND positions.symbol = v.column2 "
    "AND positions.side = v.column3",
)


def upsert_later(tx: Transaction, row: PositionRow) -> None:
    """``upsert_row`` left for the group's COMMIT (the same values; a new row's mode is
    ``row.mode`` as it is: the executor always knows it)."""
    _wrote(row.user_id)
    tx.later(_UPSERT_LATER, _key(row.user_id, row.symbol, row.side), _upsert_params(row))


def delete_later(tx: Transaction, user_id: int, symbol: str, side: str) -> None:
    """``delete`` left for the group's COMMIT."""
    _wrote(user_id)
    tx.later(_DELETE_LATER, _key(user_id, symbol, side), (user_id, symbol, side))


async def set_stop_soon(
    db: Database,
    user_id: int,
    symbol: str,
    side: str,
    stop_price: Decimal | None,
    trail_anchor: Decimal | None,
    updated_at: float,
) -> None:
    """``set_stop`` left for a group's COMMIT without a transaction body of its own
    (``Database.write_later``: one statement for every stop moved in the group);
    returns once committed. A position no longer open is left as it is."""
    _wrote(user_id)
    await db.write_later(
        _STOP_LATER,
        ("position.stop", user_id, symbol, side),
        (
            user_id,
            symbol,
            side,
            None if stop_price is None else str(stop_price),
            None if trail_anchor is None else str(trail_anchor),
            updated_at,
        ),
    )
