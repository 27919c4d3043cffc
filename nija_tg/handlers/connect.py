"""/connect (a conversation) and /disconnect.

Every message that may carry a secret is deleted first, before anything else is done
with it: ``/connect <anything>`` (the secret guard already started the deletion, in
handler group -2), every message at the credential step, and anything typed at the
exchange step that is not an exact exchange id. Nothing a user typed is echoed unless it
matched the exchange-id grammar. When a deletion fails, nothing is kept: the user is
told to delete the message and revoke the key, and the conversation ends.

Each credential is sealed to the engine's public key the moment it arrives; between
messages the conversation keeps only the sealed draft. The last one submits the draft as
a pending credential; the engine verifies it and tells the user its verdict.

Timeout: each step records when it started (``started``, monotonic seconds) in
``context.user_data["connect"]``; a job that holds only the user id, the chat id and the
step's sequence number (no Update, no text) tells the user after ``TIMEOUT_SECONDS`` that
the step timed out and replaces the state with a tombstone that holds nothing but the
step name. A message that arrives after the timeout, whether or not the job has run, is
treated as expired: deleted if it came at the credential step, and nothing is kept.
(PTB's ``conversation_timeout`` is not used: its job keeps the last Update, i.e. the
message that carried a key, in memory until it fires.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from nija_tg.core.errors import (
    ExchangeNotAllowedError,
    NijaError,
    UnknownExchangeError,
    ValidationError,
)
from nija_tg.core.models import Role
from nija_tg.handlers import disconnect
from nija_tg.handlers.callback_data import ConnectCancelButton, ExchangeButton, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.keyboard import KEYBOARD_TEXT
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import reply
from nija_tg.handlers.secret_guard import (
    STATE_KEY,
    STEP_CHOOSE,
    STEP_CREDENTIAL,
    delete_once,
)
from nija_tg.messages import connect as texts
from nija_tg.messages.commands import all_command_names
from nija_tg.messages.connect import ask_for
from nija_tg.messages.errors import text as error_text
from nija_tg.messages.text import esc

log = logging.getLogger("nija_tg.bot.connect")

CHOOSE, CREDENTIAL = range(2)
TIMEOUT_SECONDS = 300.0
FIRST_CLASS = (("Kraken", "kraken"), ("BingX", "bingx"), ("Coinbase", "coinbase"))
_STEP_SEQ = itertools.count(1)


# --- the conversation's state -----------------------------------------------------------


def _job_name(user_id: int) -> str:
    return f"connect-timeout:{user_id}"


def _cancel_timeout(context: BotContext, user_id: int) -> None:
    if context.job_queue is None:
        return
    for job in context.job_queue.get_jobs_by_name(_job_name(user_id)):
        job.schedule_removal()


def _drop(update: Update, context: BotContext) -> None:
    """Forget the conversation: the sealed draft, the step, its timeout job."""
    context.user_data.pop(STATE_KEY, None)
    if update.effective_user is not None:
        _cancel_timeout(context, update.effective_user.id)


def _begin_step(update: Update, context: BotContext, step: str, **values: Any) -> dict:
    """Record that ``step`` starts now and arm its timeout job."""
    state = context.user_data.setdefault(STATE_KEY, {})
    seq = next(_STEP_SEQ)
    state.update(values, step=step, started=time.monotonic(), seq=seq)
    state.pop("expired", None)
    user_id, chat_id = update.effective_user.id, update.effective_chat.id
    if context.job_queue is not None:
        _cancel_timeout(context, user_id)
        context.job_queue.run_once(
            _step_timed_out,
            when=TIMEOUT_SECONDS,
            data=(user_id, chat_id, seq),  # ids only: no Update, no text
            name=_job_name(user_id),
        )
    return state


def _expired(state: dict | None) -> bool:
    if not state or state.get("expired") or "started" not in state:
        return True
    return time.monotonic() - state["started"] > TIMEOUT_SECONDS


async def _step_timed_out(context: BotContext) -> None:
    user_id, chat_id, seq = context.job.data
    user_data = context.application.user_data.get(user_id)
    state = user_data.get(STATE_KEY) if user_data is not None else None
    if not isinstance(state, dict) or state.get("seq") != seq or state.get("expired"):
        return  # the step moved on, or the conversation ended
    user_data[STATE_KEY] = {"step": state.get("step"), "expired": True}  # nothing else kept
    with contextlib.suppress(TelegramError):  # blocked the bot meanwhile: nothing to tell
        await context.bot.send_message(chat_id, texts.TIMED_OUT)


# --- entry ------------------------------------------------------------------------------


async def connect_start(update: Update, context: BotContext) -> int:
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return ConversationHandler.END
    args = context.args or []
    # 1. delete first: the arguments may be keys (the guard started this already)
    deleted = await delete_once(context, message) if args else True
    if chat.type != ChatType.PRIVATE:  # registered or not: the message may carry keys
        if not args:
            deleted = await delete_once(context, message)
        if context.caller is not None:
            await context.services.connect.audit_group_leak(
                context.caller.user_id, chat.id, deleted
            )
        await reply(update, texts.GROUP_REFUSAL)
        return ConversationHandler.END
    _drop(update, context)  # a new /connect replaces any earlier one
    if context.caller is None:
        return ConversationHandler.END
    if context.caller.role is Role.VIEWER:
        await reply(update, texts.VIEWER_REFUSAL)
        return ConversationHandler.END
    chosen: tuple[str, list[tuple[str, str]]] | None = None
    refusal = texts.ONE_PER_MESSAGE if len(args) > 1 else None
    if len(args) == 1:
        try:
            chosen = context.services.connect.fields_for(args[0])
        except UnknownExchangeError:
            refusal = texts.NOT_AN_EXCHANGE
        except ExchangeNotAllowedError as err:
            refusal = esc(error_text(err))
    if not deleted and chosen is None:  # it may have carried a key and is still there
        await reply(update, texts.DELETE_FAILED)
        return ConversationHandler.END
    if not await context.services.connect.attempt_allowed(context.caller.user_id):
        await reply(update, texts.TOO_MANY_ATTEMPTS)
        return ConversationHandler.END
    if chosen is not None:
        return await _ask_first(update, context, *chosen)
    if refusal is not None:
        await reply(update, refusal)
    return await _show_buttons(update, context)


async def _show_buttons(update: Update, context: BotContext) -> int:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=ExchangeButton(eid).pack())]
            for label, eid in FIRST_CLASS
        ]
        + [[InlineKeyboardButton("Cancel", callback_data=ConnectCancelButton().pack())]]
    )
    _begin_step(update, context, STEP_CHOOSE)
    await reply(update, texts.WHICH_EXCHANGE, keyboard)
    return CHOOSE


async def _ask_first(
    update: Update, context: BotContext, exchange_id: str, fields: list[tuple[str, str]]
) -> int:
    _begin_step(
        update, context, STEP_CREDENTIAL, exchange=exchange_id, fields=fields, index=0, draft=None
    )
    await reply(update, ask_for(exchange_id, fields, 0, context.services.settings.server_ip))
    return CREDENTIAL


# --- the exchange step ------------------------------------------------------------------


async def choose_button(update: Update, context: BotContext, button: ExchangeButton) -> int:
    await update.callback_query.answer()
    if _expired(context.user_data.get(STATE_KEY)):
        return await _end_expired(update, context)
    try:
        exchange_id, fields = context.services.connect.fields_for(button.exchange_id)
    except UnknownExchangeError:
        await reply(update, texts.PICK_ANOTHER)
        return CHOOSE
    except ExchangeNotAllowedError as err:
        await reply(update, esc(error_text(err)) + "\n" + texts.PICK_ANOTHER)
        return CHOOSE
    return await _ask_first(update, context, exchange_id, fields)


async def choose_text(update: Update, context: BotContext) -> int:
    """Typed text at the exchange step: an exact exchange id goes on; anything else may be
    a pasted key, so it is deleted and never echoed."""
    message = update.effective_message
    try:
        exchange_id, fields = context.services.connect.fields_for(message.text or "")
    except ExchangeNotAllowedError as err:
        if _expired(context.user_data.get(STATE_KEY)):
            return await _end_expired(update, context)
        await reply(update, esc(error_text(err)) + "\n" + texts.PICK_ANOTHER)
        return CHOOSE
    except UnknownExchangeError:
        deleted = await delete_once(context, message)
        if _expired(context.user_data.get(STATE_KEY)):
            return await _end_expired(update, context, deleted=deleted)
        await reply(update, texts.NOT_AN_EXCHANGE if deleted else texts.NOT_AN_EXCHANGE_NOT_DELETED)
        return CHOOSE
    if _expired(context.user_data.get(STATE_KEY)):
        return await _end_expired(update, context)
    return await _ask_first(update, context, exchange_id, fields)


# --- the credential step ----------------------------------------------------------------


async def credential(update: Update, context: BotContext) -> int:
    message = update.effective_message
    caller = context.caller
    # 1. delete the message that carries the secret, before anything else
    deleted = await delete_once(context, message)
    text = message.text or ""
    state = context.user_data.get(STATE_KEY)
    if not deleted:
        _drop(update, context)
        await reply(update, texts.DELETE_FAILED)
        return ConversationHandler.END
    if _expired(state) or state.get("step") != STEP_CREDENTIAL or caller is None:
        return await _end_expired(update, context, deleted=True)
    name, _label = state["fields"][state["index"]]
    # 2. seal it at once: from here on only the sealed draft is kept
    try:
        draft = await context.services.connect.seal(
            caller.user_id, state["exchange"], state["draft"], name, text
        )
    except ValidationError as err:
        await reply(update, esc(error_text(err)))
        return CREDENTIAL
    except NijaError as err:
        _drop(update, context)
        await reply(update, esc(error_text(err)))
        return ConversationHandler.END
    index = state["index"] + 1
    if index < len(state["fields"]):
        _begin_step(update, context, STEP_CREDENTIAL, draft=draft, index=index)
        await reply(update, ask_for(state["exchange"], state["fields"], index))
        return CREDENTIAL
    # 3. submit the sealed set as pending: the engine verifies it and tells the user
    _drop(update, context)
    try:
        await context.services.connect.submit(caller.user_id, draft)
    except NijaError as err:
        await reply(update, esc(error_text(err)))
        return ConversationHandler.END
    await reply(update, texts.CHECKING)
    context.application.create_task(
        _menu_after_verdict(context, update.effective_chat.id, caller.user_id, caller.role),
        name=f"connect-verdict-{caller.user_id}",
    )
    return ConversationHandler.END


VERDICT_WAIT_S = 60.0


async def _menu_after_verdict(context: BotContext, chat_id: int, user_id: int, role: Role) -> None:
    """The engine tells the verdict; once it is in, show /disconnect in the menu. Holds
    ids only, never the message."""
    services, bot, app = context.services, context.bot, context.application
    waited = 0.0
    # stops when the bot stops (its shutdown awaits this task: never hold it for a verdict)
    while waited < VERDICT_WAIT_S and app.running and await services.connect.is_pending(user_id):
        await asyncio.sleep(0.5)
        waited += 0.5
    info = await services.connect.info(user_id)
    if info is not None and info.verified:
        await set_chat_menu(bot, chat_id, role, connected=True)


async def not_text(update: Update, context: BotContext) -> int:
    """A photo, document, sticker... at the credential step: it may show the key."""
    message = update.effective_message
    deleted = await delete_once(context, message)
    if not deleted:
        _drop(update, context)
        await reply(update, texts.DELETE_FAILED)
        return ConversationHandler.END
    if _expired(context.user_data.get(STATE_KEY)):
        return await _end_expired(update, context, deleted=True)
    await reply(update, texts.PLAIN_TEXT_PLEASE)
    return CREDENTIAL


# --- endings ----------------------------------------------------------------------------


async def _end_expired(update: Update, context: BotContext, *, deleted: bool = False) -> int:
    _drop(update, context)
    await reply(update, texts.EXPIRED_DELETED if deleted else texts.EXPIRED)
    return ConversationHandler.END


async def cancel_button(update: Update, context: BotContext, _button: ConnectCancelButton) -> int:
    await update.callback_query.answer()
    return await cancel(update, context)


async def cancel(update: Update, context: BotContext) -> int:
    _drop(update, context)
    await reply(update, texts.CANCELLED)
    return ConversationHandler.END


def _ours() -> filters.BaseFilter:
    """A message that is one of our commands (``/cancel``, ``/status@bot args``...)."""
    names = "|".join(sorted(all_command_names()))
    return filters.Regex(rf"^/(?:{names})(?:@\w+)?(?:\s|$)")


def conversation() -> ConversationHandler:
    # the reply keyboard's buttons (handlers/keyboard.py) are never a credential
    text_only = filters.TEXT & ~filters.COMMAND & ~KEYBOARD_TEXT
    # A pasted key may start with "/" (base64 keys do, one in 64): Telegram then marks it
    # as a command. While a credential is awaited, only our own commands are commands;
    # anything else is taken (and deleted) as the credential. At the exchange step such a
    # text is not an exchange id: deleted, never echoed.
    not_ours = filters.TEXT & filters.COMMAND & ~_ours()
    return ConversationHandler(
        entry_points=[CommandHandler("connect", connect_start)],
        states={
            CHOOSE: [
                on_button(ExchangeButton, choose_button),
                MessageHandler(text_only | not_ours, choose_text),
            ],
            CREDENTIAL: [
                MessageHandler(text_only | not_ours, credential),
                MessageHandler(
                    ~filters.COMMAND & ~filters.StatusUpdate.ALL & ~KEYBOARD_TEXT, not_text
                ),
            ],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CommandHandler("connect", connect_start),
            on_button(ConnectCancelButton, cancel_button),
        ],
        name="connect",
        allow_reentry=True,
    )


def handlers() -> list:
    return [conversation(), *disconnect.handlers()]
