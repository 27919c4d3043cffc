"""/bound: admins narrow what users may set (for everyone or one user), list the bounds
and lift them. Users whose stored values fall outside a new bound are moved inside it
and told (the service does both in one transaction)."""

from __future__ import annotations

from telegram import Update

from nija_tg.core.errors import ValidationError
from nija_tg.core.setting_bounds import DEFAULT_BOUNDS
from nija_tg.handlers.admin_common import UsageError, admin_command, args_of, parse_user_id
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages import admin_replies as say
from nija_tg.messages.errors import text as error_text
from nija_tg.services.bounds_service import BoundChange, bound_lines


def _split(args: list[str]) -> tuple[str, str, int | None]:
    """(setting, value text, target): the last word is the target when it is ``all`` or
    a user id and something is left for the value."""
    if len(args) < 2:
        raise UsageError("arity")
    name, rest = args[0], args[1:]
    target: int | None = None
    if len(rest) >= 2 and (rest[-1].lower() == "all" or rest[-1].isascii() and rest[-1].isdigit()):
        last = rest.pop()
        target = None if last.lower() == "all" else parse_user_id(last)
    return name, " ".join(rest), target


def _done_text(change: BoundChange) -> str:
    default = DEFAULT_BOUNDS.get(change.name)
    return say.bound_set(change.name, change.bound, change.target_id, len(change.clamped), default)


async def bound_command(update: Update, context: BotContext, actor_id: int) -> None:
    args = args_of(context)
    service = context.services.bounds
    if not args:
        await reply(update, say.bounds(bound_lines(await service.everything(actor_id))))
        return
    name, value, target = _split(args)
    try:
        change = await service.set_from_text(actor_id, target, name, value)
    except ValidationError as exc:  # its text is escaped already (quotes what was sent)
        await reply(update, error_text(exc))
        return
    await reply(update, _done_text(change))


def handlers() -> list:
    return [admin_command("bound", bound_command)]
