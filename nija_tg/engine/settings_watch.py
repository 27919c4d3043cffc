"""Which users' settings changed while their loops run: one query per candle close for
every loop of the engine, not one per user.

Every write of a user's settings or of an admin bound that applies to them bumps that
user's ``settings_version`` in the same transaction, to one above the highest in use
(``settings_repo.bump_version``). So the watch keeps the highest version it has seen and,
once per close, reads only the users whose version passed it (an indexed range query
that returns nothing on most closes). A loop compares the version the watch knows for
its user with the one it loaded and reloads its settings (clamped into the bounds)
before its next decision when the watch's is newer.
"""

from __future__ import annotations

import asyncio
import logging

from nija_tg.storage import settings_repo
from nija_tg.storage.db import Database

log = logging.getLogger("nija_tg.engine")


class SettingsWatch:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen = 0  # the highest settings version read so far
        self.versions: dict[int, int] = {}  # user -> newest version seen (changed users)
        self.queries = 0  # reads made (tests, benchmarks)
        self._boundary = -1
        self._poll: asyncio.Future[None] | None = None

    async def version(self, user_id: int, boundary: int) -> int | None:
        """The newest settings version of ``user_id`` known at candle close ``boundary``
        (None: unchanged since the engine started). The first loop to ask about a new
        close reads the changes; the others wait for that same read."""
        if boundary > self._boundary or self._poll is None:
            self._boundary = boundary
            self._poll = asyncio.ensure_future(self._read())
        await asyncio.shield(self._poll)
        return self.versions.get(user_id)

    async def _read(self) -> None:
        self.queries += 1
        try:
            rows = await settings_repo.changed_since(self.db, self.seen)
        except Exception:  # the loops keep their settings; the next close reads again
            log.exception("reading the settings versions failed")
            self._boundary = -1
            return
        for user_id, version in rows:
            if version > self.versions.get(user_id, 0):
                self.versions[user_id] = version
            self.seen = max(self.seen, version)
