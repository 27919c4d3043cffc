"""Outgoing limits of the bot: python-telegram-bot's AIORateLimiter (overall and group
limits, ``retry_after`` honoured) plus a per-chat limit for private chats, which it does
not enforce by itself: at most one message per second per private chat.

answerCallbackQuery and chat actions skip the per-chat pacing; deleteMessage skips every
limiter (deleting a message that carries a secret must not wait behind replies queued
for the bot's overall budget; if Telegram refuses it, /connect tells the user to delete
the message by hand and rotate the key).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from telegram.ext import AIORateLimiter

PER_CHAT_INTERVAL = 1.0  # seconds between two messages to one private chat
MAX_TRACKED_CHATS = 20_000


def _limited(endpoint: str) -> bool:
    return (endpoint.startswith("send") and endpoint != "sendChatAction") or endpoint.startswith(
        "edit"
    )


class _ChatPace:
    """One request to the chat at a time, each starting at least ``PER_CHAT_INTERVAL``
    after Telegram answered the previous one (so network jitter cannot bunch two
    arrivals together)."""

    __slots__ = ("lock", "last_answer")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last_answer = float("-inf")


class PerChatRateLimiter(AIORateLimiter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._chats: OrderedDict[int, _ChatPace] = OrderedDict()

    def _pace(self, chat_id: int) -> _ChatPace:
        pace = self._chats.get(chat_id)
        if pace is None:
            pace = self._chats[chat_id] = _ChatPace()
            if len(self._chats) > MAX_TRACKED_CHATS:
                oldest, old = next(iter(self._chats.items()))
                if not old.lock.locked():
                    del self._chats[oldest]
        else:
            self._chats.move_to_end(chat_id)
        return pace

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint == "deleteMessage":
            return await callback(*args, **kwargs)
        chat_id = data.get("chat_id")
        try:
            chat_id = int(chat_id) if chat_id is not None else None
        except (TypeError, ValueError):
            chat_id = None
        if chat_id is None or chat_id <= 0 or not _limited(endpoint):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        pace = self._pace(chat_id)
        async with pace.lock:
            wait = pace.last_answer + PER_CHAT_INTERVAL - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            finally:
                pace.last_answer = time.monotonic()
