"""Arguments and access for the report commands: parse strictly, answer a usage line
for anything malformed, and resolve whose data the caller may read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType

from nija_tg.core.pnl import PERIODS
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages import reports as say
from nija_tg.messages.errors import text as error_text
from nija_tg.messages.text import esc
from nija_tg.services.reports_service import (
    DAILY_DEFAULT,
    DAILY_MAX,
    SESSIONS_MAX,
    TRADES_MAX,
    Access,
    NotVisibleError,
)

USER_ID_RE = re.compile(r"[0-9]{1,15}")
COUNT_RE = re.compile(r"[0-9]{1,6}")
DEFAULT_COUNT = 10
DEFAULT_PERIOD = "day"


@dataclass(frozen=True)
class Parsed:
    target_id: int | None = None
    count: int = DEFAULT_COUNT
    period: str = DEFAULT_PERIOD


def user_id_arg(token: str) -> int | None:
    if not USER_ID_RE.fullmatch(token):
        return None
    value = int(token)
    return value if value > 0 else None


def count_arg(token: str, high: int) -> int | None:
    if not COUNT_RE.fullmatch(token):
        return None
    value = int(token)
    return value if 1 <= value <= high else None


def parse(command: str, args: list[str]) -> Parsed | None:
    """The arguments of ``command``; None when they are malformed."""
    if command in ("status", "balance", "positions"):
        if not args:
            return Parsed()
        target = user_id_arg(args[0]) if len(args) == 1 else None
        return None if target is None else Parsed(target_id=target)
    if command in ("trades", "sessions", "daily"):
        high = {"trades": TRADES_MAX, "sessions": SESSIONS_MAX, "daily": DAILY_MAX}[command]
        default = DAILY_DEFAULT if command == "daily" else DEFAULT_COUNT
        if len(args) > 2:
            return None
        count = count_arg(args[0], high) if args else default
        target = user_id_arg(args[1]) if len(args) == 2 else None
        if count is None or (len(args) == 2 and target is None):
            return None
        return Parsed(target_id=target, count=count)
    if command in ("pnl", "performance"):
        fallback = Parsed(period="all") if command == "performance" else Parsed()
        if len(args) > 2:
            return None
        if not args:
            return fallback
        period = args[0].lower()
        if period not in PERIODS:
            # "/pnl <user id>" is accepted too (the default period)
            target = user_id_arg(args[0]) if len(args) == 1 else None
            return None if target is None else Parsed(target_id=target, period=fallback.period)
        target = user_id_arg(args[1]) if len(args) == 2 else None
        if len(args) == 2 and target is None:
            return None
        return Parsed(target_id=target, period=period)
    raise ValueError(f"unknown report command {command!r}")


async def begin(update: Update, context: BotContext, command: str) -> tuple[Access, Parsed] | None:
    """Shared start of every report command: private chat, arguments, access. Replies
    and returns None when the command goes no further."""
    chat = update.effective_chat
    caller = context.caller
    if caller is None or chat is None:
        return None
    if chat.type != ChatType.PRIVATE:
        await reply(update, say.PRIVATE_ONLY)
        return None
    parsed = parse(command, list(context.args or []))
    if parsed is None:
        limits = {"trades_max": TRADES_MAX, "daily_max": DAILY_MAX, "sessions_max": SESSIONS_MAX}
        await reply(update, say.usage(command, **limits))
        return None
    access = await resolve(update, context, parsed.target_id, command)
    return None if access is None else (access, parsed)


async def resolve(
    update: Update, context: BotContext, target_id: int | None, command: str
) -> Access | None:
    assert context.caller is not None
    try:
        return await context.services.reports.authorize(context.caller, target_id, action=command)
    except NotVisibleError as exc:
        await reply(update, esc(error_text(exc)))
        return None
