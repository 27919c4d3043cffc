"""Yes/No confirmations before an action that is hard to undo (/disconnect, an admin's
/pause all, /halt, /broadcast).

``ask`` sends the question with two buttons whose data is a typed button class of
callback_data.py (one class per question) carrying a random token; the question
(token, chat, message, time, payload such as a broadcast's text) is kept in the asker's
own PTB ``user_data``. ``claim`` gives the question back only to that user, for that
very message, within ``TTL_SECONDS``, once: anyone else's press, an old or used button,
or a press after a restart (user_data is not persisted) finds nothing and acts on
nothing.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from nija_tg.handlers.callback_data import CallbackData
from nija_tg.handlers.context import BotContext
from nija_tg.messages import common as say

PENDING_KEY = "confirmations"
TTL_SECONDS = 600.0
MAX_PENDING = 20


@dataclass(frozen=True)
class Pending:
    kind: str  # the button class's prefix
    chat_id: int
    message_id: int
    asked_at: float
    payload: Any = None


def _store(context: BotContext) -> dict[int, Pending] | None:
    data = context.user_data
    if data is None:
        return None
    store = data.setdefault(PENDING_KEY, {})
    now = time.monotonic()
    for token in [t for t, p in store.items() if now - p.asked_at > TTL_SECONDS]:
        store.pop(token, None)
    while len(store) >= MAX_PENDING:  # the oldest question goes first
        store.pop(next(iter(store)))
    return store


async def ask(
    update: Update,
    context: BotContext,
    button: type[CallbackData],
    text: str,
    yes_label: str,
    no_label: str = say.NO_BUTTON,
    payload: Any = None,
) -> Message | None:
    """Send ``text`` (HTML, escaped by the caller) with Yes/No buttons of ``button``."""
    chat = update.effective_chat
    store = _store(context)
    if chat is None or store is None:
        return None
    token = secrets.randbelow(999_999_999) + 1
    yes, no = button("yes", token).pack(), button("no", token).pack()  # type: ignore[call-arg]
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(yes_label, callback_data=yes)],
            [InlineKeyboardButton(no_label, callback_data=no)],
        ]
    )
    sent = await chat.send_message(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
    )
    store[token] = Pending(button.prefix, sent.chat_id, sent.message_id, time.monotonic(), payload)
    return sent


def claim(update: Update, context: BotContext, button: Any) -> Pending | None:
    """The caller's open question this press answers (used up), or None."""
    query = update.callback_query
    data = context.user_data
    if query is None or query.message is None or data is None:
        return None
    store = data.get(PENDING_KEY) or {}
    pending = store.get(button.token)
    if pending is None or pending.kind != button.prefix:
        return None
    if (pending.chat_id, pending.message_id) != (query.message.chat.id, query.message.message_id):
        return None
    store.pop(button.token, None)
    if time.monotonic() - pending.asked_at > TTL_SECONDS:
        return None
    return pending


async def close_question(update: Update, outcome: str) -> None:
    """Replace the question's buttons by the outcome, so none can be pressed again."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError:
        pass  # the buttons are inert anyway once the question is used up
    chat = update.effective_chat
    if chat is not None and outcome:
        await chat.send_message(outcome, parse_mode=ParseMode.HTML, disable_web_page_preview=True)
