"""Every word of the traders' reports: the /status dashboard, /balance, /positions,
/trades, /sessions, /pnl (and its chart's caption), /daily and /performance, their usage
lines and the hints under an empty report.

Each function takes the typed report data the services return (``report_data`` names
what is read) and returns Telegram HTML: numbers from ``core.number_format``, every
dynamic part escaped. ``docs/messages.md`` shows each one with sample data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.core.number_format import DASH, HUGE, amount, money, money_in, price
from nija_tg.core.pnl import PeriodStats
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.messages import report_data as rd
from nija_tg.messages.money_text import cash, cash_each
from nija_tg.messages.render import fee_text
from nija_tg.messages.text import (
    ago,
    balance,
    dot,
    duration,
    echo,
    esc,
    mark,
    plural,
    share,
    signed_share,
    table,
    when,
)

PERIOD_TITLES = {"day": "today", "week": "this week", "month": "this month", "all": "all time"}
PERIOD_BUTTONS = {"day": "Today", "week": "Week", "month": "Month", "all": "All"}
CONNECT_HINT = "Send /connect to link your exchange."
PAPER_HINT = "Paper trading needs no exchange account: /trade on starts it."
PRIVATE_ONLY = "Reports are private: please ask me in a private chat."
CHART_FAILED = "Sorry, I could not draw the equity chart right now."
NO_CHART = "No equity points in this period, so no chart."
PNL_NOT_UPDATED = "Could not update. Send /pnl instead."
SHOWN_POSITIONS = 5  # on the dashboard; /positions lists every one
SHOWN_BALANCES = 50
SHOWN_PAIRS = 40


def usage(command: str, *, trades_max: int, daily_max: int, sessions_max: int) -> str:
    """The usage line of a report command (escaped)."""
    lines = {
        "status": "Usage: /status [user id]",
        "balance": "Usage: /balance [user id]",
        "positions": "Usage: /positions [user id]",
        "trades": f"Usage: /trades [n] [user id] — n between 1 and {trades_max}",
        "pnl": "Usage: /pnl [day|week|month|all] [user id]",
        "daily": f"Usage: /daily [days] [user id] — days between 1 and {daily_max}",
        "performance": "Usage: /performance [day|week|month|all] [user id]",
        "sessions": f"Usage: /sessions [n] [user id] — n between 1 and {sessions_max}",
    }
    return esc(lines[command])


def whose(access: rd.Viewing) -> str:
    """A heading suffix naming the target when it is not the caller."""
    if access.own:
        return ""
    target = access.target
    name = target.first_name or target.username or "user"
    return f" — {echo(name, 32)} ({target.user_id})"


class EmptyHint(Enum):
    """What to suggest under one's own empty report (the handler knows which applies)."""

    NONE = ""
    PAPER_OFF = f"\n{PAPER_HINT}"
    PAPER_RUNNING = "\nThe trading engine fills this in as paper trading runs."
    CONNECT = f"\n{CONNECT_HINT}"
    LIVE_NOT_RUNNING = "\nThe trading engine fills this in once trading runs (/trade on)."


def empty_hint(access: rd.Viewing, connected: bool) -> EmptyHint:
    """Start trading (paper needs no exchange), or connect first (live); nothing when
    the caller reads someone else's report."""
    target = access.target
    if not access.may_trade:
        return EmptyHint.NONE
    if target.mode is TradingMode.PAPER and not target.trading_on:
        return EmptyHint.PAPER_OFF
    if target.mode is TradingMode.PAPER:
        return EmptyHint.PAPER_RUNNING
    return EmptyHint.LIVE_NOT_RUNNING if connected else EmptyHint.CONNECT


# --- /status ----------------------------------------------------------------------------

SWITCH_STATE = {TradingSwitch.ON: "on", TradingSwitch.EXITS: "exits only", TradingSwitch.OFF: "off"}
PAPER_NO_EXCHANGE = "none needed for paper trading (/connect links one for live)"
START_BUTTON = "▶️ Start trading"
STOP_BUTTON = "⏸ Stop trading"
REFRESH_BUTTON = "🔄 Refresh"
REFRESHED = {
    "edited": "Updated",
    "same": "Already up to date",
    "failed": "Could not refresh. Send /status instead.",
}


