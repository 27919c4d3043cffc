"""Pre-trade risk checks, position sizing and stop logic. Pure: Decimal in, Decimal out.

``check_entry`` runs before every entry order. Checks, in order (first failure wins):

1. ``global_halt``   the admin kill switch is on
2. ``paused``        the user is paused
3. ``pair_not_allowed`` / ``short_not_allowed`` (spot can only go long)
4. ``already_open``  a position in this symbol exists (one-way mode; same side in hedge)
5. ``max_open_positions``
6. ``daily_loss``    today's loss >= min(daily_loss_usd, daily_loss_pct of start-of-day
                     equity): no new entries until the next UTC day
7. ``max_drawdown``  (peak - equity) / peak >= max_drawdown_pct: the caller pauses the
                     user and alerts
8. ``invalid_input`` non-positive price, stop distance or equity; then on swaps
   ``stop_beyond_liquidation``: the stop would not trigger before a liquidation at the
   leverage cap (``core/liquidation.py``)
9. sizing: amount = (basis x risk_per_trade_pct%) / stop_distance, where basis is the
   current equity (auto_compound) or min(equity, starting equity); capped by
   max_position_usd / fill price (a long's market order fills ``slippage`` above
   ``price``: the filled notional stays within the cap; a short's fills below it), by
   equity x leverage_cap / price on swaps (equity / price,
   or free quote balance / price, on spot); converted to contracts (/ contract_size);
   rounded down to the amount step
10. ``below_minimum`` the amount is zero or under the exchange's min amount or min cost
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from nija_tg.core import liquidation
from nija_tg.core.models import PositionInfo
from nija_tg.core.risk_settings import RiskSettings

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class RiskReason(enum.StrEnum):
    OK = "ok"
    GLOBAL_HALT = "global_halt"
    PAUSED = "paused"
    PAIR_NOT_ALLOWED = "pair_not_allowed"
    SHORT_NOT_ALLOWED = "short_not_allowed"
    ALREADY_OPEN = "already_open"
    MAX_OPEN_POSITIONS = "max_open_positions"
    DAILY_LOSS = "daily_loss"
    MAX_DRAWDOWN = "max_drawdown"
    INVALID_INPUT = "invalid_input"
    BELOW_MINIMUM = "below_minimum"
    STOP_BEYOND_LIQUIDATION = "stop_beyond_liquidation"  # swaps: core/liquidation.py


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything ``check_entry`` needs; amounts in the quote currency (~USD)."""

    settings: RiskSettings
    equity: Decimal
    start_of_day_equity: Decimal
    peak_equity: Decimal
    starting_equity: Decimal
    realized_pnl_today: Decimal
    symbol: str
    base: str
    quote: str
    market_kind: str  # "spot" | "swap"
    price: Decimal
    stop_distance: Decimal  # price units
    side: str = "long"  # of the intended entry
    open_positions: Sequence[PositionInfo] = ()
    unrealized_pnl: Decimal = ZERO  # of open positions; counts toward the daily loss
    free_quote: Decimal | None = None  # spot: cash available to spend
    # share of the cash (spot) or margin (swaps) kept back for the taker fee and slippage,
    # so an order sized to the limit is not refused for insufficient funds
    cost_buffer: Decimal = Decimal("0.01")
    # how far above ``price`` a market buy fills (the paper account's and the backtest's
    # slippage); 0 where it is not known in advance
    slippage: Decimal = ZERO
    min_amount: Decimal | None = None
    min_cost: Decimal | None = None
    amount_step: Decimal | None = None
    contract_size: Decimal = Decimal(1)  # swaps: base units per contract
    # swaps: the market's maintenance margin rate (None: the venue's documented default,
    # see core/liquidation.py)
    maintenance_margin_rate: Decimal | None = None
    global_halted: bool = False
    user_paused: bool = False


@dataclass(frozen=True, slots=True)
class RiskFigures:
    """The figures that say why an entry was refused, as data (the words are
    ``messages.render``'s, ``risk_text``); only those its reason uses are set."""

    symbol: str = ""
    side: str = ""  # already_open: the open position's; stop_beyond_liquidation: the entry's
    open_positions: int = 0  # max_open_positions
    max_open_positions: int = 0
    loss: Decimal | None = None  # daily_loss: lost today (realised and unrealised)
    loss_limit: Decimal | None = None
    drawdown_pct: Decimal | None = None  # max_drawdown
    drawdown_limit_pct: Decimal | None = None
    amount: Decimal | None = None  # below_minimum (and an approval): the order amount
    notional: Decimal | None = None
    quote: str = ""
    stop: Decimal | None = None  # stop_beyond_liquidation
    liquidation: Decimal | None = None
    entry: Decimal | None = None
    leverage: int = 0


