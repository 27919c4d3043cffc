"""storage/cash_flows.py: cash flows recorded once per ledger reference, read per user
newest first; limit marks round-trip per (user, mode, exchange) and ride in the
SnapshotWriter's batch."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.cash_flows import fresh_marks
from nija_tg.core.models import Role
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.storage import cash_flows, users

A, B = 71, 72


async def add_users(db) -> None:
    async with db.transaction() as tx:
        for uid in (A, B):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)


async def record(db, uid: int, amount: str, ts: float, ref: str | None = None):
    async with db.transaction() as tx:
        return await cash_flows.record(
            tx,
            uid,
            mode="live",
            exchange_id="kraken",
            ts=ts,
            amount=Decimal(amount),
            source="ledger" if ref else "balance_change",
            detail={"USD": Decimal(amount)},
            equity_after=Decimal(1000),
            ref=ref,
        )


async def test_flows_are_recorded_once_and_scoped_by_user(db):
    await add_users(db)
    assert await record(db, A, "500", 10.0, ref="L-1") is not None
    assert await record(db, A, "500", 10.0, ref="L-1") is None  # the same ledger entry
    assert await record(db, A, "-20", 20.0) is not None
    assert await record(db, A, "-30", 30.0) is not None  # no ref: each detection counts
    assert await record(db, B, "7", 15.0, ref="L-1") is not None  # another user's account
    got = await cash_flows.recent(db, A)
    assert [f.amount for f in got] == [Decimal(-30), Decimal(-20), Decimal(500)]
    assert got[-1].detail == {"USD": Decimal(500)} and got[-1].ref == "L-1"
    assert [f.amount for f in await cash_flows.recent(db, A, since=20.0)] == [-30, -20]
    assert [f.amount for f in await cash_flows.recent(db, B)] == [Decimal(7)]


async def test_marks_round_trip_per_account_and_through_the_writer(db):
    await add_users(db)
    live, paper = (A, "live", "kraken"), (A, "paper", "kraken")
    marks = fresh_marks("2026-12-05", Decimal(1000))
    async with db.transaction() as tx:
        await cash_flows.save_marks(tx, live, marks)
    assert await cash_flows.get_marks(db, *live) == marks
    assert await cash_flows.get_marks(db, *paper) is None  # another account of the user
    writer = SnapshotWriter(db, max_delay=60)
    later = marks.__class__(
        "2026-12-05", Decimal(1000), Decimal(-200), Decimal(880), Decimal(800),
        {"USD": Decimal(800)}, 3,
    )  # fmt: skip
    writer.put_marks(live, later)
    assert await writer.latest_marks(live) == later  # pending, not yet written
    assert await cash_flows.get_marks(db, *live) == marks
    await writer.flush()
    assert await cash_flows.get_marks(db, *live) == later
    await writer.close()
