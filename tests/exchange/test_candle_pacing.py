"""Public candle requests of different pairs go concurrently, within the venue's
documented limit (nija_tg/exchange/candle_pacing.py); the gateway sends them on their
own client. Slots are checked on a fake clock (never timed)."""

from __future__ import annotations

import asyncio

from nija_tg.exchange.candle_pacing import CandleLimit, CandlePacer
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from tests.fakes.kraken import KrakenEmulator


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def pacer(limits: dict[str, CandleLimit]) -> tuple[CandlePacer, FakeTime]:
    fake = FakeTime()
    return CandlePacer(limits, now=fake.now, sleep=fake.sleep), fake


def test_kraken_pairs_go_at_once_and_each_pair_once_a_second():
    p, fake = pacer({"kraken": CandleLimit(per_pair_interval_s=1.0)})
    slots = [p.reserve("kraken", f"P{i}/USD") for i in range(50)]
    assert slots == [100.0] * 50  # 50 pairs: no wait at all
    assert p.reserve("kraken", "P0/USD") == 101.0  # the same pair again: a second later
    assert p.reserve("kraken", "P0/USD") == 102.0
    fake.t = 105.0
    assert p.reserve("kraken", "P0/USD") == 105.0  # idle since: at once


def test_bingx_requests_share_one_rate_per_ip():
    p, _ = pacer({"bingx": CandleLimit(per_ip_rate=30.0)})
    slots = [p.reserve("bingx", f"P{i}-USDT") for i in range(31)]
    assert slots[0] == 100.0 and abs(slots[30] - 101.0) < 1e-9  # 30 a second


def test_venues_without_a_documented_candle_limit_are_not_paced():
    p, _ = pacer({"kraken": CandleLimit(per_pair_interval_s=1.0)})
    assert p.paces("kraken") and not p.paces("coinbase")


async def test_the_gateway_sends_candle_requests_of_different_pairs_without_waiting():
    async with KrakenEmulator() as emu:
        gateway = CcxtGateway(exchange_urls={"kraken": emu.base_url}, timeout_ms=3000)
        p, fake = pacer({"kraken": CandleLimit(per_pair_interval_s=1.0)})
        gateway.candle_pacer = p
        try:
            symbols = ["BTC/USD", "ETH/USD", "SOL/USD", "ADA/USD"]
            got = await asyncio.gather(
                *(gateway.fetch_ohlcv("kraken", s, "5m", None, 10) for s in symbols)
            )
            assert all(len(c) == 10 for c in got)
            assert fake.slept == []  # four pairs, nothing waited
            await gateway.fetch_ohlcv("kraken", "BTC/USD", "5m", None, 10)
            assert fake.slept == [1.0]  # the same pair again waits its second
            ohlc = [path for method, path in emu.requests if path.endswith("/OHLC")]
            assert len(ohlc) == 5
        finally:
            await gateway.close_all()
