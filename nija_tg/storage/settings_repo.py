"""Per-user risk settings (JSON of ``RiskSettings.to_dict``) and admin bounds."""

from __future__ import annotations

import json
import time

from nija_tg.core.risk_settings import RiskSettings
from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.users import bump_change_counter


async def load(db: Database, user_id: int) -> RiskSettings:
    """The user's settings; defaults when they never changed any."""
    row = await db.fetchone("SELECT settings FROM risk_settings WHERE user_id = ?", (user_id,))
    return RiskSettings.from_dict(json.loads(row["settings"]) if row else None)


async def load_in(tx: Transaction, user_id: int) -> RiskSettings:
    row = await tx.fetchone("SELECT settings FROM risk_settings WHERE user_id = ?", (user_id,))
    return RiskSettings.from_dict(json.loads(row["settings"]) if row else None)


async def save(tx: Transaction, user_id: int, settings: RiskSettings) -> None:
    await tx.execute(
        "INSERT INTO risk_settings(user_id, settings, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET settings = excluded.settings, "
        "updated_at = excluded.updated_at",
        (user_id, json.dumps(settings.to_dict(), default=str), time.time()),
    )
    await bump_change_counter(tx)
