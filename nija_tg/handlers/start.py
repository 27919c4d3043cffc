"""/start (register, idempotent; in approval mode a newcomer's request goes to the admins,
see ``admission``; an admin's /start also shows every pending request) and /help (what
the caller's role may do)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from nija_tg.core.models import Role
from nija_tg.handlers import admission, keyboard
from nija_tg.handlers.admission import ask_admins, show_pending
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import MAX_TEXT, reply
from nija_tg.handlers.reports import send_dashboard
from nija_tg.messages import onboarding as say
from nija_tg.messages.commands import help_text
from nija_tg.services.admission import Admitted, Outcome


async def start(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    if chat.type != ChatType.PRIVATE:
        await reply(update, say.START_IN_PRIVATE)
        return
    admitted = await context.services.admission.start(
        user.id, chat.id, user.username, user.first_name
    )
    if admitted.outcome is not Outcome.REGISTERED:
        await _not_in(update, context, admitted)
        return
    row = admitted.row
    assert row is not None
    context.caller = row
    connected = await context.services.connect.info(user.id) is not None
    await set_chat_menu(context.bot, chat.id, row.role, connected)
    if admitted.created:
        welcome = say.welcome_text(user.first_name, row.role)
        await keyboard.send_with_keyboard(update, context, welcome)
    else:
        await send_dashboard(update, context)
        await keyboard.show_once(update, context)
    if row.role is Role.ADMIN:
        await show_pending(update, context)  # join requests waiting for a decision


async def _not_in(update: Update, context: BotContext, admitted: Admitted) -> None:
    """Approval mode's newcomers and a closed bot's strangers."""
    user = update.effective_user
    assert user is not None
    if admitted.outcome in (Outcome.ASKED, Outcome.ASK_AGAIN):
        sent = await ask_admins(
            context.bot, admitted.admins, user.id, user.username, user.first_name
        )
        if sent:
            await context.services.admission.asked([user.id])
        if admitted.outcome is Outcome.ASKED:
            await reply(update, say.asked_text(user.first_name, reached=sent > 0))
        else:
            await reply(update, say.REMINDED if sent else say.WAITING_UNSEEN)
    elif admitted.outcome is Outcome.WAITING:
        await reply(update, say.WAITING)
    elif admitted.outcome is Outcome.REJECTED:
        await reply(update, say.REJECTED)
    else:
        await reply(update, say.CLOSED)


async def help_command(update: Update, context: BotContext) -> None:
    role = context.caller.role if context.caller else None
    text = help_text(role)
    if role is None:
        await reply(update, text)
        return
    if (
        len(text) > MAX_TEXT
        or update.effective_chat is None
        or (update.effective_chat.type != ChatType.PRIVATE)
    ):
        await reply(update, text)
        return
    await keyboard.send_with_keyboard(update, context, text)  # the quick buttons come too


def handlers() -> list:
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        *admission.handlers(),
    ]
