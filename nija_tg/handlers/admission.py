"""Approval mode (``NIJA_REGISTRATION=approval``): each admin gets a newcomer's join
request with Approve / Reject buttons; the first admin to press decides, the newcomer
is told, later presses say who decided. Button data: ``JoinButton`` (callback_data.py).

Nothing is lost when a send fails or no admin has a chat with the bot yet: every admin's
/start and /pending show each pending request with its buttons (``show_pending``), and
the newcomer's repeated /start asks the admins again (``services.admission``)."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from nija_tg.core.models import Role
from nija_tg.handlers import keyboard
from nija_tg.handlers.admin_common import admin_command
from nija_tg.handlers.callback_data import JoinButton, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.menus import set_chat_menu
from nija_tg.handlers.replies import reply
from nija_tg.messages import onboarding as say

log = logging.getLogger("nija_tg.bot")


def join_data(approve: bool, user_id: int) -> str:
    return JoinButton("approve" if approve else "reject", user_id).pack()


def request_markup(user_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(say.APPROVE_BUTTON, callback_data=join_data(True, user_id)),
                InlineKeyboardButton(say.REJECT_BUTTON, callback_data=join_data(False, user_id)),
            ]
        ]
    )


async def ask_admins(
    bot: Bot, admins: list[int], user_id: int, username: str | None, first_name: str | None
) -> int:
    """Send the request to every admin; how many got it."""
    sent = 0
    for admin_id in admins:
        try:
            await bot.send_message(
                admin_id,
                say.join_request(user_id, username, first_name),
                parse_mode=ParseMode.HTML,
                reply_markup=request_markup(user_id),
            )
            sent += 1
        except TelegramError as exc:
            log.info("join request to admin %s not sent: %s", admin_id, exc)
    if not sent:
        log.warning(
            "join request of %s reached no admin yet (kept: shown at an admin's /start)", user_id
        )
    return sent


async def show_pending(update: Update, context: BotContext, *, empty: str | None = None) -> None:
    """Every pending request (the oldest ``MAX_SHOWN``) in the admin's chat, each with its
    Approve / Reject buttons, under a count; ``empty``: what to say when none waits."""
    waiting = await context.services.admission.pending()
    if not waiting.requests:
        if empty is not None:
            await reply(update, empty)
        return
    shown: list[int] = []
    try:
        await reply(update, say.pending_header(waiting.total, len(waiting.requests)))
        for request in waiting.requests:
            text = say.join_request(request.user_id, request.username, request.first_name)
            await reply(update, text, request_markup(request.user_id))
            shown.append(request.user_id)
    except TelegramError as exc:  # not shown: the newcomer's next /start asks again
        log.info("pending join requests not shown: %s", exc)
    await context.services.admission.asked(shown)


async def pending_command(update: Update, context: BotContext, actor_id: int) -> None:
    """/pending (admins): the join requests waiting for a decision, with their buttons."""
    await show_pending(update, context, empty=say.NO_PENDING)


async def join_button(update: Update, context: BotContext, button: JoinButton) -> None:
    query = update.callback_query
    if query is None:
        return
    caller = context.caller
    if caller is None or caller.role is not Role.ADMIN:
        await query.answer(say.ADMINS_ONLY_TOAST)
        return
    approve, user_id = button.verdict == "approve", button.user_id
    decision = await context.services.admission.decide(caller.user_id, user_id, approve)
    request = decision.request
    if request is None:
        await query.answer(say.NO_SUCH_REQUEST)
        return
    if not decision.done:
        await query.answer(say.already_decided(request.status, request.decided_by))
        late = say.join_decided_by(
            user_id,
            request.username,
            request.first_name,
            request.status,
            request.decided_by,
            decision.decider_name,
        )
        try:
            await query.edit_message_text(late, parse_mode=ParseMode.HTML)  # buttons gone
        except BadRequest as exc:  # pressed twice: the same words already
            log.info("join request message not edited: %s", exc)
        return
    await query.answer(say.VERDICT[approve])
    decided = say.join_decided(user_id, request.username, request.first_name, approve)
    await query.edit_message_text(decided, parse_mode="HTML")
    try:
        markup = None
        if approve and decision.row is not None:
            await set_chat_menu(context.bot, request.chat_id, decision.row.role, False)
            text = say.welcome_text(request.first_name, decision.row.role)
            markup = keyboard.markup()  # the newcomer's quick buttons come with the welcome
        else:
            text = say.REJECTED
        await context.bot.send_message(
            request.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
    except TelegramError as exc:
        log.info("join decision not delivered to %s: %s", user_id, exc)


def handlers() -> list:
    return [on_button(JoinButton, join_button), admin_command("pending", pending_command)]
