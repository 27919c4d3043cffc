"""Join requests in SQLite: what waits for an admin, and when an admin was shown it."""

from __future__ import annotations

from nija_tg.core.models import Role
from nija_tg.storage import join_requests, users


async def _request(db, user_id: int, name: str) -> None:
    async with db.transaction() as tx:
        assert await join_requests.create(tx, user_id, user_id, None, name)


async def test_pending_is_oldest_first_without_decided_or_registered_users(db):
    for uid, name in ((11, "A"), (12, "B"), (13, "C"), (14, "D")):
        await _request(db, uid, name)
    async with db.transaction() as tx:
        assert await join_requests.decide(tx, 12, False, 1)
        # registered meanwhile (e.g. /start while registration was open)
        await users.upsert_user(tx, 13, 13, None, "C", Role.TRADER)
    waiting = await join_requests.pending(db)
    assert [r.user_id for r in waiting] == [11, 14]
    assert await join_requests.pending_count(db) == 2
    assert [r.user_id for r in await join_requests.pending(db, limit=1)] == [11]
    assert all(r.asked_at is None for r in waiting)  # no admin was shown them yet


async def test_mark_asked_marks_only_pending_requests(db):
    await _request(db, 21, "A")
    await _request(db, 22, "B")
    async with db.transaction() as tx:
        assert await join_requests.decide(tx, 22, True, 1)
        await join_requests.mark_asked(tx, [21, 22], 1234.5)
        await join_requests.mark_asked(tx, [], 9999.0)  # nothing shown: nothing marked
    first, second = await join_requests.get(db, 21), await join_requests.get(db, 22)
    assert first is not None and first.asked_at == 1234.5
    assert second is not None and second.asked_at is None
