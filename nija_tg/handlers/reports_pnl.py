"""/pnl: closed-trade stats for a UTC period, then the equity chart as a photo (the
words are ``messages/reports.py``'s).

Under the text sit the period buttons (Today, Week, Month, All: a tap edits the same
message in place) and 🖼 Chart (sends the chart of the period shown)."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest

from nija_tg.handlers.callback_data import PnlButton
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.reports_args import begin
from nija_tg.messages import reports as say
from nija_tg.messages.errors import text as error_text
from nija_tg.services.charts import render_equity_chart
from nija_tg.services.reports_service import Access, NotVisibleError, PnlReport

log = logging.getLogger("nija_tg.bot.reports")


def markup(access: Access, report: PnlReport) -> InlineKeyboardMarkup:
    target = None if access.own else access.target.user_id
    periods = [
        InlineKeyboardButton(
            say.period_button(period, report.period),
            callback_data=PnlButton(period, "text", target).pack(),  # type: ignore[arg-type]
        )
        for period in say.PERIOD_BUTTONS
    ]
    rows = [periods]
    if report.points:
        chart = PnlButton(report.period, "chart", target).pack()  # type: ignore[arg-type]
        rows.append([InlineKeyboardButton(say.CHART_BUTTON, callback_data=chart)])
    return InlineKeyboardMarkup(rows)


async def pnl(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "pnl")
    if started is None:
        return
    access, parsed = started
    report = await context.services.reports.pnl(access.target.user_id, parsed.period)
    await reply(update, say.pnl(report, say.whose(access)), markup(access, report))
    if report.points:
        await _send_chart(update, context, access, report)


async def _send_chart(
    update: Update, context: BotContext, access: Access, report: PnlReport
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
    title = say.chart_title(report.period)
    try:
        png = await asyncio.to_thread(render_equity_chart, report.points, title)
    except Exception:
        log.exception("equity chart failed")
        await reply(update, say.CHART_FAILED)
        return
    caption = say.chart_caption(access, report.period)
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
        await query.answer(error_text(exc), show_alert=True)
        return
    report = await context.services.reports.pnl(access.target.user_id, button.period)
    if button.chart == "chart":
        if not report.points:
            await query.answer(say.NO_CHART)
            return
        await query.answer()
        await _send_chart(update, context, access, report)
        return
    try:
        await query.edit_message_text(
            say.pnl(report, say.whose(access)),
            parse_mode=ParseMode.HTML,
            reply_markup=markup(access, report),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            await query.answer(say.PNL_NOT_UPDATED)
            return
    await query.answer(say.period_answer(button.period))
