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
way; so too with a user and password in the URL (httpx would send them as Basic auth;
here they never reach the wire, the Host header is the host and port only). TLS
verifies against certifi's bundle, as httpx does (``ssl_context`` replaces it, for a
test's own CA). Bodies are form-encoded fields, as python-telegram-bot's HTTPXRequest
sends them; only what the caller passes (for the deletion lane: a chat id and a message
id) is written, and nothing is logged.

A request target h11 refuses (a malformed token or base URL) is not written: ``send``
answers None and the ordinary client handles (or refuses) the URL. When the caller stops
waiting for an answer (its timeout, or it is cancelled: the future is cancelled) the
connection is closed and opened again: an answer that never comes does not keep it out
of service.
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


_RDHUP = getattr(select, "POLLRDHUP", 0)  # the peer's FIN (Linux)
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL | _RDHUP


def _socket_events(fd: int) -> int:
    """What the socket reports now: readable (``POLLIN``), the peer's FIN/RST, an error.
    ``poll``, not ``select``: ``select`` refuses a descriptor >= FD_SETSIZE (1024), which
    a busy bot process passes. On a TLS connection this is the raw socket."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | _RDHUP)
    events = poller.poll(0)
    return events[0][1] if events else 0


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request at a time."""

    def __init__(self, host: str, *, tls: bool = False) -> None:
        self.host = host
        self.tls = tls
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

    def writable(self) -> bool:
        """This idle connection may be written on now: the server has neither closed it
        nor written on it unnoticed by the loop (httpcore checks the same before reusing
        a connection).

        The peer's FIN or RST, or a socket error: closed (and opened again), never
        written on. Bytes waiting on a plain connection with no request out (the server
        wrote unasked): closed too. Bytes waiting on a TLS connection are records the
        loop has not read yet: TLS 1.3's session tickets after the handshake (harmless),
        or the server's close_notify ahead of its FIN (an asyncio server waits for ours
        before it sends the FIN); they cannot be told apart, so the connection is not
        written on now but left to the loop, which reads them: still idle after tickets,
        closed after a close_notify. (Without Linux's POLLRDHUP a FIN cannot be told from
        bytes: any readable socket is closed.)"""
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is None:
            return False
        try:
            events = _socket_events(sock.fileno())
        except (OSError, ValueError) as exc:
            log.warning("direct connection check failed: %s", type(exc).__name__)
            events = _GONE
        if not events:
            return True
        if events & _GONE or not (self.tls and _RDHUP):
            self.transport.close()  # type: ignore[union-attr]
        return False

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
    def write(self, target: str, body: bytes) -> asyncio.Future[tuple[int, bytes]] | None:
        """Write the request now; the future gets (status, body) of the answer. None
        (nothing written, the connection still idle) when h11 refuses the target."""
        assert self.transport is not None
        headers = [
            ("Host", self.host),
            ("User-Agent", USER_AGENT),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", str(len(body))),
        ]
        try:  # validates the target (and headers) before the connection is touched
            request = h11.Request(method="POST", target=target, headers=headers)
        except (h11.LocalProtocolError, UnicodeError):
            return None
        try:
            data = self.h11.send(request)
            data += self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            self.transport.close()  # h11 is in ERROR: this connection is done
            return None
        answer = self.answer = asyncio.get_running_loop().create_future()
        answer.add_done_callback(self._caller_gone)
        self._status, self._body = 0, []
        self.transport.write(data)
        return answer

    def _caller_gone(self, answer: asyncio.Future[tuple[int, bytes]]) -> None:
        """The caller cancelled the answer (its timeout, or it was cancelled) before it
        came: the answer may still come, or never; the connection is closed (and opened
        again by its keeper) rather than kept waiting for it."""
        if answer.cancelled() and self.answer is answer:
            self.answer = None
            if self.transport is not None:
                self.transport.close()

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


def _host_header(host: str, port: int, default_port: int) -> str:
    """Host as httpx writes it: no user or password, the port only when not the
    scheme's default, an IPv6 address in brackets."""
    name = f"[{host}]" if ":" in host else host
    return name if port == default_port else f"{name}:{port}"


class DirectConnections:
    """``count`` keep-alive connections to the server of ``url``, opened at ``start``
    and kept open; ``send`` writes a request on an idle one at once."""

    def __init__(
        self,
        url: str,
        count: int,
        *,
        reopen_after: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        default_port = 443 if self._https else 80
        self._port = parts.port or default_port
        self._netloc = parts.netloc  # what a request's URL must carry to go this way
        self._host_header = _host_header(self._host, self._port, default_port)
        self._count = count
        self._reopen_after = reopen_after
        self._ssl: ssl.SSLContext | None = None
        if self._https:
            self._ssl = ssl_context or ssl.create_default_context(cafile=certifi.where())
        proxy = getproxies().get(parts.scheme) or getproxies().get("all")
        if proxy and not proxy_bypass(self._host):
            self._count = 0  # through the proxy, the ordinary way
        if parts.username is not None or parts.password is not None:
            self._count = 0  # credentials in the URL: httpx sends them (Basic auth)
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
        if not self._running or parts.netloc != self._netloc or parts.query:
            return None
        for conn in self._connections:
            if conn.idle and conn.writable():
                return conn.write(parts.path, urlencode(fields).encode("ascii"))
        return None

    async def _keep_one(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while self._running:
            conn = _Connection(self._host_header, tls=self._https)
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
