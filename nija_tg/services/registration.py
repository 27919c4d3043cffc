"""Registration and roles: who someone is, decided by Telegram user id only."""

from __future__ import annotations

from nija_tg.core.errors import ValidationError
from nija_tg.core.models import Role
from nija_tg.storage import audit, users
from nija_tg.storage.db import Database
from nija_tg.storage.users import UserRow

MAX_NAME = 64


def clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable())[:MAX_NAME]
    return cleaned or None


async def register(
    db: Database,
    admin_ids: frozenset[int],
    user_id: int,
    chat_id: int,
    username: str | None,
    first_name: str | None,
) -> tuple[UserRow, bool]:
    """Idempotent. New users become traders, or admins when configured as such; a
    configured admin who registered earlier as something else is promoted."""
    role = Role.ADMIN if user_id in admin_ids else Role.TRADER
    async with db.transaction() as tx:
        row, created = await users.upsert_user(
            tx,
            user_id,
            chat_id,
            clean_name(username),
            clean_name(first_name),
            role,
            admin_source=users.CONFIG,  # only configured ids register as admins
        )
        if created:
            await audit.record(tx, user_id, "register", user_id, role=role.value)
        elif user_id in admin_ids and row.role is not Role.ADMIN:
            await users.set_role(tx, user_id, Role.ADMIN, admin_source=users.CONFIG)
            await audit.record(tx, None, "role.bootstrap_admin", user_id)
            row, _ = await users.upsert_user(
                tx, user_id, chat_id, row.username, row.first_name, role
            )
    return row, created


async def set_admin(db: Database, user_id: int, admin: bool, *, actor_id: int | None) -> bool:
    """Operator/admin bootstrap: make ``user_id`` admin (creating a placeholder row if
    they never wrote to the bot; their chat id is their user id in private chats)."""
    if user_id <= 0:
        raise ValidationError("user id not positive", code="telegram_id_not_positive")
    async with db.transaction() as tx:
        row = await users.get_user(tx, user_id)
        if row is None:
            if not admin:
                return False
            await users.upsert_user(tx, user_id, user_id, None, None, Role.ADMIN)
        else:
            await users.set_role(tx, user_id, Role.ADMIN if admin else Role.TRADER)
        await audit.record(
            tx, actor_id, "role.admin_add" if admin else "role.admin_remove", user_id
        )
    return True
