"""Outbox queries of the bot's sender that know about priorities: which chats to serve
first (those holding an alert before those holding only fills, before summaries), and
each notification kind's priority rank.

Ranks match ``nija_tg.telegram_out.budget.Priority`` (1 alert, 2 fill, 3 summary; 0 is
the user's own action, never an outbox row)."""

from __future__ import annotations

from collections.abc import Collection

from nija_tg.storage.db import Database

ALERT, FILL, SUMMARY = 1, 2, 3

# kind -> rank; kinds not listed are summaries
KIND_RANK = {
    "stop": ALERT,
    "daily_loss": ALERT,
    "drawdown": ALERT,
    "pause": ALERT,
    "halt": ALERT,
    "error": ALERT,
    "connection": ALERT,
    "account": ALERT,  # key verdicts: accepted, refused, key dead
    "fill": FILL,
    "take_profit": FILL,
    "info": FILL,
    "summary": SUMMARY,
    "broadcast": SUMMARY,
}


def rank(kind: str) -> int:
    return KIND_RANK.get(kind, SUMMARY)


_RANK_SQL = (
    "CASE o.kind "
    + " ".join(f"WHEN '{kind}' THEN {value}" for kind, value in KIND_RANK.items())
    + f" ELSE {SUMMARY} END"
)

_DUE = (
    "FROM outbox o LEFT JOIN users u ON u.user_id = o.user_id "
    "WHERE o.status = 'pending' AND o.not_before <= ? AND COALESCE(u.reachable, 1) = 1"
)


async def due_chats_by_priority(
    db: Database, now: float, *, exclude: Collection[int] = (), limit: int = 100
) -> list[tuple[int, int]]:
    """(chat_id, best rank) of chats with due pending rows of reachable users: the
    chats holding the most urgent row first, then the longest-waiting."""
    skip = list(exclude)
    extra = f" AND o.chat_id NOT IN ({','.join('?' * len(skip))})" if skip else ""
    rows = await db.fetchall(
        f"SELECT o.chat_id, MIN({_RANK_SQL}) AS best, MIN(o.outbox_id) AS first "
        f"{_DUE}{extra} GROUP BY o.chat_id ORDER BY best, first LIMIT ?",
        (now, *skip, limit),
    )
    return [(r["chat_id"], r["best"]) for r in rows]
