"""A Kraken candle subscribe refused (the venue's ``"success": false`` answer) or left
unanswered: the market hub keeps the market on REST (every close still comes, equal to
the venue's candles), the subscribe is sent again after the hub's growing pause, and
the market is pushed by the socket again once the venue takes it, on the same socket,
without a reconnect. Against the Kraken emulator's WebSocket v2 feed
(tests/fakes/kraken_ws.py: ``refuse_subscribes`` / ``mute_subscribes``).

Without the subscribe check (nija_tg/exchange/ccxt_stream.py) ccxt's watch waits for
ever after a refusal, the subscribe is never sent again and the market stays on REST
until a reconnect: the waits below for the subscribe sent again, and for the markets
live again, fail."""

from __future__ import annotations

import pytest

from tests.engine.test_market_data import REST, Rig, until
from tests.fakes.kraken import KrakenEmulator

SYMBOLS = ["ETH/USD", "BTC/USD"]


def switch(emu: KrakenEmulator, how: str, on: bool) -> None:
    if how == "refused":
        emu.ws.refuse_subscribes = "Exceeded msg rate" if on else None
    else:
        emu.ws.mute_subscribes = on


@pytest.mark.parametrize("how", ["refused", "unanswered"])
async def test_a_refused_subscribe_stays_on_rest_and_is_pushed_once_taken(how):
    async with KrakenEmulator() as emu:
        switch(emu, how, True)
        rig = Rig(emu, SYMBOLS)
        # unanswered: the bound is what ends the wait; refused: the venue's answer does, and
        # a bound it cannot reach keeps a slow answer on loaded cores from counting as
        # unanswered
        rig.gateway.streams.subscribe_answer_s = 0.3 if how == "unanswered" else 30.0
        try:
            assert await rig.close(REST) == (2, 0)  # the first window: REST
            # every market's subscribe answered (or not), then sent again after a pause
            assert await until(lambda: emu.ws.subscribes_received >= 3 * len(SYMBOLS), 20)
            assert not any(s.live for s in rig.hub._streams.values())
            for _ in range(2):
                assert await rig.close(REST) == (2, 0)  # closes by REST after the grace
                await rig.assert_window_matches_the_venue()
            counted = (
                rig.gateway.streams.refused if how == "refused" else rig.gateway.streams.unanswered
            )
            assert all(counted[("kraken", s, "5m")] >= 2 for s in SYMBOLS)
            assert rig.hub.stats.stream_errors >= 2 * len(SYMBOLS)
            if how == "refused":
                assert emu.ws.refused_subscribes >= 2 * len(SYMBOLS)
            assert emu.ws.subscribed == set()
            switch(emu, how, False)  # the venue takes the subscribes now
            assert await until(rig.live, 10), "the markets did not come back to the socket"
            assert emu.ws.connections_made == 1  # the same socket: no reconnect needed
            assert emu.ws.subscribed == {(s, 5) for s in SYMBOLS}
            assert sum(await rig.close(REST)) == 2  # caught up by REST once (suspect)
            for _ in range(2):
                assert await rig.close() == (0, 2)  # pushed again, before the grace
                await rig.assert_window_matches_the_venue()
        finally:
            await rig.shutdown()
