"""/forget: erase the caller's keys and data after a button confirmation.

The confirmation is bound to the user who asked (their PTB ``user_data``) and to the
message that carries the buttons; anyone else's press, an old button, or a press after
the erase does nothing but answer politely.
"""

from __future__ import annotations

import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from nija_tg.handlers.callback_data import ForgetButton, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import reply
from nija_tg.handlers.settings_common import args, caller_id, polite, service
from nija_tg.messages import settings as say

YES, NO = ForgetButton("yes").pack(), ForgetButton("no").pack()
PENDING_KEY = "forget_confirmation"
TTL_SECONDS = 600.0
CONFIRM, ERASED, NOT_YOURS = say.FORGET_CONFIRM, say.FORGET_ERASED, say.FORGET_NOT_YOURS


@polite
async def forget(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    if args(context):
        await reply(update, say.FORGET_USAGE)
        return
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(say.FORGET_YES_BUTTON, callback_data=YES),
                InlineKeyboardButton(say.FORGET_NO_BUTTON, callback_data=NO),
            ]
        ]
    )
    sent = await chat.send_message(CONFIRM, parse_mode=ParseMode.HTML, reply_markup=markup)
    if context.user_data is not None:
        context.user_data[PENDING_KEY] = (sent.chat_id, sent.message_id, time.monotonic())


def _claim(update: Update, context: BotContext) -> bool:
    """True (and the confirmation is used up) if this press answers the caller's own
    open /forget question, asked in this chat, on this very message, not too long ago."""
    query = update.callback_query
    data = context.user_data
    if query is None or data is None or query.message is None:
        return False
    pending = data.get(PENDING_KEY)
    if not pending:
        return False
    chat_id, message_id, asked_at = pending
    if (chat_id, message_id) != (query.message.chat.id, query.message.message_id):
        return False
    data.pop(PENDING_KEY, None)
    return time.monotonic() - asked_at <= TTL_SECONDS


async def _drop_buttons(update: Update) -> None:
    try:
        await update.callback_query.edit_message_reply_markup(reply_markup=None)
    except TelegramError:
        pass  # the buttons are inert anyway once the confirmation is used up


async def on_press(update: Update, context: BotContext, button: ForgetButton) -> None:
    query = update.callback_query
    if query is None or context.caller is None:
        return
    if not _claim(update, context):
        await query.answer(NOT_YOURS)
        return
    if button.erase != "yes":
        await query.answer(say.FORGET_CANCELLED_TOAST)
        await _drop_buttons(update)
        await reply(update, say.FORGET_CANCELLED)
        return
    await query.answer(say.FORGET_ERASING_TOAST)
    await service(context).forget(caller_id(context))
    if context.user_data is not None:
        context.user_data.clear()
    await _drop_buttons(update)
    await reply(update, ERASED)
    if update.effective_chat is not None:
        await set_chat_menu(context.bot, update.effective_chat.id, None)


def handlers() -> list:
    return [
        CommandHandler("forget", forget),
        on_button(ForgetButton, on_press),
    ]
