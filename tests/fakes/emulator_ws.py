"""The emulators' WebSocket candle feed: what is common to every venue (connections,
subscriptions, when a candle is pushed, test switches); each venue's module
(kraken_ws.py, bingx_ws.py) adds its wire format: paths, subscribe/ack/ping messages
and the candle message.

When a candle is pushed. The emulators hold whole 5m rows (``EmulatorServer.candles``)
replayed against their clock (``clock_ms``). A venue pushes a candle update on trade
events; here a "trade" happens when the clock enters a new interval (checked every
``tick_s`` of real time, or at once by ``push()``):

1. the final state of every candle of the subscription that closed since the last push
   (in order, at most ``MAX_CATCH_UP``), as the update of its last trade;
2. the new (forming) candle as its first trade: open = high = low = close = the row's
   open, a tenth of the row's volume (the emulator has no trades, so the forming
   candle's later states are unknown until it closes).

On subscribing, the forming candle is sent at once (Kraken: ``type: snapshot``).

Test switches: ``drop()`` cuts every open socket without a close frame (the client sees
the connection lost); ``refuse = True`` answers new connections HTTP 503 until set back
to False; ``frozen = True`` keeps sockets open but pushes nothing (a silent feed);
``pushed`` counts candle messages sent.

Refused and unanswered subscribes (opt-in): ``refuse_subscribes = "text"`` answers every
subscribe message with the venue's refusal carrying that error text (Kraken: ``"method":
"subscribe", "success": false, "error": text``, its documented answer to a subscribe it
does not take) and subscribes nothing; ``mute_subscribes = True`` takes a subscribe
message without any answer or data (a subscribe lost on the way). Both count in
``refused_subscribes`` / ``subscribes_received``; set back to None / False, the next
subscribe is taken as usual. Kraken's feed also: ``subscribe_delay_s = s`` answers a
subscribe ``s`` seconds late (the connection's later messages wait behind it), and a
subscribe for a market the connection already has is refused as a duplicate ("Already
subscribed"), counted in ``duplicate_subscribes``.

Subscribe floods: ``max_subscribes_per_s = n`` (default None: no limit) refuses a
subscribe message that is more than the ``n``-th on its socket within the last second
of real time, with the venue's own refusal (Kraken: ``"error": "Exceeded msg rate"``;
BingX: code 100410 ``FREQUENCY_LIMIT``), and counts it in ``refused_subscribes``.
Neither venue publishes its figure (Kraken: "depends on load"), so ``n`` is the test's
pick; the switch shows a client that sends all its subscriptions at once being refused.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.fakes.emulator_candles import aggregate_candles

if TYPE_CHECKING:
    from tests.fakes.emulator_base import EmulatorServer

MAX_CATCH_UP = 10  # closed candles re-sent at most after a clock jump


@dataclass
class Sub:
    """One (symbol, interval) a connection subscribed to."""

    symbol: str  # unified
    minutes: int
    final_upto: int  # open time of the newest candle whose final state was sent
    current: int | None = None  # open time of the forming candle last sent
    snapshot_due: bool = True


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    request: web.Request
    subs: dict[tuple[str, int], Sub] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribe_times: deque[float] = field(default_factory=deque)  # real time, last second


class CandleFeed:
    """Base of a venue's WebSocket candle feed on the emulator's own aiohttp server."""

    path = "/ws"
    ping_every_s = 5.0

    def __init__(self, emu: EmulatorServer, *, tick_s: float = 0.02) -> None:
        self.emu = emu
        self.tick_s = tick_s
        self.refuse = False
        self.frozen = False
        self.pushed = 0
        self.connections_made = 0
        self.max_subscribes_per_s: int | None = None
        self.refuse_subscribes: str | None = None  # the error text of every refusal
        self.mute_subscribes = False  # subscribes taken without an answer
        self.subscribe_delay_s = 0.0  # subscribes answered this late (Kraken)
        self.duplicate_subscribes = 0  # subscribes refused as already subscribed
        self.refused_subscribes = 0
        self.subscribes_received = 0
        self.conns: set[Conn] = set()
        self._ticker: asyncio.Task | None = None
        self._pingers: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.handle)]

    # --- venue specifics ------------------------------------------------------------

    def encode(self, message: Any) -> tuple[str, str | bytes]:
        """("text"|"bytes", frame) of one outgoing message."""
        return "text", json.dumps(message)

    async def on_message(self, conn: Conn, text: str) -> None:
        raise NotImplementedError

    def candle_message(self, sub: Sub, row: list, snapshot: bool) -> Any:
        raise NotImplementedError

    def ping_message(self) -> Any | None:
        """A message the server sends every ``ping_every_s`` (None: none)."""
        return None

    def welcome(self) -> list[Any]:
        """Messages sent right after a connection opens."""
        return []

    # --- connections ----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Conn(ws, request)
        self.conns.add(conn)
        self.connections_made += 1
        self._ensure_ticker()
        pinger = asyncio.create_task(self._ping_loop(conn))
        self._pingers.add(pinger)
        try:
            for message in self.welcome():
                await self.send(conn, message)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self.on_message(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self.on_message(conn, msg.data.decode())
                else:
                    break
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            pinger.cancel()
            self.conns.discard(conn)
        return ws

    async def send(self, conn: Conn, message: Any) -> None:
        kind, frame = self.encode(message)
        if conn.ws.closed:
            return
        try:
            if kind == "bytes":
                assert isinstance(frame, bytes)
                await conn.ws.send_bytes(frame)
            else:
                assert isinstance(frame, str)
                await conn.ws.send_str(frame)
        except (ConnectionResetError, RuntimeError):
            pass

    async def _ping_loop(self, conn: Conn) -> None:
        while True:
            await asyncio.sleep(self.ping_every_s)
            message = self.ping_message()
            if message is not None:
                await self.send(conn, message)

    def flooded(self, conn: Conn) -> bool:
        """Count one subscribe message on ``conn``; True when it is over
        ``max_subscribes_per_s`` (then counted in ``refused_subscribes``)."""
        self.subscribes_received += 1
        now = time.monotonic()
        times = conn.subscribe_times
        while times and times[0] <= now - 1.0:
            times.popleft()
        limit = self.max_subscribes_per_s
        if limit is not None and len(times) >= limit:
            self.refused_subscribes += 1
            return True
        times.append(now)
        return False

    def subscribe(self, conn: Conn, symbol: str, minutes: int) -> Sub:
        rows = self.rows(symbol, minutes)
        newest = rows[-1][0] if rows else 0
        sub = Sub(symbol, minutes, final_upto=newest - minutes * 60_000)
        conn.subs[(symbol, minutes)] = sub
        return sub

    # --- pushing --------------------------------------------------------------------

    def rows(self, symbol: str, minutes: int) -> list[list]:
        """The newest candles of ``symbol`` up to the emulator's clock (enough for a
        catch-up), ``minutes`` wide."""
        width = minutes * 60_000
        since = (self.emu.clock_ms() // width - MAX_CATCH_UP - 1) * width
        rows = self.emu.ohlcv(symbol, since, None)
        if minutes <= 5:
            return [list(r) for r in rows]
        return [bar[:6] for bar in aggregate_candles(rows, width)]

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick_loop())

    async def _tick_loop(self) -> None:
        while self.conns:
            await self.push()
            await asyncio.sleep(self.tick_s)
        self._ticker = None

    async def push(self) -> int:
        """Send every update due at the emulator's clock; returns how many."""
        if self.frozen:
            return 0
        sent = 0
        for conn in list(self.conns):
            async with conn.lock:
                for sub in list(conn.subs.values()):
                    sent += await self._push_sub(conn, sub)
        return sent

    async def _push_sub(self, conn: Conn, sub: Sub) -> int:
        rows = self.rows(sub.symbol, sub.minutes)
        if not rows:
            return 0
        forming = rows[-1]
        sent = 0
        if sub.current is not None and forming[0] != sub.current:
            closed = [r for r in rows[:-1] if r[0] > sub.final_upto][-MAX_CATCH_UP:]
            for row in closed:
                await self.send(conn, self.candle_message(sub, row, False))
                sent += 1
            if closed:
                sub.final_upto = closed[-1][0]
        if forming[0] != sub.current:
            o, v = forming[1], forming[5] / 10
            first_trade = [forming[0], o, o, o, o, v]
            await self.send(conn, self.candle_message(sub, first_trade, sub.snapshot_due))
            sub.snapshot_due = False
            sub.current = forming[0]
            sent += 1
        self.pushed += sent
        return sent

    # --- test switches --------------------------------------------------------------

    def drop(self) -> int:
        """Cut every open socket (no close frame); returns how many."""
        conns, self.conns = list(self.conns), set()
        for conn in conns:
            transport = conn.request.transport
            if transport is not None:
                transport.close()
        return len(conns)

    @property
    def subscribed(self) -> set[tuple[str, int]]:
        return {key for conn in self.conns for key in conn.subs}

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for task in list(self._pingers):
            task.cancel()
        self.drop()
