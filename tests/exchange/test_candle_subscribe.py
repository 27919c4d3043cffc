"""A candle subscribe that Kraken refuses, or leaves unanswered, against the Kraken
emulator's WebSocket v2 feed (nija_tg/exchange/ccxt_stream.py). Without the check,
ccxt's Kraken client files the refusal under its ``req_id`` and ``watch_ohlcv`` waits
for ever (the subscribe is never sent again on that socket); with it, the call raises a
retryable error at once (refused) or after the bound (unanswered), and the next call
subscribes again."""

from __future__ import annotations

import asyncio
import time

import pytest

from nija_tg.core.errors import RetryableError
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.ccxt_stream import SubscribeRefusedError, SubscribeUnansweredError
from tests.fakes.kraken import KrakenEmulator

REFUSAL = "Exceeded msg rate"  # Kraken's wording for a refused request rate


async def pushed_until(gateway: CcxtGateway, symbol: str, ts: int) -> list[int]:
    """Open times of the candles pushed until the one opening at ``ts`` came."""
    seen: list[int] = []
    while ts not in seen:
        candles = await asyncio.wait_for(gateway.watch_ohlcv("kraken", symbol, "5m"), 10)
        seen += [c.ts for c in candles]
    return seen


@pytest.fixture
async def kraken():
    async with KrakenEmulator() as emu:
        rows = emu.candles["ETH/USD"]
        emu.clock_ms = lambda: int(rows[400][0]) + 60_000
        gateway = CcxtGateway(exchange_urls={"kraken": emu.base_url}, enable_rate_limit=False)
        gateway.streams.subscribe_answer_s = 1.0
        try:
            yield emu, gateway
        finally:
            await gateway.close_all()


async def test_a_refused_subscribe_raises_at_once_and_the_next_call_subscribes_again(
    kraken, caplog
):
    emu, gateway = kraken
    emu.ws.refuse_subscribes = REFUSAL
    # the answer, not the bound: raised within 10 s under a 30 s bound (a wall-clock
    # bound under the 1 s one fails on loaded cores: the call connects first)
    gateway.streams.subscribe_answer_s = 30.0
    with pytest.raises(SubscribeRefusedError) as raised:
        await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
    assert isinstance(raised.value, RetryableError) and REFUSAL in str(raised.value)
    assert emu.ws.refused_subscribes == 1 and emu.ws.subscribed == set()
    assert gateway.streams.refused[("kraken", "ETH/USD", "5m")] == 1
    assert "subscribe refused (Exceeded msg rate)" in caplog.text
    # refused again: sent again (same socket), refused again
    with pytest.raises(SubscribeRefusedError):
        await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
    assert emu.ws.subscribes_received == 2 and emu.ws.connections_made == 1
    emu.ws.refuse_subscribes = None  # the venue takes it now
    candles = await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
    assert [c.ts for c in candles] == [int(emu.candles["ETH/USD"][400][0])]
    assert emu.ws.subscribed == {("ETH/USD", 5)} and emu.ws.connections_made == 1
    # subscribed: the next call waits for the next push, no subscribe sent
    emu.clock_ms = lambda: int(emu.candles["ETH/USD"][401][0]) + 1_000
    await pushed_until(gateway, "ETH/USD", int(emu.candles["ETH/USD"][401][0]))
    assert emu.ws.subscribes_received == 3


async def test_an_unanswered_subscribe_raises_after_the_bound_and_is_sent_again(kraken):
    emu, gateway = kraken
    emu.ws.mute_subscribes = True
    began = time.monotonic()
    with pytest.raises(SubscribeUnansweredError):
        await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
    assert 0.9 <= time.monotonic() - began < 5.0
    assert gateway.streams.unanswered[("kraken", "ETH/USD", "5m")] == 1
    emu.ws.mute_subscribes = False
    candles = await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
    assert [c.ts for c in candles] == [int(emu.candles["ETH/USD"][400][0])]
    assert emu.ws.subscribes_received == 2 and emu.ws.connections_made == 1


