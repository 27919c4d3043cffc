"""/start (register, idempotent) and /help (what the caller's role may do)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from nija_tg.core.models import Role
from nija_tg.handlers.commands import commands_for
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import esc, reply
from nija_tg.handlers.reports import send_dashboard

WELCOME = (
    "Welcome to <b>nija</b>, {name}! You are registered as <b>{role}</b>.\n\n"
    "Next steps:\n"
    "1. /connect your exchange account (in this private chat; keys are encrypted at once "
    "and your message is deleted).\n"
    "2. Check /settings for your risk limits.\n"
    "3. /trade on to start. Paper trading (simulated, no real money) is the default.\n\n"
    "/help lists everything you can do."
)


async def start(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    if chat.type != ChatType.PRIVATE:
        await reply(update, "Please talk to me in a private chat: open my profile and press Start.")
        return
    row, created = await context.services.users.register(
        user.id, chat.id, user.username, user.first_name
    )
    context.caller = row
    connected = await context.services.connect.info(user.id) is not None
    await set_chat_menu(context.bot, chat.id, row.role, connected)
    if created:
        await reply(
            update, WELCOME.format(name=esc(user.first_name or "trader"), role=esc(row.role.value))
        )
        return
    await send_dashboard(update, context)


async def help_command(update: Update, context: BotContext) -> None:
    role = context.caller.role if context.caller else None
    lines = ["<b>What you can do</b>"]
    lines += [f"/{name} — {esc(text)}" for name, text in commands_for(role)]
    if role is Role.VIEWER:
        lines.append("\nYou have read-only access.")
    if role is None:
        lines.append("\nThis bot trades crypto on your own exchange account. Send /start.")
    await reply(update, "\n".join(lines))


def handlers() -> list:
    return [CommandHandler("start", start), CommandHandler("help", help_command)]
