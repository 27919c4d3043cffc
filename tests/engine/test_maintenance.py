"""Engine housekeeping: old delivered notifications go, a blocked user's queue is capped
(newest kept), the WAL shrinks back; a failing step does not stop the others."""

from __future__ import annotations

import asyncio
import time

from nija_tg.core.models import Role
from nija_tg.engine import maintenance
from nija_tg.storage import outbox, users

ALICE, BOB = 1, 2


async def arrange(db) -> None:
    async with db.transaction() as tx:
        for uid in (ALICE, BOB):
            await users.upsert_user(tx, uid, 100 + uid, None, None, Role.TRADER)
        for i in range(5):
            await outbox.enqueue(tx, ALICE, "fill", f"alice {i}")
            await outbox.enqueue(tx, BOB, "fill", f"bob {i}")


async def test_purge_keeps_recent_and_pending_rows(db):
    await arrange(db)
    rows = await outbox.list_rows(db, user_id=ALICE)
    await outbox.mark_sent(db, [r.outbox_id for r in rows[:3]])
    now = time.time()
    report = await maintenance.run_once(db, now=now, retention_s=3600)
    assert report.purged == 0  # sent a moment ago: kept
    report = await maintenance.run_once(db, now=now + 7200, retention_s=3600)
    assert report.purged == 3
    left = await outbox.list_rows(db, user_id=ALICE)
    assert [r.text for r in left] == ["alice 3", "alice 4"]  # pending ones never purged
    assert len(await outbox.list_rows(db, user_id=BOB)) == 5


async def test_blocked_users_queue_is_capped_to_the_newest_rows(db):
    await arrange(db)
    await outbox.mark_unreachable(db, [BOB])
    report = await maintenance.run_once(db, pending_cap=2)
    assert report.dropped == 3
    bob = await outbox.list_rows(db, user_id=BOB, status="pending")
    assert [r.text for r in bob] == ["bob 3", "bob 4"]
    assert len(await outbox.list_rows(db, user_id=ALICE, status="pending")) == 5  # reachable
    assert (await maintenance.run_once(db, pending_cap=2)).dropped == 0


async def test_checkpoint_truncates_the_wal(db):
    await arrange(db)
    async with db.transaction() as tx:
        for i in range(2000):
            await outbox.enqueue(tx, ALICE, "info", "x" * 500 + str(i))
    wal = db.path.with_name(db.path.name + "-wal")
    assert wal.stat().st_size > 500_000
    report = await maintenance.run_once(db)
    assert report.wal_bytes_before > 500_000 and not report.wal_busy
    assert report.wal_bytes_after == 0 == wal.stat().st_size


async def test_a_failing_step_is_logged_and_the_loop_stops_on_request(db, caplog):
    stop = asyncio.Event()
    task = asyncio.create_task(maintenance.run(db, stop, interval_s=0.01))
    await asyncio.sleep(0.1)  # a few rounds on an empty database
    stop.set()
    await asyncio.wait_for(task, 5)
    await db.close()  # every step fails now: reported, not raised
    report = await maintenance.run_once(db)
    assert report == maintenance.Report(0, 0, -1, -1, False)
    assert "outbox purge failed" in caplog.text and "WAL checkpoint failed" in caplog.text
