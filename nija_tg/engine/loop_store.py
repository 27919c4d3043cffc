"""What the trading loop keeps in the database besides orders and fills: the per-user
snapshot the bot reads (equity, balances, positions, last signal, start-of-day and peak
equity) and the equity history behind charts and drawdown figures.

Timestamps: ``equity_history.ts`` and ``snapshots.updated_at`` are UTC epoch seconds of
the engine clock (simulated time in a backtest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.core.models import BalanceLine
from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.positions import PositionRow


@dataclass(frozen=True, slots=True)
class SnapshotState:
    equity: Decimal | None
    start_of_day_equity: Decimal | None
    peak_equity: Decimal | None
    day: str | None


def _opt(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


async def load_snapshot(db: Database, user_id: int) -> SnapshotState | None:
    row = await db.fetchone(
        "SELECT equity, start_of_day_equity, peak_equity, day FROM snapshots WHERE user_id = ?",
        (user_id,),
    )
    if row is None:
        return None
    return SnapshotState(
        _opt(row["equity"]), _opt(row["start_of_day_equity"]), _opt(row["peak_equity"]), row["day"]
    )


def _balances_json(balances: list[BalanceLine]) -> str:
    return json.dumps(
        [
            {
                "currency": b.currency,
                "free": str(b.free),
                "used": str(b.used),
                "total": str(b.total),
            }
            for b in balances
        ]
    )


def _positions_json(positions: list[PositionRow], prices: dict[str, Decimal]) -> str:
    out = []
    for p in positions:
        price = prices.get(p.symbol)
        sign = 1 if p.side == "long" else -1
        upnl = None if price is None else (price - p.entry_price) * p.amount * sign
        out.append(
            {
                "symbol": p.symbol,
                "side": p.side,
                "amount": str(p.amount),
                "entry_price": str(p.entry_price),
                "stop_price": None if p.stop_price is None else str(p.stop_price),
                "mark_price": None if price is None else str(price),
                "unrealized_pnl": None if upnl is None else str(upnl),
            }
        )
    return json.dumps(out)


async def save_snapshot(
    tx: Transaction,
    user_id: int,
    *,
    ts_s: float,
    equity: Decimal,
    balances: list[BalanceLine],
    positions: list[PositionRow],
    prices: dict[str, Decimal],
    last_signal: dict[str, Any] | None,
    start_of_day_equity: Decimal,
    peak_equity: Decimal,
    day: str,
    record_history: bool = True,
) -> None:
    """Upsert the user's snapshot and append one equity point."""
    await tx.execute(
        "INSERT INTO snapshots(user_id, equity, balances, positions, last_signal, "
        "start_of_day_equity, peak_equity, day, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET equity = excluded.equity, "
        "balances = excluded.balances, positions = excluded.positions, "
        "last_signal = COALESCE(excluded.last_signal, snapshots.last_signal), "
        "start_of_day_equity = excluded.start_of_day_equity, "
        "peak_equity = excluded.peak_equity, day = excluded.day, "
        "updated_at = excluded.updated_at",
        (
            user_id,
            str(equity),
            _balances_json(balances),
            _positions_json(positions, prices),
            None if last_signal is None else json.dumps(last_signal, default=str),
            str(start_of_day_equity),
            str(peak_equity),
            day,
            ts_s,
        ),
    )
    if record_history:
        await tx.execute(
            "INSERT OR REPLACE INTO equity_history(user_id, ts, equity) VALUES (?, ?, ?)",
            (user_id, ts_s, str(equity)),
        )


async def equity_series(db: Database, user_id: int) -> list[tuple[float, Decimal]]:
    rows = await db.fetchall(
        "SELECT ts, equity FROM equity_history WHERE user_id = ? ORDER BY ts", (user_id,)
    )
    return [(r["ts"], Decimal(r["equity"])) for r in rows]
