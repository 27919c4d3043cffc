"""MarketHub: one fetch per market per close, rolling window, closed candles only,
shared indicators, lockstep delivery under a simulated clock."""

from __future__ import annotations

import asyncio

import pytest

from nija_tg.engine.clock import SimulatedClock, WallClock
from nija_tg.engine.market_data import MarketHub, MarketKey, timeframe_ms
from nija_tg.strategies import get_strategy
from tests.engine.replay import ReplaySource, real_candles

TF = 300_000
ETH = MarketKey("kraken", "ETH/USD", "5m")
LTC = MarketKey("kraken", "LTC/USD", "5m")


def make(window=50, lockstep=True, **kw):
    eth = real_candles("ETH-BTC-5m.csv", limit=600)
    ltc = real_candles("LTC-BTC-5m.csv", limit=600)
    clock = SimulatedClock(eth[0].ts + 100 * TF + 1)
    source = ReplaySource(clock, {tuple(ETH): eth, tuple(LTC): ltc})
    hub = MarketHub(source, clock, window=window, lockstep=lockstep, late_retries=0, **kw)
    return hub, source, clock, eth


def test_timeframes():
    assert timeframe_ms("5m") == TF
    assert timeframe_ms("1h") == 3_600_000
    assert timeframe_ms("1d") == 86_400_000
    with pytest.raises(ValueError):
        timeframe_ms("5x")


async def test_one_fetch_per_market_per_close_whatever_the_subscribers():
    hub, source, clock, eth = make()
    subs = [hub.subscribe([ETH, LTC]) for _ in range(7)] + [hub.subscribe([ETH])]
    for boundary in range(eth[100].ts + TF, eth[100].ts + 6 * TF, TF):
        clock.set(boundary + hub.grace_ms)
        updated = await hub.poll(boundary)
        assert updated == [ETH, LTC]
        assert hub.stats.per_boundary[boundary] == 2
    assert sum(source.ohlcv_calls.values()) == 10
    latest = hub.latest(ETH)
    assert latest is not None and len(latest.frame) == 50  # rolling window
    # the newest candle in the window is the one that closed at the last boundary
    assert latest.last.ts + TF == latest.closed_at == boundary
    for s in subs:
        s.close()
    assert hub.keys == []


async def test_only_new_candles_are_fetched_after_the_first_window():
    hub, source, clock, eth = make()
    hub.subscribe([ETH])
    start = eth[100].ts + TF
    clock.set(start + hub.grace_ms)
    await hub.poll(start)
    first = hub.latest(ETH)
    clock.set(start + TF + hub.grace_ms)
    await hub.poll(start + TF)
    second = hub.latest(ETH)
    assert second.last.ts == first.last.ts + TF
    assert list(second.frame["ts"][:-1]) == list(first.frame["ts"][1:])


async def test_forming_candle_is_never_published():
    hub, source, clock, eth = make()
    hub.subscribe([ETH])
    boundary = eth[100].ts + TF
    clock.set(boundary + 60_000)  # one minute into the next candle
    await hub.poll(boundary)
    assert hub.latest(ETH).last.ts == eth[100].ts  # not eth[101], still forming


async def test_indicators_are_computed_once_for_every_user():
    hub, source, clock, eth = make(window=120)
    hub.subscribe([ETH])
    boundary = eth[100].ts + TF
    clock.set(boundary + hub.grace_ms)
    await hub.poll(boundary)
    strategy = get_strategy("adx_trend")
    params = strategy.default_params()
    frames = [hub.prepared(ETH, strategy, params) for _ in range(20)]
    assert all(f is frames[0] for f in frames)
    assert hub.indicators.misses == 1 and hub.indicators.hits == 19


async def test_retryable_error_skips_the_market_for_this_close_only():
    hub, source, clock, eth = make()
    hub.late_retries = 1
    hub.late_retry_ms = 1000
    hub.subscribe([ETH])
    boundary = eth[100].ts + TF
    clock.set(boundary + hub.grace_ms)
    source.fail_next = 1
    assert await hub.poll(boundary) == [ETH]  # the retry got it
    assert hub.stats.errors == 1


async def test_lockstep_delivers_every_close_in_order_to_every_subscriber():
    hub, source, clock, eth = make()
    seen: dict[int, list[int]] = {0: [], 1: []}

    async def consumer(i: int, keys) -> None:
        sub = hub.subscribe(keys)
        try:
            while True:
                boundary, updated = await sub.next_close()
                seen[i].append(boundary)
                await asyncio.sleep(0.001 * (i + 1))  # slow, differently
        finally:
            sub.close()

    tasks = [asyncio.create_task(consumer(0, [ETH, LTC])), asyncio.create_task(consumer(1, [ETH]))]
    await hub.wait_for_subscribers(2)
    until = eth[100].ts + 30 * TF
    await asyncio.wait_for(hub.run(asyncio.Event(), until_ms=until), 30)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(seen[0]) == 31 and seen[0] == seen[1]
    assert seen[0] == sorted(seen[0]) and seen[0][-1] == until
    assert hub.stats.total == 62  # 2 markets x 31 closes


async def test_wall_clock_hub_waits_for_the_boundary_and_stops_promptly():
    hub = MarketHub(ReplaySource(WallClock(), {}), WallClock())
    stop = asyncio.Event()
    hub.subscribe([MarketKey("x", "A/B", "1d")])
    task = asyncio.create_task(hub.run(stop))
    await asyncio.sleep(0.05)
    assert not task.done() and hub.stats.total == 0  # sleeping, not polling
    stop.set()
    await asyncio.wait_for(task, 5)
