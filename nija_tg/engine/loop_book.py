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
from typing import TYPE_CHECKING, Any

from nija_tg.core import cash_flows as flows
from nija_tg.core import risk
from nija_tg.core.cash_flows import LimitMarks
from nija_tg.core.errors import NijaError
from nija_tg.core.models import BalanceLine, MarketInfo, UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate
from nija_tg.engine import loop_store
from nija_tg.engine.clock import utc_day
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.loop_support import daily_loss_text, drawdown_text, equity_of, summary_text
from nija_tg.storage import cash_flows as cash_flows_repo
from nija_tg.storage import fills, outbox, users
from nija_tg.storage.db import Database
from nija_tg.storage.positions import PositionRow
from nija_tg.strategies import Signal

if TYPE_CHECKING:
    from nija_tg.engine.user_loop import LoopDeps

log = logging.getLogger("nija_tg.engine.loop")


class LoopBook:
    """Mixin of UserLoop: the state it reads is set up by the loop's ``start``."""

    deps: LoopDeps
    db: Database
    user_id: int
    exchange_id: str
    settings: RiskSettings
    markets: dict[str, MarketInfo]
    held: HeldPositions
    mode: Any
    marks: LimitMarks
    account_balances: list[BalanceLine] | None
    equity: Decimal
    blocked_day: str
    seed_prices: dict[str, Decimal]
    alerts: list[tuple[int, str]]

    if TYPE_CHECKING:  # provided by UserLoop

        async def _paused_by_engine(self, reason: str) -> None: ...

    @property
    def day(self) -> str:
        """The UTC day the start-of-day equity belongs to."""
        return self.marks.day

    @property
    def marks_key(self) -> cash_flows_repo.MarksKey:
        return (self.user_id, str(self.mode.value), self.exchange_id)

    async def _load_marks(self, restart: bool, balances: list[BalanceLine]) -> None:
        """The account's marks as stored (a new account: from the equity now). The peak
        and the day's start carry over whatever ended the last session; the sizing basis
        of a session (``starting_equity_plus_flows``) only over an engine restart. A cash
        flow since the last stored read (the engine was down, trading was off) is booked
        before anything is judged."""
        writer = self.deps.snapshots
        key = self.marks_key
        if writer is not None:
            stored = await writer.latest_marks(key)
        else:
            stored = await cash_flows_repo.get_marks(self.db, *key)
        day = utc_day(self.deps.clock.now_ms())
        if stored is None:
            self.marks = flows.fresh_marks(day, self.equity)
        elif restart:
            self.marks = stored
        else:
            self.marks = dataclasses.replace(stored, starting_equity_plus_flows=self.equity)
        await self._note_balances(balances, self.equity)
        self.marks = flows.roll(self.marks, day, self.equity)
        self._put_marks()

    async def _note_balances(self, balances: list[BalanceLine], equity: Decimal) -> None:
        """Compare this read of the balances (the account worth ``equity`` now) with the
        last one: a change that no fill explains is a deposit or a withdrawal, recorded
        and kept out of the limits."""
        amounts = _amounts(balances)
        m = self.marks
        if m.last_fill_id is not None and amounts == m.last_balances:
            return  # nothing moved (most closes): no query; fills since are looked at later
        expected: dict[str, Decimal] | None = None
        if m.last_fill_id is None:
            newest = await cash_flows_repo.newest_fill_id(self.db, self.user_id)
        else:
            rows = await cash_flows_repo.fills_after(self.db, self.user_id, m.last_fill_id)
            newest = rows[-1]["fill_id"] if rows else m.last_fill_id
            expected = self._expected_change(rows)
        found = flows.detect_cash_flow(
            m.last_balances, amounts, self._asset_prices(), equity, expected=expected
        )
        self.marks = dataclasses.replace(m, last_balances=amounts, last_fill_id=newest)
        if found is None:
            self._put_marks()  # the read to compare the next one with, kept over a restart
            return
        amount, detail = found
        self.marks = flows.apply_cash_flow(self.marks, amount, equity)
        kind = "deposit" if amount > 0 else "withdrawal"
        log.info("user %s: %s of %s detected from the balances", self.user_id, kind, amount)
        async with self.db.transaction() as tx:
            await cash_flows_repo.record(
                tx,
                self.user_id,
                mode=str(self.mode.value),
                exchange_id=self.exchange_id,
                ts=self.deps.clock.now_ms() / 1000,
                amount=amount,
                source="balance_change",
                detail=detail,
                equity_after=equity,
            )
            await cash_flows_repo.save_marks(tx, self.marks_key, self.marks)  # booked once
        self._put_marks()

    async def _note_cash_flow(self) -> None:
        """``_note_balances`` on this close's first read, once every held market has a
        price (else the equity is understated: judged on a later close)."""
        balances = self.account_balances
        if balances is None:
            return
        m = self.marks
        if m.last_fill_id is not None and _amounts(balances) == m.last_balances:
            return  # nothing moved (most closes)
        held = await self.held.all()
        if all(p.symbol in self._prices() for p in held):
            await self._note_balances(balances, await self._equity(balances, held))

    def _expected_change(self, rows: list[Any]) -> dict[str, Decimal] | None:
        """How the fills ``rows`` moved the balances; None when one of them is not on a
        known spot market (a swap fill moves the wallet by its P&L, not by its amount)."""
        booked = []
        for r in rows:
            market = self.markets.get(r["symbol"])
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
        prices = self._prices()
        out: dict[str, Decimal] = {}
        for symbol, market in self.markets.items():
            if market.kind == "spot" and symbol in prices:
                out.setdefault(market.base, prices[symbol])
        return out

    def _put_marks(self) -> None:
        """Queue the marks with the shared writer (without one, each snapshot's own
        transaction writes them)."""
        writer = self.deps.snapshots
        if writer is not None:
            writer.put_marks(self.marks_key, self.marks)

    async def _rollover(self) -> None:
        day = utc_day(self.deps.clock.now_ms())
        if day != self.marks.day:
            if self.marks.day:
                await self._daily_summary(self.marks.day, self.marks.day_pnl_base)
        before = self.marks
        self.marks = flows.roll(self.marks, day, self.equity)
        if self.marks != before:
            self._put_marks()

    async def _daily_summary(self, day: str, start_equity: Decimal) -> None:
        """One 'summary' notification for the UTC day that just ended (idempotent)."""
        start = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        closed = [
            pnl
            for ts, pnl in await fills.realized_since(self.db, self.user_id, start)
            if ts < start + 86400
        ]
        text = summary_text(day, self.equity - start_equity, self.equity, closed)
        async with self.db.transaction() as tx:
            await outbox.enqueue(
                tx, self.user_id, "summary", text, dedupe_key=f"summary:{self.user_id}:{day}"
            )

    async def _check_limits(self, gate: Gate) -> bool:
        """True: no new entries. Drawdown (judged while the gate allows entries): the
        user is paused, after the close's snapshot and equity point are written, and the
        loop goes on protecting what is still open. Daily loss: one alert a day."""
        s = self.settings
        m = self.marks
        if gate.entries and risk.drawdown_breached(
            self.equity, m.peak_equity_flow_adjusted, s.max_drawdown_pct
        ):
            pct = risk.drawdown_pct(self.equity, m.peak_equity_flow_adjusted)
            # the drawdown is acted on: the peak starts again from the next read (0: no
            # peak yet), so a user resumed later is not paused again for the same fall
            self.marks = dataclasses.replace(m, peak_equity_flow_adjusted=Decimal(0))
            self._put_marks()
            writer = self.deps.snapshots
            if writer is not None:
                await writer.flush()  # the equity point that shows the drawdown, first
            held = await self.held.all()
            async with self.db.transaction() as tx:
                await users.set_status(tx, self.user_id, UserStatus.PAUSED, "drawdown")
                await cash_flows_repo.save_marks(tx, self.marks_key, self.marks)
                await outbox.enqueue(
                    tx, self.user_id, "drawdown", drawdown_text(pct, s.max_drawdown_pct, len(held))
                )
            await self._paused_by_engine("drawdown")
            log.info("user %s paused: drawdown %.2f%%", self.user_id, pct)
            self.alerts.append((self.deps.clock.now_ms(), "drawdown"))
            return True
        pnl_today = m.pnl_today(self.equity)  # deposits and withdrawals left out
        if not risk.daily_loss_breached(
            pnl_today, m.daily_loss_base, s.daily_loss_pct, s.daily_loss_usd
        ):
            # once reached, the limit blocks entries until the next UTC day, even if
            # open positions win the loss back meanwhile
            return self.blocked_day == self.day
        if self.blocked_day != self.day:
            self.blocked_day = self.day
            self.alerts.append((self.deps.clock.now_ms(), "daily_loss"))
            limit = risk.daily_loss_limit(m.daily_loss_base, s.daily_loss_pct, s.daily_loss_usd)
            async with self.db.transaction() as tx:
                await outbox.enqueue(
                    tx,
                    self.user_id,
                    "daily_loss",
                    daily_loss_text(-pnl_today, limit),
                    dedupe_key=f"daily_loss:{self.user_id}:{self.day}",
                )
        return True

    # --- equity and snapshot -------------------------------------------------------

    def _prices(self) -> dict[str, Decimal]:
        """Last closes of the user's markets (tickers seeded at start until then)."""
        out = dict(self.seed_prices)
        for symbol in self.markets:
            price = self.deps.hub.price(self.exchange_id, symbol)
            if price is not None:
                out[symbol] = price
        return out

    async def _seed_prices(self) -> None:
        """Tickers of the markets held at start, so the first equity counts them."""
        for p in await self.held.all():
            if p.symbol in self.markets and p.symbol not in self.seed_prices:
                try:
                    ticker = await self.deps.market_data.fetch_ticker(self.exchange_id, p.symbol)
                except NijaError as exc:
                    log.info("user %s: no price for %s yet (%s)", self.user_id, p.symbol, exc)
                    continue
                self.seed_prices[p.symbol] = ticker.last

    async def _equity(
        self, balances: list[BalanceLine], held: list[PositionRow] | None = None
    ) -> Decimal:
        if held is None:
            held = await self.held.all()
        return equity_of(balances, self.markets, self._prices(), held)

    async def _save_snapshot(
        self, balances: list[BalanceLine], held: list[PositionRow], signals: dict[str, Signal]
    ) -> None:
        last: dict[str, Any] | None = None
        if signals:
            last = {
                s: {"action": str(g.action), "confidence": g.confidence, "reason": g.reason}
                for s, g in signals.items()
            }
        snap = loop_store.snapshot_of(
            equity=self.equity,
            balances=balances,
            positions=held,
            prices=self._prices(),
            last_signal=last,
            start_of_day_equity=self.marks.day_pnl_base,
            peak_equity=self.marks.peak_equity_flow_adjusted,
            day=self.day,
        )
        ts_s = self.deps.clock.now_ms() / 1000
        writer = self.deps.snapshots
        if writer is not None:
            writer.put(self.user_id, snap, ts_s)
            return
        async with self.db.transaction() as tx:
            await loop_store.write_snapshot(tx, self.user_id, snap, ts_s)
            await cash_flows_repo.save_marks(tx, self.marks_key, self.marks)


def _amounts(balances: list[BalanceLine]) -> dict[str, Decimal]:
    """Currency -> amount held: a swap account's wallet (without open P&L) where the venue
    reports one, else the total. A price move never changes these; a cash flow does."""
    return {b.currency: b.wallet if b.wallet is not None else b.total for b in balances}
