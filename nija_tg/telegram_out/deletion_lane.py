"""Deletions that wait for no other request: their own HTTP connections, started at once.

Under a burst (200 users at once) a deletion of a pasted API key used to wait
hundreds of milliseconds in the bot's shared HTTP connection pool, not for the network:
httpcore hands every request that arrives in one turn of the event loop the same idle
connection, all but one find it busy when their turn comes and go round again, one turn
of a busy loop each (measured: 56 requests queued on 3 connections while the pool
allowed 256; /work/notes/bench_h6.md). So deletions go through a lane of their own:

* a ``telegram.Bot`` used only for ``deleteMessage``, whose request hands each deletion
  a connection of its own (``LaneRequest``: a free list of one-connection clients, so
  no two deletions ever share, nor wait for, a connection; at most ``connections``
  at once, more wait for the first one free);
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
from telegram.request import BaseRequest, HTTPXRequest, RequestData

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


class LaneRequest(BaseRequest):
    """At most ``connections`` requests at once, none waiting for another's connection:
    a request is written at once on an idle kept-open connection (``direct``) when there
    is one, else it takes a PTB HTTPXRequest of its own (one connection each) from a
    free list (created on first need, kept with its keep-alive connection)."""

    def __init__(
        self, connections: int = CONNECTIONS, direct: DirectConnections | None = None
    ) -> None:
        self._direct = direct
        self._free: list[HTTPXRequest] = []
        self._slots = asyncio.Semaphore(connections)  # taken without yielding when free
        self._closed = False

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        self._closed = False

    async def shutdown(self) -> None:
        self._closed = True
        free, self._free = self._free, []
        await asyncio.gather(*(client.shutdown() for client in free), return_exceptions=True)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        async with self._slots:
            answer = self._write_now(url, method, request_data)
            if answer is not None:
                timeout = read_timeout if isinstance(read_timeout, (int, float)) else 5.0
                try:
                    return await asyncio.wait_for(answer, timeout)
                except (ConnectionError, TimeoutError):
                    pass  # the request again, through a client of its own
            client = self._free.pop() if self._free else HTTPXRequest(connection_pool_size=1)
            try:
                return await client.do_request(
                    url,
                    method,
                    request_data,
                    read_timeout=read_timeout,
                    write_timeout=write_timeout,
                    connect_timeout=connect_timeout,
                    pool_timeout=pool_timeout,
                )
            finally:
                if self._closed:
                    await client.shutdown()
                else:
                    self._free.append(client)

    def _write_now(
        self, url: str, method: str, request_data: RequestData | None
    ) -> asyncio.Future[tuple[int, bytes]] | None:
        if self._direct is None or method != "POST" or request_data is None:
            return None
        if request_data.contains_files:
            return None
        return self._direct.send(url, request_data.json_parameters)


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
        self._request = LaneRequest(connections, self._direct)
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
        await self._request.initialize()
        if self._direct is not None:
            await self._direct.start()
        self._running = True

    async def close(self) -> None:
        self._running = False
        if self._direct is not None:
            await self._direct.close()
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
