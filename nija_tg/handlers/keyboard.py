"""The persistent reply keyboard (Status, Positions, P&L, Settings) under the message
field: its texts are routed to the same handlers as /status, /positions, /pnl and
/settings (no arguments).

The keyboard is sent with the welcome, with /help and once per bot run with a returning
user's /start. Its texts are taken only as exact matches, in private chats, from
registered users (the gatekeeper stops strangers first); the /connect conversation
leaves them alone (``KEYBOARD_TEXT``), so a tap mid-conversation is never taken for a key.
"""

from __future__ import annotations

from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import MessageHandler, filters

from nija_tg.handlers import reports, settings
from nija_tg.handlers.context import BotContext
from nija_tg.messages import common as say

STATUS, POSITIONS, PNL, SETTINGS = say.STATUS_KEY, say.POSITIONS_KEY, say.PNL_KEY, say.SETTINGS_KEY
LABELS = (STATUS, POSITIONS, PNL, SETTINGS)
KEYBOARD_TEXT = filters.Text(LABELS)
SHOWN_KEY = "reply_keyboard_shown"


def markup() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(STATUS), KeyboardButton(POSITIONS)],
            [KeyboardButton(PNL), KeyboardButton(SETTINGS)],
        ],
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=say.KEYBOARD_PLACEHOLDER,
    )


async def send_with_keyboard(update: Update, context: BotContext, text: str) -> None:
    """Send ``text`` (HTML, escaped) with the reply keyboard."""
    chat = update.effective_chat
    if chat is None:
        return
    await chat.send_message(
        text, parse_mode=ParseMode.HTML, reply_markup=markup(), disable_web_page_preview=True
    )
    if context.user_data is not None:
        context.user_data[SHOWN_KEY] = True


async def show_once(update: Update, context: BotContext) -> None:
    """Give a returning user the keyboard once per bot run (it stays in their client)."""
    if context.user_data is not None and context.user_data.get(SHOWN_KEY):
        return
    await send_with_keyboard(update, context, say.KEYBOARD_NOTE)


async def on_text(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or context.caller is None:
        return
    route = {
        STATUS: reports.status,
        POSITIONS: reports.positions,
        PNL: reports.pnl,
        SETTINGS: settings.show_settings,
    }
    context.args = []
    await route[message.text](update, context)


def handlers() -> list:
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [MessageHandler(KEYBOARD_TEXT & private, on_text)]
