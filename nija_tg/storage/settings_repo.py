"""Per-user risk settings (JSON of ``RiskSettings.to_dict``), read inside the admin
bounds that apply to the user: a value stored before an admin tightened a bound (or a
default above it) is read clamped, so every reader (engine, reports, /settings) sees
the effective value."""

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
    await bump_change_counter(tx)
