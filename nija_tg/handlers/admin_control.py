"""/pause, /resume, /halt, /unhalt and /broadcast: the admin's levers. Users hear about
each through the outbox (the service queues the notices in the same transaction).

``/pause all`` and ``/halt`` ask for a Yes/No confirmation first and ``/broadcast`` shows
a preview (the message exactly as users get it, and to how many) with Send/Cancel
(handlers/confirm.py). A press is checked again: a non-admin's press is refused and
audited like a command, and only the asking admin's own open question is acted on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.handlers import confirm
from nija_tg.handlers.admin_common import (
    UsageError,
    admin_command,
    args_of,
    is_admin,
    parse_user_id,
    rest_of_message,
)
from nija_tg.handlers.callback_data import (
    BroadcastConfirm,
    HaltConfirm,
    PauseAllConfirm,
    on_button,
)
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages import admin_replies as say
from nija_tg.messages import common
from nija_tg.messages.errors import text as error_text
from nija_tg.messages.text import esc


def _target(arg: str) -> int | None:
    """``all`` (None) or one user id."""
    return None if arg.lower() == "all" else parse_user_id(arg)


async def pause_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if not args:
        raise UsageError("missing")
    target = _target(args[0])
    reason = " ".join(args[1:])
    if target is None:
        count = await context.services.admin.pausable_count(actor_id, reason)
        if not count:
            await reply(update, say.NOBODY_TO_PAUSE)
            return
        await confirm.ask(
            update,
            context,
            PauseAllConfirm,
            say.pause_all_question(count, reason),
            say.pause_all_button(count),
            payload=reason,
        )
        return
    paused = await context.services.admin.pause(actor_id, target, reason)
    await reply(update, say.paused_one(target, bool(paused)))


async def resume_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) != 1:
        raise UsageError("arity")
    target = _target(args[0])
    resumed = await context.services.admin.resume(actor_id, target)
    if target is None:
        await reply(update, say.resumed_all(resumed))
        return
    await reply(update, say.resumed_one(target, bool(resumed)))


async def halt_command(update: Update, context: BotContext, actor_id: int) -> None:
    if args_of(context):
        raise UsageError("extra")
    if await context.services.admin.is_halted():
        await reply(update, say.HALTED_ALREADY)
        return
    await confirm.ask(update, context, HaltConfirm, say.HALT_QUESTION, say.HALT_BUTTON)


async def _halt(update: Update, context: BotContext, actor_id: int, _payload: Any) -> str:
    told = await context.services.admin.halt(actor_id)
    return say.HALTED_ALREADY if told is None else say.halted(told)


async def _pause_all(update: Update, context: BotContext, actor_id: int, reason: Any) -> str:
    paused = await context.services.admin.pause(actor_id, None, str(reason or ""))
    return say.paused_all(paused)


async def _broadcast(update: Update, context: BotContext, actor_id: int, text: Any) -> str:
    queued = await context.services.admin.broadcast(actor_id, str(text))
    return say.broadcast_queued(queued)


Act = Callable[[Update, BotContext, int, Any], Awaitable[str]]


def _confirmed(command: str, act: Act, cancelled: str) -> Callable:
    """The press handler of an admin confirmation: admins only (others are refused
    and audited), the asker's own open question only, then ``act``."""

    async def on_press(update: Update, context: BotContext, button: Any) -> None:
        query = update.callback_query
        caller = context.caller
        if query is None or caller is None:
            return
        if not is_admin(context):
            await context.services.admin.record_denied(caller.user_id, command)
            await query.answer(say.REFUSAL, show_alert=True)
            return
        pending = confirm.claim(update, context, button)
        if pending is None:
            await query.answer(common.NOT_YOURS)
            return
        if button.answer != "yes":
            await query.answer(say.CANCELLED)
            await confirm.close_question(update, cancelled)
            return
        await query.answer()
        try:
            outcome = await act(update, context, caller.user_id, pending.payload)
        except (ValidationError, PermissionDeniedError) as exc:
            outcome = esc(error_text(exc))
        await confirm.close_question(update, outcome)

    on_press.__name__ = f"confirm_{command}"
    return on_press


async def unhalt_command(update: Update, context: BotContext, actor_id: int) -> None:
    if args_of(context):
        raise UsageError("extra")
    told = await context.services.admin.unhalt(actor_id)
    if told is None:
        await reply(update, say.NOT_HALTED)
        return
    await reply(update, say.unhalted(told))


async def broadcast_command(update: Update, context: BotContext, actor_id: int) -> None:
    text = rest_of_message(update)
    if not text.strip():
        raise UsageError("missing")
    message, recipients = await context.services.admin.broadcast_preview(actor_id, text)
    await reply(update, say.broadcast_preview_heading(recipients))
    await confirm.ask(
        update,
        context,
        BroadcastConfirm,
        message,
        say.broadcast_button(recipients),
        payload=text,
    )


def handlers() -> list:
    return [
        admin_command("pause", pause_command),
        admin_command("resume", resume_command),
        admin_command("halt", halt_command),
        admin_command("unhalt", unhalt_command),
        admin_command("broadcast", broadcast_command),
        on_button(PauseAllConfirm, _confirmed("pause", _pause_all, say.PAUSE_CANCELLED)),
        on_button(HaltConfirm, _confirmed("halt", _halt, say.HALT_CANCELLED)),
        on_button(BroadcastConfirm, _confirmed("broadcast", _broadcast, say.BROADCAST_CANCELLED)),
    ]
