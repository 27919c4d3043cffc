"""Everything no feature handler took: unknown commands, stickers, photos, edits.

Nothing a user typed is echoed unless it fits the command grammar: an unknown command is
named back only when it is a well-formed command word (``/[a-z0-9_]{1,32}``), never its
arguments. Keys and secrets are deleted by the secret guard (handler group -2) before
they get here; the check below is a second net for a message that guard let through
to the /connect conversation when that conversation did not take it.
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from nija_tg.core.secret_shapes import looks_like_secret
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.secret_guard import delete_once, message_text
from nija_tg.messages import common as say
from nija_tg.messages.connect import PASTED_SECRET, PASTED_SECRET_NOT_DELETED

COMMAND_WORD = re.compile(r"/([a-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)")


async def _secret_net(update: Update, context: BotContext) -> bool:
    message = update.effective_message
    if message is None or not looks_like_secret(message_text(message)):
        return False
    deleted = await delete_once(context, message)
    await reply(update, PASTED_SECRET if deleted else PASTED_SECRET_NOT_DELETED)
    return True


async def unknown_command(update: Update, context: BotContext) -> None:
    if await _secret_net(update, context):
        return
    text = message_text(update.effective_message)
    found = COMMAND_WORD.match(text)
    if found is None:
        await reply(update, say.UNKNOWN_SHAPE)
        return
    await reply(update, say.unknown_command(found.group(1)))


async def other_message(update: Update, context: BotContext) -> None:
    if await _secret_net(update, context):
        return
    if update.edited_message is not None:
        return  # edits of old messages are ignored on purpose
    await reply(update, say.COMMANDS_ONLY)


async def expired_button(update: Update, context: BotContext) -> None:
    """A button no handler takes any more (a finished conversation, an old menu, the
    data of an older version of the button: see callback_data.py)."""
    await update.callback_query.answer(say.EXPIRED_BUTTON)


def handlers() -> list:
    return [
        CallbackQueryHandler(expired_button),
        MessageHandler(filters.COMMAND, unknown_command),
        MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, other_message),
    ]
