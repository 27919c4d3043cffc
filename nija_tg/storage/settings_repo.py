"""Per-user risk settings (JSON of ``RiskSettings.to_dict``), read inside the admin
bounds that apply to the user: a value stored before an admin tightened a bound (or a
default above it) is read clamped, so every reader (engine, reports, /settings) sees
the effective value.

Every write of a user's settings, and of an admin bound that applies to them, bumps
``users.settings_version`` in the same transaction (``bump_version``): to one above the
highest version of any user, so versions only grow across users and the engine finds
every user whose settings changed since its last look with one indexed query
(``changed_since``), however many users it serves."""

from __future__ import annotations

import json
import time

from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.setting_bounds import clamp_to_bounds
from nija_tg.storage import admin_bounds
from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.users import bump_change_counter


async def load(db: Database, user_id: int) -> RiskSettings:
    """The user's settings; defaults when they never changed any."""
    return await _load(db, user_id)


async def load_versioned(db: Database, user_id: int) -> tuple[int, RiskSettings]:
    """(settings version, settings). The version is read first: a write landing between
    the two reads makes the version look older than the settings (one extra reload
    later), never newer (a missed change)."""
    row = await db.fetchone("SELECT settings_version FROM users WHERE user_id = ?", (user_id,))
    version = int(row["settings_version"]) if row else 0
    return version, await _load(db, user_id)


async def changed_since(db: Database, version: int) -> list[tuple[int, int]]:
    """(user id, settings version) of every user whose version is above ``version``."""
    rows = await db.fetchall(
        "SELECT user_id, settings_version FROM users WHERE settings_version > ?", (version,)
    )
    return [(int(r["user_id"]), int(r["settings_version"])) for r in rows]


async def bump_version(tx: Transaction, user_id: int | None) -> None:
    """Mark ``user_id``'s settings (None: everyone's, for a bound on everyone) changed."""
    row = await tx.fetchone("SELECT COALESCE(MAX(settings_version), 0) + 1 AS v FROM users")
    version = int(row["v"]) if row else 1
    if user_id is None:
        await tx.execute("UPDATE users SET settings_version = ?", (version,))
    else:
        await tx.execute(
            "UPDATE users SET settings_version = ? WHERE user_id = ?", (version, user_id)
        )


async def load_in(tx: Transaction, user_id: int) -> RiskSettings:
    return await _load(tx, user_id)


async def load_stored_in(tx: Transaction, user_id: int) -> RiskSettings:
    """What is stored (or the defaults), not yet clamped into the admin bounds."""
    row = await tx.fetchone("SELECT settings FROM risk_settings WHERE user_id = ?", (user_id,))
    return RiskSettings.from_dict(json.loads(row["settings"]) if row else None)


async def _load(db: Database | Transaction, user_id: int) -> RiskSettings:
    row = await db.fetchone("SELECT settings FROM risk_settings WHERE user_id = ?", (user_id,))
    stored = RiskSettings.from_dict(json.loads(row["settings"]) if row else None)
    bounds = await admin_bounds.for_user(db, user_id)
    return clamp_to_bounds(stored, bounds) if bounds else stored


async def trader_ids(tx: Transaction) -> list[int]:
    """Every user who may trade (admins, traders); those without a settings row run on
    the defaults. Viewers' settings are never used."""
    rows = await tx.fetchall(
        "SELECT user_id FROM users WHERE role IN ('admin', 'trader') ORDER BY user_id"
    )
    return [r["user_id"] for r in rows]


async def save(tx: Transaction, user_id: int, settings: RiskSettings) -> None:
    await tx.execute(
        "INSERT INTO risk_settings(user_id, settings, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET settings = excluded.settings, "
        "updated_at = excluded.updated_at",
        (user_id, json.dumps(settings.to_dict(), default=str), time.time()),
    )
    await bump_version(tx, user_id)
    await bump_change_counter(tx)
