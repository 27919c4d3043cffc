"""Where an admin's role comes from, the start-up sync with NIJA_ADMIN_IDS, the last
admin on every path, and viewer grants dropped on a role change (real database)."""

from __future__ import annotations

import logging

import aiosqlite
import pytest

from nija_tg.core.errors import ValidationError
from nija_tg.core.models import Role
from nija_tg.messages.errors import text as error_text
from nija_tg.services import registration
from nija_tg.services.admin_service import AdminService
from nija_tg.services.settings_service import SettingsService
from nija_tg.services.users_service import UserService
from nija_tg.storage import audit, outbox, users
from nija_tg.storage.db import Database
from nija_tg.storage.migrations import MIGRATIONS, _statements, apply_migrations
from tests.outbox_text import text_of

CONFIGURED, OTHER_CONFIGURED, TRADER, VIEWER, STRANGER = 10, 11, 20, 30, 40


async def _register(db, *uids: int, admin_ids: frozenset[int] = frozenset()) -> None:
    for uid in uids:
        await registration.register(db, admin_ids, uid, uid, f"u{uid}", "Name")


async def _role(db, uid: int) -> tuple[Role, str | None]:
    row = await users.get_user(db, uid)
    assert row is not None
    return row.role, row.admin_source


async def _actions(db, action: str) -> list[audit.AuditRow]:
    return [r for r in await audit.recent(db, 200) if r.action == action]


async def test_origin_is_recorded_config_or_granted(db):
    listed = frozenset({CONFIGURED})
    await _register(db, CONFIGURED, TRADER, VIEWER, STRANGER, admin_ids=listed)
    assert await _role(db, CONFIGURED) == (Role.ADMIN, "config")
    assert await _role(db, TRADER) == (Role.TRADER, None)
    await AdminService(db, listed).set_role(CONFIGURED, TRADER, Role.ADMIN)  # /role
    assert await _role(db, TRADER) == (Role.ADMIN, "granted")
    await registration.set_admin(db, STRANGER, True, actor_id=None)  # nija-tg admin add
    assert await _role(db, STRANGER) == (Role.ADMIN, "granted")
    await registration.set_admin(db, 12345, True, actor_id=None)  # never wrote to the bot
    assert await _role(db, 12345) == (Role.ADMIN, "granted")
    await AdminService(db, listed).set_role(CONFIGURED, TRADER, Role.VIEWER)
    assert await _role(db, TRADER) == (Role.VIEWER, None)


async def test_sync_promotes_listed_demotes_unlisted_config_admins_keeps_granted(db):
    before = frozenset({CONFIGURED, OTHER_CONFIGURED})
    await _register(db, CONFIGURED, OTHER_CONFIGURED, TRADER, VIEWER, admin_ids=before)
    await AdminService(db, before).set_role(CONFIGURED, TRADER, Role.ADMIN)  # granted
    await registration.set_admin(db, STRANGER, True, actor_id=None)  # granted (CLI)
    # NIJA_ADMIN_IDS now lists VIEWER instead of OTHER_CONFIGURED, and a user who never
    # wrote to the bot
    now = frozenset({CONFIGURED, VIEWER, 999})
    report = await UserService(db, now).sync_admins()
    assert report.promoted == [VIEWER] and report.demoted == [OTHER_CONFIGURED]
    assert await _role(db, VIEWER) == (Role.ADMIN, "config")
    assert await _role(db, OTHER_CONFIGURED) == (Role.TRADER, None)
    assert await _role(db, CONFIGURED) == (Role.ADMIN, "config")
    assert await _role(db, TRADER) == (Role.ADMIN, "granted")  # promoted by /role: kept
    assert await _role(db, STRANGER) == (Role.ADMIN, "granted")  # by the CLI: kept
    assert await users.get_user(db, 999) is None  # becomes admin when they /start
    [demote] = await _actions(db, "role.config_demote")
    assert demote.target_id == OTHER_CONFIGURED and demote.actor_id is None
    assert demote.detail == {"old": "admin", "new": "trader"}
    assert any(r.target_id == VIEWER for r in await _actions(db, "role.bootstrap_admin"))
    [notice] = await outbox.list_rows(db, user_id=OTHER_CONFIGURED)
    assert "no longer an admin" in text_of(notice)
    # once in line with the configuration, a second start changes nothing
    again = await UserService(db, now).sync_admins()
    assert again.promoted == again.demoted == again.kept_last == []


async def test_sync_keeps_the_last_admin_with_a_warning(db, caplog):
    await _register(db, CONFIGURED, TRADER, admin_ids=frozenset({CONFIGURED}))
    with caplog.at_level(logging.WARNING, logger="nija_tg.users"):
        report = await UserService(db, frozenset({999})).sync_admins()
    assert report.kept_last == [CONFIGURED] and report.demoted == []
    assert await _role(db, CONFIGURED) == (Role.ADMIN, "config")
    assert any("last admin" in r.getMessage() for r in caplog.records)
    assert [r.target_id for r in await _actions(db, "role.config_kept_last_admin")] == [CONFIGURED]


