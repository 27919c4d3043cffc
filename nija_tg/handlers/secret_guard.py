"""No secret left in any chat: the first handler of all (group -2, before the gatekeeper).

A message that looks like an API key or secret (nija_tg.core.secret_shapes) is deleted
before any database work, in private chats and groups, from registered users and
strangers alike; its sender is told to revoke that key, and nothing of it is echoed,
logged or kept. The one exception: while the sender's /connect conversation runs
(``user_data["connect"]["step"]`` is set, private chat), a message that is not one of our
commands belongs to it: at the credential step it *is* the credential, at the exchange
step it is not an exchange id; the conversation deletes it first, too.

``/connect <anything>`` is deleted here as well, before the gatekeeper, and then goes on
to the conversation, which reads the outcome of that deletion.

Every deletion goes through :class:`Deletions`, so a message is deleted at most once and
every handler that needs to know learns whether it worked: the update processor
(update_processor.py) starts the deletion of such messages the moment they arrive, before
they wait in their sender's queue, and the handlers here and in /connect await it.
Once the bot runs, the deletion itself goes through the deletion lane
(telegram_out.deletion_lane: started at once, on HTTP connections of its own), so it does
not queue behind the replies and notifications of a burst for a connection.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, TypeHandler

from nija_tg.core.secret_shapes import looks_like_secret
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages.commands import all_command_names
from nija_tg.messages.connect import PASTED_SECRET, PASTED_SECRET_NOT_DELETED
from nija_tg.telegram_out.deletion_lane import DeletionLane

log = logging.getLogger("nija_tg.bot.secret_guard")

# The /connect conversation's state in context.user_data (kept by handlers/connect.py).
STATE_KEY = "connect"
STEP_CHOOSE = "choose"
STEP_CREDENTIAL = "credential"


_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)")
MAX_TRACKED = 10_000


def command_of(text: str | None) -> tuple[str, str] | None:
    """``(name, arguments)`` of a text in the command grammar ``/name[@bot] args``,
    the name lower-cased; None for anything else."""
    if not text:
        return None
    found = _COMMAND.match(text)
    if found is None:
        return None
    return found.group(1).lower(), text[found.end() :].strip()


def is_our_command(text: str | None) -> bool:
    """One of the bot's own commands (with or without arguments)."""
    parsed = command_of(text)
    return parsed is not None and parsed[0] in all_command_names()


def is_connect_with_arguments(text: str | None) -> bool:
    parsed = command_of(text)
    return parsed is not None and parsed[0] == "connect" and bool(parsed[1])


def connect_step(user_data: Mapping[str, Any] | None) -> str | None:
    """The /connect step the user is at (also when that step expired and its next
    message must still go to the conversation, which deletes it), or None."""
    state = user_data.get(STATE_KEY) if user_data else None
    return state.get("step") if isinstance(state, dict) else None


def awaiting_credential(user_data: Mapping[str, Any] | None) -> bool:
    return connect_step(user_data) == STEP_CREDENTIAL


def message_text(message: Message | None) -> str:
    if message is None:
        return ""
    return message.text or message.caption or ""


# --- deleting each message once ---------------------------------------------------------


async def _delete(message: Message) -> bool:
    try:
        return bool(await message.delete())
    except TelegramError:
        return False
    except Exception as err:  # never let a failed delete pass silently as "deleted"
        log.warning("deleteMessage failed: %s", type(err).__name__)
        return False


class Deletions:
    """Deletions in flight or done, by (chat id, message id): each message is deleted at
    most once and everyone who asks gets the same answer. The update processor forgets a
    message when its update has been processed."""

    def __init__(self, lane: DeletionLane | None = None) -> None:
        self._tasks: dict[tuple[int, int], asyncio.Future[bool]] = {}
        self._running: set[asyncio.Future[bool]] = set()
        self.lane = lane

    def use_lane(self, lane: DeletionLane) -> None:
        """Delete through ``lane`` while it runs (else through the bot, on this loop)."""
        self.lane = lane

    @staticmethod
    def key(message: Message) -> tuple[int, int]:
        return message.chat_id, message.message_id

    def start(self, message: Message) -> asyncio.Future[bool]:
        key = self.key(message)
        task = self._tasks.get(key)
        if task is None:
            if len(self._tasks) >= MAX_TRACKED:  # only if updates bypassed the processor
                for old in [k for k, t in self._tasks.items() if t.done()]:
                    del self._tasks[old]
            lane = self.lane
            if lane is not None and lane.running:
                task = lane.delete(message.chat_id, message.message_id)
            else:
                task = asyncio.get_running_loop().create_task(_delete(message))
            self._tasks[key] = task
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return task

    def started(self, message: Message) -> bool:
        return self.key(message) in self._tasks

    def forget(self, message: Message) -> None:
        self._tasks.pop(self.key(message), None)


def deletions_of(context: BotContext) -> Deletions | None:
    return getattr(context.application.update_processor, "deletions", None)


async def delete_once(context: BotContext, message: Message) -> bool:
    """Delete ``message`` (or wait for its deletion already under way): True when it is
    gone. Cancelling the caller does not cancel the deletion."""
    registry = deletions_of(context)
    if registry is None:
        return await _delete(message)
    return await asyncio.shield(registry.start(message))


# --- the handler ------------------------------------------------------------------------


async def guard(update: Update, context: BotContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or (user is not None and user.is_bot):
        return
    text = message_text(message)
    if is_connect_with_arguments(text):
        await delete_once(context, message)  # /connect reads the outcome
        return
    if not looks_like_secret(text):
        return
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    if private and connect_step(context.user_data) and not is_our_command(text):
        return  # /connect takes it (the credential it asked for): it deletes it itself
    deleted = await delete_once(context, message)
    await reply(update, PASTED_SECRET if deleted else PASTED_SECRET_NOT_DELETED)
    raise ApplicationHandlerStop


def handler() -> TypeHandler:
    return TypeHandler(Update, guard)
