"""Trading sessions, snapshots and equity history: counters, scoping by user."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.core.models import Role
from nija_tg.storage import sessions, snapshots, users
from nija_tg.storage.snapshots import Snapshot

A, B = 11, 12


@pytest.fixture
async def two_users(db):
    async with db.transaction() as tx:
        for uid in (A, B):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
    return db


async def test_session_lifecycle_and_trade_results(two_users):
    db = two_users
    async with db.transaction() as tx:
        sid = await sessions.start(tx, A, "kraken", "paper", Decimal(1000), {"preset": "moderate"})
        await sessions.add_trade_result(tx, A, sid, Decimal("12.5"))
        await sessions.add_trade_result(tx, A, sid, Decimal("-2.5"))
        await sessions.add_trade_result(tx, A, sid, Decimal(0))
        assert not await sessions.add_trade_result(tx, B, sid, Decimal(100))
    s = await sessions.get(db, A, sid)
    assert (s.trades, s.wins, s.losses, s.pnl) == (3, 1, 1, Decimal(10))
    assert s.win_rate == Decimal(1) / Decimal(3)
    assert s.status == "running" and s.config_snapshot == {"preset": "moderate"}
    assert (await sessions.running(db, A)).session_id == sid
    async with db.transaction() as tx:
        assert not await sessions.finish(tx, B, sid)
        assert await sessions.finish(tx, A, sid, end_balance=Decimal(1010))
        assert not await sessions.finish(tx, A, sid)
    s = await sessions.get(db, A, sid)
    assert s.status == "stopped" and s.end_balance == Decimal(1010) and s.ended_at
    assert await sessions.running(db, A) is None


async def test_sessions_scoped_and_newest_first(two_users):
    db = two_users
    async with db.transaction() as tx:
        ids = [await sessions.start(tx, A, "kraken", "paper", None) for _ in range(3)]
        other = await sessions.start(tx, B, "bingx", "live", Decimal(5))
        assert await sessions.finish_running(tx, A) == 3
    assert [s.session_id for s in await sessions.list_for_user(db, A, limit=2)] == ids[:0:-1]
    assert await sessions.get(db, A, other) is None
    assert [s.session_id for s in await sessions.list_for_user(db, B)] == [other]
    assert (await sessions.get(db, A, ids[0])).status == "crashed"
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await sessions.finish(tx, A, ids[0], status="running")


async def test_snapshot_round_trip_and_scoping(two_users):
    db = two_users
    assert await snapshots.get(db, A) is None
    snap = Snapshot(
        equity=Decimal("1234.5"),
        balances=[{"currency": "USD", "total": Decimal(1000)}],
        positions=[{"symbol": "BTC/USD", "amount": "0.01"}],
        last_signal={"action": "hold", "confidence": 0.4},
        start_of_day_equity=Decimal(1200),
        peak_equity=Decimal(1300),
        day="2024-03-05",
    )
    async with db.transaction() as tx:
        await snapshots.save(tx, A, snap)
        await snapshots.set_last_signal(tx, B, {"action": "buy"})
    got = await snapshots.get(db, A)
    assert got.equity == Decimal("1234.5") and got.balances == [
        {"currency": "USD", "total": "1000"}
    ]
    assert got.last_signal == {"action": "hold", "confidence": 0.4}
    assert (got.start_of_day_equity, got.peak_equity, got.day) == (
        Decimal(1200),
        Decimal(1300),
        "2024-03-05",
    )
    other = await snapshots.get(db, B)
    assert other.equity is None and other.last_signal == {"action": "buy"}
    async with db.transaction() as tx:
        await snapshots.set_last_signal(tx, A, {"action": "sell"})
    got = await snapshots.get(db, A)
    assert got.last_signal == {"action": "sell"} and got.equity == Decimal("1234.5")


async def test_equity_history_append_read_prune(two_users):
    db = two_users
    async with db.transaction() as tx:
        for ts, eq in ((100, 10), (200, 11), (300, 9)):
            await snapshots.append_equity(tx, A, Decimal(eq), ts=ts)
        await snapshots.append_equity(tx, A, Decimal(12), ts=300)  # replaces
        await snapshots.append_equity(tx, B, Decimal(999), ts=150)
    assert await snapshots.equity_history(db, A) == [
        (100, Decimal(10)),
        (200, Decimal(11)),
        (300, Decimal(12)),
    ]
    assert await snapshots.equity_history(db, A, since=150, until=250) == [(200, Decimal(11))]
    assert await snapshots.equity_history(db, A, limit=2) == [
        (200, Decimal(11)),
        (300, Decimal(12)),
    ]
    async with db.transaction() as tx:
        assert await snapshots.prune_equity(tx, A, before=250) == 2
    assert await snapshots.equity_history(db, A) == [(300, Decimal(12))]
    assert await snapshots.equity_history(db, B) == [(150, Decimal(999))]


async def test_save_many_encodes_a_shared_signal_dict_once_and_stores_it_for_each(
    two_users,
):
    """Snapshots sharing one last_signal dict (users with the same signals) store the
    same text as each would alone; a different dict its own."""
    db, a, b = two_users, A, B
    shared = {"ETH/USD": {"action": "hold", "confidence": 0.0, "reason": "flat"}}
    other = {"ETH/USD": {"action": "exit", "confidence": 1.0, "reason": "down"}}
    snaps = {
        a: Snapshot(equity=Decimal("1.5"), last_signal=shared),
        b: Snapshot(equity=Decimal(2), last_signal=shared),
    }
    async with db.transaction() as tx:
        await snapshots.save_many(tx, snaps)
    for uid in (a, b):
        assert (await snapshots.get(db, uid)).last_signal == shared
    rows = await db.fetchall("SELECT user_id, last_signal FROM snapshots ORDER BY user_id")
    assert [r["last_signal"] for r in rows] == [snapshots._json(shared)] * 2
    async with db.transaction() as tx:
        await snapshots.save_many(tx, {a: Snapshot(last_signal=other), b: snaps[b]})
    assert (await snapshots.get(db, a)).last_signal == other
    assert (await snapshots.get(db, b)).last_signal == shared
