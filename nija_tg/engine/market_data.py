"""Shared market data: candles fetched once per (exchange, symbol, timeframe) per candle
close, however many users trade that market, and indicators computed once per
(market, indicator key) and close: advanced by the new candle(s) where the strategy
has rolling indicators (``Strategy.rolling``: the window's last row bitwise, without
recomputing the window), otherwise prepared over the window through the strategies'
IndicatorCache.

The hub sleeps until the next timeframe boundary plus a small grace (no polling), fetches
only the candles it lacks into a rolling window per market, drops the still-forming
candle, and wakes every subscribed user loop whose markets got a new closed candle.

With ``lockstep=True`` (simulated clocks: tests, replays) the hub does not move to the
next boundary before every subscriber has finished the previous one, so a clock that
jumps instantly still gives each loop every candle, in order.

With ``stream=True`` and a source that pushes candles (``CandleStream``: the ccxt
gateway where ccxt.pro watches OHLCV) each market is also watched by WebSocket (one
task per market). At a boundary the hub then wakes at the boundary itself (not after
the grace) and publishes a market as soon as the venue pushed the first update of the
next candle: the one before it is closed, and its last pushed state is final. REST
stays the fallback and the catch-up: the first window, a market whose socket is down or
that pushed nothing by ``boundary + grace`` (a quiet market, a silent socket), any
candle missing between the window and the close (a gap), and the first close after a
reconnect are fetched by REST as before (REST calls of different markets run
concurrently; the gateway's client spaces them within the venue's limit). Each close is
taken once, from one side or the other: never twice, never skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from nija_tg.core.errors import NijaError, RetryableError
from nija_tg.core.models import Candle
from nija_tg.engine import gc_tuning
from nija_tg.engine.clock import Clock
from nija_tg.engine.market_window import ClosedCandles, KeyState, MarketKey, timeframe_ms
from nija_tg.exchange.protocol import CandleStream, MarketDataSource
from nija_tg.strategies import Prepared, Signal, Strategy, StrategyParams, StrategyPosition
from nija_tg.strategies.indicators import IndicatorCache
from nija_tg.strategies.rolling import RollingIndicators

__all__ = ["ClosedCandles", "HubStats", "MarketHub", "MarketKey", "Subscription", "timeframe_ms"]

log = logging.getLogger("nija_tg.engine.market")


class Subscription:
    """One user loop's interest in some markets. Use ``next_close()`` to wait for the
    next candle close of any of them; ``close()`` when done (always, in a finally)."""

    def __init__(self, hub: MarketHub, keys: Iterable[MarketKey]) -> None:
        self.hub = hub
        self.keys = frozenset(keys)
        self._in_order = tuple(sorted(self.keys))  # ``pending`` lists them in this order
        self.seen = hub.published
        self.waiting = False
        self.closed = False
        # Each subscriber has its own wake-up: a publish wakes only those it concerns,
        # so the cost of a candle close grows linearly with the number of loops.
        self._wake = asyncio.Event()
        self.counted_idle = False  # the hub counts it as idle (waiting, nothing unseen)

    def pending(self) -> list[MarketKey]:
        """Markets that closed a candle this subscriber has not seen yet."""
        state, seen = self.hub._state, self.seen
        return [
            k for k in self._in_order if (st := state.get(k)) is not None and st.updated_at > seen
        ]

    async def next_close(self) -> tuple[int, list[MarketKey]]:
        """Wait for the next close; returns (boundary ms, markets with a new candle).
        Calling it again tells a lockstep hub this subscriber is done with the last one."""
        self.waiting = True
        updated = self.pending()  # read once per wake-up (a loop's markets, each close)
        if not updated:
            self.hub._became_idle(self)
        try:
            while not updated:
                self._wake.clear()
                await self._wake.wait()
                updated = self.pending()
        finally:
            if self.counted_idle:  # cancelled while idle: it is no longer waiting
                self.hub._became_active(self)
            self.waiting = False
        self.seen = self.hub.published
        return self.seen, updated

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub._unsubscribe(self)


@dataclass
class HubStats:
    fetches: Counter[MarketKey] = field(default_factory=Counter)
    per_boundary: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    pushed: Counter[MarketKey] = field(default_factory=Counter)  # closes taken from a socket
    stream_errors: int = 0  # sockets lost or refused
    stream_connects: int = 0  # sockets that (re)started pushing
    rolling_starts: int = 0  # rolling indicators started from a whole window

    @property
    def total(self) -> int:
        return sum(self.fetches.values())


@dataclass(eq=False)
class _Stream:
    """One market watched by WebSocket."""

    key: MarketKey
    pushed: dict[int, Candle] = field(default_factory=dict)  # latest state by open time
    newest: int | None = None  # open time of the newest candle pushed
    live: bool = False  # pushing since the last error
    # candles may be missing (start, reconnect): the next close is fetched by REST
    suspect: bool = True
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


class MarketHub:
    def __init__(
        self,
        source: MarketDataSource,
        clock: Clock,
        *,
        window: int = 300,
        grace_ms: int = 2_000,
        lockstep: bool = False,
        late_retries: int = 1,
        late_retry_ms: int = 3_000,
        indicators: IndicatorCache | None = None,
        stream: bool = False,
        stream_retry_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.source = source
        self.clock = clock
        self.window = window
        self.grace_ms = grace_ms
        self.lockstep = lockstep
        self.late_retries = late_retries
        self.late_retry_ms = late_retry_ms
        self.indicators = indicators or IndicatorCache()
        self.stats = HubStats()
        self.published = -1  # last boundary processed
        self.waiting_for: int | None = None  # the boundary the driver sleeps until
        self._refs: Counter[MarketKey] = Counter()
        self._state: dict[MarketKey, KeyState] = {}
        self._subs: list[Subscription] = []
        self._active = 0  # subscribers not idle (running, or with an unseen close)
        self._event = asyncio.Event()
        self._idle_hooks: list[Callable[[], None]] = []
        self._prices: dict[tuple[str, str], Decimal] | None = None  # built on first read
        self._settle_hooks: list[Callable[[], Awaitable[object]]] = []
        self.stream = stream
        self.stream_retry_s = stream_retry_s  # first and longest pause before a reconnect
        self._streams: dict[MarketKey, _Stream] = {}
        # rolling indicators to start from their window once every subscriber is idle
        self._to_start: dict[tuple, tuple[KeyState, RollingIndicators]] = {}

    # --- change notification (a broadcast event replaced on every change) ----------

    def _notify(self) -> None:
        """Wake the hub's own waiters (its run loop, wait_for_subscribers)."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    def on_idle(
        self, hook: Callable[[], None], settle: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        """Call ``hook`` whenever every subscriber is done with the last close (e.g. to
        write what the loops left behind). A lockstep hub also awaits ``settle`` then,
        before the next close and before ``run`` returns."""
        self._idle_hooks.append(hook)
        if settle is not None:
            self._settle_hooks.append(settle)

    async def settle(self) -> None:
        """Await the settle hooks (lockstep: after every close)."""
        for settle in self._settle_hooks:
            await settle()

    def _became_idle(self, sub: Subscription) -> None:
        sub.counted_idle = True
        self._active -= 1
        if self._active == 0:
            self._all_done()

    def _all_done(self) -> None:
        """Every subscriber is done with the last close (the last active one became
        idle, or left): rolling indicators started, the idle hooks called, and, however
        they end, the collection the close put off run (not lockstep: ``run`` does it
        after the settle hooks) and the hub's waiters woken."""
        try:
            self._start_rolling()
            for hook in self._idle_hooks:
                hook()
        finally:
            try:
                if not self.lockstep:
                    gc_tuning.close_done()  # the collection the close put off, now
            finally:
                self._notify()

    def _became_active(self, sub: Subscription) -> None:
        sub.counted_idle = False
        self._active += 1

    async def _wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._event.wait()

    # --- subscriptions ---------------------------------------------------------------

    def subscribe(self, keys: Iterable[MarketKey]) -> Subscription:
        sub = Subscription(self, keys)
        self._subs.append(sub)
        self._active += 1
        for key in sub.keys:
            self._refs[key] += 1
            self._state.setdefault(key, KeyState(deque(maxlen=self.window)))
            self._start_stream(key)
        self._notify()
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        last_active = False
        if sub in self._subs:
            self._subs.remove(sub)
            if not sub.counted_idle:
                self._active -= 1
                last_active = self._active == 0  # the others are done: the close is
        for key in sub.keys:
            self._refs[key] -= 1
            if self._refs[key] <= 0:
                del self._refs[key]
                self._state.pop(key, None)
                self._prices = None
                self._stop_stream(key)
        if not last_active:
            self._notify()
            return
        try:
            self._all_done()  # as when the last active one becomes idle (notifies)
        except Exception:  # a hook's error is not the leaving loop's
            log.exception("an idle hook failed")

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    @property
    def keys(self) -> list[MarketKey]:
        return sorted(self._refs)

    async def wait_for_subscribers(self, count: int) -> None:
        await self._wait_for(lambda: len(self._subs) >= count)

    # --- reads -----------------------------------------------------------------------

    def updated_at(self, key: MarketKey) -> int:
        st = self._state.get(key)
        return -1 if st is None else st.updated_at

    def latest(self, key: MarketKey) -> ClosedCandles | None:
        st = self._state.get(key)
        return None if st is None else st.closed

    def prepared(
        self, key: MarketKey, strategy: Strategy, params: StrategyParams
    ) -> Prepared | None:
        """The strategy's indicator frame on the latest closed candles, computed once
        per market, candle and indicator key whoever asks."""
        closed = self.latest(key)
        if closed is None:
            return None
        name = f"{key.exchange}:{key.symbol}"
        return self.indicators.prepare(strategy, name, closed.frame, params)

    def signal(
        self,
        key: MarketKey,
        strategy: Strategy,
        params: StrategyParams,
        position: StrategyPosition | None,
        allow_short: bool,
    ) -> Signal | None:
        """``strategy.evaluate`` on the latest closed candles, computed once per candle
        and (strategy, params, position, allow_short): evaluation is pure, so users in
        the same situation (most often: flat, same settings) share one Signal. Treat it
        as read-only. None before the first candle.

        The indicators come from the strategy's rolling indicators of this market,
        advanced by the candles appended since the last close (``Strategy.rolling``;
        the same values as ``prepared``'s last row, bitwise), or from ``prepared``: for
        a strategy without them, and on a close where they would have to start from the
        whole window (the first window, a gap longer than it: a push per candle, ~8x
        one ``prepare``); they start then once every loop is done with the close
        (``_start_rolling``), off the close's path."""
        st = self._state.get(key)
        if st is None or st.closed is None:
            return None
        wanted = (strategy.name, params, position, allow_short)
        found = st.signals.get(wanted)
        if found is None:
            rolling = self._caught_up(key, st, strategy, params, start=False)
            if rolling is not None:
                found = rolling.signal(position, params=params, allow_short=allow_short)
            else:
                prepared = self.prepared(key, strategy, params)
                if prepared is None:
                    return None
                found = strategy.evaluate(
                    prepared, position, params=params, allow_short=allow_short
                )
            st.signals[wanted] = found
        return found

    def rolling(
        self, key: MarketKey, strategy: Strategy, params: StrategyParams
    ) -> RollingIndicators | None:
        """The strategy's rolling indicators of this market, caught up with the latest
        closed candles (None: no candles yet, or the strategy has none)."""
        st = self._state.get(key)
        if st is None or st.closed is None:
            return None
        return self._caught_up(key, st, strategy, params, start=True)

    def _caught_up(
        self,
        key: MarketKey,
        st: KeyState,
        strategy: Strategy,
        params: StrategyParams,
        *,
        start: bool,
    ) -> RollingIndicators | None:
        """The strategy's rolling indicators of this market (one per indicator key),
        caught up with the window; None when the strategy has none, or (``start``
        False) when they would start from the whole window: then they are started when
        every subscriber is idle."""
        ikey = strategy.indicator_key(params)
        if ikey in st.rolling:
            rolling = st.rolling[ikey]
        else:
            rolling = st.rolling[ikey] = strategy.rolling(params, self.window)
        if rolling is None:
            return None
        if rolling.starts_over(st.candles, st.appended):
            if not start:
                self._to_start[(key, ikey)] = (st, rolling)
                return None
            self.stats.rolling_starts += 1
        rolling.catch_up(st.candles, st.appended)
        return rolling

    def _start_rolling(self) -> None:
        """Start the rolling indicators a close could not advance (every subscriber is
        idle: nobody waits for them now; the next close advances them by a candle)."""
        pending, self._to_start = self._to_start, {}
        for (key, _), (st, rolling) in pending.items():
            if self._state.get(key) is st and rolling.starts_over(st.candles, st.appended):
                self.stats.rolling_starts += 1
                rolling.catch_up(st.candles, st.appended)

    def price(self, exchange: str, symbol: str) -> Decimal | None:
        """Close of the most recently closed candle of this market, any timeframe."""
        if self._prices is None:
            best: dict[tuple[str, str], ClosedCandles] = {}
            for key, st in self._state.items():
                found = best.get((key.exchange, key.symbol))
                if st.closed is not None and (
                    found is None or st.closed.closed_at > found.closed_at
                ):
                    best[(key.exchange, key.symbol)] = st.closed
            self._prices = {k: c.last_close for k, c in best.items()}
        return self._prices.get((exchange, symbol))

    # --- the driver ------------------------------------------------------------------

    def next_boundary(self) -> int | None:
        """The next candle close to process, or None without subscriptions."""
        frames = {timeframe_ms(k.timeframe) for k in self._refs}
        if not frames:
            return None
        now = self.clock.now_ms()
        ref = self.published if self.published >= 0 else now - self.grace_ms
        boundary = min((ref // tf + 1) * tf for tf in frames)
        if boundary + self.grace_ms + min(frames) <= now:  # fell behind: skip to the latest
            boundary = max(((now - self.grace_ms) // tf) * tf for tf in frames)
        return boundary

    async def run(self, stop: asyncio.Event, until_ms: int | None = None) -> None:
        """Process candle closes until ``stop`` is set (or the boundary after
        ``until_ms`` would be next)."""
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                if self.lockstep:
                    await self._race(self._wait_for(self._all_idle), stop_wait)
                    if stop.is_set():
                        break
                    try:
                        await self.settle()
                    finally:
                        gc_tuning.close_done()  # the collection the close put off, now
                boundary = self.next_boundary()
                if boundary is None:
                    await self._race(self._event.wait(), stop_wait)
                    continue
                if until_ms is not None and boundary > until_ms:
                    break
                before = self.keys
                self.waiting_for = boundary
                # pushed candles are taken at the boundary itself, REST after the grace
                wake = boundary if self._streamed_due(boundary) else boundary + self.grace_ms
                sleep = self.clock.sleep_until(wake)
                woke = await self._race(sleep, stop_wait, self._event.wait())
                if stop.is_set():
                    break
                if woke != 0 and self.keys != before and self.next_boundary() != boundary:
                    continue  # subscriptions changed the next boundary
                await self.clock.sleep_until(wake)
                self.waiting_for = None
                await self.poll(boundary)
            if self.lockstep and not stop.is_set():
                await self._race(self._wait_for(self._all_idle), stop_wait)
                try:
                    await self.settle()
                finally:
                    gc_tuning.close_done()
        finally:
            stop_wait.cancel()

    @staticmethod
    async def _race(*aws) -> int:
        """Await the first of ``aws`` to finish; cancel the rest (not a shared future).
        Returns the index of the winner."""
        futs = [asyncio.ensure_future(a) for a in aws]
        try:
            done, _ = await asyncio.wait(futs, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in futs:
                if not f.done() and not isinstance(aws[futs.index(f)], asyncio.Future):
                    f.cancel()
        return next(i for i, f in enumerate(futs) if f in done)

    def _all_idle(self) -> bool:
        return self._active == 0

    async def poll(self, boundary: int) -> list[MarketKey]:
        """Fetch every market whose timeframe closes at ``boundary``; publish those with
        a new closed candle. Returns them."""
        due = [k for k in self.keys if boundary % timeframe_ms(k.timeframe) == 0]
        results = await asyncio.gather(*(self._refresh(k, boundary) for k in due))
        updated = [k for k, ok in zip(due, results, strict=True) if ok]
        self.published = max(self.published, boundary)
        if updated:
            changed = set(updated)
            woken = [
                sub for sub in self._subs if sub.counted_idle and not sub.keys.isdisjoint(changed)
            ]
            if woken:
                gc_tuning.close_started()  # no collection inside the close (gc_tuning)
            for sub in woken:
                self._became_active(sub)
                sub._wake.set()
        self._notify()
        return updated

    async def _refresh(self, key: MarketKey, boundary: int) -> bool:
        st = self._state.get(key)
        if st is None:
            return False
        tf = timeframe_ms(key.timeframe)
        expected = boundary - tf  # open time of the candle that just closed
        stream = self._streams.get(key)
        if stream is not None:
            if await self._pushed_close(stream, boundary) and self._take_pushed(
                st, stream, tf, boundary
            ):
                self.stats.pushed[key] += 1
                self._publish_state(st, key, tf, boundary)
                return True
            if self._state.get(key) is not st:
                return False  # unsubscribed meanwhile
        if self.stream and self.clock.now_ms() < boundary + self.grace_ms:
            # woken at the boundary for the sockets: REST has the candle after the grace
            await self.clock.sleep_until(boundary + self.grace_ms)
        live = stream is not None and stream.live
        added = False
        for attempt in range(1 + self.late_retries):
            if attempt:
                await self.clock.sleep_until(self.clock.now_ms() + self.late_retry_ms)
            if st.last_ts is None or expected - st.last_ts >= self.window * tf:
                since, limit = None, self.window + 1
            else:
                since, limit = st.last_ts + tf, int((expected - st.last_ts) // tf) + 2
            try:
                candles = await self._fetch(key, since, limit, boundary)
            except RetryableError as exc:
                log.warning("candles %s: %s (attempt %d)", key, type(exc).__name__, attempt + 1)
                continue
            except NijaError as exc:
                log.warning("candles %s failed: %s", key, type(exc).__name__)
                return added
            if self._state.get(key) is not st:
                return False  # unsubscribed meanwhile
            added |= self._append(st, candles, tf, boundary)
            if st.last_ts is not None and st.last_ts >= expected:
                if live and stream is not None and stream.live:
                    stream.suspect = False  # caught up while the socket pushes
                break
        if stream is not None and st.last_ts is not None:
            for ts in [t for t in stream.pushed if t <= st.last_ts]:
                del stream.pushed[ts]
        if added:
            self._publish_state(st, key, tf, boundary)
        return added

    def _publish_state(self, st: KeyState, key: MarketKey, tf: int, boundary: int) -> None:
        candles = tuple(st.candles)
        st.closed = ClosedCandles(key, candles, candles[-1].ts + tf)
        st.signals = {}
        self._prices = None
        st.updated_at = boundary

    # --- candles pushed by WebSocket ----------------------------------------------------

    def _stream_source(self, exchange: str) -> CandleStream | None:
        if not self.stream:
            return None
        supports = getattr(self.source, "streams_candles", None)
        if supports is None or not supports(exchange):
            return None
        return self.source  # type: ignore[return-value]

    def _start_stream(self, key: MarketKey) -> None:
        if key in self._streams or self._stream_source(key.exchange) is None:
            return
        if any(k[:2] == key[:2] for k in self._streams):
            # one timeframe per symbol by socket: ccxt's Kraken client resolves every
            # timeframe of a symbol under one message hash; the others come by REST
            return
        stream = _Stream(key)
        stream.task = asyncio.ensure_future(self._watch(stream))
        self._streams[key] = stream

    def _stop_stream(self, key: MarketKey) -> None:
        stream = self._streams.pop(key, None)
        if stream is not None:
            stream.live = False
            self._changed(stream)
            if stream.task is not None:
                stream.task.cancel()

    async def close_streams(self) -> None:
        """Stop every WebSocket watch (the daemon's shutdown; also when unsubscribed)."""
        streams, self._streams = list(self._streams.values()), {}
        tasks = [s.task for s in streams if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    def _changed(stream: _Stream) -> None:
        event, stream.changed = stream.changed, asyncio.Event()
        event.set()

    async def _watch(self, stream: _Stream) -> None:
        """Take what the venue pushes for one market, reconnecting with a growing
        pause after a lost socket; gives up (REST only) on a non-retryable error."""
        source = self._stream_source(stream.key.exchange)
        assert source is not None
        key = stream.key
        pause = self.stream_retry_s[0]
        while True:
            try:
                candles = await source.watch_ohlcv(key.exchange, key.symbol, key.timeframe)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure: REST until the socket is back
                self.stats.stream_errors += 1
                stream.live, stream.suspect = False, True
                self._changed(stream)
                if not isinstance(exc, RetryableError):
                    log.warning("candle socket %s: %s; REST only", key, type(exc).__name__)
                    if self._streams.get(key) is stream:
                        del self._streams[key]
                    return
                log.info("candle socket %s lost (%s); REST meanwhile", key, type(exc).__name__)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.stream_retry_s[1])
                continue
            if not stream.live:
                stream.live = True
                self.stats.stream_connects += 1
            pause = self.stream_retry_s[0]
            for c in candles:
                stream.pushed[c.ts] = c
                if stream.newest is None or c.ts > stream.newest:
                    stream.newest = c.ts
            self._changed(stream)

    def _streamed_due(self, boundary: int) -> bool:
        """Whether a market closing at ``boundary`` has a live socket."""
        return any(
            s.live and boundary % timeframe_ms(k.timeframe) == 0 for k, s in self._streams.items()
        )

    async def _pushed_close(self, stream: _Stream, boundary: int) -> bool:
        """Wait (until ``boundary + grace`` at most) for the first push of the candle
        that opens at ``boundary``: the one before it is then closed. False when the
        socket is down or stays silent."""
        deadline = boundary + self.grace_ms
        while stream.live and (stream.newest is None or stream.newest < boundary):
            if self.clock.now_ms() >= deadline:
                return False
            await self._race(stream.changed.wait(), self.clock.sleep_until(deadline))
        return stream.live

    def _take_pushed(self, st: KeyState, stream: _Stream, tf: int, boundary: int) -> bool:
        """Append the pushed candles from the window's end to the one that closed at
        ``boundary``, if none is missing and no reconnect happened since the last REST
        catch-up; otherwise False (nothing appended: REST fetches the close)."""
        expected = boundary - tf
        if st.last_ts is None or stream.suspect or st.last_ts >= expected:
            return False
        wanted = range(st.last_ts + tf, expected + 1, tf)
        if expected - st.last_ts >= self.window * tf or any(
            ts not in stream.pushed for ts in wanted
        ):
            return False
        for ts in wanted:
            st.candles.append(stream.pushed.pop(ts))
            st.appended += 1
        st.last_ts = expected
        for ts in [t for t in stream.pushed if t < expected]:
            del stream.pushed[ts]
        return True

    async def _fetch(
        self, key: MarketKey, since: int | None, limit: int, boundary: int
    ) -> list[Candle]:
        self.stats.fetches[key] += 1
        self.stats.per_boundary[boundary] += 1
        try:
            return await self.source.fetch_ohlcv(
                key.exchange, key.symbol, key.timeframe, since, limit
            )
        except Exception:
            self.stats.errors += 1
            raise

    def _append(self, st: KeyState, candles: list[Candle], tf: int, boundary: int) -> bool:
        fresh = sorted(
            (
                c
                for c in candles
                if c.ts + tf <= boundary and (st.last_ts is None or c.ts > st.last_ts)
            ),
            key=lambda c: c.ts,
        )
        for c in fresh:
            if st.last_ts is None or c.ts > st.last_ts:
                st.candles.append(c)
                st.appended += 1
                st.last_ts = c.ts
        return bool(fresh)
