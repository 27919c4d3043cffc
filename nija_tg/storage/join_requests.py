"""Join requests of approval mode: one row per newcomer, pending until an admin decides.
``asked_at`` is when an admin was last shown the request (NULL: no admin has seen it)."""

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
    asked_at: float | None = None  # an admin last shown it (None: no admin yet)


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
        r["asked_at"],
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


# pending and not registered meanwhile (e.g. by /start while registration was open)
_WAITING = (
    "FROM join_requests j WHERE j.status = 'pending' "
    "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = j.user_id)"
)


async def pending(db: Reader, limit: int = 50) -> list[JoinRequest]:
    """Requests waiting for an admin's decision, the oldest first."""
    rows = await db.fetchall(
        f"SELECT j.* {_WAITING} ORDER BY j.requested_at, j.user_id LIMIT ?", (limit,)
    )
    return [_row(r) for r in rows]


async def pending_count(db: Reader) -> int:
    row = await db.fetchone(f"SELECT COUNT(*) AS n {_WAITING}")
    return row["n"] if row else 0


async def mark_asked(tx: Transaction, user_ids: list[int], now: float) -> None:
    """An admin was shown these pending requests at ``now``."""
    if not user_ids:
        return
    marks = ",".join("?" * len(user_ids))
    await tx.execute(
        f"UPDATE join_requests SET asked_at = ? WHERE user_id IN ({marks}) AND status = 'pending'",
        (now, *user_ids),
    )
