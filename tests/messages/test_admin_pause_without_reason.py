"""An admin's /pause without a reason stores none and tells none: the trader reads
"Your trading was paused by an admin" without a "Reason:" line restating it."""

from __future__ import annotations

from nija_tg.core.models import Role, UserStatus
from nija_tg.services.admin_service import AdminService
from nija_tg.storage import outbox, users
from tests.outbox_text import text_of

ADMIN, TRADER = 10, 20


async def test_a_pause_without_a_reason_stores_and_tells_none(db):
    async with db.transaction() as tx:
        for uid, role in ((ADMIN, Role.ADMIN), (TRADER, Role.TRADER)):
            await users.upsert_user(tx, uid, uid, f"u{uid}", "Name", role)
    svc = AdminService(db, frozenset({ADMIN}))
    assert await svc.pause(ADMIN, TRADER) == [TRADER]
    row = await users.get_user(db, TRADER)
    assert row.status is UserStatus.PAUSED and row.pause_reason is None
    [notice] = await outbox.list_rows(db, user_id=TRADER)
    text = text_of(notice)
    assert text.startswith("⏸ <b>Your trading was paused by an admin.</b>")
    assert "Reason" not in text
