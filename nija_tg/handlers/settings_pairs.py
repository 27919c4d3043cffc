"""/pairs (show), /pairs add SOL, /pairs remove ADA."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.settings_common import (
    args,
    caller_id,
    is_viewer,
    polite,
    service,
)
from nija_tg.messages import settings as say


@polite
async def pairs(update: Update, context: BotContext) -> None:
    words = args(context)
    if not words:
        await _show(update, context)
        return
    action = words[0].lower()
    if action not in ("add", "remove") or len(words) < 2:
        await reply(update, say.PAIRS_USAGE)
        return
    if is_viewer(context):
        await reply(update, say.VIEWER_REFUSAL)
        return
    edit = await service(context).edit_pairs(caller_id(context), action, words[1:])
    await reply(update, say.pairs_edited(action, edit))


async def _show(update: Update, context: BotContext) -> None:
    view = await service(context).pairs(caller_id(context))
    await reply(update, say.pairs(view))


def handlers() -> list:
    return [CommandHandler("pairs", pairs)]
