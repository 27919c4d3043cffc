"""Requests to close open positions at market (/close and the Close button on
/positions): the bot writes one (and bumps the change counter, in the same transaction),
the user's engine loop closes what it names on its next step and answers it once.

A request names one symbol (and side) or, with ``symbol`` NULL, every open position.
Status: ``pending`` until the loop handled it, then ``done`` (an order went out),
``nothing`` (no such open position any more: answered politely) or ``failed`` (the
exchange refused the close: the user was told why).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from nija_tg.storage.db import Reader, Transaction
from nija_tg.storage.users import bump_change_counter

PENDING, DONE, NOTHING, FAILED = "pending", "done", "nothing", "failed"


@dataclass(frozen=True, slots=True)
class CloseRequest:
    request_id: int
    user_id: int
    symbol: str | None  # None: every open position
    side: str | None  # None: every side of ``symbol``
    status: str
    result: str | None
    created_at: float

    def covers(self, symbol: str, side: str) -> bool:
        return (self.symbol is None or self.symbol == symbol) and (
            self.side is None or self.side == side
        )


def _row(r: sqlite3.Row) -> CloseRequest:
    return CloseRequest(
        request_id=r["request_id"],
        user_id=r["user_id"],
        symbol=r["symbol"],
        side=r["side"],
        status=r["status"],
        result=r["result"],
        created_at=r["created_at"],
    )


async def request(
    tx: Transaction, user_id: int, symbol: str | None, side: str | None = None
) -> tuple[int, bool]:
    """Ask the engine to close ``symbol`` (``side``; None: both) or, with ``symbol``
    None, everything. Returns (request id, new); a pending request asking the same is
    reused (a double press closes once)."""
    same = await tx.fetchone(
        "SELECT request_id FROM close_requests WHERE user_id = ? AND status = 'pending' "
        "AND symbol IS ? AND side IS ? ORDER BY request_id LIMIT 1",
        (user_id, symbol, side),
    )
    if same is not None:
        return same["request_id"], False
    cur = await tx.execute(
        "INSERT INTO close_requests(user_id, symbol, side, created_at) VALUES (?, ?, ?, ?)",
        (user_id, symbol, side, time.time()),
    )
    await bump_change_counter(tx)  # the engine sees it within its poll (0.25 s)
    assert cur.lastrowid is not None
    return cur.lastrowid, True


async def pending_for_user(db: Reader, user_id: int) -> list[CloseRequest]:
    rows = await db.fetchall(
        "SELECT * FROM close_requests WHERE status = 'pending' AND user_id = ? ORDER BY request_id",
        (user_id,),
    )
    return [_row(r) for r in rows]


async def users_with_pending(db: Reader) -> set[int]:
    """Every user with a request waiting (one indexed query for all users)."""
    rows = await db.fetchall("SELECT DISTINCT user_id FROM close_requests WHERE status = 'pending'")
    return {r["user_id"] for r in rows}


async def finish(tx: Transaction, request_id: int, status: str, result: str = "") -> bool:
    """Mark a pending request handled; False when it was not pending any more."""
    cur = await tx.execute(
        "UPDATE close_requests SET status = ?, result = ?, done_at = ? "
        "WHERE request_id = ? AND status = 'pending'",
        (status, result[:200], time.time(), request_id),
    )
    return bool(cur.rowcount)


async def get(db: Reader, request_id: int) -> CloseRequest | None:
    r = await db.fetchone("SELECT * FROM close_requests WHERE request_id = ?", (request_id,))
    return None if r is None else _row(r)
