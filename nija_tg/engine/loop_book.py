"""The bookkeeping half of a user's loop: equity from balances and the hub's last
closes, the UTC day (rollover, daily summary), the limits (drawdown pauses, daily loss
blocks entries) and the snapshot the bot reads (written through the shared
``SnapshotWriter`` when the loop has one, else in a transaction of its own)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nija_tg.core import risk
from nija_tg.core.errors import NijaError
from nija_tg.core.models import BalanceLine, MarketInfo, UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate
from nija_tg.engine import loop_store
from nija_tg.engine.clock import utc_day
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.loop_support import daily_loss_text, drawdown_text, equity_of, summary_text
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
    day: str
    sod_equity: Decimal
    peak_equity: Decimal
    start_equity: Decimal
    equity: Decimal
    blocked_day: str
    seed_prices: dict[str, Decimal]
    alerts: list[tuple[int, str]]

    if TYPE_CHECKING:  # provided by UserLoop

        async def _paused_by_engine(self, reason: str) -> None: ...

    async def _load_day_state(self, restart: bool) -> None:
        writer = self.deps.snapshots
        if writer is not None:
            snap = await writer.latest(self.user_id)
        else:
            snap = await loop_store.load_snapshot(self.db, self.user_id)
        self.day = utc_day(self.deps.clock.now_ms())
        same_day = snap is not None and snap.day == self.day
        self.sod_equity = (
            snap.start_of_day_equity if same_day and snap.start_of_day_equity else self.equity
        )
        peak = snap.peak_equity if restart and snap is not None else None
        self.peak_equity = max(peak or self.equity, self.equity)
        self.start_equity = self.equity

    async def _rollover(self) -> None:
        day = utc_day(self.deps.clock.now_ms())
        if day != self.day:
            if self.day:
                await self._daily_summary(self.day, self.sod_equity)
            self.day, self.sod_equity = day, self.equity
        self.peak_equity = max(self.peak_equity, self.equity)

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
        if gate.entries and risk.drawdown_breached(
            self.equity, self.peak_equity, s.max_drawdown_pct
        ):
            pct = risk.drawdown_pct(self.equity, self.peak_equity)
            writer = self.deps.snapshots
            if writer is not None:
                await writer.flush()  # the equity point that shows the drawdown, first
            held = await self.held.all()
            async with self.db.transaction() as tx:
                await users.set_status(tx, self.user_id, UserStatus.PAUSED, "drawdown")
                await outbox.enqueue(
                    tx, self.user_id, "drawdown", drawdown_text(pct, s.max_drawdown_pct, len(held))
                )
            await self._paused_by_engine("drawdown")
            log.info("user %s paused: drawdown %.2f%%", self.user_id, pct)
            self.alerts.append((self.deps.clock.now_ms(), "drawdown"))
            return True
        pnl_today = self.equity - self.sod_equity
        if not risk.daily_loss_breached(
            pnl_today, self.sod_equity, s.daily_loss_pct, s.daily_loss_usd
        ):
            # once reached, the limit blocks entries until the next UTC day, even if
            # open positions win the loss back meanwhile
            return self.blocked_day == self.day
        if self.blocked_day != self.day:
            self.blocked_day = self.day
            self.alerts.append((self.deps.clock.now_ms(), "daily_loss"))
            limit = risk.daily_loss_limit(self.sod_equity, s.daily_loss_pct, s.daily_loss_usd)
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
            start_of_day_equity=self.sod_equity,
            peak_equity=self.peak_equity,
            day=self.day,
        )
        ts_s = self.deps.clock.now_ms() / 1000
        writer = self.deps.snapshots
        if writer is not None:
            writer.put(self.user_id, snap, ts_s)
            return
        async with self.db.transaction() as tx:
            await loop_store.write_snapshot(tx, self.user_id, snap, ts_s)
