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
    REFUSAL,
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
from nija_tg.handlers.replies import esc, reply


def _target(arg: str) -> int | None:
    """``all`` (None) or one user id."""
    return None if arg.lower() == "all" else parse_user_id(arg)


def _people(n: int) -> str:
    return f"{n} user{'' if n == 1 else 's'}"


async def pause_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if not args:
        raise UsageError("missing")
    target = _target(args[0])
    reason = " ".join(args[1:])
    if target is None:
        count = await context.services.admin.pausable_count(actor_id, reason)
        if not count:
            await reply(update, "Nobody to pause.")
            return
        why = f"\nReason: {esc(reason[:200])}" if reason.strip() else ""
        await confirm.ask(
            update,
            context,
            PauseAllConfirm,
            f"⚠️ <b>Pause {_people(count)}?</b> No new trades for any of them until an "
            f"admin resumes them; stops keep protecting open positions. Each is told.{why}",
            f"Yes, pause {_people(count)}",
            payload=reason,
        )
        return
    paused = await context.services.admin.pause(actor_id, target, reason)
    if paused:
        text = f"Paused user <code>{target}</code>; they were told."
    else:
        text = f"User <code>{target}</code> is already paused."
    await reply(update, text)


async def resume_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    if len(args) != 1:
        raise UsageError("arity")
    target = _target(args[0])
    resumed = await context.services.admin.resume(actor_id, target)
    if target is None:
        text = (
            f"Resumed {_people(len(resumed))}; each was told." if resumed else "Nobody is paused."
        )
    elif resumed:
        text = f"Resumed user <code>{target}</code>; they were told."
    else:
        text = f"User <code>{target}</code> is not paused."
    await reply(update, text)


async def halt_command(update: Update, context: BotContext, actor_id: int) -> None:
    if args_of(context):
        raise UsageError("extra")
    if await context.services.admin.is_halted():
        await reply(update, HALTED_ALREADY)
        return
    await confirm.ask(
        update,
        context,
        HaltConfirm,
        "⚠️ <b>Halt trading for everyone?</b> Every user goes on exits only: no new "
        "positions; strategy exits and stops keep running. /unhalt lifts it.",
        "Yes, halt all trading",
    )


HALTED_ALREADY = "Trading is already halted. /unhalt lifts the halt."


async def _halt(update: Update, context: BotContext, actor_id: int, _payload: Any) -> str:
    told = await context.services.admin.halt(actor_id)
    if told is None:
        return HALTED_ALREADY
    return (
        "🛑 <b>Global halt is on: everyone is on exits only.</b> No new positions for "
        "anyone; strategy exits and stops keep running, so open positions stay protected. "
        f"Told {_people(told)} with trading on. /unhalt lifts it."
    )


async def _pause_all(update: Update, context: BotContext, actor_id: int, reason: Any) -> str:
    paused = await context.services.admin.pause(actor_id, None, str(reason or ""))
    return f"Paused {_people(len(paused))}; each was told." if paused else "Nobody to pause."


async def _broadcast(update: Update, context: BotContext, actor_id: int, text: Any) -> str:
    queued = await context.services.admin.broadcast(actor_id, str(text))
    return f"Broadcast queued for {_people(queued)}."


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
            await query.answer(REFUSAL, show_alert=True)
            return
        pending = confirm.claim(update, context, button)
        if pending is None:
            await query.answer(confirm.NOT_YOURS)
            return
        if button.answer != "yes":
            await query.answer("Cancelled.")
            await confirm.close_question(update, cancelled)
            return
        await query.answer()
        try:
            outcome = await act(update, context, caller.user_id, pending.payload)
        except (ValidationError, PermissionDeniedError) as exc:
            outcome = esc(exc.user_message)
        await confirm.close_question(update, outcome)

    on_press.__name__ = f"confirm_{command}"
    return on_press


async def unhalt_command(update: Update, context: BotContext, actor_id: int) -> None:
    if args_of(context):
        raise UsageError("extra")
    told = await context.services.admin.unhalt(actor_id)
    if told is None:
        await reply(update, "Trading is not halted.")
        return
    await reply(
        update,
        f"✅ Global halt lifted: each user's own switch applies again. Told "
        f"{_people(told)} with trading on.",
    )


async def broadcast_command(update: Update, context: BotContext, actor_id: int) -> None:
    text = rest_of_message(update)
    if not text.strip():
        raise UsageError("missing")
    message, recipients = await context.services.admin.broadcast_preview(actor_id, text)
    await reply(update, f"📣 <b>Preview</b> — this goes to {_people(recipients)}:")
    await confirm.ask(
        update,
        context,
        BroadcastConfirm,
        message,
        f"📣 Send to {_people(recipients)}",
        payload=text,
    )


def handlers() -> list:
    return [
        admin_command("pause", pause_command),
        admin_command("resume", resume_command),
        admin_command("halt", halt_command),
        admin_command("unhalt", unhalt_command),
        admin_command("broadcast", broadcast_command),
        on_button(PauseAllConfirm, _confirmed("pause", _pause_all, "Cancelled: nobody paused.")),
        on_button(HaltConfirm, _confirmed("halt", _halt, "Cancelled: trading is not halted.")),
        on_button(
            BroadcastConfirm, _confirmed("broadcast", _broadcast, "Cancelled: nothing was sent.")
        ),
    ]