async def test_one_refused_market_leaves_the_others_on_the_socket(kraken):
    """Refusals are per request: BTC/USD refused, ETH/USD (already pushing) goes on."""
    emu, gateway = kraken
    gateway.streams.subscribe_answer_s = 30.0  # a refusal, not the bound (loaded cores)
    first = await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
    assert first
    emu.ws.refuse_subscribes = REFUSAL
    with pytest.raises(SubscribeRefusedError):
        await asyncio.wait_for(gateway.watch_ohlcv("kraken", "BTC/USD", "5m"), 10)
    emu.clock_ms = lambda: int(emu.candles["ETH/USD"][401][0]) + 1_000
    await pushed_until(gateway, "ETH/USD", int(emu.candles["ETH/USD"][401][0]))
    assert emu.ws.subscribed == {("ETH/USD", 5)} and emu.ws.connections_made == 1


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_a_late_subscribe_answered_already_subscribed_keeps_the_market(kraken, caplog):
    """Kraken takes a subscribe but answers after the bound: the call raises (unanswered)
    and the market is dropped from ccxt's subscriptions, while the venue has it. The next
    call's subscribe is a duplicate, refused "Already subscribed": no refusal, the market
    is kept and its candles come; no subscribe is sent again after that."""
    emu, gateway = kraken
    market = ("kraken", "ETH/USD", "5m")
    emu.ws.subscribe_delay_s = 1.5  # over the 1 s bound
    with pytest.raises(SubscribeUnansweredError):
        await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
    emu.ws.subscribe_delay_s = 0.0
    await until(lambda: emu.ws.subscribed == {("ETH/USD", 5)})  # the late answer: taken
    # and its first candles read by the client before the next call: read after it, they
    # would be that call's answer (a loaded machine once read them late: call done below)
    stream_client = gateway.streams._clients["kraken"]  # noqa: SLF001 - ccxt's cache
    await until(lambda: stream_client.ohlcvs.get("ETH/USD", {}).get("5m"))
    rows = emu.candles["ETH/USD"]
    emu.ws.frozen = True  # the venue's answer first, then its candles
    emu.clock_ms = lambda: int(rows[401][0]) + 1_000
    call = asyncio.create_task(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"))
    await until(lambda: emu.ws.duplicate_subscribes == 1)  # refused as a duplicate
    await asyncio.sleep(0.3)  # the answer reaches the client (a refusal ended the call)
    assert not call.done()  # taken as subscribed: waiting for candles
    emu.ws.frozen = False
    got = await asyncio.wait_for(call, 10)
    assert got and max(c.ts for c in got) <= int(rows[401][0])
    for i in (1, 2):  # the next closes come on the socket, no subscribe sent
        emu.clock_ms = lambda i=i: int(rows[401 + i][0]) + 1_000
        got = await asyncio.wait_for(gateway.watch_ohlcv("kraken", "ETH/USD", "5m"), 10)
        assert got and max(c.ts for c in got) <= int(rows[401 + i][0])
    assert emu.ws.duplicate_subscribes == 1 and emu.ws.subscribes_received == 2
    assert gateway.streams.already[market] == 1 and gateway.streams.refused[market] == 0
    assert gateway.streams.unanswered[market] == 1 and emu.ws.connections_made == 1
    assert "subscribe refused" not in caplog.text


async def test_the_emulator_refuses_a_duplicate_subscribe_as_kraken_does():
    """Kraken's answer to a subscribe for a market the connection has: ``success`` false,
    ``error`` "Already subscribed", the symbol and ``req_id`` echoed; nothing sent again."""
    import aiohttp

    async with KrakenEmulator() as emu:
        rows = emu.candles["ETH/USD"]
        emu.clock_ms = lambda: int(rows[400][0]) + 60_000
        url = emu.base_url.replace("http://", "ws://") + "/v2"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            request = {"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["ETH/USD"],
                                                         "interval": 5}}  # fmt: skip
            answers = []
            for req_id in (1, 2):
                await ws.send_json(request | {"req_id": req_id})
                while True:
                    msg = await asyncio.wait_for(ws.receive_json(), 5)
                    if msg.get("method") == "subscribe":
                        answers.append(msg)
                        break
            assert answers[0]["success"] is True and answers[0]["req_id"] == 1
            dup = answers[1]
            assert dup["success"] is False and dup["error"] == "Already subscribed"
            assert dup["symbol"] == "ETH/USD" and dup["req_id"] == 2
            assert emu.ws.duplicate_subscribes == 1 and emu.ws.subscribed == {("ETH/USD", 5)}
