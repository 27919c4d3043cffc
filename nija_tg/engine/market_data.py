"""Shared market data: candles fetched once per (exchange, symbol, timeframe) per candle
close, however many users trade that market, and indicators prepared once per
(market, indicator key) through the strategies' IndicatorCache.

The hub sleeps until the next timeframe boundary plus a small grace (no polling), fetches
only the candles it lacks into a rolling window per market, drops the still-forming
candle, and wakes every subscribed user loop whose markets got a new closed candle.

With ``lockstep=True`` (simulated clocks: tests, replays) the hub does not move to the
next boundary before every subscriber has finished the previous one, so a clock that
jumps instantly still gives each loop every candle, in order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd

from nija_tg.core.errors import NijaError, RetryableError
from nija_tg.core.models import Candle
from nija_tg.engine.clock import Clock
from nija_tg.exchange.protocol import MarketDataSource
from nija_tg.strategies import Prepared, Strategy, StrategyParams
from nija_tg.strategies.indicators import IndicatorCache

log = logging.getLogger("nija_tg.engine.market")

_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(timeframe: str) -> int:
    """``"5m"`` -> 300000. Minutes, hours and days."""
    m = re.fullmatch(r"(\d+)([mhd])", timeframe.strip())
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"unsupported timeframe {timeframe!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _frame(candles: deque[Candle]) -> pd.DataFrame:
    """Candles (sorted, unique) as the strategies' frame: ts int64, prices float64."""
    n = len(candles)
    cols: dict[str, np.ndarray] = {"ts": np.fromiter((c.ts for c in candles), np.int64, n)}
    for name in ("open", "high", "low", "close", "volume"):
        cols[name] = np.fromiter((getattr(c, name) for c in candles), np.float64, n)
    return pd.DataFrame(cols)


class MarketKey(NamedTuple):
    exchange: str
    symbol: str
    timeframe: str


@dataclass(frozen=True, eq=False)
class ClosedCandles:
    """The rolling window of closed candles of one market, oldest first."""

    key: MarketKey
    frame: pd.DataFrame  # ts, open, high, low, close, volume
    closed_at: int  # boundary (ms) at which the newest candle closed

    @functools.cached_property
    def last(self) -> Candle:
        row = self.frame.iloc[-1]
        return Candle(
            int(row["ts"]), *(float(row[c]) for c in ("open", "high", "low", "close", "volume"))
        )

    @functools.cached_property
    def last_close(self) -> Decimal:
        return Decimal(str(self.last.close))


@dataclass
class _KeyState:
    candles: deque[Candle]
    last_ts: int | None = None
    closed: ClosedCandles | None = None
    updated_at: int = -1  # boundary of the last update


class Subscription:
    """One user loop's interest in some markets. Use ``next_close()`` to wait for the
    next candle close of any of them; ``close()`` when done (always, in a finally)."""

    def __init__(self, hub: MarketHub, keys: Iterable[MarketKey]) -> None:
        self.hub = hub
        self.keys = frozenset(keys)
        self.seen = hub.published
        self.waiting = False
        self.closed = False
        # Each subscriber has its own wake-up: a publish wakes only those it concerns,
        # so the cost of a candle close grows linearly with the number of loops.
        self._wake = asyncio.Event()
        self.counted_idle = False  # the hub counts it as idle (waiting, nothing unseen)

    def pending(self) -> list[MarketKey]:
        """Markets that closed a candle this subscriber has not seen yet."""
        return sorted(k for k in self.keys if self.hub.updated_at(k) > self.seen)

    async def next_close(self) -> tuple[int, list[MarketKey]]:
        """Wait for the next close; returns (boundary ms, markets with a new candle).
        Calling it again tells a lockstep hub this subscriber is done with the last one."""
        self.waiting = True
        if not self.pending():
            self.hub._became_idle(self)
        try:
            while not self.pending():
                self._wake.clear()
                await self._wake.wait()
        finally:
            if self.counted_idle:  # cancelled while idle: it is no longer waiting
                self.hub._became_active(self)
            self.waiting = False
        updated = self.pending()
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

    @property
    def total(self) -> int:
        return sum(self.fetches.values())


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
        self._refs: Counter[MarketKey] = Counter()
        self._state: dict[MarketKey, _KeyState] = {}
        self._subs: list[Subscription] = []
        self._active = 0  # subscribers not idle (running, or with an unseen close)
        self._event = asyncio.Event()

    # --- change notification (a broadcast event replaced on every change) ----------

    def _notify(self) -> None:
        """Wake the hub's own waiters (its run loop, wait_for_subscribers)."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    def _became_idle(self, sub: Subscription) -> None:
        sub.counted_idle = True
        self._active -= 1
        if self._active == 0:
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
            self._state.setdefault(key, _KeyState(deque(maxlen=self.window)))
        self._notify()
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            if not sub.counted_idle:
                self._active -= 1
        for key in sub.keys:
            self._refs[key] -= 1
            if self._refs[key] <= 0:
                del self._refs[key]
                self._state.pop(key, None)
        self._notify()

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

    def price(self, exchange: str, symbol: str) -> Decimal | None:
        """Close of the most recently closed candle of this market, any timeframe."""
        best: ClosedCandles | None = None
        for key, st in self._state.items():
            if key.exchange == exchange and key.symbol == symbol and st.closed is not None:
                if best is None or st.closed.closed_at > best.closed_at:
                    best = st.closed
        return None if best is None else best.last_close

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
                boundary = self.next_boundary()
                if boundary is None:
                    await self._race(self._event.wait(), stop_wait)
                    continue
                if until_ms is not None and boundary > until_ms:
                    break
                before = self.keys
                sleep = self.clock.sleep_until(boundary + self.grace_ms)
                woke = await self._race(sleep, stop_wait, self._event.wait())
                if stop.is_set():
                    break
                if woke != 0 and self.keys != before and self.next_boundary() != boundary:
                    continue  # subscriptions changed the next boundary
                await self.clock.sleep_until(boundary + self.grace_ms)
                await self.poll(boundary)
            if self.lockstep and not stop.is_set():
                await self._race(self._wait_for(self._all_idle), stop_wait)
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
            for sub in self._subs:
                if sub.counted_idle and not sub.keys.isdisjoint(changed):
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
                break
        if added:
            frame = _frame(st.candles)
            st.closed = ClosedCandles(key, frame, int(frame["ts"].iloc[-1]) + tf)
            st.updated_at = boundary
        return added

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

    def _append(self, st: _KeyState, candles: list[Candle], tf: int, boundary: int) -> bool:
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
                st.last_ts = c.ts
        return bool(fresh)
