"""Profit and loss arithmetic in Decimal: trades, positions, equity series, periods.

Amounts are in base units (or contracts with ``contract_size``), prices and fees in the
quote currency. Timestamps are UTC milliseconds (or aware datetimes). Periods are UTC:
days, ISO weeks (Monday start) and calendar months.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
PERIODS = ("day", "week", "month", "all")


def _sign(side: str) -> int:
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    return 1 if side == "long" else -1


def realized_pnl(
    side: str,
    entry_price: Decimal,
    exit_price: Decimal,
    amount: Decimal,
    fees: Decimal = ZERO,
    contract_size: Decimal = Decimal(1),
) -> Decimal:
    """P&L of closing ``amount`` of a long or short, net of ``fees`` (all fees paid for
    the round trip, in quote)."""
    if amount < 0 or fees < 0:
        raise ValueError("amount and fees must be >= 0")
    gross = (exit_price - entry_price) * amount * contract_size * _sign(side)
    return gross - fees


def unrealized_pnl(
    side: str,
    entry_price: Decimal,
    mark_price: Decimal,
    amount: Decimal,
    contract_size: Decimal = Decimal(1),
) -> Decimal:
    """Open P&L at ``mark_price`` (fees not included)."""
    return realized_pnl(side, entry_price, mark_price, amount, ZERO, contract_size)


def fee_for(notional: Decimal, rate: Decimal) -> Decimal:
    """Fee of a fill: |notional| x rate (e.g. rate 0.001 for 0.1%)."""
    return abs(notional) * rate


def average_entry(
    amount: Decimal, entry_price: Decimal, add_amount: Decimal, add_price: Decimal
) -> Decimal:
    """Volume-weighted entry after adding ``add_amount`` at ``add_price``."""
    total = amount + add_amount
    if amount < 0 or add_amount < 0 or total == 0:
        raise ValueError("amounts must be >= 0 and not both zero")
    return (amount * entry_price + add_amount * add_price) / total


def return_pct(pnl: Decimal, basis: Decimal) -> Decimal:
    """``pnl`` as a percentage of ``basis`` (0 when the basis is not positive)."""
    return ZERO if basis <= 0 else pnl / basis * 100


def win_rate(pnls: Iterable[Decimal]) -> Decimal | None:
    """Share (0..1) of closed trades with P&L > 0; break-even trades count as not won.
    None without trades."""
    values = list(pnls)
    if not values:
        return None
    return Decimal(sum(1 for p in values if p > 0)) / Decimal(len(values))


@dataclass(frozen=True, slots=True)
class Drawdown:
    amount: Decimal  # deepest fall from a running peak, in quote (>= 0)
    pct: Decimal  # the same fall in percent of that peak (0..100)
    peak: Decimal
    trough: Decimal


def max_drawdown(equity: Iterable[Decimal]) -> Drawdown:
    """The largest peak-to-trough fall of an equity series (ordered oldest first),
    measured in percent of the peak; ties keep the earliest."""
    best = Drawdown(ZERO, ZERO, ZERO, ZERO)
    peak: Decimal | None = None
    for value in equity:
        if peak is None or value > peak:
            peak = value
            continue
        fall = peak - value
        pct = fall / peak * 100 if peak > 0 else ZERO
        if pct > best.pct or (pct == best.pct and fall > best.amount):
            best = Drawdown(fall, pct, peak, value)
    return best


# --- periods ------------------------------------------------------------------------


def _as_datetime(ts: int | datetime) -> datetime:
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("naive datetime; pass an aware UTC datetime")
        return ts.astimezone(UTC)
    return datetime.fromtimestamp(ts / 1000, tz=UTC)


def period_key(ts: int | datetime, period: str) -> str:
    """Label of the UTC period holding ``ts``: ``2024-03-05``, ``2024-W09``,
    ``2024-03`` or ``all``."""
    dt = _as_datetime(ts)
    if period == "day":
        return dt.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = dt.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return dt.strftime("%Y-%m")
    if period == "all":
        return "all"
    raise ValueError(f"period must be one of {PERIODS}")


def period_start(now: int | datetime, period: str) -> datetime | None:
    """Start (UTC) of the period holding ``now``; None for ``all``."""
    dt = _as_datetime(now)
    midnight = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight
    if period == "week":
        return midnight - timedelta(days=midnight.weekday())
    if period == "month":
        return midnight.replace(day=1)
    if period == "all":
        return None
    raise ValueError(f"period must be one of {PERIODS}")


@dataclass(frozen=True, slots=True)
class PeriodStats:
    """Realised P&L of a period: closed trades (count, wins, best, worst) and the
    funding payments of swap positions, which ``total`` includes (``funding`` is that
    part; it never counts as a trade)."""

    total: Decimal = ZERO
    trades: int = 0
    wins: int = 0
    losses: int = 0
    best: Decimal | None = None
    worst: Decimal | None = None
    funding: Decimal = ZERO
    funding_payments: int = 0

    @property
    def win_rate(self) -> Decimal | None:
        return None if self.trades == 0 else Decimal(self.wins) / Decimal(self.trades)

    def add(self, pnl: Decimal) -> PeriodStats:
        return PeriodStats(
            total=self.total + pnl,
            trades=self.trades + 1,
            wins=self.wins + (pnl > 0),
            losses=self.losses + (pnl < 0),
            best=pnl if self.best is None else max(self.best, pnl),
            worst=pnl if self.worst is None else min(self.worst, pnl),
            funding=self.funding,
            funding_payments=self.funding_payments,
        )

    def add_funding(self, amount: Decimal) -> PeriodStats:
        """One funding payment (signed: > 0 received, < 0 paid)."""
        return replace(
            self,
            total=self.total + amount,
            funding=self.funding + amount,
            funding_payments=self.funding_payments + 1,
        )


def aggregate(
    items: Iterable[tuple[int | datetime, Decimal]], period: str
) -> dict[str, PeriodStats]:
    """Closed-trade P&L grouped by period label, labels in ascending order."""
    out: dict[str, PeriodStats] = {}
    for ts, pnl in items:
        key = period_key(ts, period)
        out[key] = out.get(key, PeriodStats()).add(pnl)
    return dict(sorted(out.items()))


def current_period(
    items: Iterable[tuple[int | datetime, Decimal]],
    period: str,
    now: int | datetime,
    funding: Iterable[tuple[int | datetime, Decimal]] = (),
) -> PeriodStats:
    """Stats of the period holding ``now`` (today, this week, this month or all): the
    closed trades' P&L ``items`` and the ``funding`` payments settled in it."""
    start = period_start(now, period)
    end = _as_datetime(now)

    def inside(ts: int | datetime) -> bool:
        dt = _as_datetime(ts)
        return (start is None or dt >= start) and dt <= end

    stats = PeriodStats()
    for ts, pnl in items:
        if inside(ts):
            stats = stats.add(pnl)
    for ts, amount in funding:
        if inside(ts):
            stats = stats.add_funding(amount)
    return stats


def quantize_money(value: Decimal, places: int = 2) -> Decimal:
    """Round for display (banker's rounding); keep full precision in storage."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
