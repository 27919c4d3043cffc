"""Read-only queries for /daily and /performance: one user's closed trades, funding
payments and end-of-day equity, each since a time. Nothing here writes.

Amounts are stored as decimal text, so sums are made in Python (Decimal), never in SQL.
"""

from __future__ import annotations

from decimal import Decimal

from nija_tg.storage.db import Database

MAX_ROWS = 100_000  # a runaway history is cut, never loaded whole


async def closed_trades(
    db: Database, user_id: int, since: float | None = None
) -> list[tuple[float, str, Decimal]]:
    """(ts seconds, symbol, realised P&L) of every fill that reduced a position since
    ``since`` (None: all), oldest first."""
    sql = (
        "SELECT ts, symbol, realized_pnl FROM fills WHERE user_id = ? AND realized_pnl IS NOT NULL"
    )
    params: list[object] = [user_id]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    rows = await db.fetchall(sql + " ORDER BY ts, fill_id LIMIT ?", [*params, MAX_ROWS])
    return [(r["ts"], str(r["symbol"]), Decimal(r["realized_pnl"])) for r in rows]


async def fills_since(db: Database, user_id: int, since: float | None = None) -> list[float]:
    """The time (seconds) of every fill since ``since``, oldest first."""
    sql = "SELECT ts FROM fills WHERE user_id = ?"
    params: list[object] = [user_id]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    rows = await db.fetchall(sql + " ORDER BY ts LIMIT ?", [*params, MAX_ROWS])
    return [r["ts"] for r in rows]


async def funding_by_symbol(
    db: Database, user_id: int, since: float | None = None
) -> list[tuple[float, str, Decimal]]:
    """(settlement ts, symbol, signed amount) of this user's swap funding payments."""
    sql = "SELECT ts, symbol, amount FROM funding_payments WHERE user_id = ?"
    params: list[object] = [user_id]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    rows = await db.fetchall(sql + " ORDER BY ts, funding_id LIMIT ?", [*params, MAX_ROWS])
    return [(r["ts"], str(r["symbol"]), Decimal(r["amount"])) for r in rows]


async def day_end_equity(
    db: Database, user_id: int, since: float | None = None
) -> dict[str, Decimal]:
    """The last recorded equity of each UTC day (``YYYY-MM-DD``) since ``since``."""
    lower = -1.0 if since is None else since
    rows = await db.fetchall(
        """
        SELECT date(e.ts, 'unixepoch') AS day, e.equity
        FROM equity_history e
        JOIN (
            SELECT date(ts, 'unixepoch') AS day, MAX(ts) AS ts
            FROM equity_history WHERE user_id = ? AND ts >= ?
            GROUP BY date(ts, 'unixepoch')
        ) last ON last.ts = e.ts
        WHERE e.user_id = ?
        """,
        (user_id, lower, user_id),
    )
    return {str(r["day"]): Decimal(r["equity"]) for r in rows}


async def session_closed_trades(
    db: Database, user_id: int, session_ids: list[int]
) -> list[tuple[int, str, Decimal]]:
    """(session id, symbol, realised P&L) of every fill that reduced a position and
    belongs to an order of one of ``session_ids`` (the order's session: the one the
    engine counts the trade in)."""
    if not session_ids:
        return []
    marks = ", ".join("?" * len(session_ids))
    rows = await db.fetchall(
        "SELECT o.session_id, f.symbol, f.realized_pnl FROM fills f "
        "JOIN orders o ON o.order_id = f.order_id AND o.user_id = f.user_id "
        f"WHERE f.user_id = ? AND f.realized_pnl IS NOT NULL AND o.session_id IN ({marks}) "
        "ORDER BY f.ts, f.fill_id LIMIT ?",
        [user_id, *session_ids, MAX_ROWS],
    )
    return [(int(r["session_id"]), str(r["symbol"]), Decimal(r["realized_pnl"])) for r in rows]
