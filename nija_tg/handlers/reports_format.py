"""Number and time formatting for reports (every result is plain text: escape it)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from nija_tg.handlers.replies import esc

DASH = "—"
SIG_DIGITS = 8
HUGE = Decimal("1e18")
CASH = frozenset({"USD", "USDT", "USDC", "EUR", "GBP", "DAI", "BUSD", "FDUSD", "TUSD"})


def _ok(value: Decimal | None) -> bool:
    return value is not None and value.is_finite()


def money(value: Decimal | None, *, signed: bool = False) -> str:
    """2 decimals with thousands separators: ``12,345.68`` (``+12,345.68`` if signed)."""
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


def balance(value: Decimal | None, currency: str) -> str:
    """Cash-like currencies in money format, coins with up to 8 significant digits."""
    return money(value) if currency.upper() in CASH else amount(value)


def pct(share: Decimal | None) -> str:
    """A 0..1 share as a percentage with one decimal."""
    if not _ok(share):
        return DASH
    assert share is not None
    return f"{share * 100:.1f}%"


def when(ts: float | None) -> str:
    if ts is None:
        return DASH
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return DASH


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return ""
    seconds = max(0, int(now - ts))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def duration(start: float, end: float) -> str:
    seconds = max(0, int(end - start))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def signal_lines(signal: object, limit: int = 3) -> list[str]:
    """Escaped lines for the engine's last signal ({symbol: {action, confidence,
    reason}} or one such dict); unknown shapes give nothing."""
    if not isinstance(signal, dict) or not signal:
        return []
    if "action" in signal:
        return [_one_signal("", signal)]
    out = [_one_signal(str(symbol), body) for symbol, body in list(signal.items())[:limit]]
    if len(signal) > limit:
        out.append(f"… and {len(signal) - limit} more")
    return [line for line in out if line]


def _one_signal(symbol: str, body: object) -> str:
    if not isinstance(body, dict):
        return ""
    parts = [esc(symbol[:24]) + ":"] if symbol else []
    parts.append(esc(str(body.get("action", "?"))[:16]))
    confidence = body.get("confidence")
    if isinstance(confidence, int | float) and not isinstance(confidence, bool):
        value = confidence * 100 if 0 <= confidence <= 1 else confidence
        parts.append(f"({value:.0f}%)")
    reason = str(body.get("reason") or "")
    if reason:
        parts.append(f"— {esc(reason[:60])}")
    return " ".join(parts)
