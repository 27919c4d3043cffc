"""/role <id> admin|trader|viewer, /grant and /revoke <viewer id> <trader id>."""

from __future__ import annotations

from telegram import Update

from nija_tg.core.models import Role
from nija_tg.handlers.admin_common import UsageError, admin_command, args_of, parse_user_id
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import reply

ROLES = {r.value: r for r in Role}


async def role_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) != 2 or args[1].lower() not in ROLES:
        raise UsageError("form")
    target_id, role = parse_user_id(args[0]), ROLES[args[1].lower()]
    change = await context.services.admin.set_role(actor_id, target_id, role)
    if not change.changed:
        await reply(update, f"User <code>{target_id}</code> is already {role.value}.")
        return
    await set_chat_menu(context.bot, change.chat_id, change.new)
    text = (
        f"User <code>{target_id}</code> is now <b>{change.new.value}</b> "
        f"(was {change.old.value}); their command menu was updated."
    )
    if change.configured_admin:
        text += "\nNote: they are listed in NIJA_ADMIN_IDS, so /start makes them admin again."
    if change.new is Role.VIEWER:
        text += "\nViewers do not trade: their trading was switched off."
    await reply(update, text)


def _pair(context: BotContext) -> tuple[int, int]:
    args = args_of(context)
    if len(args) != 2:
        raise UsageError("arity")
    return parse_user_id(args[0]), parse_user_id(args[1])


async def grant_command(update: Update, context: BotContext, actor_id: int) -> None:
    viewer_id, trader_id = _pair(context)
    if await context.services.admin.grant(actor_id, viewer_id, trader_id):
        text = f"Viewer <code>{viewer_id}</code> can now see trader <code>{trader_id}</code>."
    else:
        text = f"Viewer <code>{viewer_id}</code> could already see trader <code>{trader_id}</code>."
    await reply(update, text)


async def revoke_command(update: Update, context: BotContext, actor_id: int) -> None:
    viewer_id, trader_id = _pair(context)
    if await context.services.admin.revoke(actor_id, viewer_id, trader_id):
        text = f"Viewer <code>{viewer_id}</code> can no longer see trader <code>{trader_id}</code>."
    else:
        text = f"There was no grant of trader <code>{trader_id}</code> to <code>{viewer_id}</code>."
    await reply(update, text)


def handlers() -> list:
    return [
        admin_command("role", role_command),
        admin_command("grant", grant_command),
        admin_command("revoke", revoke_command),
    ]
