"""Per-user snapshot the bot reads (equity, balances, positions, last signal, the day's
start equity and the peak) and the equity history behind charts. Every function is
scoped by ``user_id`` and never returns another user's rows."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nija_tg.storage.db import Reader, Transaction


@dataclass(frozen=True, slots=True)
class Snapshot:
    equity: Decimal | None = None
    balances: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    last_signal: dict[str, Any] | None = None
    start_of_day_equity: Decimal | None = None
    peak_equity: Decimal | None = None
    day: str | None = None  # UTC "YYYY-MM-DD" the start-of-day equity belongs to
    updated_at: float = 0.0


def _opt(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


_SAVE = (
    "INSERT INTO snapshots(user_id, equity, balances, positions, last_signal, "
    "start_of_day_equity, peak_equity, day, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(user_id) DO UPDATE SET equity = excluded.equity, "
    "balances = excluded.balances, positions = excluded.positions, "
    "last_signal = excluded.last_signal, start_of_day_equity = excluded.start_of_day_equity, "
    "peak_equity = excluded.peak_equity, day = excluded.day, updated_at = excluded.updated_at"
)


def _save_params(
    user_id: int, snap: Snapshot, updated_at: float, texts: dict[int, str] | None = None
) -> tuple:
    """``texts``: id(last_signal) -> its JSON, for snapshots that share one signal dict
    (every user of a close with the same signals: ``loop_store.signals_view``), kept by
    the caller while every snapshot is alive (so the ids are theirs)."""
    last = snap.last_signal
    if last is None:
        last_text = None
    elif texts is None:
        last_text = _json(last)
    else:
        last_text = texts.get(id(last))
        if last_text is None:
            last_text = texts[id(last)] = _json(last)
    return (
        user_id,
        _s(snap.equity),
        _json(snap.balances),
        _json(snap.positions),
        last_text,
        _s(snap.start_of_day_equity),
        _s(snap.peak_equity),
        snap.day,
        updated_at,
    )


async def save(tx: Transaction, user_id: int, snap: Snapshot) -> None:
    """Replace this user's snapshot (``updated_at`` is set now)."""
    await tx.execute(_SAVE, _save_params(user_id, snap, time.time()))


async def save_many(tx: Transaction, snaps: dict[int, Snapshot]) -> None:
    """Replace the snapshots of many users in a few multi-row statements (user id -> snapshot;
    ``updated_at`` is the snapshot's own, or now when it has none)."""
    now = time.time()
    texts: dict[int, str] = {}  # a signal dict shared by many snapshots: encoded once
    await tx.insert_many(
        _SAVE, [_save_params(uid, s, s.updated_at or now, texts) for uid, s in snaps.items()]
    )


async def set_last_signal(tx: Transaction, user_id: int, signal: dict[str, Any] | None) -> None:
    """Update only the last signal (creates an empty snapshot when there is none)."""
    await tx.execute(
        "INSERT INTO snapshots(user_id, last_signal, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET last_signal = excluded.last_signal, "
        "updated_at = excluded.updated_at",
        (user_id, None if signal is None else _json(signal), time.time()),
    )


async def get(db: Reader, user_id: int) -> Snapshot | None:
    r = await db.fetchone("SELECT * FROM snapshots WHERE user_id = ?", (user_id,))
    if r is None:
        return None
    return Snapshot(
        equity=_opt(r["equity"]),
        balances=json.loads(r["balances"] or "[]"),
        positions=json.loads(r["positions"] or "[]"),
        last_signal=None if r["last_signal"] is None else json.loads(r["last_signal"]),
        start_of_day_equity=_opt(r["start_of_day_equity"]),
        peak_equity=_opt(r["peak_equity"]),
        day=r["day"],
        updated_at=r["updated_at"],
    )


# --- equity history -------------------------------------------------------------------


async def append_equity(
    tx: Transaction, user_id: int, equity: Decimal, ts: float | None = None
) -> None:
    """Add one point (seconds since the epoch); a point at the same ts is replaced."""
    await tx.execute(
        "INSERT OR REPLACE INTO equity_history(user_id, ts, equity) VALUES (?, ?, ?)",
        (user_id, time.time() if ts is None else ts, str(equity)),
    )


async def append_equity_many(tx: Transaction, points: list[tuple[int, float, Decimal]]) -> None:
    """Add many (user id, ts, equity) points; a point at the same (user, ts) is replaced."""
    await tx.insert_many(
        "INSERT OR REPLACE INTO equity_history(user_id, ts, equity) VALUES (?, ?, ?)",
        [(uid, ts, str(equity)) for uid, ts, equity in points],
    )


async def equity_history(
    db: Reader,
    user_id: int,
    *,
    since: float | None = None,
    until: float | None = None,
    limit: int = 5000,
) -> list[tuple[float, Decimal]]:
    """(ts, equity) points oldest first; the newest ``limit`` when there are more."""
    sql = "SELECT ts, equity FROM equity_history WHERE user_id = ?"
    params: list[object] = [user_id]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    if until is not None:
        sql += " AND ts <= ?"
        params.append(until)
    sql += " ORDER BY ts DESC LIMIT ?"
    params.append(max(1, limit))
    rows = await db.fetchall(sql, params)
    return [(r["ts"], Decimal(r["equity"])) for r in reversed(rows)]


async def prune_equity(tx: Transaction, user_id: int, before: float) -> int:
    """Drop this user's points older than ``before``; returns how many."""
    cur = await tx.execute(
        "DELETE FROM equity_history WHERE user_id = ? AND ts < ?", (user_id, before)
    )
    return cur.rowcount
