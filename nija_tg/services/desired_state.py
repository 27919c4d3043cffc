"""What the engine should be doing, read from the database the bot writes."""

from __future__ import annotations

from nija_tg.storage import users
from nija_tg.storage.db import Database


async def trading_users(db: Database) -> set[int]:
    """Users whose loop should run now: trading on, active, not a viewer, no halt."""
    if await users.is_halted(db):
        return set()
    return set(await users.trading_user_ids(db))


async def change_counter(db: Database) -> int:
    return await users.change_counter(db)
