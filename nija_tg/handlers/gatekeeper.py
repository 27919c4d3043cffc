"""Runs before every other handler (group -1): who is this, and may they be here?

Authorisation is by Telegram user id only. Strangers may use /start and /help; every
other update from them gets one polite line and goes no further.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply

OPEN_COMMANDS = ("/start", "/help")


def _command(update: Update) -> str | None:
    message = update.effective_message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split()[0].split("@")[0].lower()


async def gate(update: Update, context: BotContext) -> None:
    user = update.effective_user
    if user is None or user.is_bot:
        raise ApplicationHandlerStop
    context.caller = await context.services.users.get(user.id)
    if context.caller is not None:
        return
    if _command(update) in OPEN_COMMANDS:
        return
    if update.callback_query is not None:
        await update.callback_query.answer("Please send /start first.", show_alert=False)
    elif update.message is not None:
        await reply(update, "Hello! Please send /start to register first.")
    raise ApplicationHandlerStop


def handler() -> TypeHandler:
    return TypeHandler(Update, gate)
