"""HTTP/1.1 keep-alive connections, kept open, that write a request to the socket in the
very call that asks for it.

Under a burst the bot's event loop runs turns of 100 ms and more (hundreds of handlers
ready at once). httpx/httpcore yield to the loop several times before a request's bytes
are written (pool and connection locks, anyio checkpoints), and each yield waits for the
rest of a turn: measured 330 ms from the deletion lane's request to its arrival at the
Bot API (/work/notes/bench_s7_secret.md). Here a request on an idle open connection is
written with ``transport.write`` (asyncio writes at once when the socket's buffer is
empty, TLS included) before the call returns; only the answer waits for the loop.

``send`` answers None when no connection is idle (all busy, or not yet open): the
caller then uses its ordinary client. A connection the server closed is opened again
(after ``reopen_after`` seconds, doubling up to a minute while opening fails; one
warning per streak of failures). With an HTTP(S) proxy configured in the environment
(as httpx would use it) no connection is kept open and every request goes the ordinary
way. TLS verifies against certifi's bundle, as httpx does. Bodies are form-encoded fields, as
python-telegram-bot's HTTPXRequest sends them; only what the caller passes (for the
deletion lane: a chat id and a message id) is written, and nothing is logged.
"""

from __future__ import annotations

import asyncio
import logging
import select
import ssl
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import h11

log = logging.getLogger("nija_tg.bot.direct_http")

USER_AGENT = "nija_tg direct_http"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request at a time."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._status = 0
        self._body: list[bytes] = []

    @property
    def idle(self) -> bool:
        return (
            self.transport is not None
            and not self.transport.is_closing()
            and self.answer is None
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
        )

    def peer_closed(self) -> bool:
        """The server closed (or wrote on) this idle connection and the loop has not
        noticed yet: its socket reads ready (httpcore checks the same before reusing
        a connection). Such a connection is closed, never written on."""
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if readable:
            self.transport.close()  # type: ignore[union-attr]
        return bool(readable)

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.h11.receive_data(data)
            while True:
                event = self.h11.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return
                if isinstance(event, h11.Response):
                    self._status = event.status_code
                elif isinstance(event, h11.Data):
                    self._body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    self._done()
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    self._fail(ConnectionError("connection closed"))
                    return
        except h11.ProtocolError as exc:
            self._fail(ConnectionError(f"bad answer: {type(exc).__name__}"))

    def eof_received(self) -> bool | None:
        try:
            self.h11.receive_data(b"")
        except h11.ProtocolError:
            pass
        self._fail(ConnectionError("connection closed"))
        return None

    # -- requests -----------------------------------------------------------------------
    def write(self, target: str, body: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write the request now; the future gets (status, body) of the answer."""
        assert self.transport is not None
        headers = [
            ("Host", self.host),
            ("User-Agent", USER_AGENT),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", str(len(body))),
        ]
        self.answer = asyncio.get_running_loop().create_future()
        self._status, self._body = 0, []
        data = self.h11.send(h11.Request(method="POST", target=target, headers=headers))
        data += self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        self.transport.write(data)
        return self.answer

    def _done(self) -> None:
        answer, self.answer = self.answer, None
        body = b"".join(self._body)
        reusable = self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE
        if reusable:
            self.h11.start_next_cycle()
        elif self.transport is not None:
            self.transport.close()
        if answer is not None and not answer.done():
            answer.set_result((self._status, body))

    def _fail(self, exc: Exception) -> None:
        answer, self.answer = self.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


class DirectConnections:
    """``count`` keep-alive connections to the server of ``url``, opened at ``start``
    and kept open; ``send`` writes a request on an idle one at once."""

    def __init__(self, url: str, count: int, *, reopen_after: float = 1.0) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._host_header = parts.netloc
        self._count = count
        self._reopen_after = reopen_after
        self._ssl = ssl.create_default_context(cafile=certifi.where()) if self._https else None
        proxy = getproxies().get(parts.scheme) or getproxies().get("all")
        if proxy and not proxy_bypass(self._host):
            self._count = 0  # through the proxy, the ordinary way
        self._connections: list[_Connection] = []
        self._keepers: list[asyncio.Task[None]] = []
        self._running = False

    @property
    def open_count(self) -> int:
        return sum(1 for c in self._connections if c.transport is not None)

    def idle_count(self) -> int:
        return sum(1 for c in self._connections if c.idle)

    async def start(self) -> None:
        """Open the connections in the background (``send`` answers None until one is
        open); each is opened again when it closes."""
        self._running = True
        self._keepers = [asyncio.create_task(self._keep_one()) for _ in range(self._count)]

    async def close(self) -> None:
        self._running = False
        connections, self._connections = self._connections, []
        for task in self._keepers:
            task.cancel()
        await asyncio.gather(*self._keepers, return_exceptions=True)
        self._keepers = []
        for conn in connections:
            conn._fail(ConnectionError("closed"))  # noqa: SLF001 - same module

    def send(self, url: str, fields: dict[str, str]) -> asyncio.Future[tuple[int, bytes]] | None:
        """Write ``POST url`` with ``fields`` form-encoded on an idle connection, before
        returning; None when no connection is idle or ``url`` is on another server."""
        parts = urlsplit(url)
        if not self._running or parts.netloc != self._host_header or parts.query:
            return None
        for conn in self._connections:
            if conn.idle and not conn.peer_closed():
                return conn.write(parts.path, urlencode(fields).encode("ascii"))
        return None

    async def _keep_one(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while self._running:
            conn = _Connection(self._host_header)
            try:
                await loop.create_connection(
                    lambda c=conn: c,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._https else None,
                )
            except OSError as exc:
                if not failures:
                    log.warning("direct connection failed: %s", type(exc).__name__)
                failures += 1
                await asyncio.sleep(min(self._reopen_after * 2**failures, 60.0))
                continue
            failures = 0
            self._connections.append(conn)
            try:
                await conn.closed
            finally:
                if conn in self._connections:
                    self._connections.remove(conn)
            await asyncio.sleep(self._reopen_after)
