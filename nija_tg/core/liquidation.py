"""Liquidation price of a leveraged swap position, and whether an entry's stop sits
inside it. Pure: Decimal in, Decimal out.

**Rule** (BingX, support articles "Perpetual Futures | Fee Schedule" and "Account
Structure (Perpetual Swap)"): a position is liquidated when its margin rate falls to
the maintenance margin rate plus the taker fee rate. Counting only the position's own
margin (notional at entry / leverage, the isolated view), with entry E, leverage L,
maintenance margin rate m and taker fee f, the mark price P where that happens is

- long:  E/L + (P - E) = (m + f) x P   ->   P = E x (1 - 1/L) / (1 - m - f)
- short: E/L + (E - P) = (m + f) x P   ->   P = E x (1 + 1/L) / (1 + m + f)

(per unit of the position; the amount cancels). In cross margin the free balance backs
the position too, so the venue's liquidation lies further away: this is the nearest it
can be, the safe side for the check below. The leverage is the user's
``leverage_cap``, which the trading loop sets on the exchange for every swap market.

**Maintenance margin rate**: the market's where the caller has one
(``RiskContext.maintenance_margin_rate``; ccxt's BingX markets carry none: the rate
comes from a separate signed call per symbol, ``fetchMarketLeverageTiers``, not made
here), else ``DEFAULT_MAINTENANCE_MARGIN_RATE`` = 0.5 %, the rate BingX documents for
its perpetuals ("The maintenance margin rate is 0.5%", Fee Schedule). Tier-1 rates
BingX answers today are at or below it (ETH-USDT 0.33 % in ccxt's recorded answer of
``/openApi/swap/v1/maintMarginRatio``); a higher rate puts the liquidation nearer the
entry, so the default errs on the safe side. Taker fee: 0.05 % (BingX's schedule).

**Margin**: the stop must sit inside the liquidation price with room to spare: a
stop-market order fills past its trigger on a fast move, and the venue liquidates on
the mark price. The stop may use at most ``1 - LIQUIDATION_MARGIN`` (80 %) of the way
from the entry to the liquidation price; farther, the entry is refused.
"""

from __future__ import annotations

from decimal import Decimal

DEFAULT_MAINTENANCE_MARGIN_RATE = Decimal("0.005")
DEFAULT_TAKER_FEE = Decimal("0.0005")
LIQUIDATION_MARGIN = Decimal("0.2")
ONE = Decimal(1)


def liquidation_price(
    side: str,
    entry: Decimal,
    leverage: Decimal | int,
    maintenance_margin_rate: Decimal = DEFAULT_MAINTENANCE_MARGIN_RATE,
    taker_fee: Decimal = DEFAULT_TAKER_FEE,
) -> Decimal:
    """The mark price at which a position of ``side`` opened at ``entry`` with
    ``leverage`` is liquidated on its own margin (see the module docstring); 0 for a
    long without leverage (it cannot be liquidated above zero)."""
    lev = Decimal(leverage)
    if entry <= 0 or lev <= 0:
        raise ValueError("entry and leverage must be positive")
    keep = maintenance_margin_rate + taker_fee
    if side == "long":
        return max(entry * (ONE - ONE / lev) / (ONE - keep), Decimal(0))
    if side == "short":
        return entry * (ONE + ONE / lev) / (ONE + keep)
    raise ValueError(f"side must be 'long' or 'short', got {side!r}")


def farthest_stop(side: str, entry: Decimal, liquidation: Decimal) -> Decimal:
    """The farthest a stop may sit from ``entry``: ``LIQUIDATION_MARGIN`` of the way
    from the entry to the liquidation price is kept free."""
    return liquidation + LIQUIDATION_MARGIN * (entry - liquidation)


def stop_inside(
    side: str,
    entry: Decimal,
    stop: Decimal,
    leverage: Decimal | int,
    maintenance_margin_rate: Decimal = DEFAULT_MAINTENANCE_MARGIN_RATE,
) -> bool:
    """Whether ``stop`` triggers before the liquidation, with the margin: a long's stop
    at or above ``farthest_stop``, a short's at or below it."""
    liq = liquidation_price(side, entry, leverage, maintenance_margin_rate)
    limit = farthest_stop(side, entry, liq)
    return stop >= limit if side == "long" else stop <= limit


def refusal(
    side: str,
    entry: Decimal,
    stop_distance: Decimal,
    leverage: Decimal | int,
    maintenance_margin_rate: Decimal | None = None,
) -> tuple[Decimal, Decimal] | None:
    """(the stop, the liquidation price) when an entry of ``side`` at ``entry`` with a
    stop ``stop_distance`` away must not be made at ``leverage`` (its stop lies beyond,
    or too near, the liquidation price), or None when the stop sits inside it. The
    words are the renderer's (``messages.render``, ``EntryBlocked``)."""
    rate = maintenance_margin_rate
    if rate is None:
        rate = DEFAULT_MAINTENANCE_MARGIN_RATE
    stop = entry - stop_distance if side == "long" else entry + stop_distance
    if stop_inside(side, entry, stop, leverage, rate):
        return None
    return stop, liquidation_price(side, entry, leverage, rate)