async def test_every_path_refuses_to_remove_the_last_admin(db):
    listed = frozenset({CONFIGURED})
    await _register(db, CONFIGURED, TRADER, admin_ids=listed)
    for role in (Role.TRADER, Role.VIEWER):
        with pytest.raises(ValidationError) as info:  # /role <id> trader|viewer
            await AdminService(db, listed).set_role(CONFIGURED, CONFIGURED, role)
        assert "last admin" in error_text(info.value)
    with pytest.raises(users.LastAdminError):  # nija-tg admin remove
        await registration.set_admin(db, CONFIGURED, False, actor_id=None)
    with pytest.raises(users.LastAdminError) as info:  # /forget
        await SettingsService(db).forget(CONFIGURED)
    assert "last admin" in error_text(info.value) and "/role" in error_text(info.value)
    with pytest.raises(users.LastAdminError):  # and the storage itself, for any caller
        async with db.transaction() as tx:
            await users.set_role(tx, CONFIGURED, Role.TRADER)
    assert await _role(db, CONFIGURED) == (Role.ADMIN, "config")
    # with a second admin, each of these works
    await registration.set_admin(db, TRADER, True, actor_id=None)
    assert await SettingsService(db).forget(CONFIGURED) is True
    assert await users.get_user(db, CONFIGURED) is None


async def test_grants_are_dropped_when_a_viewer_changes_role(db):
    listed = frozenset({CONFIGURED})
    await _register(db, CONFIGURED, TRADER, VIEWER, STRANGER, admin_ids=listed)
    admin = AdminService(db, listed)
    await admin.set_role(CONFIGURED, VIEWER, Role.VIEWER)
    await admin.set_role(CONFIGURED, STRANGER, Role.VIEWER)
    await admin.grant(CONFIGURED, VIEWER, TRADER)
    await admin.grant(CONFIGURED, VIEWER, CONFIGURED)
    await admin.grant(CONFIGURED, STRANGER, TRADER)
    # a failed transaction leaves the grants: they go with the role change or not at all
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await users.set_role(tx, VIEWER, Role.TRADER)
            raise RuntimeError("abort")
    assert await users.granted_traders(db, VIEWER) == [CONFIGURED, TRADER]
    change = await admin.set_role(CONFIGURED, VIEWER, Role.TRADER)
    assert change.changed
    assert await users.granted_traders(db, VIEWER) == []
    [dropped] = await _actions(db, "grants.dropped")
    assert dropped.actor_id == CONFIGURED and dropped.target_id == VIEWER
    assert dropped.detail == {"traders": [CONFIGURED, TRADER], "reason": "role trader"}
    # becoming a viewer again does not bring them back
    await admin.set_role(CONFIGURED, VIEWER, Role.VIEWER)
    assert await users.granted_traders(db, VIEWER) == []
    # the CLI's `admin add` of a viewer drops theirs too
    await registration.set_admin(db, STRANGER, True, actor_id=None)
    assert await users.granted_traders(db, STRANGER) == []
    assert [r.target_id for r in await _actions(db, "grants.dropped")] == [STRANGER, VIEWER]


async def test_migration_gives_existing_admins_the_origin_the_audit_log_shows(settings):
    """A database made before admin_source: admins promoted by config, by /role, by
    the CLI, and one without any trace in the audit log."""
    conn = await aiosqlite.connect(settings.db_path)
    await conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)"
    )
    for version, sql in MIGRATIONS:
        if version >= 5:
            break
        for statement in _statements(sql):
            await conn.execute(statement)
        await conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    rows = [(1, "admin"), (2, "admin"), (3, "admin"), (4, "admin"), (5, "trader"), (6, "admin")]
    for uid, role in rows:
        await conn.execute(
            "INSERT INTO users(user_id, chat_id, role, created_at, last_seen_at) "
            "VALUES (?, ?, ?, 0, 0)",
            (uid, uid, role),
        )
    trail = [
        (1, "register", 1, '{"role": "admin"}'),  # configured when they registered
        (None, "role.bootstrap_admin", 2, "{}"),  # configured later
        (1, "admin.role", 3, '{"old": "trader", "new": "admin"}'),  # by /role
        (None, "role.admin_add", 4, "{}"),  # by the CLI
        (4, "admin.role", 1, '{"old": "admin", "new": "trader"}'),
        (4, "admin.role", 1, '{"old": "trader", "new": "admin"}'),  # 1: granted last
        # 6: no trace at all
    ]
    for actor, action, target, detail in trail:
        await conn.execute(
            "INSERT INTO audit_log(ts, actor_id, action, target_id, detail) VALUES (0, ?, ?, ?, ?)",
            (actor, action, target, detail),
        )
    await conn.commit()
    assert await apply_migrations(conn) == [v for v, _ in MIGRATIONS if v >= 5]
    await conn.close()
    db = await Database.open(settings.db_path)
    try:
        origins = {uid: (await _role(db, uid))[1] for uid, _ in rows}
    finally:
        await db.close()
    assert origins == {1: "granted", 2: "config", 3: "granted", 4: "granted", 5: None, 6: "granted"}
