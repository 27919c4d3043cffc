"""What the trading loop keeps besides orders and fills, through storage/snapshots.py:
the per-user snapshot the bot reads (equity, balances, positions with open P&L, last
signal, start-of-day and peak equity) and one equity point per candle close. The
snapshot is written again after an order filled (balances after the fill, for /balance)
without another equity point.

``equity_history.ts`` is UTC epoch seconds of the engine clock (simulated time in a
backtest)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from nija_tg.core.models import BalanceLine
from nija_tg.core.signals import Signal
from nija_tg.storage import snapshots
from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.positions import PositionRow

load_snapshot = snapshots.get


# (symbol, id(signal)) of a close's signals -> (those signals, their view): every user
# whose loop got the same signal objects from the hub (one per distinct strategy input)
# shares one view, so the snapshots' JSON of it is made once (``snapshots.save_many``)
_SIGNAL_VIEWS: dict[tuple[tuple[str, int], ...], tuple[tuple[Signal, ...], dict]] = {}
SIGNAL_VIEWS_KEPT = 4096


def signals_view(signals: dict[str, Signal]) -> dict[str, dict[str, Any]] | None:
    """The snapshot's ``last_signal`` of a close's signals (symbol -> action, confidence,
    reason; None without any). The same signal objects give the same dict object: it is
    shared between users and must not be changed."""
    if not signals:
        return None
    key = tuple((symbol, id(g)) for symbol, g in signals.items())
    hit = _SIGNAL_VIEWS.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], signals.values(), strict=True)):
        return hit[1]  # the same objects (kept alive by the entry: their ids are theirs)
    view = {
        s: {"action": str(g.action), "confidence": g.confidence, "reason": g.reason}
        for s, g in signals.items()
    }
    if len(_SIGNAL_VIEWS) >= SIGNAL_VIEWS_KEPT:
        _SIGNAL_VIEWS.clear()
    _SIGNAL_VIEWS[key] = (tuple(signals.values()), view)
    return view


def balances_view(balances: list[BalanceLine]) -> list[dict[str, str]]:
    return [
        {"currency": b.currency, "free": str(b.free), "used": str(b.used), "total": str(b.total)}
        for b in balances
    ]


def positions_view(positions: list[PositionRow], prices: dict[str, Decimal]) -> list[dict]:
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
    return out


def snapshot_of(
    *,
    equity: Decimal,
    balances: list[BalanceLine],
    positions: list[PositionRow],
    prices: dict[str, Decimal],
    last_signal: dict[str, Any] | None,
    start_of_day_equity: Decimal,
    peak_equity: Decimal,
    day: str,
) -> snapshots.Snapshot:
    """The snapshot the bot reads, stamped now."""
    return snapshots.Snapshot(
        equity=equity,
        balances=balances_view(balances),
        positions=positions_view(positions, prices),
        last_signal=last_signal,
        start_of_day_equity=start_of_day_equity,
        peak_equity=peak_equity,
        day=day,
        updated_at=time.time(),
    )


async def write_snapshot(
    tx: Transaction, user_id: int, snap: snapshots.Snapshot, ts_s: float, *, point: bool = True
) -> None:
    """Replace the user's snapshot and, with ``point``, append one equity point at
    ``ts_s`` (a snapshot refreshed after the close's fills has none: one per close)."""
    await snapshots.save(tx, user_id, snap)
    if point and snap.equity is not None:
        await snapshots.append_equity(tx, user_id, snap.equity, ts_s)


async def save_snapshot(tx: Transaction, user_id: int, *, ts_s: float, **fields: Any) -> None:
    """``write_snapshot`` of ``snapshot_of(**fields)``."""
    await write_snapshot(tx, user_id, snapshot_of(**fields), ts_s)


async def equity_series(db: Database, user_id: int) -> list[tuple[float, Decimal]]:
    return await snapshots.equity_history(db, user_id, limit=10_000_000)
