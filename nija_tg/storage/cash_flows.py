"""Deposits and withdrawals of each account (``cash_flows``) and what the limits are
measured from (``limit_marks``, one row per user, mode and exchange). Every function is
scoped by ``user_id``. See nija_tg/core/cash_flows.py for what the marks hold."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.cash_flows import LimitMarks
from nija_tg.storage.db import Reader, Transaction

SOURCES = ("ledger", "balance_change")


@dataclass(frozen=True, slots=True)
class CashFlowRow:
    flow_id: int
    user_id: int
    mode: str
    exchange_id: str
    ts: float
    amount: Decimal  # + deposit, - withdrawal, in the account's quote currency
    source: str
    ref: str | None
    detail: dict[str, Decimal]
    equity_after: Decimal | None


def _flow(r: sqlite3.Row) -> CashFlowRow:
    return CashFlowRow(
        flow_id=r["flow_id"],
        user_id=r["user_id"],
        mode=r["mode"],
        exchange_id=r["exchange_id"],
        ts=r["ts"],
        amount=Decimal(r["amount"]),
        source=r["source"],
        ref=r["ref"],
        detail={k: Decimal(v) for k, v in json.loads(r["detail"] or "{}").items()},
        equity_after=None if r["equity_after"] is None else Decimal(r["equity_after"]),
    )


async def record(
    tx: Transaction,
    user_id: int,
    *,
    mode: str,
    exchange_id: str,
    ts: float,
    amount: Decimal,
    source: str,
    detail: Mapping[str, Decimal] | None = None,
    equity_after: Decimal | None = None,
    ref: str | None = None,
) -> int | None:
    """Record one cash flow; returns its id, or None when ``ref`` was recorded before."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    cur = await tx.execute(
        "INSERT OR IGNORE INTO cash_flows(user_id, mode, exchange_id, ts, amount, source, "
        "ref, detail, equity_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            mode,
            exchange_id,
            ts,
            str(amount),
            source,
            ref,
            json.dumps({k: str(v) for k, v in (detail or {}).items()}, sort_keys=True),
            None if equity_after is None else str(equity_after),
        ),
    )
    return cur.lastrowid if cur.rowcount else None


async def recent(
    db: Reader, user_id: int, *, since: float | None = None, limit: int = 20
) -> list[CashFlowRow]:
    """This user's cash flows, newest first (at most ``limit``; from ``since`` on)."""
    sql = "SELECT * FROM cash_flows WHERE user_id = ?"
    params: list[object] = [user_id]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    sql += " ORDER BY ts DESC, flow_id DESC LIMIT ?"
    params.append(max(1, min(limit, 1000)))
    return [_flow(r) for r in await db.fetchall(sql, params)]


# --- limit marks ------------------------------------------------------------------


def _dec_map(text: str | None) -> dict[str, Decimal] | None:
    return None if text is None else {k: Decimal(v) for k, v in json.loads(text).items()}


async def get_marks(db: Reader, user_id: int, mode: str, exchange_id: str) -> LimitMarks | None:
    r = await db.fetchone(
        "SELECT * FROM limit_marks WHERE user_id = ? AND mode = ? AND exchange_id = ?",
        (user_id, mode, exchange_id),
    )
    if r is None:
        return None
    return LimitMarks(
        day=r["day"],
        start_of_day_equity=Decimal(r["start_of_day_equity"]),
        cash_flow_today=Decimal(r["cash_flow_today"]),
        peak_equity_flow_adjusted=Decimal(r["peak_equity_flow_adjusted"]),
        starting_equity_plus_flows=Decimal(r["starting_equity_plus_flows"]),
        last_balances=_dec_map(r["last_balances"]),
        last_fill_id=r["last_fill_id"],
    )


_SAVE = (
    "INSERT INTO limit_marks(user_id, mode, exchange_id, day, start_of_day_equity, "
    "cash_flow_today, peak_equity_flow_adjusted, starting_equity_plus_flows, last_balances, "
    "last_fill_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(user_id, mode, exchange_id) DO UPDATE SET day = excluded.day, "
    "start_of_day_equity = excluded.start_of_day_equity, "
    "cash_flow_today = excluded.cash_flow_today, "
    "peak_equity_flow_adjusted = excluded.peak_equity_flow_adjusted, "
    "starting_equity_plus_flows = excluded.starting_equity_plus_flows, "
    "last_balances = excluded.last_balances, last_fill_id = excluded.last_fill_id, "
    "updated_at = excluded.updated_at"
)

MarksKey = tuple[int, str, str]  # (user id, mode, exchange id)


def _params(key: MarksKey, m: LimitMarks, now: float) -> tuple:
    balances = None
    if m.last_balances is not None:
        balances = json.dumps({k: str(v) for k, v in m.last_balances.items()}, sort_keys=True)
    return (
        *key,
        m.day,
        str(m.start_of_day_equity),
        str(m.cash_flow_today),
        str(m.peak_equity_flow_adjusted),
        str(m.starting_equity_plus_flows),
        balances,
        m.last_fill_id,
        now,
    )


async def save_marks(tx: Transaction, key: MarksKey, marks: LimitMarks) -> None:
    await tx.execute(_SAVE, _params(key, marks, time.time()))


async def save_marks_many(tx: Transaction, rows: Mapping[MarksKey, LimitMarks]) -> None:
    now = time.time()
    await tx.insert_many(_SAVE, [_params(k, m, now) for k, m in rows.items()])


async def fills_after(db: Reader, user_id: int, fill_id: int) -> list[sqlite3.Row]:
    """This user's fills booked after ``fill_id`` (symbol, side, amount, price, fee,
    fee_currency, fill_id), oldest first."""
    return await db.fetchall(
        "SELECT fill_id, symbol, side, amount, price, fee, fee_currency FROM fills "
        "WHERE user_id = ? AND fill_id > ? ORDER BY fill_id",
        (user_id, fill_id),
    )


async def newest_fill_id(db: Reader, user_id: int) -> int:
    """The id of this user's newest fill (0 without any): a fill booked between two
    balance reads shows as a larger id."""
    r = await db.fetchone("SELECT MAX(fill_id) AS m FROM fills WHERE user_id = ?", (user_id,))
    return int(r["m"] or 0) if r is not None else 0
