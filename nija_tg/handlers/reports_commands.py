"""/balance, /positions (with a Close button per position of one's own), /trades,
/sessions, /daily (per-day table) and /performance (per pair). The words are
``messages/reports.py``'s; these read the services and send."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.reports_args import begin
from nija_tg.handlers.reports_dashboard import stale_warning
from nija_tg.handlers.trading import close_data
from nija_tg.messages import reports as say
from nija_tg.services.reports_service import Access

__all__ = ["balance", "daily", "performance", "positions", "sessions", "trades"]


async def _hint(context: BotContext, access: Access) -> say.EmptyHint:
    """What to suggest under one's own empty report."""
    if not access.may_trade:
        return say.EmptyHint.NONE
    connected = await context.services.connect.info(access.target.user_id) is not None
    return say.empty_hint(access, connected)


async def balance(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "balance")
    if started is None:
        return
    access, _ = started
    report = await context.services.reports.balances(access.target.user_id)
    if report.updated_at is None:
        await reply(update, say.balances(access, report, await _hint(context, access)))
        return
    await reply(update, say.balances(access, report, stale=await stale_warning(context)))


async def positions(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "positions")
    if started is None:
        return
    access, _ = started
    report = await context.services.reports.positions(access.target.user_id)
    if not report.positions:
        await reply(update, say.positions(access, report, await _hint(context, access)))
        return
    markup = await _close_buttons(context, access)
    stale = await stale_warning(context)
    text = say.positions(access, report, closable=markup is not None, stale=stale)
    await reply(update, text, markup)


async def _close_buttons(context: BotContext, access: Access) -> InlineKeyboardMarkup | None:
    """One Close button per own open position the engine manages (each confirmed)."""
    if not (access.own and access.may_trade):
        return None
    rows = []
    for t in await context.services.trading.close_targets(access.target.user_id):
        data = close_data("ask", t.symbol, t.side)
        if data is not None:
            rows.append([InlineKeyboardButton(say.close_button(t), callback_data=data)])
    return InlineKeyboardMarkup(rows[:20]) if rows else None


async def trades(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "trades")
    if started is None:
        return
    access, parsed = started
    rows = await context.services.reports.trades(access.target.user_id, parsed.count)
    hint = say.EmptyHint.NONE if rows else await _hint(context, access)
    await reply(update, say.trades(access, rows, hint))


async def sessions(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "sessions")
    if started is None:
        return
    access, parsed = started
    rows = await context.services.reports.sessions(access.target.user_id, parsed.count)
    hint = say.EmptyHint.NONE if rows else await _hint(context, access)
    now = context.services.reports.now().timestamp()
    await reply(update, say.sessions(access, rows, now, hint))


async def daily(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "daily")
    if started is None:
        return
    access, parsed = started
    report = await context.services.reports.daily(access.target.user_id, parsed.count)
    await reply(update, say.daily(report, say.whose(access), await _hint(context, access)))


async def performance(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "performance")
    if started is None:
        return
    access, parsed = started
    report = await context.services.reports.performance(access.target.user_id, parsed.period)
    await reply(update, say.performance(report, say.whose(access), await _hint(context, access)))
