"""Join requests of approval mode: one row per newcomer, pending until an admin decides."""

from __future__ import annotations

import time
from dataclasses import dataclass

from nija_tg.storage.db import Reader, Transaction


@dataclass(frozen=True)
class JoinRequest:
    user_id: int
    chat_id: int
    username: str | None
    first_name: str | None
    status: str  # pending | approved | rejected
    requested_at: float
    decided_by: int | None
    decided_at: float | None


def _row(r) -> JoinRequest:
    return JoinRequest(
        r["user_id"],
        r["chat_id"],
        r["username"],
        r["first_name"],
        r["status"],
        r["requested_at"],
        r["decided_by"],
        r["decided_at"],
    )


async def get(db: Reader, user_id: int) -> JoinRequest | None:
    row = await db.fetchone("SELECT * FROM join_requests WHERE user_id = ?", (user_id,))
    return None if row is None else _row(row)


async def create(
    tx: Transaction, user_id: int, chat_id: int, username: str | None, first_name: str | None
) -> bool:
    """A new pending request; False when the user already has one (any status)."""
    cur = await tx.execute(
        "INSERT OR IGNORE INTO join_requests(user_id, chat_id, username, first_name, "
        "requested_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, chat_id, username, first_name, time.time()),
    )
    return cur.rowcount == 1


async def decide(tx: Transaction, user_id: int, approve: bool, admin_id: int) -> bool:
    """Pending -> approved/rejected; False when it was not pending (decided already)."""
    cur = await tx.execute(
        "UPDATE join_requests SET status = ?, decided_by = ?, decided_at = ? "
        "WHERE user_id = ? AND status = 'pending'",
        ("approved" if approve else "rejected", admin_id, time.time(), user_id),
    )
    return cur.rowcount == 1


async def pending(db: Reader, limit: int = 50) -> list[JoinRequest]:
    rows = await db.fetchall(
        "SELECT * FROM join_requests WHERE status = 'pending' ORDER BY requested_at LIMIT ?",
        (limit,),
    )
    return [_row(r) for r in rows]
