"""python-telegram-bot's rate limiter for the bot: every request spends the bot's one
outgoing budget (telegram_out.budget.OutgoingBudget), which the outbox sender shares.

* Messages (``send*`` but sendChatAction, ``edit*``, copies, forwards) are answers to
  the user's own action: they take a token at the highest priority, ahead of every
  queued notification, and keep the chat's pace (one message in flight per chat, the
  next one a second after Telegram's answer; three in a group).
* answerCallbackQuery, sendChatAction and other calls produce no message: they take no
  token and skip the chat's pace, but wait out a 429 pause.
* deleteMessage never waits, not even behind a 429 pause (deleting a message that
  carries a secret must not wait behind anything; if Telegram refuses it, /connect
  tells the user to delete the message by hand and rotate the key).
* A 429 ``retry_after`` pauses the whole budget and the chat, then the request is
  retried (``max_retries`` times).
* With paid broadcasts on, a message the free budget cannot take at once goes with
  ``allow_paid_broadcast``.
* The outbox sender's own requests (``rate_limit_args`` PREPAID) spent the budget
  already and pass straight through.
* A message sent with a ``Priority`` as ``rate_limit_args`` takes its token at that
  priority instead (the admins' health alerts: ``Priority.ALERT``, after the replies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from nija_tg.telegram_out.budget import PREPAID, OutgoingBudget, Priority

log = logging.getLogger("nija_tg.bot.rate_limit")

PER_CHAT_INTERVAL = 1.0  # seconds between two messages to one private chat


def _limited(endpoint: str) -> bool:
    return (endpoint.startswith("send") and endpoint != "sendChatAction") or endpoint.startswith(
        ("edit", "copyMessage", "forwardMessage")
    )


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int form
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_id(data: dict[str, Any] | None) -> int | None:
    value = (data or {}).get("chat_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # @channelusername: no pace of its own


class PerChatRateLimiter(BaseRateLimiter[str | Priority]):
    def __init__(self, budget: OutgoingBudget | None = None, max_retries: int = 3) -> None:
        self.budget = budget or OutgoingBudget()
        self.max_retries = max_retries

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        await self.budget.close()

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if rate_limit_args == PREPAID:
            return await callback(*args, **kwargs)
        chat_id = _chat_id(data)
        priority = rate_limit_args if isinstance(rate_limit_args, Priority) else Priority.ACTION
        if _limited(endpoint):
            pace = self.budget.pace(chat_id) if chat_id is not None else None
            # the chat's turn is held through the retries: a refused message is not
            # overtaken by the next one to the same chat
            async with pace.lock if pace is not None else contextlib.nullcontext():
                return await self._retrying(
                    endpoint,
                    chat_id,
                    lambda: self._message(
                        callback, args, kwargs, endpoint, data, chat_id, priority
                    ),
                )
        if endpoint == "deleteMessage":  # never waits, but for its own 429
            return await self._retrying(endpoint, chat_id, lambda: callback(*args, **kwargs))

        async def plain():
            pause = self.budget.paused_for()
            if pause > 0:
                await asyncio.sleep(pause)
            return await callback(*args, **kwargs)

        return await self._retrying(endpoint, chat_id, plain)

    async def _retrying(self, endpoint: str, chat_id: int | None, call):
        for attempt in range(self.max_retries + 1):
            try:
                return await call()
            except RetryAfter as exc:
                secs = _retry_seconds(exc)
                self.budget.pause(secs)
                if chat_id is not None:
                    self.budget.block_chat(chat_id, secs)
                if attempt >= self.max_retries:
                    raise
                log.warning("%s: 429, retry after %.0fs", endpoint, secs)
                if endpoint == "deleteMessage":
                    await asyncio.sleep(secs)
        raise AssertionError("unreachable")

    async def _message(
        self, callback, args, kwargs, endpoint, data, chat_id: int | None, priority: Priority
    ):
        if chat_id is not None:
            # a 429 may push the chat's turn further while we sleep: look again
            while (wait := self.budget.chat_ready_in(chat_id)) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
        can_pay = isinstance(data, dict) and not endpoint.startswith("edit")
        paid = await self.budget.take(priority, paid_ok=can_pay)
        if isinstance(data, dict):
            if paid:
                data["allow_paid_broadcast"] = True
            else:
                data.pop("allow_paid_broadcast", None)
        try:
            return await callback(*args, **kwargs)
        finally:
            self.budget.answered(paid)
            if chat_id is not None:
                self.budget.chat_answered(chat_id)
