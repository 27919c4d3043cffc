"""/pnl: closed-trade stats for a UTC period, then the equity chart as a photo.

Under the text sit the period buttons (Today, Week, Month, All: a tap edits the same
message in place) and 📈 Chart (sends the chart of the period shown)."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest

from nija_tg.handlers import reports_format as fmt
from nija_tg.handlers.callback_data import PnlButton
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.reports_args import begin, whose
from nija_tg.services.charts import render_equity_chart
from nija_tg.services.reports_service import Access, NotVisibleError, PnlReport

log = logging.getLogger("nija_tg.bot.reports")
TITLES = {"day": "today", "week": "this week", "month": "this month", "all": "all time"}
BUTTONS = {"day": "Today", "week": "Week", "month": "Month", "all": "All"}


def pnl_text(report: PnlReport, heading_suffix: str) -> str:
    stats = report.stats
    since = f" (since {report.start:%Y-%m-%d} UTC)" if report.start is not None else ""
    lines = [
        f"📈 <b>P&amp;L — {TITLES[report.period]}</b>{heading_suffix}{since}",
        f"Realised P&amp;L: <b>{fmt.money(stats.total, signed=True)}</b>{fmt.mark(stats.total)}",
        f"Trades: {stats.trades} · wins {stats.wins} · losses {stats.losses} · "
        f"win rate {fmt.pct(stats.win_rate)}",
    ]
    if stats.funding_payments:  # swaps: part of the realised P&L, summed (engine/funding.py)
        n, paid = stats.funding_payments, fmt.money(stats.funding, signed=True)
        plural = "s" if n != 1 else ""
        lines.insert(2, f"Funding: {paid} ({n} payment{plural}, included above)")
    if stats.trades:
        lines.append(
            f"Best {fmt.money(stats.best, signed=True)} · "
            f"worst {fmt.money(stats.worst, signed=True)}"
        )
    change = report.equity_change
    if change is not None:
        first, last = report.points[0][1], report.points[-1][1]
        lines.append(
            f"Equity: {fmt.money(first)} → {fmt.money(last)} ({fmt.money(change, signed=True)})"
        )
    if report.cash_flows:  # deposits and withdrawals: in the equity, not in the P&L
        moved = fmt.money(report.cash_flow, signed=True)
        lines.append(f"Deposits/withdrawals: {moved} (in the equity, not in P&amp;L)")
    if not report.points:
        if report.any_history:
            lines.append("No equity points in this period yet, so no chart. Try /pnl all.")
        else:
            lines.append("No equity history yet, so no chart: it grows while trading runs.")
    return "\n".join(lines)


def markup(access: Access, report: PnlReport) -> InlineKeyboardMarkup:
    target = None if access.own else access.target.user_id
    periods = [
        InlineKeyboardButton(
            ("• " if period == report.period else "") + label,
            callback_data=PnlButton(period, "text", target).pack(),  # type: ignore[arg-type]
        )
        for period, label in BUTTONS.items()
    ]
    rows = [periods]
    if report.points:
        chart = PnlButton(report.period, "chart", target).pack()  # type: ignore[arg-type]
        rows.append([InlineKeyboardButton("🖼 Chart", callback_data=chart)])
    return InlineKeyboardMarkup(rows)


async def pnl(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "pnl")
    if started is None:
        return
    access, parsed = started
    report = await context.services.reports.pnl(access.target.user_id, parsed.period)
    await reply(update, pnl_text(report, whose(access)), markup(access, report))
    if report.points:
        await _send_chart(update, context, access, report)


async def _send_chart(
    update: Update, context: BotContext, access: Access, report: PnlReport
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
    title = f"Equity — {TITLES[report.period]}"
    try:
        png = await asyncio.to_thread(render_equity_chart, report.points, title)
    except Exception:
        log.exception("equity chart failed")
        await reply(update, "Sorry, I could not draw the equity chart right now.")
        return
    caption = f"📈 Equity — {TITLES[report.period]}{whose(access)}"
    await chat.send_photo(
        photo=png, caption=caption, parse_mode=ParseMode.HTML, filename="equity.png"
    )


async def pnl_button(update: Update, context: BotContext, button: PnlButton) -> None:
    """A period button edits the report in place; 🖼 Chart sends the period's chart.
    Access is checked again, as for /pnl."""
    query = update.callback_query
    if query is None or context.caller is None:
        return
    try:
        access = await context.services.reports.authorize(
            context.caller, button.user_id, action="pnl"
        )
    except NotVisibleError as exc:
        await query.answer(exc.user_message, show_alert=True)
        return
    report = await context.services.reports.pnl(access.target.user_id, button.period)
    if button.chart == "chart":
        if not report.points:
            await query.answer("No equity points in this period, so no chart.")
            return
        await query.answer()
        await _send_chart(update, context, access, report)
        return
    try:
        await query.edit_message_text(
            pnl_text(report, whose(access)),
            parse_mode=ParseMode.HTML,
            reply_markup=markup(access, report),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            await query.answer("Could not update. Send /pnl instead.")
            return
    await query.answer(TITLES[button.period].capitalize())
