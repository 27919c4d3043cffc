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
from nija_tg.core.models import BalanceLine, UserStatus
from nija_tg.core.trading_gate import Gate
from nija_tg.engine import loop_store
from nija_tg.engine.clock import utc_day
from nija_tg.engine.loop_context import LoopContext
from nija_tg.engine.loop_support import daily_loss_text, drawdown_text, equity_of, summary_text
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.exchange.protocol import MarketDataSource
from nija_tg.storage import cash_flows as cash_flows_repo
from nija_tg.storage import fills, outbox, users
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
        writer = self.snapshots
        key = self.ctx.marks_key
        if writer is not None:
            stored = await writer.latest_marks(key)
        else:
            stored = await cash_flows_repo.get_marks(self.ctx.db, *key)
        day = utc_day(self.ctx.clock.now_ms())
        if stored is None:
            self.ctx.marks = flows.fresh_marks(day, self.ctx.equity)
        elif restart:
            self.ctx.marks = stored
        else:
            self.ctx.marks = dataclasses.replace(stored, starting_equity_plus_flows=self.ctx.equity)
        await self.note_balances(balances, self.ctx.equity)
        self.ctx.marks = flows.roll(self.ctx.marks, day, self.ctx.equity)
        self.put_marks()

    async def note_balances(self, balances: list[BalanceLine], equity: Decimal) -> None:
        """Compare this read of the balances (the account worth ``equity`` now) with the
        last one: a change that no fill explains is a deposit or a withdrawal, recorded
        and kept out of the limits."""
        amounts = _amounts(balances)
        m = self.ctx.marks
        if m.last_fill_id is not None and amounts == m.last_balances:
            return  # nothing moved (most closes): no query; fills since are looked at later
        expected: dict[str, Decimal] | None = None
        if m.last_fill_id is None:
            newest = await cash_flows_repo.newest_fill_id(self.ctx.db, self.ctx.user_id)
        else:
            rows = await cash_flows_repo.fills_after(self.ctx.db, self.ctx.user_id, m.last_fill_id)
            newest = rows[-1]["fill_id"] if rows else m.last_fill_id
            expected = self._expected_change(rows)
        found = flows.detect_cash_flow(
            m.last_balances, amounts, self._asset_prices(), equity, expected=expected
        )
        self.ctx.marks = dataclasses.replace(m, last_balances=amounts, last_fill_id=newest)
        if found is None:
            self.put_marks()  # the read to compare the next one with, kept over a restart
            return
        amount, detail = found
        self.ctx.marks = flows.apply_cash_flow(self.ctx.marks, amount, equity)
        kind = "deposit" if amount > 0 else "withdrawal"
        log.info("user %s: %s of %s detected from the balances", self.ctx.user_id, kind, amount)
        async with self.ctx.db.transaction() as tx:
            await cash_flows_repo.record(
                tx,
                self.ctx.user_id,
                mode=str(self.ctx.mode.value),
                exchange_id=self.ctx.exchange_id,
                ts=self.ctx.clock.now_ms() / 1000,
                amount=amount,
                source="balance_change",
                detail=detail,
                equity_after=equity,
            )
            await cash_flows_repo.save_marks(tx, self.ctx.marks_key, self.ctx.marks)  # booked once
        self.put_marks()

    async def note_cash_flow(self) -> None:
        """``note_balances`` on this close's first read, once every held market has a
        price (else the equity is understated: judged on a later close)."""
        balances = self.ctx.account_balances
        if balances is None:
            return
        m = self.ctx.marks
        if m.last_fill_id is not None and _amounts(balances) == m.last_balances:
            return  # nothing moved (most closes)
        held = await self.ctx.held.all()
        if all(p.symbol in self.ctx.prices() for p in held):
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
        day = utc_day(self.ctx.clock.now_ms())
        if day != self.ctx.marks.day:
            if self.ctx.marks.day:
                await self.daily_summary(self.ctx.marks.day, self.ctx.marks.day_pnl_base)
        before = self.ctx.marks
        self.ctx.marks = flows.roll(self.ctx.marks, day, self.ctx.equity)
        if self.ctx.marks != before:
            self.put_marks()

    async def daily_summary(self, day: str, start_equity: Decimal) -> None:
        """One 'summary' notification for the UTC day that just ended (idempotent)."""
        start = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        closed = [
            pnl
            for ts, pnl in await fills.realized_since(self.ctx.db, self.ctx.user_id, start)
            if ts < start + 86400
        ]
        text = summary_text(day, self.ctx.equity - start_equity, self.ctx.equity, closed)
        async with self.ctx.db.transaction() as tx:
            await outbox.enqueue(
                tx,
                self.ctx.user_id,
                "summary",
                text,
                dedupe_key=f"summary:{self.ctx.user_id}:{day}",
            )

    async def check_limits(self, gate: Gate) -> bool:
        """True: no new entries. Drawdown (judged while the gate allows entries): the
        user is paused, after the close's snapshot and equity point are written, and the
        loop goes on protecting what is still open. Daily loss: one alert a day."""
        s = self.ctx.settings
        m = self.ctx.marks
        if gate.entries and risk.drawdown_breached(
            self.ctx.equity, m.peak_equity_flow_adjusted, s.max_drawdown_pct
        ):
            pct = risk.drawdown_pct(self.ctx.equity, m.peak_equity_flow_adjusted)
            # the drawdown is acted on: the peak starts again from the next read (0: no
            # peak yet), so a user resumed later is not paused again for the same fall
            self.ctx.marks = dataclasses.replace(m, peak_equity_flow_adjusted=Decimal(0))
            self.put_marks()
            writer = self.snapshots
            if writer is not None:
                await writer.flush()  # the equity point that shows the drawdown, first
            held = await self.ctx.held.all()
            async with self.ctx.db.transaction() as tx:
                await users.set_status(tx, self.ctx.user_id, UserStatus.PAUSED, "drawdown")
                await cash_flows_repo.save_marks(tx, self.ctx.marks_key, self.ctx.marks)
                await outbox.enqueue(
                    tx,
                    self.ctx.user_id,
                    "drawdown",
                    drawdown_text(pct, s.max_drawdown_pct, len(held)),
                )
            await self.ctx.paused_by_engine("drawdown")
            log.info("user %s paused: drawdown %.2f%%", self.ctx.user_id, pct)
            self.ctx.alerts.append((self.ctx.clock.now_ms(), "drawdown"))
            return True
        pnl_today = m.pnl_today(self.ctx.equity)  # deposits and withdrawals left out
        if not risk.daily_loss_breached(
            pnl_today, m.daily_loss_base, s.daily_loss_pct, s.daily_loss_usd
        ):
            # once reached, the limit blocks entries until the next UTC day, even if
            # open positions win the loss back meanwhile
            return self.ctx.blocked_day == self.ctx.day
        if self.ctx.blocked_day != self.ctx.day:
            self.ctx.blocked_day = self.ctx.day
            self.ctx.alerts.append((self.ctx.clock.now_ms(), "daily_loss"))
            limit = risk.daily_loss_limit(m.daily_loss_base, s.daily_loss_pct, s.daily_loss_usd)
            async with self.ctx.db.transaction() as tx:
                await outbox.enqueue(
                    tx,
                    self.ctx.user_id,
                    "daily_loss",
                    daily_loss_text(-pnl_today, limit),
                    dedupe_key=f"daily_loss:{self.ctx.user_id}:{self.ctx.day}",
                )
        return True

    # --- equity and snapshot -------------------------------------------------------

    async def seed_prices(self) -> None:
        """Tickers of the markets held at start, so the first equity counts them."""
        for p in await self.ctx.held.all():
            if p.symbol in self.ctx.markets and p.symbol not in self.ctx.seed_prices:
                try:
                    ticker = await self.market_data.fetch_ticker(self.ctx.exchange_id, p.symbol)
                except NijaError as exc:
                    log.info("user %s: no price for %s yet (%s)", self.ctx.user_id, p.symbol, exc)
                    continue
                self.ctx.seed_prices[p.symbol] = ticker.last

    async def equity_now(
        self, balances: list[BalanceLine], held: list[PositionRow] | None = None
    ) -> Decimal:
        if held is None:
            held = await self.ctx.held.all()
        return equity_of(balances, self.ctx.markets, self.ctx.prices(), held)

    async def save_snapshot(
        self, balances: list[BalanceLine], held: list[PositionRow], signals: dict[str, Signal]
    ) -> None:
        last: dict[str, Any] | None = None
        if signals:
            last = {
                s: {"action": str(g.action), "confidence": g.confidence, "reason": g.reason}
                for s, g in signals.items()
            }
        snap = loop_store.snapshot_of(
            equity=self.ctx.equity,
            balances=balances,
            positions=held,
            prices=self.ctx.prices(),
            last_signal=last,
            start_of_day_equity=self.ctx.marks.day_pnl_base,
            peak_equity=self.ctx.marks.peak_equity_flow_adjusted,
            day=self.ctx.day,
        )
        ts_s = self.ctx.clock.now_ms() / 1000
        writer = self.snapshots
        if writer is not None:
            writer.put(self.ctx.user_id, snap, ts_s)
            return
        async with self.ctx.db.transaction() as tx:
            await loop_store.write_snapshot(tx, self.ctx.user_id, snap, ts_s)
            await cash_flows_repo.save_marks(tx, self.ctx.marks_key, self.ctx.marks)


def _amounts(balances: list[BalanceLine]) -> dict[str, Decimal]:
    """Currency -> amount held: a swap account's wallet (without open P&L) where the venue
    reports one, else the total. A price move never changes these; a cash flow does."""
    return {b.currency: b.wallet if b.wallet is not None else b.total for b in balances}
