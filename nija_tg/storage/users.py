"""Users, roles, viewer grants and the app-wide state (global halt, change counter).

Every function takes the id of the user it concerns; admin-wide listings are separate,
explicitly named functions that the services call only for admins.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from nija_tg.core.errors import ValidationError
from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.storage import admin_queries, audit
from nija_tg.storage.db import Database, Reader, Transaction

# Where an admin's role came from: NIJA_ADMIN_IDS (taken back when no longer listed) or
# another admin / the operator (kept). NULL for everyone who is not an admin.
CONFIG, GRANTED = "config", "granted"


class LastAdminError(ValidationError):
    """The change would leave the bot without any admin."""

    code = "last_admin"


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: int
    chat_id: int
    username: str | None
    first_name: str | None
    role: Role
    status: UserStatus
    pause_reason: str | None
    trading_on: bool
    mode: TradingMode
    trade_only: bool
    reachable: bool
    notify_prefs: dict[str, str]
    created_at: float
    last_seen_at: float
    admin_source: str | None = None  # CONFIG or GRANTED for admins, else None
    exits_only: bool = False  # with trading_on: "/trade exits" (no new entries)

    @property
    def switch(self) -> TradingSwitch:
        """The user's own choice: on, exits only, or off."""
        return switch_of(self.trading_on, self.exits_only)


def switch_of(trading_on: bool, exits_only: bool) -> TradingSwitch:
    """The switch stored as ``trading_on`` (off when 0, whatever ``exits_only`` says) and
    ``exits_only`` (its middle position)."""
    if not trading_on:
        return TradingSwitch.OFF
    return TradingSwitch.EXITS if exits_only else TradingSwitch.ON


def _user(row: sqlite3.Row | None) -> UserRow | None:
    if row is None:
        return None
    return UserRow(
        user_id=row["user_id"],
        chat_id=row["chat_id"],
        username=row["username"],
        first_name=row["first_name"],
        role=Role(row["role"]),
        status=UserStatus(row["status"]),
        pause_reason=row["pause_reason"],
        trading_on=bool(row["trading_on"]),
        mode=TradingMode(row["mode"]),
        trade_only=bool(row["trade_only"]),
        reachable=bool(row["reachable"]),
        notify_prefs=json.loads(row["notify_prefs"] or "{}"),
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        admin_source=row["admin_source"],
        exits_only=bool(row["exits_only"]),
    )


async def bump_change_counter(tx: Transaction) -> None:
    """Tell the engine that desired state changed (it polls this one cheap row)."""
    await tx.execute(
        "UPDATE app_state SET value = CAST(value AS INTEGER) + 1 WHERE key = 'change_counter'"
    )


async def change_counter(db: Reader) -> int:
    """The change counter now (the bot bumps it on every change of desired state)."""
    row = await db.fetchone("SELECT value FROM app_state WHERE key = 'change_counter'")
    return int(row["value"]) if row else 0


async def is_halted(db: Reader) -> bool:
    """Whether the global kill switch (/halt) is on."""
    row = await db.fetchone("SELECT value FROM app_state WHERE key = 'halted'")
    return bool(row and row["value"] == "1")


async def set_halted(tx: Transaction, halted: bool) -> None:
    await tx.execute(
        "INSERT INTO app_state(key, value) VALUES ('halted', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        ("1" if halted else "0",),
    )
    await bump_change_counter(tx)


_LOOP_CANDIDATES = """
SELECT * FROM (
    SELECT u.user_id, u.trading_on, u.exits_only, u.status, u.pause_reason, u.role, u.mode,
        EXISTS(SELECT 1 FROM positions p WHERE p.user_id = u.user_id
               AND (p.mode IS NULL OR p.mode = u.mode)) AS holds,
        EXISTS(SELECT 1 FROM close_requests r WHERE r.status = 'pending'
               AND r.user_id = u.user_id) AS asks,
        EXISTS(SELECT 1 FROM credentials c WHERE c.user_id = u.user_id
               AND c.verified = 1) AS key_ok
    FROM users u
) WHERE (trading_on = 1 AND status = 'active' AND role != 'viewer') OR holds OR asks
ORDER BY user_id
"""


async def loop_candidates(db: Reader) -> list[sqlite3.Row]:
    """The users who may need an engine loop (trading on and active, not viewers, or
    holding a position opened in their current mode, or with a pending close request),
    by user id. Columns: user_id, trading_on, exits_only, status, pause_reason, role,
    mode, holds, asks (a close request waits), key_ok (verified credentials);
    ``services.desired_state`` decides."""
    return await db.fetchall(_LOOP_CANDIDATES)


