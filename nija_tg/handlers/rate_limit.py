"""Outgoing limits of the bot: python-telegram-bot's AIORateLimiter (overall and group
limits, ``retry_after`` honoured) plus a per-chat limit for private chats, which it does
not enforce by itself: at most one message per second per private chat.

deleteMessage, answerCallbackQuery and chat actions are never delayed: deleting a
message that carries a secret must happen at once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

PER_CHAT_BURST = 1
PER_CHAT_PERIOD = 1.0  # seconds: at most one message per second per private chat
MAX_TRACKED_CHATS = 20_000


def _limited(endpoint: str) -> bool:
    return (endpoint.startswith("send") and endpoint != "sendChatAction") or endpoint.startswith(
        "edit"
    )


class PerChatRateLimiter(AIORateLimiter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(PER_CHAT_BURST, PER_CHAT_PERIOD)
            self._chats[chat_id] = limiter
            if len(self._chats) > MAX_TRACKED_CHATS:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_id)
        return limiter

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        chat_id = data.get("chat_id")
        try:
            chat_id = int(chat_id) if chat_id is not None else None
        except (TypeError, ValueError):
            chat_id = None
        if chat_id is not None and chat_id > 0 and _limited(endpoint):
            async with self._chat_limiter(chat_id):
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
