"""Issue 12 item 10: an answer that proves the exchange did not process the order (HTTP
429 / Kraken ``EAPI:Rate limit exceeded``, a stale nonce) is a rejection without any
look-up: the loop is not held for the look-up window, an exit or a stop goes out again
at once (a new order) instead of candles later, an entry waits for the next signal. An
unknown outcome (HTTP 500 without a body that proves anything) keeps the look-up.

The real daemon trades a LIVE user on the Kraken emulator (tests/engine/kraken_live.py)
whose fault injection answers the chosen order requests; the executor is the real one,
with a long look-up window (7 s) so that a look-up cannot hide, and a count of the
look-ups it makes per client order id."""

from __future__ import annotations

import functools
import time
from collections import Counter
from decimal import Decimal

import pytest

from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.execution import NOT_FOUND, NOT_PROCESSED, Executor
from tests.engine.kraken_live import (
    ADD_ORDER,
    ALWAYS_IN,
    AlwaysInParams,
    KrakenLive,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.live_child import FLIPFLOP, FlipFlopParams
from tests.engine.rig_fixtures import strategies_fixture

UID = 71
LOOKUP_BACKOFF = 1.0  # look-ups after an unknown outcome wait 1 + 2 + 4 s


class CountingExecutor(Executor):
    """The real executor, counting its look-ups by client order id."""

    def __init__(self, *args, lookups: Counter[str], **kw) -> None:
        super().__init__(*args, **kw)
        self.lookups_by_cid = lookups

    async def _lookup(self, order, attempts):
        self.lookups_by_cid[order.client_order_id] += attempts
        return await super()._lookup(order, attempts)


_test_strategies = strategies_fixture(register_test_strategies, unregister_test_strategies)


@pytest.fixture
def lookups() -> Counter[str]:
    return Counter()


@pytest.fixture
async def rig(settings, db, vault, lookups):
    r = KrakenLive(settings, db, vault, UID)
    r.executor_factory = functools.partial(
        CountingExecutor, lookups=lookups, lookup_attempts=3, lookup_backoff=LOOKUP_BACKOFF
    )
    yield r
    await r.close()


def risk(strategy: str, params, **kw) -> RiskSettings:
    return RiskSettings(
        strategy=strategy,
        strategy_params=params,
        allowed_pairs=("ETH",),
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
        **kw,
    )


async def timed_step(rig: KrakenLive) -> float:
    began = time.monotonic()
    await rig.step()
    return time.monotonic() - began


async def until_position(rig: KrakenLive, candles: int = 4) -> None:
    for _ in range(candles):
        await rig.step()
        if "ETH/USD" in await rig.positions():
            return
    raise AssertionError("no entry")


@pytest.mark.parametrize("fault", ["http_429", "stale_nonce"])
async def test_not_processed_entry_is_rejected_without_lookup_and_waits_for_the_next_signal(
    rig, lookups, fault
):
    await rig.start(risk(ALWAYS_IN, AlwaysInParams(stop_pct=50.0), trailing_stop=False))
    rig.emu.faults.arm(fault, 1, only_paths=(ADD_ORDER,))
    took = await timed_step(rig)
    assert (fault, ADD_ORDER) in rig.emu.faults.fired
    (first,) = await rig.orders()
    assert first["status"] == "rejected" and first["error"].startswith(NOT_PROCESSED)
    assert lookups[first["client_order_id"]] == 0
    assert took < LOOKUP_BACKOFF * 7 - 2, took  # not held for the look-up window
    assert await rig.positions() == {}  # an entry is not resent within the candle
    await rig.step()  # the next candle's signal enters
    assert "ETH/USD" in await rig.positions()
    assert not [t for t in await rig.outbox("error")]  # nothing to tell


async def test_rate_limited_exit_goes_out_again_in_the_same_candle(rig, lookups):
    """Enter, exit, enter ... every other candle; the exit's order is answered 429: a
    new exit order goes out at once and the position is closed in that same candle."""
    await rig.start(risk(FLIPFLOP, FlipFlopParams(period=2, phase=0, stop_pct=3.0)))
    await until_position(rig)
    rig.emu.faults.arm("http_429", 1, only_paths=(ADD_ORDER,))
    took = await timed_step(rig)  # the exit candle
    assert ("http_429", ADD_ORDER) in rig.emu.faults.fired
    assert "ETH/USD" not in await rig.positions()  # closed in the candle of the signal
    sells = [r for r in await rig.orders() if r["side"] == "sell"]
    assert [r["status"] for r in sells] == ["rejected", "filled"]
    assert sells[0]["error"].startswith(NOT_PROCESSED)
    assert sells[0]["client_order_id"] != sells[1]["client_order_id"]
    assert sum(lookups[r["client_order_id"]] for r in sells) == 0
    assert took < LOOKUP_BACKOFF * 7 - 2, took
    assert rig.emu.orders_for_client_id(rig.acct, sells[0]["client_order_id"]) == []
    assert len(await rig.outbox("fill")) == 2  # the entry and the exit; no error message
    assert await rig.outbox("error") == []


async def test_rate_limited_stop_close_goes_out_in_the_candle_that_hit_the_stop(rig, lookups):
    """The engine's own stop (Kraken refuses stop-loss orders here): the candle crosses
    the stop, the close is answered 429, the close goes out again at once."""
    rig.emu.refused_ordertypes.add("stop-loss")
    await rig.start(risk(ALWAYS_IN, AlwaysInParams(stop_pct=0.3), trailing_stop=False))
    await until_position(rig)
    rig.emu.faults.arm("http_429", 1, only_paths=(ADD_ORDER,))
    for _ in range(12):
        took = await timed_step(rig)
        if rig.emu.faults.fired[-1:] == [("http_429", ADD_ORDER)]:
            break
    else:
        raise AssertionError("the candles should cross a 0.3% stop")
    closes = [r for r in await rig.orders() if r["side"] == "sell"]
    assert [r["purpose"] for r in closes] == ["stop", "stop"]
    assert [r["status"] for r in closes] == ["rejected", "filled"]
    assert closes[0]["error"].startswith(NOT_PROCESSED)
    assert sum(lookups[r["client_order_id"]] for r in closes) == 0
    assert took < LOOKUP_BACKOFF * 7 - 2, took
    stops = await rig.outbox("stop")
    assert len(stops) == 1 and "Stop hit" in stops[0]


async def test_http_500_without_a_body_is_still_an_unknown_outcome_looked_up(rig, lookups):
    """A 5xx whose body proves nothing: the order may exist, so it is looked up by client
    id (here the exchange never had it: rejected "not found after unknown outcome")."""
    await rig.start(risk(ALWAYS_IN, AlwaysInParams(stop_pct=50.0), trailing_stop=False))
    rig.emu.faults.arm("http_500", 1, only_paths=(ADD_ORDER,))
    await rig.step()
    (first,) = await rig.orders()
    assert first["status"] == "rejected" and first["error"] == NOT_FOUND
    assert lookups[first["client_order_id"]] == 3
