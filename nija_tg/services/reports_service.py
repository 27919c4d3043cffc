"""Reports: dashboard, balances, positions, trades, P&L, sessions, equity chart.
(Placeholder: being written.)"""

from __future__ import annotations

from nija_tg.config import Settings
from nija_tg.storage.db import Database


class ReportsService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
