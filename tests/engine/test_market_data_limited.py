"""Candles by WebSocket with ccxt's rate limiter ON (as in production): the stream
clients' subscribe messages go at ``SUBSCRIBE_RATES`` (nija_tg/exchange/ccxt_stream.py),
not at ccxt's REST spacing (Kraken: one a second, 50 pairs in 50 s), and the emulators
refuse a socket's subscribe messages beyond ``max_subscribes_per_s`` a second."""

from __future__ import annotations

import asyncio

from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from tests.engine.test_market_data import REST, TF, Rig, until

# The emulators' refusal threshold here: three times our pace (10 a second), below a
# burst of 50 (the flood test still sees 20 refused). Neither venue publishes a figure.
# The emulator shares the client's event loop and counts a message when that loop
# reads it, so a stall bunches messages sent 0.1 s apart: at 15 a loaded run of the
# whole suite once saw 2 of 50 refused, at 20 one beside two CPU burners saw 4 (a
# stall of over a second). Our pace itself is tested in tests/exchange/
# test_candle_stream.py (the stream clients' spacing).
FLOOD_LIMIT = 30


class LimitedRig(Rig):
    """``Rig`` (tests/engine/test_market_data.py) whose gateway has ccxt's rate limiter
    on or off as asked."""

    def __init__(self, emu, symbols: list[str], *, rate_limit: bool) -> None:
        from tests.engine.live_child import PacedClock

        self.emu = emu
        rows = emu.candles[symbols[0]]
        self.clock = PacedClock(rows[400][0] + 60_000)
        emu.clock_ms = self.clock.now_ms
        self.gateway = CcxtGateway(
            exchange_urls={emu.exchange_id: emu.base_url},
            enable_rate_limit=rate_limit,
            timeout_ms=3000,
            retry_delay_s=0.02,
        )
        self.hub = MarketHub(
            self.gateway,
            self.clock,
            window=50,
            late_retries=0,
            stream=True,
            stream_retry_s=(0.05, 0.2),
        )
        self.keys = [MarketKey(emu.exchange_id, s, "5m") for s in symbols]
        self.sub = self.hub.subscribe(self.keys)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.hub.run(self.stop))
        self.next = (self.clock.now_ms() // TF + 1) * TF


async def test_fifty_kraken_markets_subscribe_promptly_with_the_limiter_on():
    from tests.fakes.kraken import KrakenEmulator
    from tests.fakes.kraken_markets import PAIRS, more_pairs

    with more_pairs(50 - len(PAIRS)):
        async with KrakenEmulator() as emu:
            emu.ws.max_subscribes_per_s = FLOOD_LIMIT
            symbols = sorted(PAIRS)
            assert len(symbols) == 50
            rig = LimitedRig(emu, symbols, rate_limit=True)
            try:
                assert await rig.close(REST) == (50, 0)  # the first window: REST
                # 50 subscribes at 10 a second: ~5 s (ccxt's REST spacing: 50 s)
                assert await until(rig.live, 20)
                # sockets that went live after the first close's REST fetch began are
                # caught up by REST once (market_data.py: ``suspect``)
                assert sum(await rig.close()) == 50
                for _ in range(2):
                    assert await rig.close() == (0, 50)  # every close pushed, no REST
                await rig.assert_window_matches_the_venue()
                assert len(emu.ws.subscribed) == 50
                assert emu.ws.subscribes_received == 50
                assert emu.ws.refused_subscribes == 0
                assert rig.hub.stats.stream_errors == 0
            finally:
                await rig.shutdown()


async def test_bingx_markets_subscribe_within_the_flood_limit_with_the_limiter_on():
    from tests.fakes.bingx import BingXEmulator
    from tests.fakes.bingx_markets import CONTRACTS, unified

    async with BingXEmulator() as emu:
        emu.ws.max_subscribes_per_s = FLOOD_LIMIT
        every = sorted(s for s in (unified(c) for c in CONTRACTS) if s in emu.candles)
        start = emu.candles[every[0]][400][0]  # contracts whose rows cover the rig's clock
        symbols = [s for s in every if any(r[0] == start for r in emu.candles[s])]
        assert len(symbols) >= 5
        rig = LimitedRig(emu, symbols, rate_limit=True)
        try:
            n = len(symbols)
            assert await rig.close(REST) == (n, 0)
            assert await until(rig.live, 20)
            assert sum(await rig.close()) == n  # a socket live late: caught up by REST
            assert await rig.close() == (0, n)
            assert emu.ws.refused_subscribes == 0
            assert emu.ws.subscribes_received == n
        finally:
            await rig.shutdown()


async def test_a_subscribe_flood_is_refused_and_its_markets_subscribe_again():
    """Without a limiter ccxt sends all 50 subscribes at once: the emulator refuses
    those over its limit (their closes come by REST meanwhile), and they are subscribed
    again after the hub's pause (ccxt_stream.py: a refused subscribe raises and is sent
    again) until every market is pushed by the socket."""
    from tests.fakes.kraken import KrakenEmulator
    from tests.fakes.kraken_markets import PAIRS, more_pairs

    with more_pairs(50 - len(PAIRS)):
        async with KrakenEmulator() as emu:
            emu.ws.max_subscribes_per_s = FLOOD_LIMIT
            symbols = sorted(PAIRS)
            rig = LimitedRig(emu, symbols, rate_limit=False)
            try:
                assert await rig.close(REST) == (50, 0)
                assert await until(lambda: emu.ws.refused_subscribes >= 50 - FLOOD_LIMIT, 20)
                refused = rig.gateway.streams.refused  # as the adapter counted them
                assert await until(lambda: sum(refused.values()) >= 50 - FLOOD_LIMIT, 20)
                assert await until(rig.live, 30)  # every refused market subscribed again
                assert len(emu.ws.subscribed) == 50
                assert sum(await rig.close(REST)) == 50  # caught up by REST once
                assert await rig.close() == (0, 50)  # then every close pushed
                await rig.assert_window_matches_the_venue()
            finally:
                await rig.shutdown()


async def test_a_bingx_subscribe_flood_is_refused_with_its_frequency_limit_code():
    from tests.fakes.bingx import BingXEmulator
    from tests.fakes.bingx_markets import CONTRACTS, unified

    async with BingXEmulator() as emu:
        emu.ws.max_subscribes_per_s = 3
        symbols = sorted(s for s in (unified(c) for c in CONTRACTS) if s in emu.candles)
        rig = LimitedRig(emu, symbols, rate_limit=False)  # all subscribes at once
        try:
            assert await until(lambda: emu.ws.subscribes_received == len(symbols), 20)
            assert emu.ws.refused_subscribes == len(symbols) - 3
            assert len(emu.ws.subscribed) == 3
        finally:
            await rig.shutdown()
