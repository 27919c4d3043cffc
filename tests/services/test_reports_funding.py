"""Funding payments of swaps in the realised P&L: booked once (storage), summed per
period (core.pnl), shown in /pnl and the dashboard (ReportsService and the texts)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from nija_tg.core import pnl
from nija_tg.core.models import Role
from nija_tg.messages.reports import dashboard as dashboard_text
from nija_tg.messages.reports import pnl as pnl_text
from nija_tg.services.reports_service import Access, PnlReport, ReportsService
from nija_tg.storage import funding, users
from nija_tg.storage.db import Database
from tests.services.test_reports_service import arrange_trader

TRADER, OTHER = 2001, 2002
NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday
HOUR = 3600.0


async def book(db: Database, uid: int, pid: str, amount: str, ts: float) -> bool:
    async with db.transaction() as tx:
        return await funding.record(
            tx,
            uid,
            "bingx",
            "live",
            payment_id=pid,
            symbol="ETH/USDT:USDT",
            currency="USDT",
            amount=Decimal(amount),
            ts=ts,
            session_id=None,
            now=NOW,
        )


def test_period_stats_count_funding_in_the_total_not_as_trades() -> None:
    stats = pnl.current_period(
        [(int(NOW * 1000), Decimal(30)), (int((NOW - 30 * 86400) * 1000), Decimal(99))],
        "day",
        int(NOW * 1000),
        funding=[(int((NOW - HOUR) * 1000), Decimal("-0.25")), (int(NOW * 1000), Decimal(1))],
    )
    assert stats.trades == 1 and stats.wins == 1 and stats.best == Decimal(30)
    assert stats.funding == Decimal("0.75") and stats.funding_payments == 2
    assert stats.total == Decimal("30.75")
    only = pnl.PeriodStats().add_funding(Decimal("-2"))
    assert only.total == Decimal(-2) and only.trades == 0 and only.win_rate is None
    assert only.add(Decimal(5)).funding == Decimal(-2)  # a trade keeps the funding


async def test_a_payment_is_booked_once(db) -> None:
    for uid in (TRADER, OTHER):
        async with db.transaction() as tx:
            await users.upsert_user(tx, uid, uid, f"u{uid}", None, Role.TRADER)
    assert await book(db, TRADER, "p1", "-0.1", NOW - HOUR)
    assert not await book(db, TRADER, "p1", "-0.1", NOW - HOUR)  # the venue's id again
    assert await book(db, OTHER, "p1", "0.2", NOW - HOUR)  # another user's account
    assert await funding.last_ts(db, TRADER, "bingx") == NOW - HOUR
    assert await funding.last_ts(db, TRADER, "kraken") is None
    rows = await db.fetchall("SELECT user_id, amount FROM funding_payments ORDER BY user_id")
    assert [(r["user_id"], r["amount"]) for r in rows] == [(TRADER, "-0.1"), (OTHER, "0.2")]


async def test_pnl_and_dashboard_include_funding(db, settings) -> None:
    for uid in (TRADER, OTHER):
        async with db.transaction() as tx:
            await users.upsert_user(tx, uid, uid, f"u{uid}", None, Role.TRADER)
    await arrange_trader(db, TRADER, NOW)  # closed today: +30, -10, +5
    await book(db, TRADER, "a", "-0.40", NOW - 2 * HOUR)
    await book(db, TRADER, "b", "-0.35", NOW - 10 * HOUR)
    await book(db, TRADER, "c", "-5", NOW - 3 * 86400)  # last week: not today
    await book(db, OTHER, "d", "100", NOW - HOUR)  # someone else's
    service = ReportsService(db, settings, clock=lambda: NOW)

    day = await service.pnl(TRADER, "day")
    assert day.stats.trades == 3 and day.stats.funding_payments == 2
    assert day.stats.funding == Decimal("-0.75")
    assert day.stats.total == Decimal(25) - Decimal("0.75")
    text = pnl_text(day, "")
    assert "Realised P&amp;L: <b>+24.25 USDT</b>" in text
    assert "Funding: -0.75 USDT (2 payments, included above)" in text
    all_time = await service.pnl(TRADER, "all")
    assert all_time.stats.funding == Decimal("-5.75") and all_time.stats.funding_payments == 3

    dash = await service.dashboard(TRADER)
    assert dash.realized_today.total == Decimal("24.25")
    assert dash.realized_today.funding == Decimal("-0.75")
    me = await users.get_user(db, TRADER)
    shown = dashboard_text(Access(me, me), dash, None, NOW, [])
    assert "(realised +24.25 USDT in 3 trades, funding -0.75 USDT)" in shown

    none = await service.pnl(OTHER, "week")
    assert none.stats.funding == Decimal(100) and none.stats.trades == 0
    plain = PnlReport("day", None, pnl.PeriodStats().add(Decimal(3)))
    assert "Funding" not in pnl_text(plain, "")  # no line without payments
