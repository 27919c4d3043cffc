"""Deposits and withdrawals kept out of the limits. Pure: Decimal in, Decimal out.

The daily loss and the drawdown judge trading, not money moved in or out. What they are
measured from is kept per account in :class:`LimitMarks`:

- ``start_of_day_equity``: the equity at the first read of the UTC ``day``; no cash flow
  is ever added to it.
- ``cash_flow_today``: the day's net deposits (+) and withdrawals (-). Today's P&L is
  ``equity - start_of_day_equity - cash_flow_today``: a deposit never hides a loss, a
  withdrawal never makes one.
- ``daily_loss_base`` (derived): what ``daily_loss_pct`` is a share of: the start-of-day
  equity, fixed for the day: a deposit does not raise the limit of a day already losing,
  a withdrawal does not bring it closer.
- ``peak_equity_flow_adjusted``: the highest equity seen, multiplied at each cash flow by
  equity after / equity before it, so the drawdown in percent is the same just before and
  just after a deposit or a withdrawal (a withdrawal of half the account leaves a 10 %
  drawdown at 10 %). Kept across restarts and stop/start of trading. When the engine
  pauses the user for the drawdown it is set to 0 (no peak: the next read starts it
  again), and a loop that sees its user resumed sets it to the equity then, so a resumed
  user is not paused again for the same fall.
- ``starting_equity_plus_flows``: the equity when the session started plus the cash
  flows since (the sizing basis when ``auto_compound`` is off).

Detection without a ledger (``balance_change``): between two reads of the account's
balances, the amounts change by what the spot fills booked in between say (base bought,
quote paid, the fee) and by nothing else; what is left, each currency's unexplained
change valued at the last close (USD-like currencies at 1), is a cash flow when it
reaches ``max(min_usd, min_share x equity)``. Amounts, not equity, are compared, so a
price move is never a cash flow; a trade the engine has not booked yet (base sold for
quote at about the close) nearly cancels out, and so does a sale by hand the engine
booked at the last close; coins withdrawn are not cancelled by any quote and show as a
withdrawal. Fees and funding payments stay under the threshold. A swap fill between two
reads moves the wallet by its P&L, which the fill row does not carry: that pair of reads
is not judged (the next one is).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
CASH = frozenset({"USD", "USDT", "USDC"})
MIN_FLOW_USD = Decimal(1)
MIN_FLOW_SHARE = Decimal("0.01")  # of the equity: below this a change is not a cash flow


@dataclass(frozen=True, slots=True)
class BookedFill:
    """A spot fill booked between two balance reads, as the balances see it."""

    base: str
    quote: str
    buy: bool
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None


def expected_change(booked: list[BookedFill]) -> dict[str, Decimal]:
    """Currency -> how much the booked spot fills moved the balances."""
    out: dict[str, Decimal] = {}
    for f in booked:
        sign = 1 if f.buy else -1
        out[f.base] = out.get(f.base, ZERO) + sign * f.amount
        out[f.quote] = out.get(f.quote, ZERO) - sign * f.amount * f.price
        if f.fee:
            currency = f.fee_currency or f.quote
            out[currency] = out.get(currency, ZERO) - f.fee
    return out


@dataclass(frozen=True, slots=True)
class LimitMarks:
    """What the daily loss and the drawdown of one account are measured from."""

    day: str
    start_of_day_equity: Decimal
    cash_flow_today: Decimal
    peak_equity_flow_adjusted: Decimal
    starting_equity_plus_flows: Decimal
    # the last balance read (currency -> amount) and the newest fill id booked then
    last_balances: Mapping[str, Decimal] | None = None
    last_fill_id: int | None = None

    @property
    def day_pnl_base(self) -> Decimal:
        """Equity that means "no P&L today": start of day plus the day's net flows."""
        return self.start_of_day_equity + self.cash_flow_today

    @property
    def daily_loss_base(self) -> Decimal:
        """What ``daily_loss_pct`` is a share of: the start-of-day equity (no flows)."""
        return self.start_of_day_equity

    def pnl_today(self, equity: Decimal) -> Decimal:
        return equity - self.day_pnl_base


def fresh_marks(day: str, equity: Decimal) -> LimitMarks:
    return LimitMarks(day, equity, ZERO, equity, equity)


def roll(marks: LimitMarks, day: str, equity: Decimal) -> LimitMarks:
    """A new UTC day starts from ``equity`` with no cash flow; the peak follows equity."""
    if day != marks.day:
        marks = dataclasses.replace(
            marks, day=day, start_of_day_equity=equity, cash_flow_today=ZERO
        )
    return observe(marks, equity)


def observe(marks: LimitMarks, equity: Decimal) -> LimitMarks:
    """The peak raised to ``equity`` when it is higher."""
    if equity > marks.peak_equity_flow_adjusted:
        return dataclasses.replace(marks, peak_equity_flow_adjusted=equity)
    return marks


def apply_cash_flow(marks: LimitMarks, amount: Decimal, equity_after: Decimal) -> LimitMarks:
    """``marks`` after a deposit (+) or withdrawal (-) of ``amount`` that left the account
    at ``equity_after``: counted out of today's P&L, the peak rescaled (drawdown unchanged),
    the sizing basis moved by the amount."""
    before = equity_after - amount
    if before > 0 and equity_after > 0:
        peak = marks.peak_equity_flow_adjusted * equity_after / before
    else:  # an empty account funded (or emptied): the drawdown starts again from here
        peak = max(equity_after, ZERO)
    return dataclasses.replace(
        marks,
        cash_flow_today=marks.cash_flow_today + amount,
        peak_equity_flow_adjusted=peak,
        starting_equity_plus_flows=max(marks.starting_equity_plus_flows + amount, ZERO),
    )


def balance_change(
    before: Mapping[str, Decimal],
    after: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    expected: Mapping[str, Decimal] | None = None,
) -> tuple[Decimal, dict[str, Decimal]]:
    """(value in quote, {currency: amount changed}) between two balance reads, less the
    ``expected`` change; currencies that are neither USD-like nor priced are left out of
    the value (not of the detail)."""
    expected = expected or {}
    detail: dict[str, Decimal] = {}
    value = ZERO
    for currency in sorted(set(before) | set(after) | set(expected)):
        delta = after.get(currency, ZERO) - before.get(currency, ZERO)
        delta -= expected.get(currency, ZERO)
        if delta == 0:
            continue
        detail[currency] = delta
        price = Decimal(1) if currency in CASH else prices.get(currency)
        if price is not None:
            value += delta * price
    return value, detail


def detect_cash_flow(
    before: Mapping[str, Decimal] | None,
    after: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    equity: Decimal,
    *,
    expected: Mapping[str, Decimal] | None,
    min_usd: Decimal = MIN_FLOW_USD,
    min_share: Decimal = MIN_FLOW_SHARE,
) -> tuple[Decimal, dict[str, Decimal]] | None:
    """The cash flow between two balance reads, or None: no earlier read, fills whose
    effect is unknown in between (``expected`` None), or a change under the threshold.
    ``equity`` is the account's worth at the later read."""
    if before is None or expected is None:
        return None
    value, detail = balance_change(before, after, prices, expected)
    threshold = max(min_usd, min_share * max(equity - value, ZERO))
    if abs(value) < threshold:
        return None
    return value, detail
