"""Issue 12 item 11: what the exchange refuses is told to the user, once per distinct
refusal; a "Stop hit" survives the engine dying between the fill and the message; prices
are printed at the market's precision.

The real daemon trades a LIVE user on the Kraken emulator (tests/engine/kraken_live.py).
Insufficient funds: the emulator's price is pinned 1.5 times the close the loop sizes
with, so the exchange refuses the entry the engine sized to the free cash."""

from __future__ import annotations

import asyncio
import functools
import re
from decimal import Decimal

from nija_tg.core.number_format import price as fmt_price
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.execution import FUNDS, Executor
from nija_tg.storage import orders as orders_repo
from tests.engine.kraken_live import (
    ALWAYS_IN,
    TF,
    AlwaysInParams,
    KrakenLive,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.live_child import FLIPFLOP, FlipFlopParams
from tests.engine.live_rig import until
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture

UID = 81


_test_strategies = strategies_fixture(register_test_strategies, unregister_test_strategies)


rig = rig_fixture(lambda s, d, v: KrakenLive(s, d, v, UID, drain_s=1.0))


def flipflop_risk(**kw) -> RiskSettings:
    return RiskSettings(
        strategy=FLIPFLOP,
        strategy_params=FlipFlopParams(period=2, phase=0, stop_pct=0.2),  # size > the cash
        allowed_pairs=("ETH",),
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
        **kw,
    )


async def entries(rig: KrakenLive) -> list:
    return [r for r in await rig.orders() if r["purpose"] == "entry"]


async def test_insufficient_funds_on_entry_is_told_once_per_run_with_the_amounts(rig):
    rig.pin_prices, rig.pin_factor = True, Decimal("1.5")
    await rig.start(flipflop_risk(), usd=Decimal(100))
    await rig.step(2)  # one entry signal every other candle
    (first,) = await entries(rig)
    assert first["status"] == "rejected" and first["refusal"] == FUNDS
    (told,) = await rig.outbox("error")
    assert told.startswith("⚠️ Not enough funds for the <b>ETH/USD</b> entry: ")
    needed = Decimal(re.search(r"needed about ([\d,.]+) USD", told)[1].replace(",", ""))
    assert Decimal(140) < needed < Decimal(155)  # 99 USD of ETH at 1.5 times the price
    assert "and 100.00 USD is free on kraken" in told
    assert "Nothing was opened" in told
    await rig.step(4)  # refused on every entry signal: not told again
    assert [r["status"] for r in await entries(rig)] == ["rejected"] * 3
    assert len(await rig.outbox("error")) == 1
    await rig.restart()  # the run is read from the orders: a restart does not repeat it
    await rig.step(2)
    assert len(await entries(rig)) == 4 and len(await rig.outbox("error")) == 1
    rig.pin_factor = Decimal(1)  # the entry succeeds: the run of refusals ends
    await rig.step(2)
    assert (await entries(rig))[-1]["status"] == "filled"
    rig.pin_factor = Decimal("1.5")
    await rig.step(2)  # flat again (the flip-flop exited), refused again: told again
    assert (await entries(rig))[-1]["status"] == "rejected"
    assert len(await rig.outbox("error")) == 2


async def test_refused_entry_is_told_with_the_venues_reason_once_until_it_changes(rig):
    rig.emu.refused_ordertypes.add("market")  # Kraken refuses the order outright
    rig.pin_prices = True
    await rig.start(flipflop_risk(), usd=Decimal(100))
    await rig.step(6)
    refused = await entries(rig)
    assert len(refused) == 3 and all(r["status"] == "rejected" for r in refused)
    assert len({r["refusal"] for r in refused}) == 1 and refused[0]["refusal"] != FUNDS
    (told,) = await rig.outbox("error")
    assert told == (
        "⚠️ The exchange refused the <b>ETH/USD</b> entry: The exchange rejected the order. "
        "Nothing was opened; the engine tries again on the next signal."
    )
    rig.emu.refused_ordertypes.discard("market")
    rig.pin_factor = Decimal("1.5")  # now refused for another reason: told
    await rig.step(2)
    assert (await entries(rig))[-1]["refusal"] == FUNDS
    errors = await rig.outbox("error")
    assert len(errors) == 2 and errors[1].startswith("⚠️ Not enough funds")


class DiesAfterTheStopClose(Executor):
    """The executor of an engine killed right after the exchange executed the close of a
    position whose stop was hit, before anything was recorded: the process is gone, so
    the submit never comes back (it hangs here; the test cancels it, as a kill would)."""

    hung: asyncio.Event
    task: asyncio.Task | None = None

    async def _send(self, request):
        row = await orders_repo.get_by_client_id(self.db, self.user_id, request.client_order_id)
        state = await super()._send(request)
        if row is not None and row.purpose == "stop" and not row.native_stop:
            DiesAfterTheStopClose.task = asyncio.current_task()
            DiesAfterTheStopClose.hung.set()
            await asyncio.Event().wait()
        return state


async def test_stop_hit_of_an_engine_killed_after_the_fill_is_told_after_the_restart(rig):
    """Engine-side stop (Kraken refuses stop-loss orders here), tight, not trailed. The
    engine dies once the exchange executed the stop's close; at the restart the fill is
    recorded by the reconciliation, and with it the "Stop hit" message, the stop price
    at the market's precision (ETH/USD: 0.01)."""
    rig.emu.refused_ordertypes.add("stop-loss")
    DiesAfterTheStopClose.hung = asyncio.Event()
    rig.executor_factory = functools.partial(
        DiesAfterTheStopClose, lookup_attempts=3, lookup_backoff=0.05
    )
    risk = RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=0.3),
        allowed_pairs=("ETH",),
        trailing_stop=False,
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )
    await rig.start(risk)
    await rig.step()
    pos = (await rig.positions())["ETH/USD"]
    assert len(str(pos.stop_price).partition(".")[2]) > 2  # computed: finer than 0.01
    hub, hung = rig.hub, DiesAfterTheStopClose.hung

    def handled(boundary: int) -> bool:
        return hung.is_set() or (hub.published >= boundary and hub._all_idle())

    for _ in range(12):  # candles until one crosses the stop (the close then hangs)
        assert await until(lambda: hub.waiting_for is not None)
        rig.clock.set(rig.clock.now_ms() + TF)
        assert await until(functools.partial(handled, rig.clock.now_ms() // TF * TF))
        if hung.is_set():
            break
    else:
        raise AssertionError("the candles should cross a 0.3% stop")
    (close,) = [r for r in await rig.orders() if r["purpose"] == "stop"]
    assert close["status"] == "submitted"  # the exchange has it filled; we recorded nothing
    (on_exchange,) = rig.emu.orders_for_client_id(rig.acct, close["client_order_id"])
    assert on_exchange.status == "closed"
    assert await rig.outbox("stop") == []
    await rig.stop_daemon()  # the process is gone: its hung submit with it
    assert DiesAfterTheStopClose.task is not None
    DiesAfterTheStopClose.task.cancel()
    await asyncio.gather(DiesAfterTheStopClose.task, return_exceptions=True)
    assert await rig.outbox("stop") == []

    rig.executor_factory = functools.partial(Executor, lookup_attempts=3, lookup_backoff=0.05)
    await rig.restart()  # start-up reconciliation records the fill
    (close,) = [r for r in await rig.orders() if r["purpose"] == "stop"]
    assert close["status"] == "filled"
    (told,) = await rig.outbox("stop")
    stop = fmt_price(pos.stop_price, Decimal("0.01"))
    assert told.startswith(f"🛑 <b>Stop hit</b>: long <b>ETH/USD</b> (stop {stop}), sold ")
    assert re.search(r"\(stop [\d,]+\.\d\d\)", told)
    assert re.search(r", sold [\d.]+ ETH at [\d,]+\.\d\d\n", told)  # the fill at 0.01 too
    assert re.search(r"\n[🟢🔴] P&amp;L [+-][\d,.]+ USD · fee [\d.]+ USD · live$", told)
    fills = await rig.outbox("fill")
    assert len(fills) == 1 and fills[0].startswith("📈 Opened long")  # the stop: one message


def test_prices_print_at_the_markets_precision():
    stop = Decimal("2345.678901234567890123")  # a computed stop
    assert fmt_price(stop, Decimal("0.01")) == "2,345.68"
    assert fmt_price(stop, Decimal("0.5")) == "2,345.7"
    assert fmt_price(stop, Decimal("1")) == "2,346"
    assert fmt_price(Decimal("0.4567891234567"), Decimal("0.000001")) == "0.456789"
    assert fmt_price(stop) == "2,345.6789"  # no step known: 8 digits, never 18 decimals
    assert fmt_price(Decimal("0.000123456789123")) == "0.00012345679"
