"""Funding payments of swap positions: one row per venue payment, keyed by (user_id,
exchange_id, payment_id) so that booking the same payment twice is a no-op. ``ts`` is
the venue's settlement time in seconds (UTC epoch); amounts are signed (> 0 received,
< 0 paid). The reports read them through ``report_queries.funding_since``."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.storage.db import Reader, Transaction


async def record(
    tx: Transaction,
    user_id: int,
    exchange_id: str,
    mode: str,
    *,
    payment_id: str,
    symbol: str,
    currency: str,
    amount: Decimal,
    ts: float,
    session_id: int | None,
    now: float,
) -> bool:
    """Book one payment; False when it was booked already (nothing changes)."""
    cur = await tx.execute(
        "INSERT OR IGNORE INTO funding_payments (user_id, exchange_id, mode, payment_id, "
        "symbol, currency, amount, ts, session_id, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            exchange_id,
            mode,
            payment_id,
            symbol,
            currency,
            str(amount),
            ts,
            session_id,
            now,
        ),
    )
    return cur.rowcount > 0


async def last_ts(db: Reader, user_id: int, exchange_id: str) -> float | None:
    """Settlement time of the newest payment booked for this account (None: none)."""
    row = await db.fetchone(
        "SELECT MAX(ts) AS ts FROM funding_payments WHERE user_id = ? AND exchange_id = ?",
        (user_id, exchange_id),
    )
    return None if row is None or row["ts"] is None else float(row["ts"])


async def entry_time(db: Reader, user_id: int, symbol: str) -> float | None:
    """The venue's time (s) of this user's newest entry fill in ``symbol`` (a fill that
    realised nothing): when the position held there now was opened."""
    row = await db.fetchone(
        "SELECT MAX(ts) AS ts FROM fills WHERE user_id = ? AND symbol = ? AND realized_pnl IS NULL",
        (user_id, symbol),
    )
    return None if row is None or row["ts"] is None else float(row["ts"])
