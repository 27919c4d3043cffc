"""/users (paged overview with prev/next buttons), /user <id> and /audit [n]."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.handlers import admin_format as fmt
from nija_tg.handlers.admin_common import (
    UsageError,
    admin_command,
    args_of,
    is_admin,
    parse_count,
    parse_user_id,
)
from nija_tg.handlers.callback_data import UsersPageButton, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply

MAX_PAGE = 999_999
DEFAULT_AUDIT = 20


async def users_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) > 1:
        raise UsageError("extra")
    page = parse_count(args[0], 1, MAX_PAGE) if args else 1
    view = await context.services.admin.users_page(actor_id, page)
    await reply(update, fmt.users_page(view), fmt.users_keyboard(view))


async def users_page_pressed(update: Update, context: BotContext, button: UsersPageButton) -> None:
    """A prev/next button under a /users message: edit that message in place.
    Non-admins get a silent answer and nothing else (the attempt is audited)."""
    query = update.callback_query
    if query is None:
        return
    if not is_admin(context):
        if context.caller is not None:
            await context.services.admin.record_denied(context.caller.user_id, "users:page")
        await query.answer()
        return
    assert context.caller is not None
    page = button.page
    try:
        view = await context.services.admin.users_page(context.caller.user_id, page)
    except (ValidationError, PermissionDeniedError) as exc:
        await query.answer(exc.user_message[:200])
        return
    await query.answer()
    try:
        await query.edit_message_text(
            fmt.users_page(view),
            parse_mode=ParseMode.HTML,
            reply_markup=fmt.users_keyboard(view),
            disable_web_page_preview=True,
        )
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def user_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) != 1:
        raise UsageError("arity")
    detail = await context.services.admin.user_detail(actor_id, parse_user_id(args[0]))
    await reply(update, fmt.user_detail(detail))


async def audit_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) > 1:
        raise UsageError("extra")
    n = parse_count(args[0], 1, 100) if args else DEFAULT_AUDIT
    rows = await context.services.admin.audit_log(actor_id, n)
    await reply(update, fmt.audit_lines(rows))


def handlers() -> list:
    return [
        admin_command("users", users_command),
        on_button(UsersPageButton, users_page_pressed),
        admin_command("user", user_command),
        admin_command("audit", audit_command),
    ]
