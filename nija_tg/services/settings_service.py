"""Per-user settings: risk limits, presets, pairs, notifications, /forget.
(Placeholder: being written.)"""

from __future__ import annotations

from nija_tg.storage.db import Database


class SettingsService:
    def __init__(self, db: Database) -> None:
        self._db = db
