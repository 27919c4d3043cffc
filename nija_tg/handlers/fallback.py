"""Everything no feature handler took: unknown commands, stickers, photos, edits."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import echo, reply


async def unknown_command(update: Update, context: BotContext) -> None:
    text = update.effective_message.text if update.effective_message else ""
    name = (text or "").split()[0] if text else ""
    await reply(update, f"I don't know the command {echo(name, 30)}. Send /help for the list.")


async def other_message(update: Update, context: BotContext) -> None:
    if update.edited_message is not None:
        return  # edits of old messages are ignored on purpose
    await reply(update, "I understand commands only. Send /help to see them.")


async def expired_button(update: Update, context: BotContext) -> None:
    """A button no handler takes any more (a finished conversation, an old menu)."""
    await update.callback_query.answer("This button has expired. Send the command again.")


def handlers() -> list:
    return [
        CallbackQueryHandler(expired_button),
        MessageHandler(filters.COMMAND, unknown_command),
        MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, other_message),
    ]
