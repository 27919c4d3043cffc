"""/connect (a conversation) and /disconnect.

For every message that carries a secret: delete it first, then seal (encrypt) it, and
only when the set is complete verify it with the exchange and store it. Between messages
the conversation holds the sealed blob only; /cancel and the timeout drop it.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from nija_tg.core.errors import ExchangeNotAllowedError, NijaError, UnknownExchangeError
from nija_tg.core.models import Role
from nija_tg.handlers.commands import all_command_names
from nija_tg.handlers.connect_texts import (
    DELETE_FAILED,
    GROUP_REFUSAL,
    ask_for,
)
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import echo, esc, reply

log = logging.getLogger("nija_tg.bot.connect")

CHOOSE, CREDENTIAL = range(2)
STATE_KEY = "connect"
TIMEOUT_SECONDS = 300
FIRST_CLASS = (("Kraken", "kraken"), ("BingX", "bingx"), ("Coinbase", "coinbase"))


def _state(context: BotContext) -> dict:
    return context.user_data.setdefault(STATE_KEY, {})


def _drop(context: BotContext) -> None:
    context.user_data.pop(STATE_KEY, None)


async def _delete(message: Message) -> bool:
    try:
        return bool(await message.delete())
    except TelegramError:
        return False


async def connect_start(update: Update, context: BotContext) -> int:
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return ConversationHandler.END
    if chat.type != ChatType.PRIVATE:  # registered or not: the message may carry keys
        deleted = await _delete(message)
        if context.caller is not None:
            await context.services.connect.audit_group_leak(
                context.caller.user_id, chat.id, deleted
            )
        await reply(update, GROUP_REFUSAL)
        return ConversationHandler.END
    if context.caller is None:
        return ConversationHandler.END
    if context.caller.role is Role.VIEWER:
        await reply(update, "Viewers have read-only access and cannot connect an exchange.")
        return ConversationHandler.END
    _drop(context)
    args = context.args or []
    if len(args) > 1:  # someone pasted keys after the command: never keep them
        if not await _delete(message):
            await reply(update, DELETE_FAILED)
        await reply(update, "Please send each credential in its own message when I ask.")
    if args:
        return await _choose(update, context, args[0])
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=f"connect:ex:{eid}")]
            for label, eid in FIRST_CLASS
        ]
        + [[InlineKeyboardButton("Cancel", callback_data="connect:cancel")]]
    )
    await reply(
        update,
        "Which exchange? Pick one, or type any exchange id that ccxt supports "
        "(e.g. <code>binance</code>, <code>okx</code>). /cancel stops.",
        keyboard,
    )
    return CHOOSE


async def choose_button(update: Update, context: BotContext) -> int:
    query = update.callback_query
    await query.answer()
    data = query.data or ""
    if data == "connect:cancel":
        return await cancel(update, context)
    return await _choose(update, context, data.removeprefix("connect:ex:"))


async def choose_text(update: Update, context: BotContext) -> int:
    return await _choose(update, context, update.effective_message.text or "")


async def _choose(update: Update, context: BotContext, raw: str) -> int:
    try:
        exchange_id, fields = context.services.connect.fields_for(raw)
    except (UnknownExchangeError, ExchangeNotAllowedError):
        await reply(
            update,
            f"I don't know the exchange {echo(raw, 32)}. Pick a button or type a ccxt "
            "exchange id such as <code>kraken</code>; /cancel stops.",
        )
        return CHOOSE
    state = _state(context)
    state.update(exchange=exchange_id, fields=fields, index=0, sealed=None)
    await reply(update, ask_for(exchange_id, fields, 0))
    return CREDENTIAL


async def credential(update: Update, context: BotContext) -> int:
    message = update.effective_message
    caller = context.caller
    # 1. delete the message that carries the secret, before anything else
    deleted = await _delete(message)
    text = message.text or ""
    state = context.user_data.get(STATE_KEY)
    if not deleted:
        await reply(update, DELETE_FAILED)
    if not state or "fields" not in state or caller is None:
        _drop(context)
        await reply(update, "That step expired. Send /connect to start again.")
        return ConversationHandler.END
    name, _label = state["fields"][state["index"]]
    # 2. seal it at once: from here on only ciphertext is kept
    try:
        state["sealed"] = await context.services.connect.seal(
            caller.user_id, state["exchange"], state["sealed"], name, text
        )
    except NijaError as err:
        await reply(update, esc(err.user_message))
        return CREDENTIAL
    state["index"] += 1
    if state["index"] < len(state["fields"]):
        await reply(update, ask_for(state["exchange"], state["fields"], state["index"]))
        return CREDENTIAL
    # 3. submit the sealed set: the engine verifies it and tells the user
    sealed = state["sealed"]
    _drop(context)
    try:
        await context.services.connect.submit(caller.user_id, sealed)
    except NijaError as err:
        await reply(update, esc(err.user_message))
        return ConversationHandler.END
    await reply(
        update,
        "Checking your key with the exchange… I will tell you the result here in a few "
        "seconds.",
    )
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    _drop(context)
    await reply(update, "Cancelled. Nothing was stored.")
    return ConversationHandler.END


async def timed_out(update: Update, context: BotContext) -> None:
    _drop(context)
    if update is not None and update.effective_chat is not None:
        await reply(update, "The /connect step timed out; nothing was stored.")


async def not_text(update: Update, context: BotContext) -> int:
    message = update.effective_message
    if message is not None and (message.document or message.photo):
        if not await _delete(message):
            await reply(update, DELETE_FAILED)
    await reply(update, "Please send the credential as plain text, or /cancel.")
    return CREDENTIAL


async def disconnect(update: Update, context: BotContext) -> None:
    caller = context.caller
    if caller is None or caller.role is Role.VIEWER:
        await reply(update, "Viewers have no exchange connection to remove.")
        return
    removed = await context.services.connect.disconnect(caller.user_id)
    await set_chat_menu(context.bot, update.effective_chat.id, caller.role, connected=False)
    if removed:
        await reply(
            update,
            "Your exchange keys are erased and trading is off. Also delete the key on the "
            "exchange's website if you no longer use it. Stop-loss orders we placed for "
            "open positions stay on the exchange: cancel them there if you close those "
            "positions yourself.",
        )
    else:
        await reply(update, "You have no exchange connected. /connect links one.")


def _ours() -> filters.BaseFilter:
    """A message that is one of our commands (``/cancel``, ``/status@bot args``...)."""
    names = "|".join(sorted(all_command_names()))
    return filters.Regex(rf"^/(?:{names})(?:@\w+)?(?:\s|$)")


def conversation() -> ConversationHandler:
    text_only = filters.TEXT & ~filters.COMMAND
    # A pasted key may start with "/" (base64 keys do, one in 64): Telegram then marks it
    # as a command. While a credential is awaited, only our own commands are commands;
    # anything else is taken (and deleted) as the credential.
    secret_like_command = filters.TEXT & filters.COMMAND & ~_ours()
    return ConversationHandler(
        entry_points=[CommandHandler("connect", connect_start)],
        states={
            CHOOSE: [
                CallbackQueryHandler(choose_button, pattern=r"^connect:"),
                MessageHandler(text_only, choose_text),
            ],
            CREDENTIAL: [
                MessageHandler(text_only | secret_like_command, credential),
                MessageHandler(~filters.COMMAND & ~filters.StatusUpdate.ALL, not_text),
            ],
            ConversationHandler.TIMEOUT: [MessageHandler(filters.ALL, timed_out)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CommandHandler("connect", connect_start),
            CallbackQueryHandler(cancel, pattern=r"^connect:cancel$"),
        ],
        conversation_timeout=TIMEOUT_SECONDS,
        name="connect",
        allow_reentry=True,
    )


def handlers() -> list:
    return [conversation(), CommandHandler("disconnect", disconnect)]
