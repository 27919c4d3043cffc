"""Read-only, cross-user queries behind the admin views (overview, detail, totals).

Only the admin service calls these. Nothing here selects ``credentials.ciphertext``:
admins see the exchange, the masked key tail and the verification, never secrets.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from nija_tg.core.account_currency import account_currency, stored_decimal
from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.storage.db import Reader

_OVERVIEW = (
    "SELECT u.user_id, u.username, u.first_name, u.role, u.status, u.pause_reason, "
    "u.trading_on, u.mode, c.exchange_id, s.equity, s.start_of_day_equity, s.day, s.balances "
    "FROM users u LEFT JOIN credentials c ON c.user_id = u.user_id "
    "LEFT JOIN snapshots s ON s.user_id = u.user_id"
)


@dataclass(frozen=True, slots=True)
class UserOverview:
    user_id: int
    username: str | None
    first_name: str | None
    role: Role
    status: UserStatus
    pause_reason: str | None
    trading_on: bool
    mode: TradingMode
    exchange_id: str | None
    equity: Decimal | None
    pnl_today: Decimal | None  # None: no snapshot for today (UTC) yet
    currency: str = "USD"  # what equity and P&L are counted in (``account_currency``)


@dataclass(frozen=True, slots=True)
class Totals:
    users: int
    active: int  # trading on and not paused
    paused: int
    # per currency (the quote the engine counts each user's equity in: never one sum
    # of USD and USDT): the latest equity of every user with a snapshot
    balance: dict[str, Decimal]
    pnl_today: dict[str, Decimal]  # per currency, users whose snapshot is today's (UTC)


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """What may be shown about a user's exchange key (no ciphertext, no secret)."""

    exchange_id: str
    key_tail: str
    verified: bool
    verify_reason: str
    permissions: list[str]
    can_withdraw: bool | None
    updated_at: float


