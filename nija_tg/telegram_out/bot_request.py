"""python-telegram-bot's request for the bot's own calls: no request waits for another's
connection, and a request on an idle kept-open connection is written before the call
returns.

PTB's HTTPXRequest shares one httpx pool; httpcore 1.0.9 hands every request that arrives
in one turn of the event loop the same idle connection, all but one find it busy when
their turn comes and go round again, one turn of a busy loop each (56 requests on 3
connections under the burst; /work/notes/bench_h6.md). And httpx yields to the loop
several times before it writes a request, each yield waiting for a turn that lasts 100 ms
and more while 200 handlers run (/work/notes/bench_s7_secret.md). So
``ConnectionPerRequest``:

* writes the request at once on an idle kept-open connection
  (``direct_http.DirectConnections``) when there is one (no file uploads);
* else takes a PTB HTTPXRequest of its own (one connection each) from a free list
  (created on first need, kept with its keep-alive connection);
* at most ``connections`` requests in flight on both paths together (a semaphore, taken
  without yielding while one is free).

When a kept-open connection fails before the answer: with ``resend`` the request is sent
again through a client of its own (deleteMessage: a second try is harmless); without it
the call fails as httpx's would (NetworkError / TimedOut), so a message is never sent
twice by this layer (the outbox sender retries its rows itself: at least once).
When the answer does not come within the read timeout (or the call is cancelled) the
kept-open connection is closed and opened again (``direct_http``: the answer's future is
cancelled), never kept waiting for an answer that may never come.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from nija_tg.telegram_out.direct_http import DirectConnections

READ_TIMEOUT = 5.0


class ConnectionPerRequest(BaseRequest):
    def __init__(
        self,
        connections: int,
        direct: DirectConnections | None = None,
        *,
        resend: bool = False,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._direct = direct
        self._resend = resend
        self._read_timeout = read_timeout
        self._free: list[HTTPXRequest] = []
        self._slots = asyncio.Semaphore(connections)
        self._closed = False
        self._started = False

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self._closed = False
        if self._direct is not None and not self._started:
            self._started = True
            await self._direct.start()

    async def shutdown(self) -> None:
        self._closed = True
        if self._direct is not None and self._started:
            self._started = False
            await self._direct.close()
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
                timeout = (
                    read_timeout if isinstance(read_timeout, (int, float)) else self._read_timeout
                )
                try:
                    return await asyncio.wait_for(answer, timeout)
                except TimeoutError as err:
                    if not self._resend:
                        raise TimedOut from err
                except ConnectionError as err:
                    if not self._resend:
                        raise NetworkError(f"direct_http: {type(err).__name__}") from err
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
