"""Deletions that wait for no other request: their own HTTP connections, started at once.

Under a burst (200 users at once) a deletion of a pasted API key used to wait
hundreds of milliseconds in the bot's shared HTTP connection pool, not for the network:
httpcore hands every request that arrives in one turn of the event loop the same idle
connection, all but one find it busy when their turn comes and go round again, one turn
of a busy loop each (measured: 56 requests queued on 3 connections while the pool
allowed 256; /work/notes/bench_h6.md). So deletions go through a lane of their own:

* a ``telegram.Bot`` used only for ``deleteMessage``, whose request hands each deletion
  a connection of its own (``bot_request.ConnectionPerRequest``: a free list of
  one-connection clients, so no two deletions ever share, nor wait for, a connection;
  at most ``connections`` at once, more wait for the first one free);
* started eagerly (``asyncio.eager_task_factory``): the deletion runs as far as it can
  the moment it is asked for, before the caller (the update queue) goes on, rather than
  one turn of the loop later;
* written at once (``direct_http.DirectConnections``): connections opened when the lane
  starts and kept open; a deletion takes an idle one and its request is written to the
  socket before ``delete`` returns (httpx yields to the loop several times before it
  writes, and under a burst each yield waits for a turn of 100 ms or more). When none
  is idle, or the connection fails before the answer, the deletion goes through the
  one-connection clients above. (After such a failure the request may have reached
  Telegram: the second try then answers "message to delete not found", and the user is
  told to delete the message by hand although it is gone; the safe side.)

A 429 ``retry_after`` is reported (``on_retry_after``: the bot pauses its outgoing
budget and the chat) and the deletion is retried after it, ``max_retries`` times, as
the bot's rate limiter does for its own deleteMessage. The answer is True when the
message is gone, False when Telegram refused it (the caller then tells the user to
delete it by hand) or the lane is closed.

Only the chat and message ids reach the lane, never the message's text.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import RetryAfter, TelegramError

from nija_tg.telegram_out.bot_request import ConnectionPerRequest
from nija_tg.telegram_out.direct_http import DirectConnections

log = logging.getLogger("nija_tg.bot.deletion_lane")

CONNECTIONS = 64  # deletions in flight at once; more wait for a free connection
DIRECT_CONNECTIONS = 64  # kept open, each writes a deletion at once
MAX_RETRIES = 3
RetryAfterHook = Callable[[int, float], None]  # (chat_id, seconds)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int form
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class DeletionLane:
    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        on_retry_after: RetryAfterHook | None = None,
        max_retries: int = MAX_RETRIES,
        connections: int = CONNECTIONS,
        direct_connections: int = DIRECT_CONNECTIONS,
    ) -> None:
        self._direct = (
            DirectConnections(base_url, direct_connections) if direct_connections else None
        )
        self._request = ConnectionPerRequest(connections, self._direct, resend=True)
        self._bot = Bot(
            token, base_url=base_url, request=self._request, get_updates_request=self._request
        )
        self._on_retry_after = on_retry_after
        self._max_retries = max_retries
        self._running = False
        self.deleted = 0  # messages this lane deleted

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        await self._request.initialize()  # opens the kept-open connections
        self._running = True

    async def close(self) -> None:
        self._running = False
        await self._request.shutdown()

    def delete(self, chat_id: int, message_id: int) -> asyncio.Task[bool]:
        """Start deleting the message now (eagerly: it runs until its request waits on
        the network before this returns); the task says whether it is gone."""
        return self.start_eagerly(self._delete(chat_id, message_id))

    @staticmethod
    def start_eagerly(coroutine: Coroutine[Any, Any, bool]) -> asyncio.Task[bool]:
        loop = asyncio.get_running_loop()
        return asyncio.eager_task_factory(loop, coroutine)  # type: ignore[return-value]

    async def _delete(self, chat_id: int, message_id: int) -> bool:
        for attempt in range(self._max_retries + 1):
            if not self._running:
                return False
            try:
                gone = bool(await self._bot.delete_message(chat_id, message_id))
                self.deleted += gone
                return gone
            except RetryAfter as exc:
                seconds = _seconds(exc)
                if self._on_retry_after is not None:
                    self._on_retry_after(chat_id, seconds)
                if attempt >= self._max_retries:
                    return False
                log.warning("deleteMessage: 429, retry after %.0fs", seconds)
                await asyncio.sleep(seconds)
            except TelegramError:
                return False
            except Exception as err:  # never let a failed delete pass as "deleted"
                log.warning("deleteMessage failed: %s", type(err).__name__)
                return False
        return False
