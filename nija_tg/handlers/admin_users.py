"""/users (paged overview with prev/next buttons), /user <id> and /audit [n]."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from nija_tg.core.errors import PermissionDeniedError, ValidationError
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
from nija_tg.messages import admin_reports as say
from nija_tg.messages.errors import text as error_text
from nija_tg.services.admin_service import UsersPage

MAX_PAGE = 999_999
DEFAULT_AUDIT = 20


def users_keyboard(view: UsersPage) -> InlineKeyboardMarkup | None:
    buttons = []
    if view.page > 1:
        previous = UsersPageButton(view.page - 1).pack()
        buttons.append(InlineKeyboardButton(say.PREV_BUTTON, callback_data=previous))
    if view.page < view.pages:
        following = UsersPageButton(view.page + 1).pack()
        buttons.append(InlineKeyboardButton(say.NEXT_BUTTON, callback_data=following))
    return InlineKeyboardMarkup([buttons]) if buttons else None


async def users_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) > 1:
        raise UsageError("extra")
    page = parse_count(args[0], 1, MAX_PAGE) if args else 1
    view = await context.services.admin.users_page(actor_id, page)
    await reply(update, say.users_page(view), users_keyboard(view))


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
        await query.answer(error_text(exc)[:200])
        return
    await query.answer()
    try:
        await query.edit_message_text(
            say.users_page(view),
            parse_mode=ParseMode.HTML,
            reply_markup=users_keyboard(view),
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
    await reply(update, say.user_detail(detail))


async def audit_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) > 1:
        raise UsageError("extra")
    n = parse_count(args[0], 1, 100) if args else DEFAULT_AUDIT
    rows = await context.services.admin.audit_log(actor_id, n)
    await reply(update, say.audit(rows))


def handlers() -> list:
    return [
        admin_command("users", users_command),
        on_button(UsersPageButton, users_page_pressed),
        admin_command("user", user_command),
        admin_command("audit", audit_command),
    ]