async def upsert_user(
    tx: Transaction,
    user_id: int,
    chat_id: int,
    username: str | None,
    first_name: str | None,
    role: Role,
    *,
    admin_source: str = GRANTED,
) -> tuple[UserRow, bool]:
    """Register ``user_id`` or refresh its chat and names. Returns (row, created).
    An existing user's role is never changed here. ``admin_source``: where the role of
    a new admin comes from (CONFIG or GRANTED)."""
    now = time.time()
    existing = _user(await tx.fetchone("SELECT * FROM users WHERE user_id = ?", (user_id,)))
    if existing is None:
        source = _source(role, admin_source)
        await tx.execute(
            "INSERT INTO users(user_id, chat_id, username, first_name, role, admin_source, "
            "created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (user_id, chat_id, username, first_name, role.value, source, now, now),
        )
    else:
        await tx.execute(
            "UPDATE users SET chat_id = ?, username = ?, first_name = ?, last_seen_at = ?, "
            "reachable = 1 WHERE user_id = ?",
            (chat_id, username, first_name, now, user_id),
        )
    row = _user(await tx.fetchone("SELECT * FROM users WHERE user_id = ?", (user_id,)))
    assert row is not None
    return row, existing is None


async def get_user(db: Database, user_id: int) -> UserRow | None:
    return _user(await db.fetchone("SELECT * FROM users WHERE user_id = ?", (user_id,)))


async def touch(tx: Transaction, user_id: int) -> None:
    await tx.execute("UPDATE users SET last_seen_at = ? WHERE user_id = ?", (time.time(), user_id))


def _source(role: Role, admin_source: str) -> str | None:
    if role is not Role.ADMIN:
        return None
    if admin_source not in (CONFIG, GRANTED):
        raise ValueError(f"admin_source must be {CONFIG!r} or {GRANTED!r}")
    return admin_source


async def refuse_last_admin(tx: Transaction, user_id: int) -> None:
    """Raise LastAdminError if ``user_id`` is the only admin (checked in ``tx``, so a
    concurrent demotion cannot slip between the check and the change)."""
    row = await tx.fetchone("SELECT role FROM users WHERE user_id = ?", (user_id,))
    if (
        row is not None
        and row["role"] == Role.ADMIN.value
        and await admin_queries.admin_count(tx) <= 1
    ):
        raise LastAdminError(f"user {user_id} is the last admin")


async def set_role(
    tx: Transaction,
    user_id: int,
    role: Role,
    *,
    admin_source: str = GRANTED,
    actor_id: int | None = None,
) -> bool:
    """Give ``user_id`` ``role``. For an admin, ``admin_source`` records where it came
    from. Refuses (LastAdminError) to demote the last admin. A user who stops being a
    viewer loses their viewer grants in the same transaction (audited as
    ``grants.dropped`` by ``actor_id``). False if there is no such user."""
    row = await tx.fetchone("SELECT role FROM users WHERE user_id = ?", (user_id,))
    if row is None:
        return False
    old = Role(row["role"])
    if old is Role.ADMIN and role is not Role.ADMIN:
        await refuse_last_admin(tx, user_id)
    await tx.execute(
        "UPDATE users SET role = ?, admin_source = ? WHERE user_id = ?",
        (role.value, _source(role, admin_source), user_id),
    )
    if old is Role.VIEWER and role is not Role.VIEWER:
        await drop_grants(tx, user_id, actor_id, reason=f"role {role.value}")
    await bump_change_counter(tx)
    return True


async def drop_grants(
    tx: Transaction, viewer_id: int, actor_id: int | None, reason: str
) -> list[int]:
    """Delete every grant of ``viewer_id``; audited when there were any. Returns the
    traders they could see."""
    traders = await granted_traders(tx, viewer_id)
    if traders:
        await tx.execute("DELETE FROM viewer_grants WHERE viewer_id = ?", (viewer_id,))
        await audit.record(
            tx, actor_id, "grants.dropped", viewer_id, traders=traders, reason=reason
        )
    return traders


async def set_trading(tx: Transaction, user_id: int, on: bool) -> bool:
    """Switch trading fully on (new entries too) or off."""
    return await set_switch(tx, user_id, TradingSwitch.ON if on else TradingSwitch.OFF)


