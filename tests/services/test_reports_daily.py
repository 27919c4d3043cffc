"""ReportsService.daily and .performance against a real database (engine-like rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from nija_tg.services.reports_service import DAILY_MAX, ReportsService
from nija_tg.storage import funding
from nija_tg.storage.db import Database
from tests.services.test_reports_service import (
    EQUITY,
    NOW,
    OTHER,
    TRADER,
    add_user,
    arrange_trader,
)

YESTERDAY = NOW - 86400


@pytest.fixture
async def service(db: Database, settings) -> ReportsService:
    for uid in (TRADER, OTHER):
        await add_user(db, uid)
    return ReportsService(db, settings, clock=lambda: NOW)


async def book_funding(db: Database, uid: int, amount: str, ts: float) -> None:
    async with db.transaction() as tx:
        await funding.record(
            tx, uid, "bingx", "live", payment_id=f"f{ts}", symbol="ETH/USDT:USDT",
            currency="USDT", amount=Decimal(amount), ts=ts, session_id=None, now=NOW,
        )  # fmt: skip


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


async def test_daily_rows_every_day_newest_first(service: ReportsService, db: Database):
    await arrange_trader(db, TRADER, now=NOW)
    await book_funding(db, TRADER, "-2.5", YESTERDAY)
    report = await service.daily(TRADER, 7)
    assert [d.day for d in report.days] == [_day(NOW - i * 86400) for i in range(7)]
    today, yesterday = report.days[0], report.days[1]
    assert (today.pnl, today.trades, today.fills, today.equity) == (Decimal(25), 3, 4, EQUITY)
    assert (yesterday.pnl, yesterday.trades, yesterday.fills) == (Decimal("-2.5"), 0, 0)
    # the day's last equity point (arrange_trader: every 6 h, 12000 + hours % 50)
    last = min(h for h in range(7 * 24 - 1, 0, -6) if _day(NOW - h * 3600) == yesterday.day)
    assert yesterday.equity == Decimal(12000) + Decimal(last % 50)
    # ETH/USDT's trades (+25) and ETH/USDT:USDT's funding (-2.5): both in USDT
    assert today.pnl_by_currency == {"USDT": Decimal(25)}
    assert report.total_by_currency == {"USDT": Decimal("22.5")} and report.trades == 3
    assert [d.day for d in (await service.daily(TRADER, 0)).days] == [_day(NOW)]
    assert len((await service.daily(TRADER, 10_000)).days) == DAILY_MAX
    other = await service.daily(OTHER, 7)  # another user's rows never count
    assert other.total_by_currency == {} and other.trades == 0
    assert all(d.equity is None for d in other.days)


async def test_performance_per_pair(service: ReportsService, db: Database):
    await arrange_trader(db, TRADER, now=NOW)
    await book_funding(db, TRADER, "-2.5", YESTERDAY)
    report = await service.performance(TRADER, "all")
    assert [(p.symbol, p.trades, p.wins, p.pnl) for p in report.pairs] == [
        ("ETH/USDT", 3, 2, Decimal(25)),
        ("ETH/USDT:USDT", 0, 0, Decimal("-2.5")),
    ]
    assert report.pairs[0].win_rate == Decimal(2) / 3 and report.pairs[1].win_rate is None
    assert report.pairs[1].funding == Decimal("-2.5")
    assert [p.currency for p in report.pairs] == ["USDT", "USDT"]  # each pair's quote
    assert report.total_by_currency == {"USDT": Decimal("22.5")} and report.trades == 3
    today = await service.performance(TRADER, "day")
    assert [p.symbol for p in today.pairs] == ["ETH/USDT"] and today.start is not None
    assert (await service.performance(OTHER, "all")).pairs == []
    with pytest.raises(ValueError):
        await service.performance(TRADER, "year")


async def test_swap_positions_carry_the_leverage_and_their_pnl_share(
    service: ReportsService, db: Database
):
    await arrange_trader(db, TRADER, now=NOW)
    report = await service.positions(TRADER)
    [spot] = report.positions
    assert spot.leverage is None  # spot: no leverage
    assert spot.pnl_pct == Decimal(50) / Decimal(3000)
