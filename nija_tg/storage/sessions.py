"""Trading sessions: one row from "trading on" to "trading off" (or pause/crash), with
the closed-trade counters the executor updates as positions close."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.storage.db import Batched, Reader, Transaction

STATUSES = ("running", "stopped", "paused", "crashed")


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_id: int
    user_id: int
    exchange_id: str
    mode: str
    status: str
    started_at: float
    ended_at: float | None
    start_balance: Decimal | None
    end_balance: Decimal | None
    trades: int
    wins: int
    losses: int
    pnl: Decimal
    config_snapshot: dict[str, Any]

    @property
    def win_rate(self) -> Decimal | None:
        return None if self.trades == 0 else Decimal(self.wins) / Decimal(self.trades)


def _opt(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _row(r: sqlite3.Row) -> SessionRow:
    return SessionRow(
        session_id=r["session_id"],
        user_id=r["user_id"],
        exchange_id=r["exchange_id"],
        mode=r["mode"],
        status=r["status"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        start_balance=_opt(r["start_balance"]),
        end_balance=_opt(r["end_balance"]),
        trades=r["trades"],
        wins=r["wins"],
        losses=r["losses"],
        pnl=Decimal(r["pnl"]),
        config_snapshot=json.loads(r["config_snapshot"] or "{}"),
    )


async def start(
    tx: Transaction,
    user_id: int,
    exchange_id: str,
    mode: str,
    start_balance: Decimal | None,
    config_snapshot: dict[str, Any] | None = None,
) -> int:
    """Open a running session; returns its id."""
    cur = await tx.execute(
        "INSERT INTO trading_sessions(user_id, exchange_id, mode, status, started_at, "
        "start_balance, config_snapshot) VALUES (?, ?, ?, 'running', ?, ?, ?)",
        (
            user_id,
            exchange_id,
            mode,
            time.time(),
            None if start_balance is None else str(start_balance),
            json.dumps(config_snapshot or {}, default=str, sort_keys=True),
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def finish(
    tx: Transaction,
    user_id: int,
    session_id: int,
    *,
    status: str = "stopped",
    end_balance: Decimal | None = None,
) -> bool:
    """End a running session. False when it is not this user's or not running."""
    if status not in STATUSES or status == "running":
        raise ValueError(f"status must be one of {STATUSES[1:]}")
    cur = await tx.execute(
        "UPDATE trading_sessions SET status = ?, ended_at = ?, end_balance = ? "
        "WHERE user_id = ? AND session_id = ? AND status = 'running'",
        (
            status,
            time.time(),
            None if end_balance is None else str(end_balance),
            user_id,
            session_id,
        ),
    )
    return bool(cur.rowcount)


async def finish_running(tx: Transaction, user_id: int, status: str = "crashed") -> int:
    """End every session of this user still marked running (e.g. after a crash)."""
    cur = await tx.execute(
        "UPDATE trading_sessions SET status = ?, ended_at = ? "
        "WHERE user_id = ? AND status = 'running'",
        (status, time.time(), user_id),
    )
    return cur.rowcount


# (user id, session id) -> how many P&L writes this process made to that session: a
# caller keeping a session's P&L in memory knows it is still right while this count
# moved only by its own writes (the engine runs one loop, so one writer, per user)
_pnl_writes: dict[tuple[int, int], int] = {}


def pnl_written(user_id: int, session_id: int) -> int:
    """How many P&L writes this process made to the session (a counter)."""
    return _pnl_writes.get((user_id, session_id), 0)


def _wrote_pnl(user_id: int, session_id: int) -> None:
    key = (user_id, session_id)
    _pnl_writes[key] = _pnl_writes.get(key, 0) + 1


async def add_trade_result(tx: Transaction, user_id: int, session_id: int, pnl: Decimal) -> bool:
    """Count one closed trade: trades+1, a win (> 0) or a loss (< 0), pnl added."""
    _wrote_pnl(user_id, session_id)
    r = await tx.fetchone(
        "SELECT pnl FROM trading_sessions WHERE user_id = ? AND session_id = ?",
        (user_id, session_id),
    )
    if r is None:
        return False
    await tx.execute(
        "UPDATE trading_sessions SET trades = trades + 1, wins = wins + ?, "
        "losses = losses + ?, pnl = ? WHERE user_id = ? AND session_id = ?",
        (
            int(pnl > 0),
            int(pnl < 0),
            str(Decimal(r["pnl"]) + pnl),
            user_id,
            session_id,
        ),
    )
    return True


_RESULTS_LATER = Batched(
    "UPDATE trading_sessions SET trades = trades + v.column3, wins = wins + v.column4, "
    "losses = losses + v.column5, pnl = v.column6 FROM (VALUES ",
    "(?, ?, ?, ?, ?, ?)",
    ") AS v WHERE trading_sessions.user_id = v.column1 AND trading_sessions.session_id = v.column2",
)


async def add_trade_results_later(
    tx: Transaction,
    user_id: int,
    session_id: int,
    pnls: list[Decimal],
    pnl_now: Decimal | None = None,
) -> Decimal | None:
    """``add_trade_result`` for each of ``pnls`` (one body's closed trades), the update
    left for the group's COMMIT. ``pnl_now``: the session's P&L as the caller knows it
    committed (None: read now). Returns the P&L once the update commits, or None (no
    such session: nothing written)."""
    if pnl_now is None:
        r = await tx.fetchone(
            "SELECT pnl FROM trading_sessions WHERE user_id = ? AND session_id = ?",
            (user_id, session_id),
        )
        if r is None:
            return None
        pnl_now = Decimal(r["pnl"])
    if not pnls:
        return pnl_now
    _wrote_pnl(user_id, session_id)
    pnl_after = pnl_now + sum(pnls, Decimal(0))
    tx.later(
        _RESULTS_LATER,
        ("session", user_id, session_id),
        (
            user_id,
            session_id,
            len(pnls),
            sum(1 for p in pnls if p > 0),
            sum(1 for p in pnls if p < 0),
            str(pnl_after),
        ),
    )
    return pnl_after


async def get(db: Reader, user_id: int, session_id: int) -> SessionRow | None:
    r = await db.fetchone(
        "SELECT * FROM trading_sessions WHERE user_id = ? AND session_id = ?",
        (user_id, session_id),
    )
    return None if r is None else _row(r)


async def running(db: Reader, user_id: int) -> SessionRow | None:
    """This user's newest running session, if any."""
    r = await db.fetchone(
        "SELECT * FROM trading_sessions WHERE user_id = ? AND status = 'running' "
        "ORDER BY session_id DESC LIMIT 1",
        (user_id,),
    )
    return None if r is None else _row(r)


async def list_for_user(db: Reader, user_id: int, limit: int = 10) -> list[SessionRow]:
    """Newest first."""
    rows = await db.fetchall(
        "SELECT * FROM trading_sessions WHERE user_id = ? ORDER BY session_id DESC LIMIT ?",
        (user_id, max(1, min(limit, 200))),
    )
    return [_row(r) for r in rows]
