"""One account's limit state, pure: what the daily loss and the drawdown are measured
from (:class:`~nija_tg.core.cash_flows.LimitMarks`), the UTC day on which the daily loss
limit was reached, and whether the drawdown paused the user. The decisions are the live
loop's (``engine/loop_book.py`` ``_check_limits``, ``_rollover``), in its order; the
backtest shell keeps one per run, the live loop keeps the same marks in the database.

Per close, after the equity is known: :meth:`LimitsBook.rollover` (a new UTC day starts
from the equity; the peak follows it), then :meth:`LimitsBook.check` with the user's gate
(drawdown from the peak >= ``max_drawdown_pct`` while the gate allows entries: paused,
the peak starts again; today's loss >= min(``daily_loss_usd``, ``daily_loss_pct`` of the
start-of-day equity): no new entries until the next UTC day)."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core import cash_flows as flows
from nija_tg.core import risk
from nija_tg.core.cash_flows import LimitMarks
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate


class LimitEvent(enum.StrEnum):
    NONE = "none"
    DRAWDOWN = "drawdown"  # the user is paused now (the live loop tells them once)
    DAILY_LOSS = "daily_loss"  # the limit was reached now (told once a day)


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    blocked: bool  # no new entries at this close
    event: LimitEvent = LimitEvent.NONE


@dataclass
class LimitsBook:
    settings: RiskSettings
    marks: LimitMarks
    blocked_day: str = ""  # the UTC day on which the daily loss limit was reached
    paused: bool = False  # the drawdown paused the user (the gate is PROTECT from then)

    @classmethod
    def start(cls, settings: RiskSettings, day: str, equity: Decimal) -> LimitsBook:
        """A new account's marks (the loop's start without stored marks)."""
        return cls(settings, flows.roll(flows.fresh_marks(day, equity), day, equity))

    @property
    def day(self) -> str:
        return self.marks.day

    def rollover(self, day: str, equity: Decimal) -> bool:
        """A new UTC day starts from ``equity``; the peak follows it. True when the day
        changed (the live loop writes the last day's summary then)."""
        changed = day != self.marks.day
        self.marks = flows.roll(self.marks, day, equity)
        return changed

    def check(self, gate: Gate, equity: Decimal) -> LimitVerdict:
        """The limits at this close (``loop_book._check_limits``)."""
        s, m = self.settings, self.marks
        if gate.entries and risk.drawdown_breached(
            equity, m.peak_equity_flow_adjusted, s.max_drawdown_pct
        ):
            self.marks = dataclasses.replace(m, peak_equity_flow_adjusted=Decimal(0))
            self.paused = True
            return LimitVerdict(True, LimitEvent.DRAWDOWN)
        pnl_today = m.pnl_today(equity)
        if not risk.daily_loss_breached(
            pnl_today, m.daily_loss_base, s.daily_loss_pct, s.daily_loss_usd
        ):
            return LimitVerdict(self.blocked_day == self.day)
        if self.blocked_day != self.day:
            self.blocked_day = self.day
            return LimitVerdict(True, LimitEvent.DAILY_LOSS)
        return LimitVerdict(True)

    def gate(self, gate: Gate) -> Gate:
        """The gate after this book's own pause: PROTECT once the drawdown paused."""
        return Gate.PROTECT if self.paused else gate
