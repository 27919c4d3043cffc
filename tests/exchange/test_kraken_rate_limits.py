"""Kraken's per-key call counter (tests/fakes/kraken_limits.py) against our ccxt client's
throttler (ccxt_factory.token_bucket, ccxt's rolling window): the burst a candle close
makes goes through at once, a long run settles at the counter's decay, and the counter is
never exceeded.

The counter and the client are real (the emulator's opt-in counter, ccxt's own leaky
rolling window configured through its ``tokenBucket`` option). The burst and settle tests run
Kraken's Starter counter (maximum 15, weight 1 per call, ledger/trade history 2) on a
faster clock (decay x10 / x30, in the emulator and in the client alike) so that a
test waits seconds, not minutes; the Starter figures themselves are checked on the
window the factory builds. No assertion is on wall time: a burst shows as the counter
climbing (calls spaced by ccxt's default 3 s would leave it below 1.1 at this decay)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from decimal import Decimal

import aiohttp
import ccxt
import pytest

from nija_tg.core import errors as E
from nija_tg.core.models import OrderRequest, OrderType, Side
from nija_tg.exchange.ccxt_factory import (
    KRAKEN_TIERS,
    CallCounter,
    ClientSettings,
    build_client,
    token_bucket,
)
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.client_ids import new_client_order_id
from tests.fakes.kraken import KrakenEmulator, sign
from tests.fakes.kraken_limits import (
    RATE_LIMIT_EXCEEDED,
    TIERS,
    TRADING_RATE_LIMIT_EXCEEDED,
    KrakenRateLimits,
    KrakenTier,
)

STARTER = TIERS["starter"]
STILL = dataclasses.replace(STARTER, name="starter, no decay", rest_decay_per_s=0.0)


def faster(scale: float) -> tuple[KrakenTier, CallCounter]:
    """Kraken Starter's counter with its decay ``scale`` times faster: the emulator's tier
    and the client's counter, which match."""
    tier = dataclasses.replace(
        STARTER,
        name=f"starter x{scale:g}",
        rest_decay_per_s=STARTER.rest_decay_per_s * scale,
    )
    counter = dataclasses.replace(
        KRAKEN_TIERS["starter"], decay_per_s=KRAKEN_TIERS["starter"].decay_per_s * scale
    )
    return tier, counter


def gateway_for(emu: KrakenEmulator, counter: CallCounter | None = None) -> CcxtGateway:
    gw = CcxtGateway(exchange_urls={"kraken": emu.base_url}, timeout_ms=5000, read_retries=0)
    if counter is not None:
        settings = dataclasses.replace(gw.settings, call_counters={"kraken": counter})
        gw.settings = settings
    return gw


async def idle_for_a_window(counter: CallCounter) -> None:
    """Wait as long as the client's window (as between two closes), so that the calls of
    the loop's start (markets) are out of it."""
    await asyncio.sleep(token_bucket(counter)["windowSize"] / 1000 + 0.2)


# --- the bucket the factory builds --------------------------------------------------------


def test_starter_window_allows_thirteen_calls_then_thirteen_per_decay():
    bucket = token_bucket(KRAKEN_TIERS["starter"])
    assert bucket["algorithm"] == "rollingWindow"
    max_weight = bucket["windowSize"] / bucket["rateLimit"]  # how ccxt derives it
    # ccxt charges a weight-1 Kraken call 3 tokens: 13 calls in any window, two under
    # Kraken's 15 (its counter decays in steps; a call counts on arrival)
    assert max_weight == pytest.approx(3 * 13)
    # 13 units per window no faster than Starter's decay (0.33 / s), with 5 % to spare
    assert 13 / (bucket["windowSize"] / 1000) == pytest.approx(0.33 * 0.95)


def test_only_keyed_kraken_clients_get_the_counter_bucket():
    settings = ClientSettings()
    keyed = build_client("kraken", settings, {"apiKey": "k", "secret": "c2VjcmV0"})
    public = build_client("kraken", settings)
    other = build_client("bingx", settings, {"apiKey": "k", "secret": "s"})
    assert keyed.throttler.config["algorithm"] == "rollingWindow"
    assert keyed.throttler.config["maxWeight"] == pytest.approx(39)
    assert keyed.enableRateLimit
    for default in (public, other):  # ccxt's default spacing
        assert default.throttler.config["algorithm"] == "leakyBucket"
        assert default.throttler.config["capacity"] == 1
    assert keyed.api["private"]["post"]["BalanceEx"]["cost"] == 3  # ccxt's weight-1 cost
    assert keyed.api["private"]["post"]["AddOrder"]["cost"] == 0


