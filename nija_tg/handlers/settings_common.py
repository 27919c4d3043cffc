"""Shared bits of the settings handlers: the service, the caller, polite refusals."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from nija_tg.core.errors import NijaError
from nija_tg.core.models import Role
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages.errors import text as error_text
from nija_tg.services.settings_service import SettingsService

Handler = Callable[[Update, BotContext], Awaitable[None]]


def service(context: BotContext) -> SettingsService:
    return context.services.preferences


def caller_id(context: BotContext) -> int:
    assert context.caller is not None  # the gatekeeper lets only registered users here
    return context.caller.user_id


def is_viewer(context: BotContext) -> bool:
    return context.caller is not None and context.caller.role is Role.VIEWER


def polite(func: Handler) -> Handler:
    """Reply the (HTML-safe) user_message of a NijaError the settings service raised."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: BotContext) -> None:
        if context.caller is None:
            return
        try:
            await func(update, context)
        except NijaError as exc:
            await reply(update, error_text(exc))

    return wrapper


def args(context: BotContext) -> list[str]:
    return list(context.args or [])


_TAG = re.compile(r"<[^>]{1,40}>")
TOAST = 190  # characters of a callback answer (Telegram: 200)


def plain(text: str) -> str:
    """An HTML user_message as the plain text of a callback answer (toast or alert)."""
    out = html.unescape(_TAG.sub("", text))
    return out if len(out) <= TOAST else out[: TOAST - 1] + "…"


async def edit_in_place(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Edit the message the pressed button sits under; False when it could not be
    edited (too old, deleted). "Not modified" counts as done."""
    query = update.callback_query
    if query is None:
        return False
    try:
        await query.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as exc:
        return "not modified" in str(exc).lower()
    return True
