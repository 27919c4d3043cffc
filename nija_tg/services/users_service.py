"""What the front end asks about people: register, look up, roles, grants, halt."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from nija_tg.core.events import AdminDemoted
from nija_tg.core.models import Role
from nija_tg.services import registration
from nija_tg.services.notify import tell
from nija_tg.storage import admin_queries, audit, users
from nija_tg.storage.db import Database
from nija_tg.storage.users import CONFIG, UserRow

log = logging.getLogger("nija_tg.users")
SEEN_EVERY_S = 60.0  # "last seen" is written at most once a minute per user


@dataclass
class AdminSync:
    """What ``sync_admins`` changed."""

    promoted: list[int] = field(default_factory=list)
    demoted: list[int] = field(default_factory=list)
    kept_last: list[int] = field(default_factory=list)  # unlisted, but the last admin


@dataclass
class UserService:
    db: Database
    admin_ids: frozenset[int]

    async def register(
        self, user_id: int, chat_id: int, username: str | None, first_name: str | None
    ) -> tuple[UserRow, bool]:
        return await registration.register(
            self.db, self.admin_ids, user_id, chat_id, username, first_name
        )

    async def sync_admins(self, ids: Iterable[int] | None = None) -> AdminSync:
        """Make the admins match NIJA_ADMIN_IDS (``ids``; the configured ones by
        default), at bot start: registered users listed there become admins (origin
        'config'); admins who got the role from the configuration and are no longer
        listed become traders, audited and told. Admins granted by an admin (/role) or
        the operator (``nija-tg admin add``) stay. The last admin is never demoted: kept,
        with a warning in the log. Listed users who never wrote to the bot become admins
        when they /start."""
        listed = frozenset(self.admin_ids if ids is None else ids)
        report = AdminSync()
        async with self.db.transaction() as tx:
            for uid in sorted(listed):
                role = await admin_queries.role_of(tx, uid)
                if role is None or role is Role.ADMIN:
                    continue
                await users.set_role(tx, uid, Role.ADMIN, admin_source=CONFIG)
                await audit.record(tx, None, "role.bootstrap_admin", uid, old=role.value)
                report.promoted.append(uid)
            config_admins = await admin_queries.admin_ids_by_source(tx, CONFIG)
            for uid in (u for u in config_admins if u not in listed):
                if await admin_queries.admin_count(tx) <= 1:
                    log.warning(
                        "user %s is no longer in NIJA_ADMIN_IDS but is the last admin: kept "
                        "as admin; list another admin (or `nija-tg admin add`) and restart",
                        uid,
                    )
                    await audit.record(tx, None, "role.config_kept_last_admin", uid)
                    report.kept_last.append(uid)
                    continue
                await users.set_role(tx, uid, Role.TRADER)
                await audit.record(tx, None, "role.config_demote", uid, old="admin", new="trader")
                await tell(tx, uid, AdminDemoted())
                report.demoted.append(uid)
        if report.promoted or report.demoted:
            log.info(
                "admins synced with NIJA_ADMIN_IDS: promoted %s, demoted %s",
                report.promoted,
                report.demoted,
            )
        return report

    async def get(self, user_id: int) -> UserRow | None:
        return await users.get_user(self.db, user_id)

    async def seen(self, user: UserRow, *, every: float = SEEN_EVERY_S) -> bool:
        """Record that ``user`` wrote or tapped now ("last seen" in /user and /users);
        at most one write per ``every`` seconds per user. True if written."""
        if time.time() - user.last_seen_at < every:
            return False
        async with self.db.transaction() as tx:
            await users.touch(tx, user.user_id)
        return True

    async def mark_reachable(self, user_id: int) -> None:
        """The user wrote to the bot again: queued notifications may flow again."""
        async with self.db.transaction() as tx:
            await users.set_reachable(tx, user_id, True)

    async def is_halted(self) -> bool:
        return await users.is_halted(self.db)

    async def granted_traders(self, viewer_id: int) -> list[int]:
        return await users.granted_traders(self.db, viewer_id)

    @staticmethod
    def is_admin(user: UserRow | None) -> bool:
        return user is not None and user.role is Role.ADMIN
