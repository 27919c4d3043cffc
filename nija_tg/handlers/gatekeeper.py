"""Runs before every feature handler (group -1): who is this, and may they be here?

Only the secret guard (group -2, handlers/secret_guard.py) runs earlier: a message that
looks like a key is deleted there before this module touches the database.

Authorisation is by Telegram user id only. Strangers may use /start and /help; every
other update from them gets one polite line and goes no further.

Everything personal happens in private chats: in a group only /start, /help and /connect
pass (the last one to delete a message that may carry keys and warn its sender), other
commands get a one-line pointer to the private chat, and group chatter is ignored.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, TypeHandler

from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages import onboarding as say

OPEN_COMMANDS = ("/start", "/help")
GROUP_COMMANDS = ("/start", "/help", "/connect")


def _command(update: Update) -> str | None:
    message = update.effective_message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split()[0].split("@")[0].lower()


async def gate(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or user.is_bot:
        raise ApplicationHandlerStop
    if chat is not None and chat.type != ChatType.PRIVATE:
        await _group_gate(update, context)
    context.caller = await context.services.users.get(user.id)
    if context.caller is not None and not context.caller.reachable:
        await context.services.users.mark_reachable(user.id)  # they unblocked the bot
    if context.caller is not None:
        await context.services.users.seen(context.caller)  # "last seen", once a minute
    if context.caller is not None or (chat is not None and chat.type != ChatType.PRIVATE):
        return
    if _command(update) in OPEN_COMMANDS:
        return
    if update.callback_query is not None:
        await update.callback_query.answer(say.START_FIRST_TOAST, show_alert=False)
    elif update.message is not None:
        await reply(update, say.START_FIRST)
    raise ApplicationHandlerStop


async def _group_gate(update: Update, context: BotContext) -> None:
    command = _command(update)
    if command in GROUP_COMMANDS:
        context.caller = await context.services.users.get(update.effective_user.id)
        return
    if update.callback_query is not None:
        await update.callback_query.answer(say.PRIVATE_ONLY)
    elif command is not None and update.message is not None:
        await reply(update, say.PRIVATE_ONLY)
    raise ApplicationHandlerStop


def handler() -> TypeHandler:
    return TypeHandler(Update, gate)
