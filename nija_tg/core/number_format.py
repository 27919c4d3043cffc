"""The one number format for people (pure): money with 2 decimals, half-even, thousands
separators and an ASCII sign; coin amounts and prices with up to 8 significant digits;
a setting's value exactly as typed, with separators (``exact``).

Every layer may use it (the engine's texts too: it imports nothing above core), so the
same equity reads the same in /status, /users and an alert. Results are plain text:
escape them for HTML (they hold no markup characters, so escaping changes nothing).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

DASH = "—"
SIG_DIGITS = 8
HUGE = Decimal("1e18")


def _ok(value: Decimal | None) -> bool:
    return value is not None and value.is_finite()


def money(value: Decimal | None, *, signed: bool = False) -> str:
    """2 decimals with thousands separators: ``12,345.68`` (``+12,345.68`` if signed,
    ``-3.20`` for a loss either way); half-even; never ``-0.00``; ``—`` if unknown."""
    if not _ok(value):
        return DASH
    assert value is not None
    if abs(value) >= HUGE:
        return f"{value:+.3E}" if signed else f"{value:.3E}"
    with localcontext(prec=60, rounding=ROUND_HALF_EVEN):
        q = value.quantize(Decimal("0.01"))
    if q.is_zero():
        q = abs(q)
    return f"{q:+,.2f}" if signed else f"{q:,.2f}"


def amount(value: Decimal | None) -> str:
    """Up to 8 significant digits (integer digits are never rounded away), thousands
    separators, no trailing zeros: ``0.00012346``, ``65,000.123``, ``1,234,567,890``."""
    if not _ok(value):
        return DASH
    assert value is not None
    if value.is_zero():
        return "0"
    if abs(value) >= HUGE:
        return f"{value:.3E}"
    places = max(0, SIG_DIGITS - 1 - value.adjusted())
    with localcontext(prec=60, rounding=ROUND_HALF_EVEN):
        q = value.quantize(Decimal(1).scaleb(-places))
    text = f"{q:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def exact(value: Decimal | float | int) -> str:
    """A number as people type it, every digit kept: no exponent, no trailing zeros,
    thousands separators (``0.5``, ``250``, ``100,000``, ``1,234.5``): a setting's value,
    a bound, a step. ``—`` if not finite."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if not d.is_finite():
        return DASH
    if d.is_zero():
        return "0"
    return f"{d.normalize():,f}"


def money_in(value: Decimal | None, currency: str, *, signed: bool = False) -> str:
    """``money`` with its currency code: ``1,234.57 USDT``, ``-3.20 USD``."""
    return f"{money(value, signed=signed)} {currency}".rstrip()


def step_places(step: Decimal | None) -> int | None:
    """Decimal places of a price step (0.01 -> 2, 0.5 -> 1, 10 -> 0); None without one."""
    if step is None or not step.is_finite() or step <= 0:
        return None
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def price(value: Decimal | None, step: Decimal | None = None) -> str:
    """A price at the market's precision (the places of its price step, half-even, with
    thousands separators: ``2,345.67``), else like ``amount`` (8 significant digits):
    never the 18 decimals of a computed stop."""
    if not _ok(value):
        return DASH
    assert value is not None
    places = step_places(step)
    if places is None or abs(value) >= HUGE:
        return amount(value)
    with localcontext(prec=60, rounding=ROUND_HALF_EVEN):
        q = value.quantize(Decimal(1).scaleb(-places))
    if q.is_zero():
        q = abs(q)
    return f"{q:,.{places}f}"


def pct(value: Decimal | float | None, *, places: int = 1, signed: bool = False) -> str:
    """A percentage with ``places`` decimals, half-even: ``12.3%`` (``+12.3%`` if
    signed, ``-4.0%`` for a fall either way); never ``-0.0%``."""
    if value is None:
        return DASH
    d = Decimal(str(value)) if isinstance(value, float) else value
    if not _ok(d):
        return DASH
    with localcontext(prec=60, rounding=ROUND_HALF_EVEN):
        q = d.quantize(Decimal(1).scaleb(-places))
    if q.is_zero():
        q = abs(q)
    return f"{q:+,.{places}f}%" if signed else f"{q:,.{places}f}%"
