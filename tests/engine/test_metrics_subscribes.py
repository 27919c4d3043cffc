"""The engine's Prometheus metrics show the candle subscribes a venue refused or left
unanswered, per market (``CandleStreams.refused`` / ``unanswered`` of the gateway the
hub reads, nija_tg/engine/metrics.py): the real gateway against the Kraken emulator's
WebSocket v2 feed, scraped over HTTP."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest

from nija_tg.engine.clock import WallClock
from nija_tg.engine.market_data import MarketHub
from nija_tg.engine.metrics import EngineMetrics
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.ccxt_stream import SubscribeRefusedError, SubscribeUnansweredError
from tests.fakes.kraken import KrakenEmulator

REFUSED = 'nija_candle_subscribes_refused_total{exchange="kraken",symbol="ETH/USD",timeframe="5m"}'
UNANSWERED = (
    'nija_candle_subscribes_unanswered_total{exchange="kraken",symbol="BTC/USD",timeframe="5m"}'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_refused_and_unanswered_subscribes_are_served_per_market(db):
    async with KrakenEmulator() as emu:
        rows = emu.candles["ETH/USD"]
        emu.clock_ms = lambda: int(rows[400][0]) + 60_000
        gateway = CcxtGateway(exchange_urls={"kraken": emu.base_url}, enable_rate_limit=False)
        # refusals are told by the venue's answer: a bound they cannot reach on loaded
        # cores (at 0.5 s a slow answer would count as unanswered); the mute one's is short
        gateway.streams.subscribe_answer_s = 30.0
        clock = WallClock()
        metrics = EngineMetrics(
            db, MarketHub(gateway, clock), lambda: 0, lambda: None, lambda: 0,
            now_ms=clock.now_ms,
        )  # fmt: skip
        port = free_port()
        metrics.serve(port, "127.0.0.1")
        try:
            await metrics.refresh()
            before = await asyncio.to_thread(scrape, port)
            assert REFUSED not in before and UNANSWERED not in before
            emu.ws.refuse_subscribes = "Exceeded msg rate"
            for _ in range(2):
                with pytest.raises(SubscribeRefusedError):
                    await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
            emu.ws.refuse_subscribes = None
            emu.ws.mute_subscribes = True
            gateway.streams.subscribe_answer_s = 0.5
            with pytest.raises(SubscribeUnansweredError):
                await asyncio.wait_for(gateway.watch_ohlcv("kraken", "BTC/USD", "5m"), 10)
            await metrics.refresh()
            values = await asyncio.to_thread(scrape, port)
            assert values[REFUSED] == 2 and values[UNANSWERED] == 1
            assert not any(
                "ETH/USD" in name for name in values if "subscribes_unanswered" in name
            )  # each count on its own market
        finally:
            await asyncio.to_thread(metrics.close)
            await gateway.close_all()