def _trading_line(dash: rd.Dashboard) -> str:
    user = dash.user
    if dash.halted:
        state = "⛔ halted (global kill switch): exits only"
    elif user.status is UserStatus.PAUSED:
        state = f"⏸ paused ({esc((user.pause_reason or 'no reason given')[:80])})"
    elif user.switch is TradingSwitch.ON:
        state = "🟢 on"
    elif user.switch is TradingSwitch.EXITS:
        state = "🟡 exits only (no new positions)"
    else:
        state = "⚪ off"
    if user.status is UserStatus.PAUSED and not dash.halted:
        state += ", switched " + SWITCH_STATE[user.switch]
    line = f"Trading: {state}"
    if dash.open_positions and (
        dash.halted or user.switch is not TradingSwitch.ON or (user.status is UserStatus.PAUSED)
    ):
        line += "\nStops keep protecting the open positions."
    return line


def _exchange_line(access: rd.Viewing, conn: rd.Connection | None) -> str:
    if conn is None:
        if access.may_trade and access.target.mode is TradingMode.PAPER:
            return f"Exchange: {PAPER_NO_EXCHANGE}"
        hint = f" — {CONNECT_HINT}" if access.may_trade else ""
        return f"Exchange: not connected{hint}"
    parts = [esc(conn.exchange_id)]
    if access.sees_key_tail:
        parts.append(esc(conn.key_tail))
    if conn.verified:
        parts.append("✅ verified")
    else:
        reason = f" ({esc(conn.reason[:80])})" if conn.reason else ""
        parts.append(f"⚠️ not verified{reason}")
    return "Exchange: " + " ".join(parts)


def _position_tag(p: rd.Position) -> str:
    """``LONG``, or ``SHORT 5x`` for a leveraged swap position."""
    side = esc(p.side.upper())
    return f"{side} {p.leverage}x" if p.leverage else side


def _position_pct(p: rd.Position) -> str:
    """The unrealised P&L as a % of the entry value; a leveraged position adds the
    return on its margin: ``+1.67%`` or ``+1.67%, +8.35% on margin``."""
    part = p.pnl_pct
    text = signed_share(part)
    if part is not None and p.leverage and p.leverage > 1:
        text += f", {signed_share(part * p.leverage)} on margin"
    return text


def _dashboard_positions(positions: Sequence[rd.Position]) -> list[str]:
    """One short line per open position (the first five): marker, symbol, side and
    leverage, unrealised P&L with its currency (the symbol's quote) and its %."""
    lines = [
        f"  {dot(p.unrealized_pnl)} {esc(p.symbol)} {_position_tag(p)} "
        f"{cash(p.unrealized_pnl, p.currency, signed=True)} ({_position_pct(p)})"
        for p in positions[:SHOWN_POSITIONS]
    ]
    if len(positions) > SHOWN_POSITIONS:
        lines.append(f"  … and {len(positions) - SHOWN_POSITIONS} more: /positions")
    return lines


def signal_lines(signal: object, limit: int = 3) -> list[str]:
    """Escaped lines for the engine's last signal ({symbol: {action, confidence,
    reason}} or one such dict); unknown shapes give nothing."""
    if not isinstance(signal, Mapping) or not signal:
        return []
    if "action" in signal:
        return [_one_signal("", signal)]
    out = [_one_signal(str(symbol), body) for symbol, body in list(signal.items())[:limit]]
    if len(signal) > limit:
        out.append(f"… and {len(signal) - limit} more")
    return [line for line in out if line]


def _one_signal(symbol: str, body: object) -> str:
    if not isinstance(body, Mapping):
        return ""
    parts = [esc(symbol[:24]) + ":"] if symbol else []
    parts.append(esc(str(body.get("action", "?"))[:16]))
    confidence: Any = body.get("confidence")
    if isinstance(confidence, int | float) and not isinstance(confidence, bool):
        value = confidence * 100 if 0 <= confidence <= 1 else confidence
        parts.append(f"({value:.0f}%)")
    reason = str(body.get("reason") or "")
    if reason:
        parts.append(f"— {esc(reason[:60])}")
    return " ".join(parts)


def _dashboard_hints(
    access: rd.Viewing, dash: rd.Dashboard, conn: rd.Connection | None, grants: Sequence[int]
) -> list[str]:
    if access.caller.role is Role.VIEWER and access.own:
        out = ["", "You have read-only access."]
        if grants:
            shown = ", ".join(f"/status {g}" for g in grants[:10])
            out.append(f"Dashboards you may view: {shown}")
        else:
            out.append("An admin can grant you access to a trader's dashboard.")
        return out
    paper = dash.user.mode is TradingMode.PAPER
    if access.may_trade and (conn is not None or paper) and not dash.user.trading_on:
        return ["", "Trading is off. Press ▶️ Start trading (or /trade on) to begin."]
    return []


