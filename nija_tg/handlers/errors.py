"""The global error handler: log (redacted by the logging filter), tell the user
something went wrong, never show internals. The text is HTML (``messages.common.failed``
escapes a handled error's own explanation), so a ``<`` in it shows as typed."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from nija_tg.core.errors import NijaError
from nija_tg.handlers.context import BotContext
from nija_tg.messages import common as say
from nija_tg.messages.errors import text as error_text

log = logging.getLogger("nija_tg.bot")


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if isinstance(error, NijaError):
        text = say.failed(error_text(error))
        log.info("handled %s: %s", type(error).__name__, error)
    else:
        text = say.SOMETHING_WENT_WRONG
        log.error("unhandled error in a handler", exc_info=error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(text, parse_mode=ParseMode.HTML)
        except TelegramError:
            log.warning("could not tell the user about an error")
