"""What every admin handler shares: the admin gate, id parsing and usage lines."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler, filters

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.models import Role
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages import admin_replies as say
from nija_tg.messages.admin_replies import PRIVATE_ONLY, REFUSAL
from nija_tg.messages.errors import text as error_text
from nija_tg.messages.text import esc

MAX_USER_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: no signs, no unicode digits

AdminCallback = Callable[[Update, BotContext, int], Awaitable[None]]


class UsageError(Exception):
    """Malformed arguments: the handler replies the command's usage line."""


def parse_user_id(text: str) -> int:
    """A Telegram user id: ASCII digits, positive, fits a signed 64-bit integer."""
    if not _DIGITS.fullmatch(text):
        raise UsageError(text)
    value = int(text)
    if not 0 < value <= MAX_USER_ID:
        raise UsageError(text)
    return value


def parse_count(text: str, low: int, high: int) -> int:
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise UsageError(text)
    return int(text)


def args_of(context: BotContext) -> list[str]:
    return list(context.args or [])


def rest_of_message(update: Update) -> str:
    """The message text after the command, newlines kept."""
    text = update.effective_message.text if update.effective_message else None
    parts = (text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def is_admin(context: BotContext) -> bool:
    return context.caller is not None and context.caller.role is Role.ADMIN


def admin_command(name: str, callback: AdminCallback) -> CommandHandler:
    """A CommandHandler for ``/name`` that only admins pass, in private chats. Others get
    a polite refusal and an ``admin.denied`` audit row. Edited messages are ignored."""

    @functools.wraps(callback)
    async def gated(update: Update, context: BotContext) -> None:
        caller = context.caller
        if caller is None or caller.role is not Role.ADMIN:
            if caller is not None:
                await context.services.admin.record_denied(caller.user_id, name)
            await reply(update, REFUSAL)
            return
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:
            await reply(update, PRIVATE_ONLY)
            return
        try:
            await callback(update, context, caller.user_id)
        except UsageError:
            await reply(update, say.usage(name))
        except (ValidationError, PermissionDeniedError) as exc:
            await reply(update, esc(error_text(exc)))

    return CommandHandler(name, gated, filters=filters.UpdateType.MESSAGE)