def dashboard(
    access: rd.Viewing,
    dash: rd.Dashboard,
    conn: rd.Connection | None,
    now: float,
    grants: Sequence[int] = (),
    stale: str | None = None,
    open_positions: Sequence[rd.Position] = (),
) -> str:
    """/status. ``stale`` is the health renderer's warning line (the engine's figures
    may be old), ``grants`` the traders a viewer may look at."""
    user = dash.user
    mode = "📝 paper" if user.mode is TradingMode.PAPER else "💵 live"
    cur = dash.currency
    today = cash(dash.today_change, cur, signed=True)
    realized = dash.realized_today
    groups = _realized_groups(dash.realized_by_currency, realized, cur)
    made = cash_each({c: s.total for c, s in groups.items()}, signed=True, marks=False)
    funding = ""  # swaps: funding payments are part of the realised P&L
    if realized.funding_payments:
        paid = {c: s.funding for c, s in groups.items() if s.funding_payments}
        funding = f", funding {cash_each(paid, signed=True, marks=False)}"
    if dash.cash_flow_today:  # deposits and withdrawals are not P&L
        moved = cash(dash.cash_flow_today, cur, signed=True)
        funding += f"; deposits/withdrawals {moved} left out"
    lines = [
        f"📊 <b>Dashboard</b>{whose(access)}",
        _trading_line(dash),
        f"Mode: {mode}",
        _exchange_line(access, conn),
        "",
        f"Equity: <b>{cash(dash.equity, cur)}</b>",
        f"Open positions: {dash.open_positions}",
        *_dashboard_positions(open_positions),
        f"Today's P&amp;L: {today}{mark(dash.today_change)} (realised "
        f"{made} in {plural(realized.trades, 'trade')}{funding})",
    ]
    signals = signal_lines(dash.last_signal)
    if signals:
        lines.append("Last signal: " + signals[0])
        lines += [f"  {line}" for line in signals[1:]]
    else:
        lines.append(f"Last signal: {DASH}")
    if dash.updated_at:
        lines.append(f"Updated: {when(dash.updated_at)} ({ago(dash.updated_at, now)})")
    else:
        lines.append("Updated: no data from the trading engine yet")
    if stale is not None:  # the engine stopped reporting or is late: figures may be old
        lines.append(stale)
    lines += _dashboard_hints(access, dash, conn, grants)
    return "\n".join(lines)


# --- /balance, /positions, /trades, /sessions -------------------------------------------


ROUNDED_APART = "; rounded separately"