async def set_switch(tx: Transaction, user_id: int, switch: TradingSwitch) -> bool:
    """Store the user's switch: on, exits only (no new entries), or off."""
    cur = await tx.execute(
        "UPDATE users SET trading_on = ?, exits_only = ? WHERE user_id = ?",
        (int(switch is not TradingSwitch.OFF), int(switch is TradingSwitch.EXITS), user_id),
    )
    await bump_change_counter(tx)
    return cur.rowcount > 0


async def set_mode(tx: Transaction, user_id: int, mode: TradingMode) -> bool:
    cur = await tx.execute("UPDATE users SET mode = ? WHERE user_id = ?", (mode.value, user_id))
    await bump_change_counter(tx)
    return cur.rowcount > 0


async def set_status(
    tx: Transaction, user_id: int, status: UserStatus, reason: str | None = None
) -> bool:
    cur = await tx.execute(
        "UPDATE users SET status = ?, pause_reason = ? WHERE user_id = ?",
        (status.value, reason if status is UserStatus.PAUSED else None, user_id),
    )
    await bump_change_counter(tx)
    return cur.rowcount > 0


async def set_reachable(tx: Transaction, user_id: int, reachable: bool) -> None:
    await tx.execute("UPDATE users SET reachable = ? WHERE user_id = ?", (int(reachable), user_id))


async def set_notify_prefs(tx: Transaction, user_id: int, prefs: dict[str, str]) -> None:
    await tx.execute(
        "UPDATE users SET notify_prefs = ? WHERE user_id = ?", (json.dumps(prefs), user_id)
    )


async def set_trade_only(tx: Transaction, user_id: int, trade_only: bool) -> bool:
    cur = await tx.execute(
        "UPDATE users SET trade_only = ? WHERE user_id = ?", (int(trade_only), user_id)
    )
    return cur.rowcount > 0


async def delete_user(tx: Transaction, user_id: int) -> bool:
    """Erase the user and, by cascade, every row that belongs to them. Refuses
    (LastAdminError) to erase the last admin."""
    await refuse_last_admin(tx, user_id)
    cur = await tx.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
    await bump_change_counter(tx)
    return cur.rowcount > 0


async def admin_list_users(db: Database, offset: int = 0, limit: int = 20) -> list[UserRow]:
    rows = await db.fetchall(
        "SELECT * FROM users ORDER BY user_id LIMIT ? OFFSET ?", (limit, offset)
    )
    return [u for u in map(_user, rows) if u is not None]


async def admin_count_users(db: Database) -> dict[str, int]:
    row = await db.fetchone(
        "SELECT COUNT(*) AS total, "
        "SUM(CASE WHEN trading_on = 1 AND status = 'active' THEN 1 ELSE 0 END) AS active, "
        "SUM(CASE WHEN status = 'paused' THEN 1 ELSE 0 END) AS paused FROM users"
    )
    assert row is not None
    return {"total": row["total"] or 0, "active": row["active"] or 0, "paused": row["paused"] or 0}


async def admin_user_ids(db: Database) -> list[int]:
    """Every admin's user id (their private chat has the same id)."""
    rows = await db.fetchall("SELECT user_id FROM users WHERE role = 'admin' ORDER BY user_id")
    return [r["user_id"] for r in rows]


async def trading_user_ids(db: Database) -> list[int]:
    """Users who trade (switch on or exits only) and are not paused (the halt apart).
    The engine also runs a loop for anyone holding a position: see
    ``services.desired_state``."""
    rows = await db.fetchall(
        "SELECT user_id FROM users WHERE trading_on = 1 AND status = 'active' "
        "AND role != 'viewer' ORDER BY user_id"
    )
    return [r["user_id"] for r in rows]


async def grant(tx: Transaction, viewer_id: int, trader_id: int, granted_by: int) -> None:
    await tx.execute(
        "INSERT OR IGNORE INTO viewer_grants(viewer_id, trader_id, granted_by, created_at) "
        "VALUES (?, ?, ?, ?)",
        (viewer_id, trader_id, granted_by, time.time()),
    )


async def revoke(tx: Transaction, viewer_id: int, trader_id: int) -> bool:
    cur = await tx.execute(
        "DELETE FROM viewer_grants WHERE viewer_id = ? AND trader_id = ?", (viewer_id, trader_id)
    )
    return cur.rowcount > 0


async def granted_traders(db: Database | Transaction, viewer_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT trader_id FROM viewer_grants WHERE viewer_id = ? ORDER BY trader_id", (viewer_id,)
    )
    return [r["trader_id"] for r in rows]
