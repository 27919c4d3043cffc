"""The /status dashboard: reads what it shows and sends it with its buttons (the words
are ``messages/reports.py``'s)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from nija_tg.core.models import Role
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.handlers.callback_data import RefreshButton, TradeButton
from nija_tg.handlers.context import BotContext
from nija_tg.messages import reports as say
from nija_tg.messages.health import stale_data_warning
from nija_tg.services.reports_service import Access, Dashboard

TRADE_ON = TradeButton(TradingSwitch.ON).pack()
TRADE_OFF = TradeButton(TradingSwitch.OFF).pack()


def refresh_data(access: Access) -> str:
    return RefreshButton(None if access.own else access.target.user_id).pack()


def markup(access: Access, dash: Dashboard) -> InlineKeyboardMarkup:
    row = []
    if access.may_trade:
        switch = dash.user.switch
        if switch is not TradingSwitch.ON:
            row.append(InlineKeyboardButton(say.START_BUTTON, callback_data=TRADE_ON))
        if switch is not TradingSwitch.OFF:
            row.append(InlineKeyboardButton(say.STOP_BUTTON, callback_data=TRADE_OFF))
    row.append(InlineKeyboardButton(say.REFRESH_BUTTON, callback_data=refresh_data(access)))
    return InlineKeyboardMarkup([row])


async def stale_warning(context: BotContext) -> str | None:
    """The line every report of the engine's figures shows when they may be old (the
    engine stopped reporting or a market is late), else None."""
    return stale_data_warning(await context.services.health.report())


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
    stale = await stale_warning(context)
    held = (await services.reports.positions(target_id)).positions if dash.open_positions else []
    text = say.dashboard(access, dash, conn, now, grants, stale, held)
    return text, markup(access, dash)


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