def utc_day(now: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y-%m-%d")


def _account_currency(exchange_id: str | None, balances_json: str | None) -> str:
    """``core.account_currency`` of a row's key exchange and snapshot balances (JSON)."""
    try:
        balances = json.loads(balances_json or "[]")
    except (ValueError, TypeError):
        balances = []
    return account_currency(exchange_id, balances)


def _pnl_today(row: sqlite3.Row, today: str) -> Decimal | None:
    equity, start = stored_decimal(row["equity"]), stored_decimal(row["start_of_day_equity"])
    if equity is None or start is None or row["day"] != today:
        return None
    return equity - start


def _overview(row: sqlite3.Row, today: str) -> UserOverview:
    return UserOverview(
        user_id=row["user_id"],
        username=row["username"],
        first_name=row["first_name"],
        role=Role(row["role"]),
        status=UserStatus(row["status"]),
        pause_reason=row["pause_reason"],
        trading_on=bool(row["trading_on"]),
        mode=TradingMode(row["mode"]),
        exchange_id=row["exchange_id"],
        equity=stored_decimal(row["equity"]),
        pnl_today=_pnl_today(row, today),
        currency=_account_currency(row["exchange_id"], row["balances"]),
    )


async def users_page(
    db: Reader, offset: int, limit: int, *, now: float | None = None
) -> list[UserOverview]:
    """One page of every user, ordered by user id."""
    today = utc_day(now)
    rows = await db.fetchall(f"{_OVERVIEW} ORDER BY u.user_id LIMIT ? OFFSET ?", (limit, offset))
    return [_overview(r, today) for r in rows]


async def user_overview(
    db: Reader, user_id: int, *, now: float | None = None
) -> UserOverview | None:
    row = await db.fetchone(f"{_OVERVIEW} WHERE u.user_id = ?", (user_id,))
    return None if row is None else _overview(row, utc_day(now))


async def totals(db: Reader, *, now: float | None = None) -> Totals:
    """Counts by state plus total equity and today's P&L per currency (summed exactly
    as Decimals; a user's currency is ``account_currency``: their key's exchange's
    quote, else their snapshot's cash currency)."""
    counts = await db.fetchone(
        "SELECT COUNT(*) AS total, "
        "SUM(CASE WHEN trading_on = 1 AND status = 'active' THEN 1 ELSE 0 END) AS active, "
        "SUM(CASE WHEN status = 'paused' THEN 1 ELSE 0 END) AS paused FROM users"
    )
    today = utc_day(now)
    balance: dict[str, Decimal] = {}
    pnl: dict[str, Decimal] = {}
    for row in await db.fetchall(
        "SELECT c.exchange_id, s.equity, s.start_of_day_equity, s.day, s.balances "
        "FROM snapshots s JOIN users u ON u.user_id = s.user_id "
        "LEFT JOIN credentials c ON c.user_id = s.user_id"
    ):
        currency = _account_currency(row["exchange_id"], row["balances"])
        equity = stored_decimal(row["equity"])
        if equity is not None:
            balance[currency] = balance.get(currency, Decimal(0)) + equity
        day_pnl = _pnl_today(row, today)
        if day_pnl is not None:
            pnl[currency] = pnl.get(currency, Decimal(0)) + day_pnl
    assert counts is not None
    return Totals(
        users=counts["total"] or 0,
        active=counts["active"] or 0,
        paused=counts["paused"] or 0,
        balance=dict(sorted(balance.items())),
        pnl_today=dict(sorted(pnl.items())),
    )


async def credential_info(db: Reader, user_id: int) -> CredentialInfo | None:
    row = await db.fetchone(
        "SELECT exchange_id, key_tail, verified, verify_reason, permissions, can_withdraw, "
        "updated_at FROM credentials WHERE user_id = ?",
        (user_id,),
    )
    if row is None:
        return None
    try:
        permissions = [str(p) for p in json.loads(row["permissions"] or "[]")]
    except (ValueError, TypeError):
        permissions = []
    return CredentialInfo(
        exchange_id=row["exchange_id"],
        key_tail=row["key_tail"],
        verified=bool(row["verified"]),
        verify_reason=row["verify_reason"],
        permissions=permissions,
        can_withdraw=None if row["can_withdraw"] is None else bool(row["can_withdraw"]),
        updated_at=row["updated_at"],
    )


async def viewers_of(db: Reader, trader_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT viewer_id FROM viewer_grants WHERE trader_id = ? ORDER BY viewer_id", (trader_id,)
    )
    return [r["viewer_id"] for r in rows]


async def has_grant(db: Reader, viewer_id: int, trader_id: int) -> bool:
    row = await db.fetchone(
        "SELECT 1 FROM viewer_grants WHERE viewer_id = ? AND trader_id = ?", (viewer_id, trader_id)
    )
    return row is not None


async def admin_count(db: Reader) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'")
    return row["n"] if row else 0


async def role_of(db: Reader, user_id: int) -> Role | None:
    row = await db.fetchone("SELECT role FROM users WHERE user_id = ?", (user_id,))
    return None if row is None else Role(row["role"])


async def admin_ids_by_source(db: Reader, source: str) -> list[int]:
    """The admins whose role came from ``source`` (``users.admin_source``: 'config' for
    NIJA_ADMIN_IDS, 'granted' for /role or the CLI), by user id."""
    rows = await db.fetchall(
        "SELECT user_id FROM users WHERE role = 'admin' AND admin_source = ? ORDER BY user_id",
        (source,),
    )
    return [r["user_id"] for r in rows]


async def pausable_user_ids(db: Reader) -> list[int]:
    """Everyone not yet paused (``/pause all``)."""
    rows = await db.fetchall("SELECT user_id FROM users WHERE status = 'active' ORDER BY user_id")
    return [r["user_id"] for r in rows]


async def paused_user_ids(db: Reader) -> list[int]:
    rows = await db.fetchall("SELECT user_id FROM users WHERE status = 'paused' ORDER BY user_id")
    return [r["user_id"] for r in rows]


async def trading_on_user_ids(db: Reader) -> list[int]:
    """Users who switched trading on (paused or not): the ones a global halt concerns."""
    rows = await db.fetchall(
        "SELECT user_id FROM users WHERE trading_on = 1 AND role != 'viewer' ORDER BY user_id"
    )
    return [r["user_id"] for r in rows]


async def all_user_ids(db: Reader) -> list[int]:
    return [r["user_id"] for r in await db.fetchall("SELECT user_id FROM users ORDER BY user_id")]
