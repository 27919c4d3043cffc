"""Admin actions: users overview, detail, pause/resume, roles, grants, audit, broadcast,
global halt. (Placeholder: being written.)"""

from __future__ import annotations

from nija_tg.storage.db import Database


class AdminService:
    def __init__(self, db: Database, admin_ids: frozenset[int]) -> None:
        self._db = db
        self._admin_ids = admin_ids
