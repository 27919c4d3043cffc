"""ReportsService against a real database with engine-like rows arranged directly."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from nija_tg.core.models import FillInfo, Role, Side
from nija_tg.messages.errors import text as error_text
from nija_tg.services.reports_service import NotVisibleError, ReportsService
from nija_tg.storage import audit, fills, positions, report_queries, sessions, snapshots, users
from nija_tg.storage.db import Database

TRADER, OTHER, VIEWER, ADMIN = 2001, 2002, 2003, 1000
NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday
EQUITY = Decimal("12345.678")


async def add_user(db: Database, user_id: int, role: Role = Role.TRADER) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, user_id, user_id, f"u{user_id}", f"Name{user_id}", role)


async def arrange_trader(db: Database, user_id: int, now: float | None = None) -> None:
    """Engine-like rows for ``user_id``: snapshot, one open position, four fills (three
    closing: +30, -10, +5 today), two sessions and a week of equity history."""
    now = time.time() if now is None else now
    day_start = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0).timestamp()
    today = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")
    async with db.transaction() as tx:
        await snapshots.save(
            tx,
            user_id,
            snapshots.Snapshot(
                equity=EQUITY,
                balances=[
                    {"currency": "USDT", "free": "9000", "used": "1000", "total": "10000"},
                    {"currency": "BTC", "free": "0.05", "used": "0", "total": "0.0512345678"},
                    {"currency": "DOGE", "free": "0", "used": "0", "total": "0"},
                ],
                positions=[
                    {
                        "symbol": "BTC/USDT",
                        "side": "long",
                        "amount": "0.05",
                        "entry_price": "60000",
                        "mark_price": "61000",
                        "unrealized_pnl": "50",
                    }
                ],
                last_signal={"BTC/USDT": {"action": "buy", "confidence": 0.72, "reason": "ADX 31"}},
                start_of_day_equity=Decimal("12000"),
                peak_equity=Decimal("12500"),
                day=today,
            ),
        )
        await positions.upsert(
            tx,
            user_id,
            "BTC/USDT",
            "long",
            amount=Decimal("0.05"),
            entry_price=Decimal("60000"),
            entry_fees=Decimal("1.2"),
            realized_pnl=Decimal(0),
        )
        await positions.set_stop(tx, user_id, "BTC/USDT", "long", Decimal("58000"))
        trades = [("t1", Side.BUY, None), ("t2", Side.SELL, "30"), ("t3", Side.SELL, "-10")]
        trades.append(("t4", Side.SELL, "5"))
        for i, (trade_id, side, pnl) in enumerate(trades):
            ts = max(now - 600 + i * 60, day_start + i)
            fill = FillInfo(
                trade_id, "ETH/USDT", side, Decimal("0.5"), Decimal("3000.5"), Decimal("0.15"),
                "USDT", int(ts * 1000),
            )  # fmt: skip
            fill_id = await fills.insert(tx, user_id, None, "kraken", fill)
            if pnl is not None and fill_id is not None:
                await fills.set_realized_pnl(tx, user_id, fill_id, Decimal(pnl))
        old = await sessions.start(tx, user_id, "kraken", "paper", Decimal("10000"))
        await sessions.add_trade_result(tx, user_id, old, Decimal("100"))
        await sessions.add_trade_result(tx, user_id, old, Decimal("-40"))
        await sessions.finish(tx, user_id, old, end_balance=Decimal("10060"))
        running = await sessions.start(tx, user_id, "kraken", "paper", Decimal("10060"))
        await sessions.add_trade_result(tx, user_id, running, Decimal("25"))
        for hours in range(7 * 24 - 1, 0, -6):
            value = Decimal("12000") + Decimal(hours % 50)
            await snapshots.append_equity(tx, user_id, value, ts=now - hours * 3600)
        await snapshots.append_equity(tx, user_id, EQUITY, ts=now)


@pytest.fixture
async def service(db: Database, settings) -> ReportsService:
    for uid, role in ((TRADER, Role.TRADER), (OTHER, Role.TRADER), (VIEWER, Role.VIEWER)):
        await add_user(db, uid, role)
    await add_user(db, ADMIN, Role.ADMIN)
    return ReportsService(db, settings, clock=lambda: NOW)


async def caller(db: Database, user_id: int):
    row = await users.get_user(db, user_id)
    assert row is not None
    return row


async def test_authorize_own_grant_admin_and_stranger(service, db):
    trader = await caller(db, TRADER)
    assert (await service.authorize(trader, None, action="status")).own
    assert (await service.authorize(trader, TRADER, action="status")).own
    for target in (OTHER, 999_999, 10**20, 0, -5):
        with pytest.raises(NotVisibleError) as err:
            await service.authorize(trader, target, action="status")
        assert error_text(err.value) == "No such user, or you may not see them."
    viewer = await caller(db, VIEWER)
    with pytest.raises(NotVisibleError):
        await service.authorize(viewer, TRADER, action="status")
    async with db.transaction() as tx:
        await users.grant(tx, VIEWER, TRADER, ADMIN)
    access = await service.authorize(viewer, TRADER, action="balance")
    assert access.target.user_id == TRADER and not access.may_trade and not access.sees_key_tail
    admin = await caller(db, ADMIN)
    access = await service.authorize(admin, OTHER, action="pnl")
    assert access.target.user_id == OTHER and not access.may_trade and access.sees_key_tail
    rows = [r for r in await audit.recent(db) if r.action == "admin.view"]
    assert len(rows) == 1 and rows[0].actor_id == ADMIN and rows[0].target_id == OTHER
    assert rows[0].detail == {"report": "pnl"}
    with pytest.raises(NotVisibleError):
        await service.authorize(admin, 424242, action="status")


async def test_empty_user_reports(service):
    dash = await service.dashboard(TRADER)
    assert dash.equity is None and dash.open_positions == 0 and dash.updated_at is None
    assert dash.realized_today.trades == 0 and dash.today_change is None
    assert (await service.balances(TRADER)).lines == []
    assert (await service.positions(TRADER)).positions == []
    assert await service.trades(TRADER) == [] and await service.sessions(TRADER) == []
    report = await service.pnl(TRADER, "all")
    assert report.points == [] and not report.any_history and report.stats.trades == 0


async def test_reports_with_engine_data(service, db):
    await arrange_trader(db, TRADER, NOW)
    dash = await service.dashboard(TRADER)
    assert dash.equity == EQUITY and dash.open_positions == 1
    assert dash.realized_today.trades == 3 and dash.realized_today.total == Decimal(25)
    assert dash.last_signal and dash.last_signal["BTC/USDT"]["action"] == "buy"
    bal = await service.balances(TRADER)
    assert [b.currency for b in bal.lines] == ["BTC", "USDT"]  # zero DOGE left out
    pos = (await service.positions(TRADER)).positions
    assert len(pos) == 1 and pos[0].unrealized_pnl == Decimal(50)
    assert pos[0].stop_price == Decimal(58000) and pos[0].mark_price == Decimal(61000)
    got = await service.trades(TRADER, 2)
    assert [f.trade_id for f in got] == ["t4", "t3"]
    assert len(await service.trades(TRADER, 1000)) == 4
    rows = await service.sessions(TRADER)
    assert [s.status for s in rows] == ["running", "stopped"]
    assert rows[1].trades == 2 and rows[1].wins == 1 and rows[1].pnl == Decimal(60)


async def test_pnl_periods_and_equity_points(service, db):
    await arrange_trader(db, TRADER, NOW)
    day = await service.pnl(TRADER, "day")
    assert day.stats.trades == 3 and day.stats.wins == 2 and day.stats.losses == 1
    assert day.stats.win_rate == Decimal(2) / Decimal(3)
    assert day.start == datetime(2024, 3, 6, tzinfo=UTC)
    assert day.points[0][0] == day.start.timestamp()  # carried from before the period
    assert day.points[-1] == (NOW, EQUITY)
    week = await service.pnl(TRADER, "week")
    assert week.start == datetime(2024, 3, 4, tzinfo=UTC)
    all_time = await service.pnl(TRADER, "all")
    assert all_time.start is None and len(all_time.points) == 29
    assert all_time.equity_change == EQUITY - all_time.points[0][1]
    with pytest.raises(ValueError):
        await service.pnl(TRADER, "yearly")
    other = await service.pnl(OTHER, "all")
    assert other.points == [] and other.stats.trades == 0


async def test_equity_points_thinned_in_sql_and_scoped(db, service):
    async with db.transaction() as tx:
        for i in range(1000):
            await snapshots.append_equity(tx, TRADER, Decimal(10000 + i), ts=NOW - 1000 + i)
        await snapshots.append_equity(tx, OTHER, Decimal(1), ts=NOW)
    points = await report_queries.equity_points(db, TRADER, buckets=50)
    assert 40 <= len(points) <= 52
    assert points[0] == (NOW - 1000, Decimal(10000)) and points[-1] == (NOW - 1, Decimal(10999))
    assert all(value >= 10000 for _, value in points)  # never OTHER's row
    assert await report_queries.equity_points(db, VIEWER) == []
    assert await report_queries.has_equity_history(db, OTHER)
    assert not await report_queries.has_equity_history(db, VIEWER)
    assert await report_queries.equity_at_or_before(db, TRADER, NOW - 2000) is None


async def test_other_users_rows_never_leak(service, db):
    await arrange_trader(db, TRADER, NOW)
    dash = await service.dashboard(OTHER)
    assert dash.equity is None and dash.open_positions == 0 and dash.realized_today.trades == 0
    assert (await service.positions(OTHER)).positions == []
    assert await service.trades(OTHER, 100) == []
    assert await service.sessions(OTHER, 50) == []
    assert await report_queries.open_position_count(db, OTHER) == 0
    assert await report_queries.fill_count(db, OTHER) == 0
    assert await report_queries.fill_count(db, TRADER) == 4
