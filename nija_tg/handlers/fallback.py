"""Everything no feature handler took: unknown commands, stickers, photos, edits."""

from __future__ import annotations

import contextlib
import re

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import echo, reply

COMMAND_WORD = re.compile(r"/[A-Za-z0-9_]{1,32}")
COMMAND_FORM = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?")
# One long word that is more than a command: most likely a key or secret pasted outside
# /connect (base64 keys may start with "/"). It is deleted, never echoed.
SECRET_LIKE = re.compile(r"/\S{23,}")
PASTED_SECRET = (
    "That looked like an API key or secret, so I deleted it and did not keep it. To link "
    "your exchange, send /connect and paste it when I ask. If it was a real key, consider "
    "revoking it on the exchange."
)


async def unknown_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    text = (message.text if message else "") or ""
    word = text.strip()
    if SECRET_LIKE.fullmatch(word) and not COMMAND_FORM.fullmatch(word):
        with contextlib.suppress(TelegramError):
            await message.delete()
        await reply(update, PASTED_SECRET)
        return
    found = COMMAND_WORD.match(text)
    name = found.group(0) if found else "/"
    await reply(update, f"I don't know the command {echo(name, 33)}. Send /help for the list.")


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
