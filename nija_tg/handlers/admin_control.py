"""/pause, /resume, /halt, /unhalt and /broadcast: the admin's levers. Users hear about
each through the outbox (the service queues the notices in the same transaction)."""

from __future__ import annotations

from telegram import Update

from nija_tg.handlers.admin_common import (
    UsageError,
    admin_command,
    args_of,
    parse_user_id,
    rest_of_message,
)
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply


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
    paused = await context.services.admin.pause(actor_id, target, " ".join(args[1:]))
    if target is None:
        text = f"Paused {_people(len(paused))}; each was told." if paused else "Nobody to pause."
    elif paused:
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
    told = await context.services.admin.halt(actor_id)
    if told is None:
        await reply(update, "Trading is already halted. /unhalt lifts the halt.")
        return
    await reply(
        update,
        "🛑 <b>Global halt is on: everyone is on exits only.</b> No new positions for "
        "anyone; strategy exits and stops keep running, so open positions stay protected. "
        f"Told {_people(told)} with trading on. /unhalt lifts it.",
    )


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
    queued = await context.services.admin.broadcast(actor_id, text)
    await reply(update, f"Broadcast queued for {_people(queued)}.")


def handlers() -> list:
    return [
        admin_command("pause", pause_command),
        admin_command("resume", resume_command),
        admin_command("halt", halt_command),
        admin_command("unhalt", unhalt_command),
        admin_command("broadcast", broadcast_command),
    ]
