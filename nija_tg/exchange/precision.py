"""Decimal helpers shared by the ccxt gateway and the paper exchange: safe conversion,
rounding to a step, and the minimum checks done before an order is sent."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from nija_tg.core.errors import OrderRejectedError
from nija_tg.core.models import MarketInfo


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """``Decimal`` from a ccxt number/string; ``default`` for None or garbage."""
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        return value
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    return d if d.is_finite() else default


def dec0(value: Any) -> Decimal:
    return dec(value, Decimal(0)) or Decimal(0)


def round_step(value: Decimal, step: Decimal | None, *, down: bool = True) -> Decimal:
    """``value`` rounded to a multiple of ``step`` (down for amounts, nearest for prices)."""
    if not step or step <= 0:
        return value
    units = (value / step).quantize(Decimal(1), rounding=ROUND_DOWN if down else ROUND_HALF_UP)
    return (units * step).normalize()


def check_minimums(
    market: MarketInfo, amount: Decimal, price: Decimal | None, exchange_id: str
) -> None:
    """Raise OrderRejectedError (with a clear user message) when the rounded order is
    zero or below the market's minimum amount or cost."""
    sym = market.symbol
    if amount <= 0:
        raise OrderRejectedError(
            f"{exchange_id}: amount rounds to zero for {sym}",
            code="below_precision",
            params={"symbol": sym, "what": "amount"},
        )
    if market.min_amount is not None and amount < market.min_amount:
        raise OrderRejectedError(
            f"{exchange_id}: amount {amount} below minimum {market.min_amount} for {sym}",
            code="below_min_amount",
            params={
                "symbol": sym,
                "min_amount": market.min_amount,
                "base": market.base,
                "amount": amount,
            },
        )
    if price is not None and price <= 0:
        raise OrderRejectedError(
            f"{exchange_id}: non-positive price for {sym}",
            code="price_not_positive",
            params={"symbol": sym},
        )
    if market.min_cost is not None and price is not None:
        cost = amount * price * market.contract_size
        if cost < market.min_cost:
            raise OrderRejectedError(
                f"{exchange_id}: cost {cost} below minimum {market.min_cost} for {sym}",
                code="below_min_cost",
                params={
                    "symbol": sym,
                    "min_cost": market.min_cost,
                    "quote": market.quote,
                    "cost": cost,
                },
            )


def sellable_amount(market: MarketInfo, amount: Decimal) -> Decimal:
    """The part of ``amount`` an order can carry: rounded down to the market's step."""
    return round_step(amount, market.amount_step) if amount > 0 else Decimal(0)


def is_dust(market: MarketInfo, amount: Decimal, price: Decimal | None) -> bool:
    """Whether ``amount`` (of ``market.base``) is too small to ever be sold on its own:
    nothing left after rounding down to the step, below the venue's minimum amount, or
    (with a ``price``) below its minimum order value. Such a remainder cannot be closed
    by an order (the venue refuses it, "Order too small"): book it as dust instead."""
    if amount <= 0:
        return False
    left = sellable_amount(market, amount)
    if left <= 0:
        return True
    if market.min_amount is not None and left < market.min_amount:
        return True
    if market.min_cost is not None and price is not None and price > 0:
        return left * price * market.contract_size < market.min_cost
    return False


def decimal_text(value: Decimal) -> str:
    """A Decimal as ccxt takes a number: plain text, never scientific notation and never
    through a float (ccxt's precision helpers read text exactly)."""
    return format(value, "f")
