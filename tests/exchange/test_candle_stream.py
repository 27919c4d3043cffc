"""The gateway's WebSocket side (nija_tg/exchange/ccxt_stream.py): which venues push
candles through ccxt.pro, and the base-URL override reaching their WebSocket URLs
(``urls['api']['ws']``) with a WebSocket scheme."""

from __future__ import annotations

import asyncio

import pytest

from nija_tg.core.errors import RetryableError
from nija_tg.exchange.ccxt_factory import ClientSettings, build_client, stream_class
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.ccxt_stream import SUBSCRIBE_RATES, stream_settings
from tests.fakes.kraken import KrakenEmulator


def test_which_venues_push_candles():
    assert stream_class("kraken") is not None
    assert stream_class("bingx") is not None
    assert stream_class("coinbase") is None  # ccxt.pro has no watchOHLCV for it


@pytest.mark.parametrize(
    ("exchange_id", "base", "key", "want"),
    [
        ("kraken", "http://127.0.0.1:8001", "publicV2", "ws://127.0.0.1:8001/v2"),
        ("kraken", "https://proxy.example", "publicV2", "wss://proxy.example/v2"),
        ("bingx", "http://127.0.0.1:8002", "linear", "ws://127.0.0.1:8002/swap-market"),
    ],
)
def test_the_base_url_override_reaches_the_websocket_urls(exchange_id, base, key, want):
    settings = ClientSettings(exchange_urls={exchange_id: base})
    client = build_client(exchange_id, settings, klass=stream_class(exchange_id))
    assert client.urls["api"]["ws"][key] == want


async def test_a_refused_socket_is_a_retryable_error_and_a_later_call_reconnects():
    async with KrakenEmulator() as emu:
        rows = emu.candles["ETH/USD"]
        emu.clock_ms = lambda: int(rows[400][0]) + 60_000
        gateway = CcxtGateway(exchange_urls={"kraken": emu.base_url}, enable_rate_limit=False)
        try:
            emu.ws.refuse = True
            with pytest.raises(RetryableError):
                await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
            emu.ws.refuse = False
            candles = await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
            assert [c.ts for c in candles] == [int(rows[400][0])]  # the forming candle
            assert candles[0].open == candles[0].close  # its first trade only
        finally:
            await gateway.close_all()


def test_streaming_can_be_switched_off():
    gateway = CcxtGateway(stream_candles=False)
    assert not gateway.streams_candles("kraken")


@pytest.mark.parametrize("exchange_id", ["kraken", "bingx"])
def test_stream_clients_space_subscribes_at_the_ws_rate_not_the_rest_one(exchange_id):
    """ccxt.pro spaces a socket's subscribe messages ``options['ws']['cost'] *
    rateLimit`` ms apart when its limiter is on; ours get 1 / SUBSCRIBE_RATES (100 ms),
    whatever the REST ``rateLimit`` (Kraken 1000 ms, BingX 100 ms)."""
    klass = stream_class(exchange_id)
    settings = stream_settings(exchange_id, ClientSettings(), klass)
    client = build_client(exchange_id, settings, klass=klass)
    spacing_ms = client.options["ws"]["cost"] * client.rateLimit
    assert spacing_ms == pytest.approx(1000.0 / SUBSCRIBE_RATES[exchange_id])
    assert spacing_ms == pytest.approx(100.0)
    assert client.enableRateLimit  # the limiter stays on: only the pace changes
    if exchange_id == "bingx":
        assert client.options["ws"]["gunzip"] is True  # ccxt's own ws options kept
    given = ClientSettings(exchange_options={exchange_id: {"ws": {"cost": 3}}})
    assert (
        build_client(exchange_id, stream_settings(exchange_id, given, klass), klass=klass).options[
            "ws"
        ]["cost"]
        == 3
    )  # an explicit option wins
