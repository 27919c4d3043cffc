"""/role <id> admin|trader|viewer, /grant and /revoke <viewer id> <trader id>."""

from __future__ import annotations

from telegram import Update

from nija_tg.core.models import Role
from nija_tg.handlers.admin_common import UsageError, admin_command, args_of, parse_user_id
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import reply
from nija_tg.messages import admin_replies as say

ROLES = {r.value: r for r in Role}


async def role_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) != 2 or args[1].lower() not in ROLES:
        raise UsageError("form")
    target_id, role = parse_user_id(args[0]), ROLES[args[1].lower()]
    change = await context.services.admin.set_role(actor_id, target_id, role)
    if not change.changed:
        await reply(update, say.role_unchanged(target_id, role))
        return
    await set_chat_menu(context.bot, change.chat_id, change.new)
    text = say.role_changed(
        target_id, change.old, change.new, configured_admin=change.configured_admin
    )
    await reply(update, text)


def _pair(context: BotContext) -> tuple[int, int]:
    args = args_of(context)
    if len(args) != 2:
        raise UsageError("arity")
    return parse_user_id(args[0]), parse_user_id(args[1])


async def grant_command(update: Update, context: BotContext, actor_id: int) -> None:
    viewer_id, trader_id = _pair(context)
    new = await context.services.admin.grant(actor_id, viewer_id, trader_id)
    await reply(update, say.granted(viewer_id, trader_id, bool(new)))


async def revoke_command(update: Update, context: BotContext, actor_id: int) -> None:
    viewer_id, trader_id = _pair(context)
    existed = await context.services.admin.revoke(actor_id, viewer_id, trader_id)
    await reply(update, say.revoked(viewer_id, trader_id, bool(existed)))


def handlers() -> list:
    return [
        admin_command("role", role_command),
        admin_command("grant", grant_command),
        admin_command("revoke", revoke_command),
    ]
