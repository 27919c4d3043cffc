"""/disconnect: erase the caller's exchange keys, after a Yes/No confirmation."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from nija_tg.core.models import Role
from nija_tg.handlers import confirm
from nija_tg.handlers.callback_data import DisconnectConfirm, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import reply
from nija_tg.messages import common
from nija_tg.messages import connect as texts
from nija_tg.messages import disconnect as say


async def disconnect(update: Update, context: BotContext) -> None:
    caller = context.caller
    if caller is None or caller.role is Role.VIEWER:
        await reply(update, texts.NO_CONNECTION)
        return
    if context.args:
        await reply(update, say.USAGE)
        return
    connect = context.services.connect
    info = await connect.info(caller.user_id)
    if info is None and not await connect.is_pending(caller.user_id):
        await reply(update, texts.NOTHING_TO_DISCONNECT)
        return
    question = say.question(info.exchange_id, info.key_tail) if info else say.question(None, None)
    await confirm.ask(
        update, context, DisconnectConfirm, question, say.ERASE_BUTTON, say.KEEP_BUTTON
    )


async def on_press(update: Update, context: BotContext, button: DisconnectConfirm) -> None:
    query = update.callback_query
    caller = context.caller
    if query is None or caller is None:
        return
    if confirm.claim(update, context, button) is None:
        await query.answer(common.NOT_YOURS)
        return
    if button.answer != "yes" or caller.role is Role.VIEWER:
        await query.answer(say.CANCELLED_TOAST)
        await confirm.close_question(update, say.KEPT)
        return
    await query.answer(say.ERASING_TOAST)
    removed = await context.services.connect.disconnect(caller.user_id)
    if update.effective_chat is not None:
        await set_chat_menu(context.bot, update.effective_chat.id, caller.role, connected=False)
    await confirm.close_question(
        update, texts.DISCONNECTED if removed else texts.NOTHING_TO_DISCONNECT
    )


def handlers() -> list:
    return [CommandHandler("disconnect", disconnect), on_button(DisconnectConfirm, on_press)]
