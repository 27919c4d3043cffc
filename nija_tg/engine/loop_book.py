"""The bookkeeping half of a user's loop: equity from balances and the hub's last
closes, the UTC day (rollover, daily summary), deposits and withdrawals (kept out of the
limits), the limits (drawdown pauses, daily loss blocks entries) and the snapshot the bot
reads (written through the shared ``SnapshotWriter`` when the loop has one, else in a
transaction of its own).

What the limits are measured from is the account's ``LimitMarks`` (core/cash_flows.py):
start-of-day equity, the day's net cash flow, the flow-adjusted peak, kept per user, mode
and exchange in ``limit_marks`` across restarts and stop/start of trading."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nija_tg.core import cash_flows as flows
from nija_tg.core import risk
from nija_tg.core.errors import NijaError
from nija_tg.core.events import DailyLossLimit, DailySummary, DrawdownPaused
from nija_tg.core.models import BalanceLine, UserStatus
from nija_tg.core.trading_gate import Gate
from nija_tg.engine import loop_store
from nija_tg.engine.clock import utc_day
from nija_tg.engine.loop_context import LoopContext
from nija_tg.engine.loop_support import equity_of, quote_for
from nija_tg.engine.notify import tell
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.exchange.protocol import MarketDataSource
from nija_tg.storage import cash_flows as cash_flows_repo
from nija_tg.storage import fills, users
from nija_tg.storage.positions import PositionRow
from nija_tg.strategies import Signal

log = logging.getLogger("nija_tg.engine.loop")


class LoopBook:
    """The account's books for one user's loop: reads and updates the context's equity,
    marks and blocked day; writes snapshots through ``snapshots`` (None: in a
    transaction of its own) and seeds prices from ``market_data``."""

    def __init__(
        self,
        ctx: LoopContext,
        *,
        snapshots: SnapshotWriter | None,
        market_data: MarketDataSource,
    ) -> None:
        self.ctx = ctx
        self.snapshots = snapshots
        self.market_data = market_data

    async def load_marks(self, restart: bool, balances: list[BalanceLine]) -> None:
        """The account's marks as stored (a new account: from the equity now). The peak
        and the day's start carry over whatever ended the last session; the sizing basis
        of a session (``starting_equity_plus_flows``) only over an engine restart. A cash
        flow since the last stored read (the engine was down, trading was off) is booked
        before anything is judged."""
        ctx = self.ctx
        writer = self.snapshots
        key = ctx.marks_key
        if writer is not None:
            stored = await writer.latest_marks(key)
        else:
            stored = await cash_flows_repo.get_marks(ctx.db, *key)
        day = utc_day(ctx.clock.now_ms())
        if stored is None:
            ctx.marks = flows.fresh_marks(day, ctx.equity)
        elif restart:
            ctx.marks = stored
        else:
            ctx.marks = dataclasses.replace(stored, starting_equity_plus_flows=ctx.equity)
        await self.note_balances(balances, ctx.equity)
        ctx.marks = flows.roll(ctx.marks, day, ctx.equity)
        self.put_marks()

    async def note_balances(self, balances: list[BalanceLine], equity: Decimal) -> None:
        """Compare this read of the balances (the account worth ``equity`` now) with the
        last one: a change that no fill explains is a deposit or a withdrawal, recorded
        and kept out of the limits."""
        ctx = self.ctx
        amounts = _amounts(balances)
        m = ctx.marks
        if m.last_fill_id is not None and amounts == m.last_balances:
            return  # nothing moved (most closes): no query; fills since are looked at later
        expected: dict[str, Decimal] | None = None
        ex = ctx.executor
        ledger = ex.fills_ledger if ex is not None else None
        # the fills since the last read, from the executor's ledger while it knows them
        # all (its own fills, with their ids); else from the table
        known = None
        if ledger is not None and m.last_fill_id is not None:
            known = ledger.after(m.last_fill_id)
        mark = fills.written(ctx.user_id)  # before the read: a fill during it shows
        if known is not None:
            newest = known[-1]["fill_id"] if known else m.last_fill_id
            expected = self._expected_change(known)
        elif m.last_fill_id is None:
            newest = await cash_flows_repo.newest_fill_id(ctx.db, ctx.user_id)
        else:
            rows = await cash_flows_repo.fills_after(ctx.db, ctx.user_id, m.last_fill_id)
            newest = rows[-1]["fill_id"] if rows else m.last_fill_id
            expected = self._expected_change(rows)
        if known is None and ledger is not None:
            ledger.start(newest, mark)
        found = flows.detect_cash_flow(
            m.last_balances, amounts, self._asset_prices(), equity, expected=expected
        )
        ctx.marks = dataclasses.replace(m, last_balances=amounts, last_fill_id=newest)
        if found is None:
            self.put_marks()  # the read to compare the next one with, kept over a restart
            return
        amount, detail = found
        ctx.marks = flows.apply_cash_flow(ctx.marks, amount, equity)
        kind = "deposit" if amount > 0 else "withdrawal"
        log.info("user %s: %s of %s detected from the balances", ctx.user_id, kind, amount)
        async with ctx.db.transaction() as tx:
            await cash_flows_repo.record(
                tx,
                ctx.user_id,
                mode=str(ctx.mode.value),
                exchange_id=ctx.exchange_id,
                ts=ctx.clock.now_ms() / 1000,
                amount=amount,
                source="balance_change",
                detail=detail,
                equity_after=equity,
            )
            await cash_flows_repo.save_marks(tx, ctx.marks_key, ctx.marks)  # booked once
        self.put_marks()

    async def note_cash_flow(self) -> None:
        """``note_balances`` on this close's first read, once every held market has a
        price (else the equity is understated: judged on a later close)."""
        ctx = self.ctx
        balances = ctx.account_balances
        if balances is None:
            return
        m = ctx.marks
        if m.last_fill_id is not None and _amounts(balances) == m.last_balances:
            return  # nothing moved (most closes)
        held = await ctx.held.all()
        if all(p.symbol in ctx.prices() for p in held):
            await self.note_balances(balances, await self.equity_now(balances, held))

    def _expected_change(self, rows: list[Any]) -> dict[str, Decimal] | None:
        """How the fills ``rows`` moved the balances; None when one of them is not on a
        known spot market (a swap fill moves the wallet by its P&L, not by its amount)."""
        booked = []
        for r in rows:
            market = self.ctx.markets.get(r["symbol"])
            if market is None or market.kind != "spot":
                return None
            booked.append(
                flows.BookedFill(
                    base=market.base,
                    quote=market.quote,
                    buy=r["side"] == "buy",
                    amount=Decimal(r["amount"]),
                    price=Decimal(r["price"]),
                    fee=Decimal(r["fee"]),
                    fee_currency=r["fee_currency"],
                )
            )
        return flows.expected_change(booked)

    def _asset_prices(self) -> dict[str, Decimal]:
        """Currency -> last close of its spot market (what a balance change is worth)."""
        prices = self.ctx.prices()
        out: dict[str, Decimal] = {}
        for symbol, market in self.ctx.markets.items():
            if market.kind == "spot" and symbol in prices:
                out.setdefault(market.base, prices[symbol])
        return out

    def put_marks(self) -> None:
        """Queue the marks with the shared writer (without one, each snapshot's own
        transaction writes them)."""
        writer = self.snapshots
        if writer is not None:
            writer.put_marks(self.ctx.marks_key, self.ctx.marks)

    async def rollover(self) -> None:
        ctx = self.ctx
        day = utc_day(ctx.clock.now_ms())
        if day != ctx.marks.day:
            if ctx.marks.day:
                await self.daily_summary(ctx.marks.day, ctx.marks.day_pnl_base)
        before = ctx.marks
        ctx.marks = flows.roll(ctx.marks, day, ctx.equity)
        if ctx.marks is not before:  # ``roll`` answers the same marks when nothing moved
            self.put_marks()

    async def daily_summary(self, day: str, start_equity: Decimal) -> None:
        """One 'summary' notification for the UTC day that just ended (idempotent)."""
        ctx = self.ctx
        start = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        closed = [
            pnl
            for ts, pnl in await fills.realized_since(ctx.db, ctx.user_id, start)
            if ts < start + 86400
        ]
        summary = DailySummary(
            day,
            ctx.equity - start_equity,
            ctx.equity,
            tuple(closed),
            quote_for(ctx.exchange_id),
        )
        async with ctx.db.transaction() as tx:
            await tell(tx, ctx.user_id, summary)

    async def check_limits(self, gate: Gate) -> bool:
        """True: no new entries. Drawdown (judged while the gate allows entries): the
        user is paused, after the close's snapshot and equity point are written, and the
        loop goes on protecting what is still open. Daily loss: one alert a day."""
        ctx = self.ctx
        s = ctx.settings
        m = ctx.marks
        if gate.entries and risk.drawdown_breached(
            ctx.equity, m.peak_equity_flow_adjusted, s.max_drawdown_pct
        ):
            pct = risk.drawdown_pct(ctx.equity, m.peak_equity_flow_adjusted)
            # the drawdown is acted on: the peak starts again from the next read (0: no
            # peak yet), so a user resumed later is not paused again for the same fall
            ctx.marks = dataclasses.replace(m, peak_equity_flow_adjusted=Decimal(0))
            self.put_marks()
            writer = self.snapshots
            if writer is not None:
                await writer.flush()  # the equity point that shows the drawdown, first
            held = await ctx.held.all()
            async with ctx.db.transaction() as tx:
                await users.set_status(tx, ctx.user_id, UserStatus.PAUSED, "drawdown")
                await cash_flows_repo.save_marks(tx, ctx.marks_key, ctx.marks)
                await tell(tx, ctx.user_id, DrawdownPaused(pct, s.max_drawdown_pct, len(held)))
            await ctx.paused_by_engine("drawdown")
            log.info("user %s paused: drawdown %.2f%%", ctx.user_id, pct)
            ctx.alerts.append((ctx.clock.now_ms(), "drawdown"))
            return True
        pnl_today = m.pnl_today(ctx.equity)  # deposits and withdrawals left out
        if not risk.daily_loss_breached(
            pnl_today, m.daily_loss_base, s.daily_loss_pct, s.daily_loss_usd
        ):
            # once reached, the limit blocks entries until the next UTC day, even if
            # open positions win the loss back meanwhile
            return ctx.blocked_day == ctx.day
        if ctx.blocked_day != ctx.day:
            ctx.blocked_day = ctx.day
            ctx.alerts.append((ctx.clock.now_ms(), "daily_loss"))
            limit = risk.daily_loss_limit(m.daily_loss_base, s.daily_loss_pct, s.daily_loss_usd)
            async with ctx.db.transaction() as tx:
                loss = DailyLossLimit(-pnl_today, limit, ctx.day, quote_for(ctx.exchange_id))
                await tell(tx, ctx.user_id, loss)
        return True

    # --- equity and snapshot -------------------------------------------------------

    async def seed_prices(self) -> None:
        """Tickers of the markets held at start, so the first equity counts them."""
        ctx = self.ctx
        for p in await ctx.held.all():
            if p.symbol in ctx.markets and p.symbol not in ctx.seed_prices:
                try:
                    ticker = await self.market_data.fetch_ticker(ctx.exchange_id, p.symbol)
                except NijaError as exc:
                    log.info("user %s: no price for %s yet (%s)", ctx.user_id, p.symbol, exc)
                    continue
                ctx.seed_prices[p.symbol] = ticker.last

    async def equity_now(
        self,
        balances: list[BalanceLine],
        held: list[PositionRow] | None = None,
        prices: dict[str, Decimal] | None = None,
    ) -> Decimal:
        """The account's worth: ``balances`` and ``held`` at ``prices`` (default: the
        context's now)."""
        ctx = self.ctx
        if held is None:
            held = await ctx.held.all()
        return equity_of(balances, ctx.markets, ctx.prices() if prices is None else prices, held)

    async def save_snapshot(
        self,
        balances: list[BalanceLine],
        held: list[PositionRow],
        signals: dict[str, Signal],
        *,
        point: bool = True,
        equity: Decimal | None = None,
        prices: dict[str, Decimal] | None = None,
    ) -> None:
        """The snapshot the bot reads, worth ``equity`` (default: the close's), with one
        equity point (``point``: False for a snapshot refreshed after fills, one point
        per close); its prices ``prices`` (default: the context's now)."""
        ctx = self.ctx
        last = loop_store.signals_view(signals)  # shared by users with the same signals
        snap = loop_store.snapshot_of(
            equity=ctx.equity if equity is None else equity,
            balances=balances,
            positions=held,
            prices=ctx.prices() if prices is None else prices,
            last_signal=last,
            start_of_day_equity=ctx.marks.day_pnl_base,
            peak_equity=ctx.marks.peak_equity_flow_adjusted,
            day=ctx.day,
        )
        ts_s = ctx.clock.now_ms() / 1000
        writer = self.snapshots
        if writer is not None:
            writer.put(ctx.user_id, snap, ts_s, point=point)
            return
        async with ctx.db.transaction() as tx:
            await loop_store.write_snapshot(tx, ctx.user_id, snap, ts_s, point=point)
            await cash_flows_repo.save_marks(tx, ctx.marks_key, ctx.marks)


def _amounts(balances: list[BalanceLine]) -> dict[str, Decimal]:
    """Currency -> amount held: a swap account's wallet (without open P&L) where the venue
    reports one, else the total. A price move never changes these; a cash flow does."""
    return {b.currency: b.wallet if b.wallet is not None else b.total for b in balances}