# --- the emulator's counter ----------------------------------------------------------------


async def _post(emu: KrakenEmulator, acct, method: str, nonce: int, **params: str) -> dict:
    path = f"/0/private/{method}"
    body = "&".join(f"{k}={v}" for k, v in {"nonce": str(nonce), **params}.items())
    headers = {
        "API-Key": acct.api_key,
        "API-Sign": sign(acct.secret, path, str(nonce), body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(emu.base_url + path, data=body, headers=headers) as resp:
            assert resp.status == 200  # Kraken answers API errors with HTTP 200
            return json.loads(await resp.text())


async def test_emulator_refuses_the_sixteenth_call_as_kraken_does():
    # Starter's maximum, its decay stopped: however slow the machine, 16 calls exceed 15
    async with KrakenEmulator(rate_tier=STILL) as emu:
        acct = emu.add_account()
        other = emu.add_account()
        answers = [await _post(emu, acct, "BalanceEx", n) for n in range(1, 17)]
        assert all(a["error"] == [] for a in answers[:15])
        assert answers[15] == {"error": [RATE_LIMIT_EXCEEDED], "result": {}}
        assert emu.limits.rest_peak(acct.api_key) == 15
        # per key: another key of the same venue is not limited
        assert (await _post(emu, other, "Balance", 1))["error"] == []
        # orders are not on the REST counter (their own per-pair limiter)
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"}
        added = await _post(emu, acct, "AddOrder", 100, **order)
        assert added["error"] == [], added
        pair_counter = emu.limits.trading[(acct.api_key, "BTC/USD")]
        assert pair_counter.value == pytest.approx(1, abs=0.05)


async def test_trade_history_weighs_two():
    async with KrakenEmulator(rate_tier=STILL) as emu:
        acct = emu.add_account()
        answers = [await _post(emu, acct, "TradesHistory", n) for n in range(1, 9)]
        assert [a["error"] for a in answers] == [[]] * 7 + [[RATE_LIMIT_EXCEEDED]]
        assert [v for _k, _m, v, _t in emu.limits.counted] == [2, 4, 6, 8, 10, 12, 14]
        # a weight-1 call still fits (15), and then nothing does
        assert (await _post(emu, acct, "Balance", 9))["error"] == []
        assert (await _post(emu, acct, "OpenOrders", 10))["error"] == [RATE_LIMIT_EXCEEDED]


def test_the_counter_decays_at_the_tier_rate():
    now = [100.0]
    limits = KrakenRateLimits(STARTER, now=lambda: now[0])
    for _ in range(15):
        assert limits.admit("key", "BalanceEx", None) is None
    assert limits.admit("key", "BalanceEx", None) == RATE_LIMIT_EXCEEDED
    now[0] += 3.0  # 0.99 decayed: still no room for one
    assert limits.admit("key", "BalanceEx", None) == RATE_LIMIT_EXCEEDED
    now[0] += 0.1  # 1.023 decayed
    assert limits.admit("key", "BalanceEx", None) is None
    now[0] += 1000
    assert limits.rest_counter("key").current(now[0]) == 0
    assert limits.rest_peak("key") == 15


async def test_trading_counter_refuses_past_the_threshold_per_pair():
    tier = dataclasses.replace(STARTER, trading_max=3, trading_decay_per_s=0.001)
    async with KrakenEmulator(rate_tier=tier) as emu:
        acct = emu.add_account({"USD": Decimal(1_000_000)})
        order = {"type": "buy", "ordertype": "limit", "price": "1000", "volume": "0.01"}
        for n in range(1, 4):
            assert (await _post(emu, acct, "AddOrder", n, pair="XBTUSD", **order))["error"] == []
        refused = await _post(emu, acct, "AddOrder", 4, pair="XBTUSD", **order)
        assert refused["error"] == [TRADING_RATE_LIMIT_EXCEEDED]
        # another pair has its own counter
        eth = {**order, "price": "100"}
        assert (await _post(emu, acct, "AddOrder", 5, pair="ETHUSD", **eth))["error"] == []
        # a cancel within 5 s of placing adds 8
        txid = (await _post(emu, acct, "OpenOrders", 6))["result"]["open"]
        eth_id = next(t for t, o in txid.items() if o["descr"]["pair"] == "ETHUSD")
        assert (await _post(emu, acct, "CancelOrder", 7, txid=eth_id))["error"] == []
        assert emu.limits.trading[(acct.api_key, "ETH/USD")].value == pytest.approx(9, abs=0.1)


async def test_refused_call_reaches_our_code_as_rate_limited():
    async with KrakenEmulator(rate_tier=STILL) as emu:
        acct = emu.add_account()
        gw = gateway_for(emu)
        gw.settings = dataclasses.replace(gw.settings, enable_rate_limit=False)
        account = gw.account(1, "kraken", emu.credentials(acct))
        try:
            with pytest.raises(E.RateLimitedError):
                for _ in range(20):
                    await account.fetch_balance()
            raw = build_client("kraken", gw.settings, emu.credentials(acct))
            try:
                with pytest.raises(ccxt.DDoSProtection):
                    await raw.fetch_balance()
            finally:
                await raw.close()
        finally:
            await gw.close_all()


# --- our client against the counter --------------------------------------------------------


async def test_a_close_burst_goes_through_without_spacing_or_refusal():
    """What a close costs a live Kraken user: balance, open orders, a market order (ticker,
    AddOrder, QueryOrders) and the order's lookup by client id, back to back."""
    tier, counter = faster(10)
    async with KrakenEmulator(rate_tier=tier) as emu:
        acct = emu.add_account({"USD": Decimal(100_000)})
        gw = gateway_for(emu, counter)
        account = gw.account(1, "kraken", emu.credentials(acct))
        try:
            await account.market("BTC/USD")  # markets loaded at the loop's start (public)
            await idle_for_a_window(counter)
            start = len(emu.limits.counted)
            await account.fetch_balance()
            await account.fetch_open_orders()
            cid = new_client_order_id("kraken", 1)
            req = OrderRequest("BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.01"), cid)
            placed = await account.create_order(req)
            assert placed.filled > 0
            found = await account.fetch_order_by_client_id("BTC/USD", cid)
            assert found is not None and found.client_order_id == cid
        finally:
            await gw.close_all()
        burst = emu.limits.counted[start:]
        methods = [m for _k, m, _v, _t in burst]
        assert methods[:3] == ["BalanceEx", "OpenOrders", "QueryOrders"]
        assert emu.limits.refused == []
        peak = max(v for _k, _m, v, _t in burst)
        assert peak <= tier.rest_max
        # back to back: the counter climbed (ccxt's default 3 s spacing, 30 s of Starter
        # decay on this clock, keeps it at 1; the bound leaves ~0.75 s for 5 calls)
        assert len(burst) >= 5
        assert peak >= 2.5, burst


async def test_a_long_run_settles_at_the_decay_without_refusal():
    """39 balance reads queued at once (as the markets of one user at a close), three
    windows' worth. They go one at a time, as every private call of one Kraken key must
    (its nonce has to grow; CcxtAccount holds a lock)."""
    tier, counter = faster(15)
    async with KrakenEmulator(rate_tier=tier) as emu:
        acct = emu.add_account()
        gw = gateway_for(emu, counter)
        account = gw.account(1, "kraken", emu.credentials(acct))
        try:
            await account.market("BTC/USD")
            await idle_for_a_window(counter)
            start = len(emu.limits.counted)
            await asyncio.gather(*(account.fetch_balance() for _ in range(39)))
        finally:
            await gw.close_all()
        run = emu.limits.counted[start:]
        assert len(run) == 39
        assert emu.limits.refused == []
        values = [v for _k, _m, v, _t in run]
        assert max(values) <= tier.rest_max
        # each window's 13 calls went back to back as the earlier ones left it: the
        # counter climbed near its ceiling again and again (calls spaced by the decay or
        # slower keep it near 1; the bound leaves ~0.8 s for 13 calls)
        for first in (0, 13, 26):
            assert max(values[first : first + 13]) >= 9, values