@dataclass(frozen=True, slots=True)
class RiskDecision:
    approved: bool
    reason: RiskReason
    figures: RiskFigures = RiskFigures()
    amount: Decimal = ZERO  # order amount: base units on spot, contracts on swaps
    notional: Decimal = ZERO  # amount x contract_size x price
    risk_amount: Decimal = ZERO  # quote lost if the stop is hit
    capped_by: str = ""  # "", "max_position_usd", "leverage" or "balance"


def _reject(reason: RiskReason, figures: RiskFigures | None = None) -> RiskDecision:
    return RiskDecision(False, reason, figures or RiskFigures())


# --- limits -------------------------------------------------------------------------


def daily_loss_limit(
    start_of_day_equity: Decimal, daily_loss_pct: Decimal, daily_loss_usd: Decimal
) -> Decimal:
    """The smaller of the USD limit and the percentage of start-of-day equity."""
    if start_of_day_equity <= 0:
        return daily_loss_usd
    return min(daily_loss_usd, start_of_day_equity * daily_loss_pct / HUNDRED)


def daily_loss_breached(
    realized_pnl_today: Decimal,
    start_of_day_equity: Decimal,
    daily_loss_pct: Decimal,
    daily_loss_usd: Decimal,
    unrealized_pnl: Decimal = ZERO,
) -> bool:
    """True when today's loss reached either limit (whichever comes first)."""
    loss = -(realized_pnl_today + unrealized_pnl)
    return loss > 0 and loss >= daily_loss_limit(
        start_of_day_equity, daily_loss_pct, daily_loss_usd
    )


def drawdown_pct(equity: Decimal, peak_equity: Decimal) -> Decimal:
    """Drop from the peak in percent (0 when at or above the peak, or no peak)."""
    if peak_equity <= 0 or equity >= peak_equity:
        return ZERO
    return (peak_equity - equity) / peak_equity * HUNDRED


def drawdown_breached(equity: Decimal, peak_equity: Decimal, max_drawdown_pct: Decimal) -> bool:
    return drawdown_pct(equity, peak_equity) >= max_drawdown_pct


def round_down(amount: Decimal, step: Decimal | None) -> Decimal:
    """``amount`` rounded down to a multiple of ``step`` (unchanged without a step)."""
    if step is None or step <= 0:
        return amount
    return (amount / step).to_integral_value(rounding=ROUND_DOWN) * step


# --- entry check --------------------------------------------------------------------


def _blocking(ctx: RiskContext) -> RiskDecision | None:
    s = ctx.settings
    if ctx.global_halted:
        return _reject(RiskReason.GLOBAL_HALT)
    if ctx.user_paused:
        return _reject(RiskReason.PAUSED)
    if not s.allows_pair(ctx.base, ctx.quote):
        return _reject(RiskReason.PAIR_NOT_ALLOWED, RiskFigures(symbol=ctx.symbol))
    if ctx.side == "short" and ctx.market_kind != "swap":
        return _reject(RiskReason.SHORT_NOT_ALLOWED, RiskFigures(symbol=ctx.symbol))
    for pos in ctx.open_positions:
        if pos.symbol == ctx.symbol and (s.position_mode == "one_way" or pos.side == ctx.side):
            return _reject(RiskReason.ALREADY_OPEN, RiskFigures(symbol=ctx.symbol, side=pos.side))
    if len(ctx.open_positions) >= s.max_open_positions:
        return _reject(
            RiskReason.MAX_OPEN_POSITIONS,
            RiskFigures(
                open_positions=len(ctx.open_positions),
                max_open_positions=s.max_open_positions,
            ),
        )
    if daily_loss_breached(
        ctx.realized_pnl_today,
        ctx.start_of_day_equity,
        s.daily_loss_pct,
        s.daily_loss_usd,
        ctx.unrealized_pnl,
    ):
        limit = daily_loss_limit(ctx.start_of_day_equity, s.daily_loss_pct, s.daily_loss_usd)
        loss = -(ctx.realized_pnl_today + ctx.unrealized_pnl)
        return _reject(
            RiskReason.DAILY_LOSS, RiskFigures(loss=loss, loss_limit=limit, quote=ctx.quote)
        )
    if drawdown_breached(ctx.equity, ctx.peak_equity, s.max_drawdown_pct):
        dd = drawdown_pct(ctx.equity, ctx.peak_equity)
        return _reject(
            RiskReason.MAX_DRAWDOWN,
            RiskFigures(drawdown_pct=dd, drawdown_limit_pct=s.max_drawdown_pct),
        )
    if ctx.price <= 0 or ctx.stop_distance <= 0 or ctx.equity <= 0 or ctx.contract_size <= 0:
        return _reject(RiskReason.INVALID_INPUT)
    return None


