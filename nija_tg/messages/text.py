"""Pieces every report text shares: escaping (``esc`` is the renderer's, one definition),
a user's own words shown back (``echo``), times, ages and durations, gain/loss markers,
monospace tables, balances and shares as percentages. Numbers come from the one number
format, ``core.number_format``; this module adds no rounding rule of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from nija_tg.core.number_format import DASH, amount, money, pct
from nija_tg.messages.render import esc

__all__ = [
    "DASH",
    "ago",
    "balance",
    "dot",
    "duration",
    "echo",
    "esc",
    "mark",
    "plural",
    "share",
    "signed_share",
    "table",
    "when",
]

GAIN, LOSS, FLAT = "🟢", "🔴", "⚪"
CASH = frozenset({"USD", "USDT", "USDC", "EUR", "GBP", "DAI", "BUSD", "FDUSD", "TUSD"})
MAX_ECHO = 40


def echo(value: str, limit: int = MAX_ECHO) -> str:
    """A user's own input (or a name) shown back: printable only, shortened, escaped."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value)
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return esc(cleaned)


def plural(n: int, word: str) -> str:
    """``1 trade``, ``2 trades``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _ok(value: Decimal | None) -> bool:
    return value is not None and value.is_finite()


def balance(value: Decimal | None, currency: str) -> str:
    """Cash-like currencies in money format, coins with up to 8 significant digits."""
    return money(value) if currency.upper() in CASH else amount(value)


def mark(value: Decimal | None) -> str:
    """ " 🟢" after a gain, " 🔴" after a loss, nothing for zero or unknown."""
    if not _ok(value) or value is None or value.is_zero():
        return ""
    return f" {GAIN}" if value > 0 else f" {LOSS}"


def dot(value: Decimal | None) -> str:
    """A row's leading marker: 🟢 gain, 🔴 loss, ⚪ flat or unknown (tables)."""
    if not _ok(value) or value is None or value.is_zero():
        return FLAT
    return GAIN if value > 0 else LOSS


def share(value: Decimal | None) -> str:
    """A 0..1 share as a percentage with one decimal: ``66.7%``."""
    return pct(None if value is None else value * 100)


def signed_share(value: Decimal | None) -> str:
    """A signed share as a percentage with two decimals: ``+1.67%``, ``-0.50%``."""
    return pct(None if value is None else value * 100, places=2, signed=True)


def when(ts: float | None, *, seconds: bool = False) -> str:
    """``2026-12-05 07:30 UTC`` (with seconds for the audit log); ``—`` if unknown."""
    if not ts:
        return DASH
    shape = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime(shape)
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


def table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: frozenset[int]) -> str:
    """A monospace table (escaped, inside <pre>): columns padded to their widest cell,
    those in ``right`` aligned right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "<pre>" + esc("\n".join(line(r) for r in [header, *rows])) + "</pre>"
