"""Deposits and withdrawals in the reports: /pnl shows the period's net as a footnote
(they are in the equity line, not in the P&L), the dashboard says today's P&L leaves
them out; another user's flows and older ones are not counted."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from nija_tg.core.models import Role
from nija_tg.messages.reports import dashboard as dashboard_text
from nija_tg.messages.reports import pnl as pnl_text
from nija_tg.services.reports_service import Access, ReportsService
from nija_tg.storage import cash_flows, users
from nija_tg.storage.db import Database
from tests.services.test_reports_service import arrange_trader

TRADER, OTHER = 2001, 2002
NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday
HOUR = 3600.0


async def flow(db: Database, uid: int, amount: str, ts: float) -> None:
    async with db.transaction() as tx:
        await cash_flows.record(
            tx,
            uid,
            mode="live",
            exchange_id="kraken",
            ts=ts,
            amount=Decimal(amount),
            source="balance_change",
            detail={"USD": Decimal(amount)},
        )


async def test_pnl_and_dashboard_show_cash_flows_apart(db, settings) -> None:
    for uid in (TRADER, OTHER):
        async with db.transaction() as tx:
            await users.upsert_user(tx, uid, uid, f"u{uid}", None, Role.TRADER)
    await arrange_trader(db, TRADER, NOW)
    await flow(db, TRADER, "1000", NOW - HOUR)
    await flow(db, TRADER, "-250", NOW - 2 * HOUR)
    await flow(db, TRADER, "-40", NOW - 2 * 86400)  # Monday: earlier this week
    await flow(db, OTHER, "777", NOW - HOUR)
    service = ReportsService(db, settings, clock=lambda: NOW)

    day = await service.pnl(TRADER, "day")
    assert (day.cash_flow, day.cash_flows) == (Decimal(750), 2)
    assert "Deposits/withdrawals: +750.00 USDT (in the equity, not in P&amp;L)" in pnl_text(day, "")
    week = await service.pnl(TRADER, "week")
    assert (week.cash_flow, week.cash_flows) == (Decimal(710), 3)

    dash = await service.dashboard(TRADER)
    assert dash.cash_flow_today == Decimal(750)
    me = await users.get_user(db, TRADER)
    shown = dashboard_text(Access(me, me), dash, None, NOW, [])
    assert "deposits/withdrawals +750.00 USDT left out" in shown

    other = await service.pnl(OTHER, "day")
    assert (other.cash_flow, other.cash_flows) == (Decimal(777), 1)
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM cash_flows WHERE user_id = ?", (TRADER,))
    quiet = await service.pnl(TRADER, "month")
    assert quiet.cash_flows == 0 and "Deposits" not in pnl_text(quiet, "")
    dash = await service.dashboard(TRADER)
    assert "deposits/withdrawals" not in dashboard_text(Access(me, me), dash, None, NOW, [])