def _shown(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:  # the dash of an unknown figure, or a huge one
        return None


def _rounded_apart(line: rd.BalanceLine, total: str, free: str, used: str) -> bool:
    """Whether a balance line's shown parts miss its shown total only by their rounding
    (8,123.456 + 1,173.4567 = 9,296.9127 shows as 8,123.46 + 1,173.46 ≠ 9,296.91).
    Each figure stays the nearest to the exchange's (as the exchange shows it); the
    line says they were rounded each. A total the parts do not make exactly (as the
    exchange reported it) gets no such note: rounding is not why."""
    parts = (line.free, line.used, line.total)
    if any(v is None or not v.is_finite() for v in parts):
        return False
    if line.free + line.used != line.total:  # type: ignore[operator]
        return False
    seen = (_shown(free), _shown(used), _shown(total))
    if seen[0] is None or seen[1] is None or seen[2] is None:
        return False
    return seen[0] + seen[1] != seen[2]


def balances(
    access: rd.Viewing,
    report: rd.Balances,
    hint: EmptyHint = EmptyHint.NONE,
    *,
    stale: str | None = None,
) -> str:
    """/balance. ``stale``: the health renderer's warning line (the engine stopped
    reporting or is late: the figures may be old), shown under them as on /status."""
    lines = [f"💰 <b>Balance</b>{whose(access)}"]
    if report.updated_at is None:
        lines.append("No balance reported yet." + hint.value)
        return "\n".join(lines)
    lines.append(f"Equity: <b>{cash(report.equity, report.currency)}</b>")
    for line in report.lines[:SHOWN_BALANCES]:
        cur = line.currency
        total, free, used = (balance(v, cur) for v in (line.total, line.free, line.used))
        note = ROUNDED_APART if _rounded_apart(line, total, free, used) else ""
        lines.append(f"{esc(cur)}: {total} (free {free}, in use {used}{note})")
    if not report.lines:
        lines.append("No funds.")
    elif len(report.lines) > SHOWN_BALANCES:
        lines.append(f"… and {len(report.lines) - SHOWN_BALANCES} more currencies")
    lines.append(f"As of {when(report.updated_at)}")
    if stale is not None:
        lines.append(stale)
    return "\n".join(lines)


def line_step(*prices: Decimal | None) -> Decimal | None:
    """Without the market's step, one precision for a line's prices: the most decimal
    places ``amount`` (8 significant digits) shows any of ``prices`` with (``142.123``
    and ``145.5`` -> ``0.001``: ``142.123 → 145.500``, never ``142.123 → 145.5``); None
    when there is no price to read it from."""
    places: int | None = None
    for value in prices:
        if value is None or not value.is_finite() or value.is_zero() or abs(value) >= HUGE:
            continue
        here = len(amount(value).partition(".")[2])
        places = here if places is None else max(places, here)
    return None if places is None else Decimal(1).scaleb(-places)


def positions(
    access: rd.Viewing,
    report: rd.Positions,
    hint: EmptyHint = EmptyHint.NONE,
    *,
    closable: bool = False,
    stale: str | None = None,
) -> str:
    """/positions; ``closable``: Close buttons sit under the message; ``stale``: the
    health renderer's warning line (the marks may be old), shown as on /status."""
    lines = [f"📂 <b>Open positions</b>{whose(access)}"]
    if not report.positions:
        lines.append("No open positions." + hint.value)
        return "\n".join(lines)
    for p in report.positions:
        # the market's step, else one derived for the line: entry, mark and stop alike
        step = p.price_step or line_step(p.entry_price, p.mark_price)
        mark_at = f" → {price(p.mark_price, step)}" if p.mark_price is not None else ""
        stop = f" · stop {price(p.stop_price, step)}" if p.stop_price is not None else ""
        if stop and p.stop_on_exchange:
            stop += " (on the exchange)"
        lines.append(
            f"{dot(p.unrealized_pnl)} <b>{esc(p.symbol)}</b> {_position_tag(p)} "
            f"{amount(p.amount)} @ {price(p.entry_price, step)}{mark_at}\n"
            f"  unrealised P&amp;L {cash(p.unrealized_pnl, p.currency, signed=True)} "
            f"({_position_pct(p)}){stop} · opened {when(p.opened_at)}"
        )
    totals = cash_each(report.unrealized_by_currency, signed=True, bold=True)
    lines.append(f"Total unrealised: {totals}")  # per currency: never USD + USDT
    if report.updated_at is not None:
        lines.append(f"Marks as of {when(report.updated_at)}")
    if stale is not None:
        lines.append(stale)
    if closable:
        lines.append("Stops protect every open position until it is closed.")
    return "\n".join(lines)


def close_button(target: rd.CloseTarget) -> str:
    """The label of a position's Close button (Telegram shows up to 64 characters)."""
    return f"✖️ Close {target.symbol} {target.side} {amount(target.amount)}"[:60]


def _trade_side(fill: rd.Trade) -> str:
    """What a fill did: ``BUY`` / ``SELL``, or, for a fill that reduced a position (it
    carries a realised P&L), ``BUY to close short`` / ``SELL to close long``."""
    side = fill.side.value.upper()
    if fill.realized_pnl is None:
        return esc(side)
    return "BUY to close short" if side == "BUY" else "SELL to close long"


def trades(access: rd.Viewing, rows: Sequence[rd.Trade], hint: EmptyHint = EmptyHint.NONE) -> str:
    title = f"Last {plural(len(rows), 'trade')}" if len(rows) > 1 else "Last trade"
    title = title if rows else "Trades"
    lines = [f"🧾 <b>{title}</b>{whose(access)}"]
    if not rows:
        lines.append("No trades yet." + hint.value)
    for f in rows:  # a fee without a currency is in the quote (as the engine books it)
        realized = (
            f" · P&amp;L {cash(f.realized_pnl, f.currency, signed=True)}{mark(f.realized_pnl)}"
            if f.realized_pnl is not None
            else ""
        )
        lines.append(
            f"{when(f.ts)} {_trade_side(f)} {amount(f.amount)} "
            f"{esc(f.symbol)} @ {price(f.price, f.price_step)} · "
            f"fee {fee_text(f.fee, f.fee_currency or f.currency)}{realized}"
        )
    return "\n".join(lines)


def sessions(
    access: rd.Viewing,
    rows: Sequence[rd.Session],
    now: float,
    hint: EmptyHint = EmptyHint.NONE,
) -> str:
    lines = [f"🗂 <b>Trading sessions</b>{whose(access)}"]
    if not rows:
        lines.append("No trading sessions yet." + hint.value)
    for s in rows:
        end = s.ended_at if s.ended_at is not None else now
        ended = when(s.ended_at) if s.ended_at is not None else "still running"
        lines.append(
            f"\n<b>#{s.session_id}</b> {esc(s.status)} · {esc(s.mode)} · {esc(s.exchange_id)}\n"
            f"  {when(s.started_at)} → {ended} ({duration(s.started_at, end)})\n"
            f"  trades {s.trades} · wins {s.wins} · losses {s.losses} · "
            f"win rate {share(s.win_rate)} · "
            f"P&amp;L {cash_each(s.pnl_by_currency, signed=True, bold=True)}"
        )
    return "\n".join(lines)


# --- /pnl, /daily, /performance -------------------------------------------------------------


def _realized_groups(
    by_currency: Mapping[str, PeriodStats], stats: PeriodStats, account: str | None
) -> Mapping[str, PeriodStats]:
    """The realised P&L per currency (a symbol's quote); nothing realised: the account's
    currency with ``stats`` (zero)."""
    return by_currency or {account or "": stats}


def _since(report: rd.Pnl | rd.Performance) -> str:
    return f" (since {report.start:%Y-%m-%d} UTC)" if report.start is not None else ""


def pnl(report: rd.Pnl, whose_suffix: str = "") -> str:
    """/pnl: closed-trade stats of a UTC period (the period buttons sit under it);
    ``whose_suffix`` is ``whose(access)``."""
    stats = report.stats  # the counts, across currencies
    cur = report.currency  # the equity's
    groups = _realized_groups(report.by_currency, stats, cur)  # the money, per currency
    made = cash_each({c: s.total for c, s in groups.items()}, signed=True, bold=True)
    lines = [
        f"📈 <b>P&amp;L — {PERIOD_TITLES[report.period]}</b>{whose_suffix}{_since(report)}",
        f"Realised P&amp;L: {made}",
        f"Trades: {stats.trades} · wins {stats.wins} · losses {stats.losses} · "
        f"win rate {share(stats.win_rate)}",
    ]
    if stats.funding_payments:  # swaps: part of the realised P&L, summed (engine/funding.py)
        each = {c: s.funding for c, s in groups.items() if s.funding_payments}
        paid = cash_each(each, signed=True, marks=False)
        payments = plural(stats.funding_payments, "payment")
        lines.insert(2, f"Funding: {paid} ({payments}, included above)")
    lines += [
        f"Best {cash(s.best, c, signed=True)} · worst {cash(s.worst, c, signed=True)}"
        for c, s in groups.items()
        if s.trades
    ]
    change = report.equity_change
    if change is not None:
        first, last = report.points[0][1], report.points[-1][1]
        lines.append(
            f"Equity: {money(first)} → {cash(last, cur)} ({cash(change, cur, signed=True)})"
        )
    if report.cash_flows:  # deposits and withdrawals: in the equity, not in the P&L
        moved = cash(report.cash_flow, cur, signed=True)
        lines.append(f"Deposits/withdrawals: {moved} (in the equity, not in P&amp;L)")
    if not report.points:
        if report.any_history:
            lines.append("No equity points in this period yet, so no chart. Try /pnl all.")
        else:
            lines.append("No equity history yet, so no chart: it grows while trading runs.")
    return "\n".join(lines)


def period_button(period: str, shown: str) -> str:
    """A /pnl period button; the period on screen is marked."""
    return ("• " if period == shown else "") + PERIOD_BUTTONS[period]


CHART_BUTTON = "🖼 Chart"


def chart_title(period: str) -> str:
    """Drawn on the chart image (plain text)."""
    return f"Equity — {PERIOD_TITLES[period]}"


def chart_caption(access: rd.Viewing, period: str) -> str:
    return f"📈 Equity — {PERIOD_TITLES[period]}{whose(access)}"


def period_answer(period: str) -> str:
    """The toast after a period button: ``This week``."""
    return PERIOD_TITLES[period].capitalize()


def _coded_cell(sums: Mapping[str, Decimal], width: int, fallback: Decimal) -> str:
    """A table cell of money with codes (``-7.50 USD, +25.00 USDT``), padded after its
    last code to ``width`` characters of code so the column's numbers line up in
    monospace (``+140.25 USD `` over `` -12.85 USDT``); ``fallback`` without a code
    when there is no sum."""
    if not sums:
        return f"{money(fallback, signed=True)} {' ' * width}"
    items = sorted(sums.items())
    text = ", ".join(money_in(value, code, signed=True) for code, value in items)
    return text + " " * (width - len(items[-1][0]))


def daily(report: rd.Daily, whose_suffix: str = "", hint: EmptyHint = EmptyHint.NONE) -> str:
    """/daily: one row per UTC day, newest first (P&L realised: trades and funding)."""
    days = f"last {plural(len(report.days), 'day')}" if len(report.days) > 1 else "today"
    lines = [f"📅 <b>Daily P&amp;L — {days}</b>{whose_suffix}"]
    totals = report.total_by_currency  # per currency (each symbol's quote)
    mixed = len(totals) > 1  # then each day's P&L shows its codes, side by side

    width = max((len(c) for d in report.days for c in d.pnl_by_currency), default=0)

    def pnl_cell(d: rd.Day) -> str:
        if mixed:  # codes padded: the numbers stay in one column
            return _coded_cell(d.pnl_by_currency, width, d.pnl)
        return money(d.pnl, signed=True)

    def marker(d: rd.Day) -> str:
        return dot(d.pnl) if len(d.pnl_by_currency) <= 1 else "⚪"

    rows = [
        (marker(d) + " " + d.day[5:], pnl_cell(d), str(d.trades), money(d.equity))
        for d in report.days
    ]
    lines.append(table(("   Day", "P&L", "Trades", "Equity"), rows, frozenset({1, 2, 3})))
    shown = cash_each(totals or {report.currency or "": Decimal(0)}, signed=True, bold=True)
    lines.append(f"Total: {shown} in {plural(report.trades, 'closed trade')}")
    pnl_in = next(iter(totals)) if len(totals) == 1 else report.currency
    if mixed:
        unit = f"P&amp;L in each pair's quote, equity in {esc(report.currency or '—')}; "
    elif pnl_in and report.currency and pnl_in != report.currency:
        unit = f"P&amp;L in {esc(pnl_in)}, equity in {esc(report.currency)}; "
    else:
        unit = f"amounts in {esc(pnl_in)}; " if pnl_in else ""
    lines.append(f"Days in UTC; {unit}equity is each day's last reading; P&amp;L is realised.")
    text = "\n".join(lines)
    if not report.trades and not any(d.equity is not None for d in report.days):
        text += hint.value
    return text


def performance(
    report: rd.Performance, whose_suffix: str = "", hint: EmptyHint = EmptyHint.NONE
) -> str:
    """/performance: closed trades per pair, best first."""
    title = PERIOD_TITLES[report.period]
    lines = [f"🏆 <b>Performance by pair — {title}</b>{whose_suffix}{_since(report)}"]
    if not report.pairs:
        lines.append("No closed trades in this period.")
        return "\n".join(lines) + hint.value
    totals = report.total_by_currency
    mixed = len(totals) > 1  # then each row's P&L carries its code (its pair's quote)
    shown = report.pairs[:SHOWN_PAIRS]
    width = max((len(p.currency or "") for p in shown), default=0)

    def pnl_cell(p: rd.Pair) -> str:
        if not mixed:
            return money(p.pnl, signed=True)
        return _coded_cell({p.currency: p.pnl} if p.currency else {}, width, p.pnl)

    rows = [
        (dot(p.pnl) + " " + p.symbol[:20], str(p.trades), share(p.win_rate), pnl_cell(p))
        for p in shown
    ]
    lines.append(table(("   Pair", "Trades", "Win", "P&L"), rows, frozenset({1, 2, 3})))
    if len(report.pairs) > SHOWN_PAIRS:
        lines.append(f"… and {len(report.pairs) - SHOWN_PAIRS} more pairs")
    lines.append(
        f"Total: {plural(report.trades, 'trade')} · win rate {share(report.win_rate)} · "
        f"P&amp;L {cash_each(totals, signed=True, bold=True)}"
    )
    if any(p.funding for p in report.pairs):
        lines.append("Swap funding is counted in its pair's P&amp;L.")
    return "\n".join(lines)
