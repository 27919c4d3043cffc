"""/pnl: closed-trade stats for a UTC period, then the equity chart as a photo."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.constants import ChatAction, ParseMode

from nija_tg.handlers import reports_format as fmt
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.reports_args import begin, whose
from nija_tg.services.charts import render_equity_chart
from nija_tg.services.reports_service import PnlReport

log = logging.getLogger("nija_tg.bot.reports")
TITLES = {"day": "today", "week": "this week", "month": "this month", "all": "all time"}


def pnl_text(report: PnlReport, heading_suffix: str) -> str:
    stats = report.stats
    since = f" (since {report.start:%Y-%m-%d} UTC)" if report.start is not None else ""
    lines = [
        f"📈 <b>P&amp;L — {TITLES[report.period]}</b>{heading_suffix}{since}",
        f"Realised P&amp;L: <b>{fmt.money(stats.total, signed=True)}</b>",
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


async def pnl(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "pnl")
    if started is None:
        return
    access, parsed = started
    report = await context.services.reports.pnl(access.target.user_id, parsed.period)
    await reply(update, pnl_text(report, whose(access)))
    chat = update.effective_chat
    if not report.points or chat is None:
        return
    await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
    title = f"Equity — {TITLES[parsed.period]}"
    try:
        png = await asyncio.to_thread(render_equity_chart, report.points, title)
    except Exception:
        log.exception("equity chart failed")
        await reply(update, "Sorry, I could not draw the equity chart right now.")
        return
    caption = f"📈 Equity — {TITLES[parsed.period]}{whose(access)}"
    await chat.send_photo(
        photo=png, caption=caption, parse_mode=ParseMode.HTML, filename="equity.png"
    )
