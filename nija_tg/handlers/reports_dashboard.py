"""The /status dashboard: its text and its buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.handlers import reports_format as fmt
from nija_tg.handlers.callback_data import RefreshButton, TradeButton
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.health_format import stale_data_warning
from nija_tg.handlers.replies import esc
from nija_tg.handlers.reports_args import whose
from nija_tg.services.connect_service import ConnectionInfo
from nija_tg.services.reports_service import Access, Dashboard, PositionView

TRADE_ON = TradeButton(TradingSwitch.ON).pack()
TRADE_OFF = TradeButton(TradingSwitch.OFF).pack()
SWITCH_STATE = {TradingSwitch.ON: "on", TradingSwitch.EXITS: "exits only", TradingSwitch.OFF: "off"}
CONNECT_HINT = "Send /connect to link your exchange."


def refresh_data(access: Access) -> str:
    return RefreshButton(None if access.own else access.target.user_id).pack()


def markup(access: Access, dash: Dashboard) -> InlineKeyboardMarkup:
    row = []
    if access.may_trade:
        switch = dash.user.switch
        if switch is not TradingSwitch.ON:
            row.append(InlineKeyboardButton("▶️ Start trading", callback_data=TRADE_ON))
        if switch is not TradingSwitch.OFF:
            row.append(InlineKeyboardButton("⏸ Stop trading", callback_data=TRADE_OFF))
    row.append(InlineKeyboardButton("🔄 Refresh", callback_data=refresh_data(access)))
    return InlineKeyboardMarkup([row])


def _trading_line(dash: Dashboard) -> str:
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


PAPER_NO_EXCHANGE = "none needed for paper trading (/connect links one for live)"


def _exchange_line(access: Access, conn: ConnectionInfo | None) -> str:
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


def text(
    access: Access,
    dash: Dashboard,
    conn: ConnectionInfo | None,
    now: float,
    grants: list[int],
    stale: str | None = None,
    open_positions: list[PositionView] | None = None,
) -> str:
    user = dash.user
    mode = "📝 paper" if user.mode is TradingMode.PAPER else "💵 live"
    today = fmt.money(dash.today_change, signed=True)
    realized = dash.realized_today
    funding = ""  # swaps: funding payments are part of the realised P&L
    if realized.funding_payments:
        funding = f", funding {fmt.money(realized.funding, signed=True)}"
    if dash.cash_flow_today:  # deposits and withdrawals are not P&L
        funding += f"; deposits/withdrawals {fmt.money(dash.cash_flow_today, signed=True)} left out"
    lines = [
        f"📊 <b>Dashboard</b>{whose(access)}",
        _trading_line(dash),
        f"Mode: {mode}",
        _exchange_line(access, conn),
        "",
        f"Equity: <b>{fmt.money(dash.equity)}</b>",
        f"Open positions: {dash.open_positions}",
        *_position_lines(open_positions or []),
        f"Today's P&amp;L: {today}{fmt.mark(dash.today_change)} (realised "
        f"{fmt.money(realized.total, signed=True)} in {realized.trades} "
        f"trade{'s' if realized.trades != 1 else ''}{funding})",
    ]
    signals = fmt.signal_lines(dash.last_signal)
    if signals:
        lines.append("Last signal: " + signals[0])
        lines += [f"  {line}" for line in signals[1:]]
    else:
        lines.append(f"Last signal: {fmt.DASH}")
    if dash.updated_at:
        lines.append(f"Updated: {fmt.when(dash.updated_at)} ({fmt.ago(dash.updated_at, now)})")
    else:
        lines.append("Updated: no data from the trading engine yet")
    if stale is not None:  # the engine stopped reporting or is late: figures may be old
        lines.append(stale)
    lines += _hints(access, dash, conn, grants)
    return "\n".join(lines)


SHOWN_POSITIONS = 5


def _position_lines(positions: list[PositionView]) -> list[str]:
    """One short line per open position (the first five): marker, symbol, side and
    leverage, unrealised P&L and its %."""
    lines = [
        f"  {fmt.dot(p.unrealized_pnl)} {esc(p.symbol)} {fmt.position_tag(p)} "
        f"{fmt.money(p.unrealized_pnl, signed=True)} ({fmt.position_pct(p)})"
        for p in positions[:SHOWN_POSITIONS]
    ]
    if len(positions) > SHOWN_POSITIONS:
        lines.append(f"  … and {len(positions) - SHOWN_POSITIONS} more: /positions")
    return lines


def _hints(
    access: Access, dash: Dashboard, conn: ConnectionInfo | None, grants: list[int]
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


async def render(context: BotContext, access: Access) -> tuple[str, InlineKeyboardMarkup]:
    """Read everything the dashboard shows and build its text and buttons."""
    services = context.services
    target_id = access.target.user_id
    dash = await services.reports.dashboard(target_id)
    conn = await services.connect.info(target_id)
    grants = []
    if access.own and access.caller.role is Role.VIEWER:
        grants = await services.reports.granted_traders(access.caller.user_id)
    now = services.reports.now().timestamp()
    stale = stale_data_warning(await services.health.report())
    held = (await services.reports.positions(target_id)).positions if dash.open_positions else []
    return text(access, dash, conn, now, grants, stale, held), markup(access, dash)


async def edit_dashboard(update: Update, context: BotContext, target_user_id: int | None) -> str:
    """Re-read the dashboard of ``target_user_id`` (None: the caller) and edit the
    message the pressed button sits under. "edited", "same" (nothing changed) or
    "failed"; access is checked as for /status (NotVisibleError propagates)."""
    query = update.callback_query
    assert query is not None and context.caller is not None
    access = await context.services.reports.authorize(
        context.caller, target_user_id, action="status"
    )
    text, markup = await render(context, access)
    try:
        await query.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as exc:
        return "same" if "not modified" in str(exc).lower() else "failed"
    return "edited"
