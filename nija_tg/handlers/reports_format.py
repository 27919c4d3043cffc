"""Number and time formatting for reports (every result is plain text: escape it), and
the report tables' wording. Money and amounts come from the one number format
(nija_tg/core/number_format.py), re-exported here for the handlers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from nija_tg.core.number_format import DASH, amount, money
from nija_tg.handlers.replies import esc
from nija_tg.services.reports_service import DailyReport, PerformanceReport, PositionView

GAIN, LOSS, FLAT = "🟢", "🔴", "⚪"
CASH = frozenset({"USD", "USDT", "USDC", "EUR", "GBP", "DAI", "BUSD", "FDUSD", "TUSD"})


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


def signed_pct(share: Decimal | None) -> str:
    """A signed share as a percentage with two decimals: ``+1.67%``, ``-0.50%``."""
    if not _ok(share):
        return DASH
    assert share is not None
    with localcontext(prec=60, rounding=ROUND_HALF_EVEN):
        q = (share * 100).quantize(Decimal("0.01"))
    if q.is_zero():
        q = abs(q)
    return f"{q:+.2f}%"


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


# --- positions -------------------------------------------------------------------------


def position_tag(p: PositionView) -> str:
    """``LONG``, or ``SHORT 5x`` for a leveraged swap position."""
    side = esc(p.side.upper())
    return f"{side} {p.leverage}x" if p.leverage else side


def position_pct(p: PositionView) -> str:
    """The unrealised P&L as a % of the entry value; a leveraged position adds the
    return on its margin: ``+1.67%`` or ``+1.67%, +8.35% on margin``."""
    share = p.pnl_pct
    text = signed_pct(share)
    if share is not None and p.leverage and p.leverage > 1:
        text += f", {signed_pct(share * p.leverage)} on margin"
    return text


# --- /daily and /performance ----------------------------------------------------------

PERIOD_TITLES = {"day": "today", "week": "this week", "month": "this month", "all": "all time"}


def daily_text(report: DailyReport, heading_suffix: str) -> str:
    """/daily: one row per UTC day, newest first (P&L realised: trades and funding)."""
    n = len(report.days)
    lines = [f"📅 <b>Daily P&amp;L — last {n} day{'s' if n != 1 else ''}</b>{heading_suffix}"]
    rows = [
        (
            dot(d.pnl) + " " + d.day[5:],
            money(d.pnl, signed=True),
            str(d.trades),
            money(d.equity),
        )
        for d in report.days
    ]
    lines.append(table(("   Day", "P&L", "Trades", "Equity"), rows, frozenset({1, 2, 3})))
    lines.append(
        f"Total: <b>{money(report.total, signed=True)}</b>{mark(report.total)} in "
        f"{report.trades} closed trade{'s' if report.trades != 1 else ''}"
    )
    lines.append("Days in UTC; equity is each day's last reading; P&amp;L is realised.")
    return "\n".join(lines)


def performance_text(report: PerformanceReport, heading_suffix: str) -> str:
    """/performance: closed trades per pair, best first."""
    since = f" (since {report.start:%Y-%m-%d} UTC)" if report.start is not None else ""
    title = PERIOD_TITLES[report.period]
    lines = [f"🏆 <b>Performance by pair — {title}</b>{heading_suffix}{since}"]
    if not report.pairs:
        lines.append("No closed trades in this period.")
        return "\n".join(lines)
    rows = [
        (
            dot(p.pnl) + " " + p.symbol[:20],
            str(p.trades),
            pct(p.win_rate),
            money(p.pnl, signed=True),
        )
        for p in report.pairs[:40]
    ]
    lines.append(table(("   Pair", "Trades", "Win", "P&L"), rows, frozenset({1, 2, 3})))
    if len(report.pairs) > 40:
        lines.append(f"… and {len(report.pairs) - 40} more pairs")
    lines.append(
        f"Total: {report.trades} trade{'s' if report.trades != 1 else ''} · win rate "
        f"{pct(report.win_rate)} · P&amp;L <b>{money(report.total, signed=True)}</b>"
        f"{mark(report.total)}"
    )
    if any(p.funding for p in report.pairs):
        lines.append("Swap funding is counted in its pair's P&amp;L.")
    return "\n".join(lines)
