"""What the front end asks about people: register, look up, roles, grants, halt."""

from __future__ import annotations

from dataclasses import dataclass

from nija_tg.core.models import Role
from nija_tg.services import registration
from nija_tg.storage import users
from nija_tg.storage.db import Database
from nija_tg.storage.users import UserRow


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

    async def get(self, user_id: int) -> UserRow | None:
        return await users.get_user(self.db, user_id)

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
