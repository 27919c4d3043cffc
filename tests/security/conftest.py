"""Shared drivers of the security suite: many simulated users talking to the real bot in
parallel (the bot paces each private chat at 1 message/s, so breadth beats depth), and
what the bot exposes about itself (every command, every button pattern)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from re import _constants as sre_c
from re import _parser as sre_parse
from typing import Any

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ConversationHandler

from nija_tg.messages.commands import ADMIN_COMMANDS
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import KeyRing
from tests.handlers.harness import BotHarness

# The bot's outgoing budget is what the notification sender leaves over: give it all.
FAST_ENV = {"NIJA_SENDER_RATE": "1"}
GENERIC_ERROR = "Sorry, something went wrong on our side"


def db_of(bot: BotHarness) -> Database:
    return bot.app.bot_data["runtime"].db


def vault_of(bot: BotHarness) -> KeyRing:
    return bot.keyring


# --- talking --------------------------------------------------------------------------


@dataclass
class Exchange:
    """One input and the first thing the bot sent to that chat after it (None: nothing
    within the timeout)."""

    user_id: int
    chat_id: int
    text: str
    reply: str | None


async def converse(
    bot: BotHarness,
    user_id: int,
    texts: Sequence[str],
    *,
    chat_id: int | None = None,
    chat_type: str = "private",
    timeout: float = 20,
    **who: Any,
) -> list[Exchange]:
    """Send ``texts`` one by one from ``user_id``; after each, wait for the bot's next
    message (or edit) in that chat."""
    chat = user_id if chat_id is None else chat_id
    out = []
    for text in texts:
        since = bot.api.mark()
        bot.api.user_message(user_id, text, chat_id=chat_id, chat_type=chat_type, **who)
        try:
            record = await bot.api.wait_for(
                "sendMessage", lambda r: str(r.chat_id) == str(chat), timeout=timeout, since=since
            )
            reply: str | None = str(record.params.get("text", ""))
        except TimeoutError:
            reply = None
        out.append(Exchange(user_id, chat, text, reply))
    return out


async def in_parallel(jobs: Iterable[Any]) -> list[Any]:
    """Run coroutines concurrently; flatten list results."""
    results = await asyncio.gather(*jobs)
    flat: list[Any] = []
    for item in results:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


async def register(bot: BotHarness, user_ids: Iterable[int], **who: Any) -> None:
    async def one(uid: int) -> None:
        await bot.say(uid, "/start", timeout=30, **who)

    await asyncio.gather(*(one(uid) for uid in user_ids))


async def press_all(
    bot: BotHarness,
    user_id: int,
    presses: Sequence[tuple[str, int]],
    *,
    chat_id: int | None = None,
    quiet: float = 4.0,
    timeout: float = 60.0,
) -> tuple[list[str], list[str]]:
    """Press every (callback data, message id) as ``user_id``; wait until each press is
    answered or nothing happens for ``quiet`` seconds. Returns (query ids, unanswered
    callback data)."""
    ids = {}
    for data, message_id in presses:
        qid = bot.api.user_callback(user_id, data, message_id=message_id, chat_id=chat_id)
        ids[qid] = data
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen, last_change = -1, loop.time()
    while True:
        answered = {
            str(r.params.get("callback_query_id"))
            for r in bot.api.requests
            if r.method == "answerCallbackQuery" and r.done
        }
        pending = [q for q in ids if q not in answered]
        if not pending or loop.time() > deadline:
            break
        if len(pending) != seen:
            seen, last_change = len(pending), loop.time()
        elif loop.time() - last_change > quiet:
            break
        await asyncio.sleep(0.2)
    return list(ids), [ids[q] for q in pending]


# --- what the bot exposes -------------------------------------------------------------


def _walk(handler: Any) -> Iterable[Any]:
    if isinstance(handler, ConversationHandler):
        for inner in handler.entry_points:
            yield from _walk(inner)
        for state_handlers in handler.states.values():
            for inner in state_handlers:
                yield from _walk(inner)
        for inner in handler.fallbacks:
            yield from _walk(inner)
    else:
        yield handler


def all_handlers(app: Application) -> list[Any]:
    return [h for group in app.handlers.values() for top in group for h in _walk(top)]


def callback_patterns(app: Application) -> list[re.Pattern[str] | None]:
    """The pattern of every CallbackQueryHandler the application has (None: any data)."""
    out = []
    for handler in all_handlers(app):
        if isinstance(handler, CallbackQueryHandler):
            pattern = handler.pattern
            assert pattern is None or isinstance(pattern, re.Pattern), (
                f"callback pattern {pattern!r} is not a regex: extend the security suite"
            )
            if pattern not in out:
                out.append(pattern)
    return out


def all_commands(app: Application) -> list[str]:
    """Every command: the documented ones and every CommandHandler registered."""
    names = {name for name, _ in ADMIN_COMMANDS} | {"start"}
    for handler in all_handlers(app):
        if isinstance(handler, CommandHandler):
            names |= set(handler.commands)
    return sorted(names)


# --- concrete callback data from a pattern ----------------------------------------------

_MAX_EXPANSIONS = 64
_DIGITS = {ord(c) for c in "0123456789"}


def _class_chars(items: list) -> set[int]:
    chars: set[int] = set()
    for op, arg in items:
        if op is sre_c.LITERAL:
            chars.add(arg)
        elif op is sre_c.RANGE:
            chars |= set(range(arg[0], arg[1] + 1))
        elif op is sre_c.CATEGORY and arg is sre_c.CATEGORY_DIGIT:
            chars |= _DIGITS
    return chars


def _product(parts: list[list[str]]) -> list[str]:
    out = [""]
    for options in parts:
        out = [a + b for a in out for b in options][:_MAX_EXPANSIONS]
    return out


def _expand(items: Any, numbers: Sequence[int]) -> list[str]:
    parts: list[list[str]] = []
    for op, arg in items:
        if op is sre_c.LITERAL:
            parts.append([chr(arg)])
        elif op in (sre_c.AT,):
            continue
        elif op is sre_c.IN:
            chars = sorted(_class_chars(arg)) or [ord("x")]
            parts.append([chr(chars[0])])
        elif op in (sre_c.ANY, sre_c.NOT_LITERAL):
            parts.append(["x"])
        elif op is sre_c.BRANCH:
            parts.append([s for branch in arg[1] for s in _expand(branch, numbers)])
        elif op is sre_c.SUBPATTERN:
            parts.append(_expand(arg[-1], numbers))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            parts.append(_repeat(arg, numbers))
        else:
            parts.append([""])
    return _product(parts)


def _repeat(arg: tuple, numbers: Sequence[int]) -> list[str]:
    low, high, sub = arg
    sub = list(sub)
    if len(sub) == 1 and sub[0][0] is sre_c.IN and _class_chars(sub[0][1]) <= _DIGITS:
        fits = [str(n) for n in numbers if low <= len(str(n)) <= high]
        return fits or ["7" * max(low, 1)]
    inner = _expand(sub, numbers)
    options = [""] if low == 0 else []
    options += [s * max(low, 1) for s in inner]
    return options


def concrete_data(pattern: re.Pattern[str] | None, numbers: Sequence[int]) -> list[str]:
    """Callback data strings that ``pattern`` accepts, with ``numbers`` wherever it takes
    digits; also the accepted forms with a number appended (open-ended patterns)."""
    if pattern is None:
        return [str(n) for n in numbers]
    base = _expand(sre_parse.parse(pattern.pattern, pattern.flags), numbers)
    extra = [f"{b}{sep}{n}" for b in base for sep in ("", ":", "ex:") for n in numbers[:3]]
    extra += [f"{b}{word}" for b in base for word in ("ex:kraken", "cancel", "yes", "on")]
    found = []
    for data in base + extra:
        if pattern.match(data) and len(data.encode()) <= 64 and data not in found:
            found.append(data)
    return found


# --- searching ------------------------------------------------------------------------


def strings_in(value: Any) -> list[str]:
    """Every string (keys included) inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *strings_in(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings_in(v)]
    return [] if value is None else [str(value)]


def request_text(params: dict[str, Any]) -> str:
    """A request's parameters as searchable text: raw JSON and every decoded string."""
    return (
        json.dumps(params, ensure_ascii=False, default=str) + "\n" + "\n".join(strings_in(params))
    )
