"""Per-chat command menus (setMyCommands with a chat scope), by role."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from nija_tg.core.models import Role
from nija_tg.messages.commands import commands_for

log = logging.getLogger(__name__)


async def set_default_menu(bot) -> None:
    await bot.set_my_commands(
        [BotCommand(n, d) for n, d in commands_for(None)], scope=BotCommandScopeDefault()
    )


async def set_chat_menu(bot, chat_id: int, role: Role | None, connected: bool = True) -> None:
    """The chat's menu for its user's role and state (exchange connected or not).
    Best effort: a failed menu update must not fail the command that caused it."""
    try:
        await bot.set_my_commands(
            [BotCommand(n, d[:256]) for n, d in commands_for(role, connected)],
            scope=BotCommandScopeChat(chat_id),
        )
    except TelegramError as exc:
        log.warning("could not set the command menu for a chat: %s", exc.__class__.__name__)