def check_entry(ctx: RiskContext) -> RiskDecision:
    """Approve and size an entry, or say why not (see the module docstring)."""
    blocked = _blocking(ctx)
    if blocked is not None:
        return blocked
    s = ctx.settings
    if ctx.market_kind == "swap":  # the stop must trigger before a liquidation
        lev, mmr = s.leverage_cap, ctx.maintenance_margin_rate
        near = liquidation.refusal(ctx.side, ctx.price, ctx.stop_distance, lev, mmr)
        if near is not None:
            stop, liq = near
            figures = RiskFigures(
                symbol=ctx.symbol,
                side=ctx.side,
                stop=stop,
                liquidation=liq,
                entry=ctx.price,
                leverage=int(lev),
            )
            return _reject(RiskReason.STOP_BEYOND_LIQUIDATION, figures)
    basis = ctx.equity
    if not s.auto_compound and ctx.starting_equity > 0:
        basis = min(ctx.equity, ctx.starting_equity)
    risk_amount = basis * s.risk_per_trade_pct / HUNDRED
    base_amount = risk_amount / ctx.stop_distance
    capped_by = ""
    fill_price = ctx.price * (1 + ctx.slippage) if ctx.side == "long" else ctx.price
    caps = [("max_position_usd", s.max_position_usd / fill_price)]
    if ctx.market_kind == "swap":  # leverage caps the whole book, not each entry
        exposure = sum((abs(p.contracts) * p.entry_price for p in ctx.open_positions), start=ZERO)
        room = max(ctx.equity * s.leverage_cap / (1 + ctx.cost_buffer) - exposure, ZERO)
        caps.append(("leverage", room / ctx.price))
    else:
        cash = ctx.equity if ctx.free_quote is None else min(ctx.equity, ctx.free_quote)
        spendable = max(cash, ZERO) / (1 + ctx.cost_buffer)
        caps.append(("balance", spendable / ctx.price))
    for name, cap in caps:
        if cap < base_amount:
            base_amount, capped_by = cap, name
    amount = round_down(base_amount / ctx.contract_size, ctx.amount_step)
    notional = amount * ctx.contract_size * ctx.price
    too_small = amount <= 0
    too_small |= ctx.min_amount is not None and amount < ctx.min_amount
    too_small |= ctx.min_cost is not None and notional < ctx.min_cost
    if too_small:
        figures = RiskFigures(symbol=ctx.symbol, amount=amount, notional=notional, quote=ctx.quote)
        return _reject(RiskReason.BELOW_MINIMUM, figures)
    return RiskDecision(
        True,
        RiskReason.OK,
        RiskFigures(symbol=ctx.symbol, amount=amount, notional=notional, quote=ctx.quote),
        amount=amount,
        notional=notional,
        risk_amount=amount * ctx.contract_size * ctx.stop_distance,
        capped_by=capped_by,
    )


# --- stops --------------------------------------------------------------------------


def _sign(side: str) -> int:
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    return 1 if side == "long" else -1


def initial_stop(side: str, entry: Decimal, stop_distance: Decimal) -> Decimal:
    """Entry minus (long) or plus (short) the stop distance."""
    return entry - _sign(side) * stop_distance


def update_trailing_stop(
    position_side: str,
    entry: Decimal,
    current_stop: Decimal | None,
    high_or_low_since_entry: Decimal,
    trail_distance: Decimal,
) -> Decimal:
    """The stop trailed ``trail_distance`` behind the best price since entry (highest
    high for a long, lowest low for a short). Never loosens: a long's stop only rises,
    a short's only falls. Without a current stop, starts from ``entry`` -/+ distance."""
    sign = _sign(position_side)
    if trail_distance < 0:
        raise ValueError("trail_distance must be >= 0")
    stop = current_stop if current_stop is not None else entry - sign * trail_distance
    candidate = high_or_low_since_entry - sign * trail_distance
    return max(stop, candidate) if sign == 1 else min(stop, candidate)


def stop_hit(side: str, stop: Decimal, candle_low: Decimal, candle_high: Decimal) -> bool:
    """Whether a candle touched the stop: low <= stop for a long, high >= stop for a short."""
    return candle_low <= stop if _sign(side) == 1 else candle_high >= stop
