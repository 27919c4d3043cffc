"""The emulators' WebSocket candle feeds on the wire (tests/fakes/emulator_ws.py): what
a client that is not ccxt sees. Kraken v2 ``ohlc``: status on connect, one ack per
symbol, a snapshot, updates when the clock enters a new candle, ping/pong. BingX swap
K-lines: every frame gzip-compressed, ``Ping`` from the server, ack by ``id``, pushes
with ``T`` the open time."""

from __future__ import annotations

import gzip
import json

import aiohttp

from tests.fakes.bingx import BingXEmulator
from tests.fakes.kraken import KrakenEmulator

TF = 300_000


async def test_kraken_v2_ohlc_on_the_wire():
    async with KrakenEmulator() as emu:
        rows = emu.candles["ETH/USD"]
        now = {"t": int(rows[400][0]) + 60_000}
        emu.clock_ms = lambda: now["t"]
        async with aiohttp.ClientSession() as session:
            url = emu.base_url.replace("http://", "ws://") + "/v2"
            async with session.ws_connect(url) as ws:
                status = await ws.receive_json(timeout=5)
                assert status["channel"] == "status" and status["data"][0]["api_version"] == "v2"
                sub = {"channel": "ohlc", "symbol": ["ETH/USD", "NOPE/USD"], "interval": 5}
                await ws.send_json({"method": "subscribe", "params": sub, "req_id": 7})
                got: list[dict] = []
                while len([m for m in got if m.get("channel") != "heartbeat"]) < 3:
                    got.append(await ws.receive_json(timeout=5))
                acks = [m for m in got if m.get("method") == "subscribe"]
                assert {a["success"] for a in acks} == {True, False}
                ok = next(a for a in acks if a["success"])
                assert ok["req_id"] == 7 and ok["result"]["symbol"] == "ETH/USD"
                snap = next(m for m in got if m.get("channel") == "ohlc")
                assert snap["type"] == "snapshot"
                candle = snap["data"][0]
                assert candle["interval"] == 5 and candle["symbol"] == "ETH/USD"
                assert candle["interval_begin"].endswith(":00.000000000Z")
                now["t"] += TF  # the next candle starts: the closed one's final state, then it
                await emu.ws.push()
                updates = []
                while len(updates) < 2:
                    msg = await ws.receive_json(timeout=5)
                    if msg.get("channel") == "ohlc":
                        updates.append(msg)
                assert [u["type"] for u in updates] == ["update", "update"]
                closed = updates[0]["data"][0]
                assert closed["close"] == float(f"{rows[400][4]:.2f}")
                await ws.send_json({"method": "ping", "req_id": 9})
                while (msg := await ws.receive_json(timeout=5)).get("method") != "pong":
                    assert msg.get("channel") in ("heartbeat", "ohlc")
                assert msg["req_id"] == 9


async def test_bingx_swap_klines_are_gzip_frames():
    async with BingXEmulator() as emu:
        rows = emu.candles["ETH/USDT:USDT"]
        emu.clock_ms = lambda: int(rows[400][0]) + 60_000
        emu.ws.ping_every_s = 0.2
        async with aiohttp.ClientSession() as session:
            url = emu.base_url.replace("http://", "ws://") + "/swap-market"
            async with session.ws_connect(url) as ws:
                await ws.send_str(
                    json.dumps({"id": "a1", "reqType": "sub", "dataType": "ETH-USDT@kline_5m"})
                )
                frames = []
                while len(frames) < 3:
                    msg = await ws.receive(timeout=5)
                    assert msg.type == aiohttp.WSMsgType.BINARY  # every frame compressed
                    frames.append(gzip.decompress(msg.data).decode())
                assert "Ping" in frames
                parsed = [json.loads(f) for f in frames if f != "Ping"]
                ack = next(p for p in parsed if p.get("id") == "a1")
                assert ack["code"] == 0
                push = next(p for p in parsed if p.get("dataType") == "ETH-USDT@kline_5m")
                assert push["s"] == "ETH-USDT" and push["data"][0]["T"] == int(rows[400][0])
                await ws.send_str("Pong")
