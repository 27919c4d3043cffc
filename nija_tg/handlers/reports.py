"""Reports for traders and viewers: /status (dashboard with refresh), /balance,
/positions, /trades, /pnl (period buttons, an equity chart), /sessions, /daily (per
day) and /performance (per pair).

Each command takes an optional trailing user id: one's own data by default, a granted
trader's for a viewer, anyone's for an admin (audited). Other ids get the same answer
as a user that does not exist.
"""

from __future__ import annotations

from telegram import LinkPreviewOptions, Update
from telegram.ext import CommandHandler, filters

from nija_tg.handlers import reports_dashboard as dashboard
from nija_tg.handlers.callback_data import PnlButton, RefreshButton, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.reports_args import begin, resolve
from nija_tg.handlers.reports_commands import (
    balance,
    daily,
    performance,
    positions,
    sessions,
    trades,
)
from nija_tg.handlers.reports_pnl import pnl, pnl_button
from nija_tg.messages import reports as say
from nija_tg.messages.errors import text as error_text
from nija_tg.services.reports_service import NotVisibleError

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def send_dashboard(
    update: Update, context: BotContext, target_user_id: int | None = None
) -> None:
    """Send the dashboard of ``target_user_id`` (default: the caller) to this chat,
    after the same access check as /status."""
    if context.caller is None:
        return
    access = await resolve(update, context, target_user_id, "status")
    if access is None:
        return
    text, markup = await dashboard.render(context, access)
    await reply(update, text, markup)


async def status(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "status")
    if started is None:
        return
    access, _ = started
    text, markup = await dashboard.render(context, access)
    await reply(update, text, markup)


async def refresh(update: Update, context: BotContext, button: RefreshButton) -> None:
    """The 🔄 button: re-read and edit the dashboard message in place."""
    query = update.callback_query
    if query is None or context.caller is None:
        return
    try:
        outcome = await dashboard.edit_dashboard(update, context, button.user_id)
    except NotVisibleError as exc:
        await query.answer(error_text(exc), show_alert=True)
        return
    await query.answer(say.REFRESHED[outcome])


def handlers() -> list:
    commands = {
        "status": status,
        "balance": balance,
        "positions": positions,
        "trades": trades,
        "pnl": pnl,
        "sessions": sessions,
        "daily": daily,
        "performance": performance,
    }
    # New messages only: an edited old command is left to the fallback (ignored).
    only_new = filters.UpdateType.MESSAGE
    return [
        *(CommandHandler(name, fn, filters=only_new) for name, fn in commands.items()),
        on_button(RefreshButton, refresh),
        on_button(PnlButton, pnl_button),
    ]
