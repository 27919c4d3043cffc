"""Read-only queries for reports that the engine's repositories do not provide.

Every function takes the id of the user it reports on and only ever reads that
user's rows. Nothing here writes.
"""

from __future__ import annotations

from decimal import Decimal

from nija_tg.storage.db import Database

DEFAULT_BUCKETS = 400


async def open_position_count(db: Database, user_id: int) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM positions WHERE user_id = ?", (user_id,))
    return int(row["n"]) if row else 0


async def equity_points(
    db: Database, user_id: int, *, since: float | None = None, buckets: int = DEFAULT_BUCKETS
) -> list[tuple[float, Decimal]]:
    """This user's equity history since ``since`` (epoch seconds; None: all), thinned in
    SQL to at most ``buckets`` + 1 points: the last point of each equal time slice, plus
    the very first point so a chart starts where the period starts. Oldest first."""
    buckets = max(1, min(buckets, 5000))
    lower = -1.0 if since is None else since
    rows = await db.fetchall(
        """
        WITH pts AS (
            SELECT ts, equity FROM equity_history WHERE user_id = ? AND ts >= ?
        ),
        bounds AS (SELECT MIN(ts) AS lo, MAX(ts) AS hi FROM pts),
        picked AS (
            SELECT MAX(pts.ts) AS ts FROM pts, bounds
            GROUP BY CAST((pts.ts - bounds.lo) * ? / MAX(bounds.hi - bounds.lo, 1e-9)
                          AS INTEGER)
            UNION
            SELECT lo FROM bounds WHERE lo IS NOT NULL
        )
        SELECT pts.ts, pts.equity FROM pts JOIN picked ON pts.ts = picked.ts ORDER BY pts.ts
        """,
        (user_id, lower, buckets),
    )
    return [(r["ts"], Decimal(r["equity"])) for r in rows]


async def equity_at_or_before(db: Database, user_id: int, ts: float) -> Decimal | None:
    """This user's last recorded equity at or before ``ts`` (None when none)."""
    row = await db.fetchone(
        "SELECT equity FROM equity_history WHERE user_id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
        (user_id, ts),
    )
    return None if row is None else Decimal(row["equity"])


async def fill_count(db: Database, user_id: int, since: float | None = None) -> int:
    """How many fills this user has (since ``since``, epoch seconds)."""
    sql = "SELECT COUNT(*) AS n FROM fills WHERE user_id = ?"
    params: list[object] = [user_id]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    row = await db.fetchone(sql, params)
    return int(row["n"]) if row else 0


async def has_equity_history(db: Database, user_id: int) -> bool:
    row = await db.fetchone("SELECT 1 FROM equity_history WHERE user_id = ? LIMIT 1", (user_id,))
    return row is not None


async def funding_since(
    db: Database, user_id: int, since: float | None = None
) -> list[tuple[float, Decimal]]:
    """(settlement time in epoch seconds, signed amount) of this user's funding payments
    since ``since`` (None: all), oldest first (storage/funding.py books them)."""
    sql = "SELECT ts, amount FROM funding_payments WHERE user_id = ?"
    params: list[object] = [user_id]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    rows = await db.fetchall(sql + " ORDER BY ts, funding_id", params)
    return [(r["ts"], Decimal(r["amount"])) for r in rows]


async def exchange_of(db: Database, user_id: int) -> str | None:
    """The exchange of this user's stored key (only its id is read), or None."""
    row = await db.fetchone("SELECT exchange_id FROM credentials WHERE user_id = ?", (user_id,))
    return None if row is None else str(row["exchange_id"])


async def fill_prices(
    db: Database, user_id: int, symbols: list[str], limit: int = 500
) -> dict[str, list[Decimal]]:
    """The prices of this user's newest ``limit`` fills of ``symbols``, per symbol, as
    stored (the exact decimals the exchange returned, or a paper fill's at the step)."""
    out: dict[str, list[Decimal]] = {}
    wanted = sorted(set(symbols))[:200]
    if not wanted:
        return out
    marks = ", ".join("?" for _ in wanted)
    rows = await db.fetchall(
        f"SELECT symbol, price FROM fills WHERE user_id = ? AND symbol IN ({marks}) "
        "ORDER BY ts DESC LIMIT ?",
        (user_id, *wanted, max(1, limit)),
    )
    for r in rows:
        out.setdefault(r["symbol"], []).append(Decimal(r["price"]))
    return out
