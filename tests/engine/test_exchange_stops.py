"""Issue 5 item 4: stop-losses rest on the exchange where it supports them (Kraken spot
``stop-loss``). The real daemon runs in-process with the real gateway against the Kraken
emulator, which triggers stop orders on the replayed candles and on pinned prices like
the exchange; the user trades ``test_flipflop`` with a long cycle (one entry, then hold).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from decimal import Decimal

from nija_tg.core.risk_settings import RiskSettings
from nija_tg.exchange.client_ids import is_ours
from nija_tg.runtime import Runtime
from nija_tg.services.reports_service import ReportsService
from nija_tg.storage import positions, users
from tests.engine.live_child import FLIPFLOP, FlipFlopParams, PacedClock, register_flipflop
from tests.engine.live_rig import (
    advance_candle,
    arrange_live_user,
    live_gateway,
    start_live_daemon,
    until,
)
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.fakes.kraken import KrakenEmulator
from tests.outbox_text import TEXT_COLUMNS, text_of

UID = 43
TF = 300_000
SYMBOL = "ETH/USD"
ADD_ORDER = "/0/private/AddOrder"
START = 320  # index of the candle the first step closes


class StopRig:
    """One LIVE Kraken user whose first candle is an entry, then a long hold."""

    def __init__(self, settings, db, vault) -> None:
        self.db, self.vault = db, vault
        self.emu = KrakenEmulator()
        self.first = self.emu.candles[SYMBOL][START][0]
        self.clock = PacedClock(int(self.first + TF // 2))
        self.emu.clock_ms = self.clock.now_ms
        self.runtime = Runtime(dataclasses.replace(settings, engine_drain_seconds=5.0), db, vault)
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.gateway = None

    async def start(self, *, period: int = 1000, stop_pct: float = 3.0, **risk) -> None:
        await self.emu.start()
        self.acct = self.emu.add_account({"USD": Decimal(10000)})
        register_flipflop()
        phase = (-(self.first // TF)) % period  # slot 0 on the first closed candle
        settings = RiskSettings(
            strategy=FLIPFLOP,
            strategy_params=FlipFlopParams(period=period, phase=phase, stop_pct=stop_pct),
            allowed_pairs=("ETH",),
            max_drawdown_pct=Decimal(90),
            daily_loss_pct=Decimal(50),
            daily_loss_usd=Decimal(100000),
        )
        settings = dataclasses.replace(settings, **risk)
        creds = self.emu.credentials(self.acct)
        await arrange_live_user(
            self.runtime, UID, "kraken", creds, settings, chat_id=4300, username="stops"
        )
        await self.launch()

    async def launch(self) -> None:
        self.gateway = live_gateway("kraken", self.emu.base_url, 3000)
        self.stop_event = asyncio.Event()
        self.hub, self.daemon, self.task = start_live_daemon(
            self.runtime, self.gateway, self.clock, self.stop_event
        )
        assert await until(lambda: self.hub.subscribers == 1), "the user's loop did not start"

    async def step(self, n: int = 1) -> None:
        for _ in range(n):
            await advance_candle(self.clock, self.hub)

    async def set_trading(self, on: bool) -> None:
        """Switch trading; the loop learns it from the reconciler's next read."""
        async with self.db.transaction() as tx:
            await users.set_trading(tx, UID, on)
        counter = await users.change_counter(self.db)
        assert await until(lambda: self.daemon.board.version >= counter), "not read"

    async def close(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)
        if self.gateway is not None:
            await self.gateway.close_all()
        await self.emu.stop()

    # --- what happened --------------------------------------------------------------------

    def exchange_orders(self) -> list:
        return [o for o in self.emu.ledger.orders if is_ours(o.client_id, UID)]

    def exchange_stops(self, status: str | None = None) -> list:
        return [
            o
            for o in self.exchange_orders()
            if o.trigger_price is not None and (status is None or o.status == status)
        ]

    async def rows(self) -> dict[str, dict]:
        rows = await self.db.fetchall("SELECT * FROM orders WHERE user_id = ?", (UID,))
        return {r["client_order_id"]: dict(r) for r in rows}

    async def position(self):
        return await positions.get(self.db, UID, SYMBOL, "long")

    async def outbox(self) -> list[tuple[str, str]]:
        rows = await self.db.fetchall(
            f"SELECT kind, {TEXT_COLUMNS} FROM outbox WHERE user_id = ? ORDER BY outbox_id", (UID,)
        )
        return [(r["kind"], text_of(r)) for r in rows]

    async def assert_books_match(self) -> None:
        """Every order of ours on the exchange once, in the same state in the database,
        with exactly its fills recorded once."""
        ours = self.exchange_orders()
        assert all(n == 1 for n in Counter(o.client_id for o in ours).values())
        rows = await self.rows()
        status = {"closed": "filled", "open": "open", "canceled": "canceled"}
        for o in ours:
            row = rows[o.client_id]
            assert row["status"] == status[o.status], (o.client_id, row["status"], o.status)
            got = await self.db.fetchall(
                "SELECT amount FROM fills WHERE order_id = ?", (row["order_id"],)
            )
            theirs = [f for f in self.emu.ledger.fills if f.order_id == o.order_id]
            assert sorted(Decimal(f["amount"]) for f in got) == sorted(f.amount for f in theirs)


_drop_test_strategy = strategies_fixture(None, None, FLIPFLOP)


rig = rig_fixture(StopRig)


def rounded(price: Decimal) -> Decimal:
    return price.quantize(Decimal("0.01"))


async def entered(rig: StopRig):
    await rig.step()
    pos = await rig.position()
    assert pos is not None and pos.stop_price is not None, "the first candle should enter"
    return pos


async def test_entry_rests_one_stop_on_the_exchange_at_the_position_stop(rig):
    await rig.start(trailing_stop=False)
    pos = await entered(rig)
    stops = rig.exchange_stops("open")
    assert len(stops) == 1
    stop = stops[0]
    assert stop.side == "sell" and stop.amount == pos.amount
    assert abs(stop.trigger_price - pos.stop_price) <= Decimal("0.01")
    row = (await rig.rows())[stop.client_id]
    assert row["purpose"] == "stop" and row["status"] == "open"
    assert Decimal(row["trigger_price"]) == stop.trigger_price
    await rig.step(2)  # nothing moved: the same stop stays, nothing is re-sent
    assert rig.exchange_stops() == [stop]
    await rig.assert_books_match()


async def test_stop_fired_by_the_exchange_is_recorded_once_and_never_sold_twice(rig):
    await rig.start(trailing_stop=False)
    pos = await entered(rig)
    (stop,) = rig.exchange_stops("open")
    rig.emu.set_price(SYMBOL, stop.trigger_price - 5)  # the exchange fires the stop
    assert stop.status == "closed"
    await rig.step(2)
    assert await rig.position() is None
    sells = [o for o in rig.exchange_orders() if o.side == "sell"]
    assert sells == [stop], "the engine must not sell what the stop already sold"
    await rig.assert_books_match()
    kinds = [k for k, _ in await rig.outbox()]
    assert kinds.count("stop") == 1 and kinds.count("fill") == 1  # the entry's fill
    text = next(t for k, t in await rig.outbox() if k == "stop")
    assert text.startswith("🛑 <b>Stop hit on the exchange</b>: long <b>ETH/USD</b>")
    assert f"{pos.amount:.4f}"[:4] in text
    assert rig.acct.balances.get("ETH", Decimal(0)) == 0


async def test_stop_fired_while_trading_is_off_is_booked_and_told_at_once(rig):
    """Issue 16 item 8: trading off, the exchange fires the resting stop; the loop, kept
    for the open position, books it and tells the user on the very next candle (not
    after trading resumes), and /positions (the positions table) no longer shows it."""
    await rig.start(trailing_stop=False)
    await entered(rig)
    loop = rig.daemon.loops[UID]
    await rig.set_trading(False)
    assert rig.daemon.loops.get(UID) is loop and rig.hub.subscribers == 1  # protecting
    (stop,) = rig.exchange_stops("open")  # left in place
    rig.emu.set_price(SYMBOL, stop.trigger_price - 5)
    assert stop.status == "closed"  # fired by the exchange
    await rig.step()  # the very next candle, trading still off
    assert await rig.position() is None
    shown = await ReportsService(rig.db, rig.runtime.settings).positions(UID)
    assert shown.positions == []  # what /positions shows
    stops = [t for k, t in await rig.outbox() if k == "stop"]
    assert len(stops) == 1 and stops[0].startswith("🛑 <b>Stop hit on the exchange</b>: long")
    assert not (await users.get_user(rig.db, UID)).trading_on
    sells = [o for o in rig.exchange_orders() if o.side == "sell"]
    assert sells == [stop]  # nothing sold twice
    await rig.assert_books_match()
    # nothing left to protect, trading off: the loop ends by itself and stays ended
    assert await until(lambda: UID not in rig.daemon.loops, 5)
    await asyncio.sleep(0.3)
    assert UID not in rig.daemon.loops and rig.hub.subscribers == 0


async def test_exit_signal_cancels_the_stop_before_selling(rig):
    await rig.start(period=4, trailing_stop=False)  # enter at slot 0, exit at slot 2
    await entered(rig)
    (stop,) = rig.exchange_stops("open")
    await rig.step(2)
    assert await rig.position() is None
    assert stop.status == "canceled"
    sells = [o for o in rig.exchange_orders() if o.side == "sell" and o.trigger_price is None]
    assert len(sells) == 1 and sells[0].status == "closed"
    await rig.assert_books_match()
    assert not rig.exchange_stops("open")


async def test_stop_cancelled_on_the_exchange_is_put_back_once_despite_a_lost_answer(rig):
    await rig.start(trailing_stop=False)
    await entered(rig)
    (stop,) = rig.exchange_stops("open")
    stop.status = "canceled"  # the user cancelled it on the exchange's website
    rig.emu.faults.arm("timeout_after_accept", 1, only_paths=(ADD_ORDER,))
    await rig.step()
    assert ("timeout_after_accept", ADD_ORDER) in rig.emu.faults.fired
    assert await until(lambda: len(rig.exchange_stops("open")) == 1, 10)
    await rig.step()
    again = rig.exchange_stops("open")
    assert len(again) == 1 and again[0].client_id != stop.client_id
    assert (await rig.rows())[again[0].client_id]["status"] == "open"
    await rig.assert_books_match()


async def test_trailing_moves_the_exchange_stop_and_keeps_one_resting(rig):
    await rig.start(stop_pct=1.0)  # trailing on: the stop follows new highs
    await entered(rig)
    first = rig.exchange_stops("open")[0].trigger_price
    for _ in range(12):
        await rig.step()
        pos = await rig.position()
        if pos is None:
            break
        resting = rig.exchange_stops("open")
        assert len(resting) == 1
        assert abs(resting[0].trigger_price - pos.stop_price) <= pos.stop_price * Decimal(
            "0.001"
        ) + Decimal("0.01")
    moved = [o for o in rig.exchange_stops() if o.trigger_price != first]
    assert moved, "the data should raise the trailing stop at least once"
    assert all(o.trigger_price > first for o in moved)
    await rig.assert_books_match()


async def test_refused_stop_is_told_once_and_the_engine_enforces_it(rig):
    rig.emu.refused_ordertypes.add("stop-loss")
    await rig.start(trailing_stop=False, stop_pct=0.3)  # a tight stop the candles cross
    pos = await entered(rig)
    assert rig.exchange_stops() == []
    for _ in range(12):
        if await rig.position() is None:
            break
        await rig.step()
    assert await rig.position() is None, "the candles should cross a 0.3% stop"
    kinds = [k for k, _ in await rig.outbox()]
    assert kinds.count("error") == 1  # told once, not on every candle
    told = next(t for k, t in await rig.outbox() if k == "error")
    assert "refused the stop-loss order" in told and "every candle" in told
    stop_texts = [t for k, t in await rig.outbox() if k == "stop"]
    assert len(stop_texts) == 1 and "Stop hit" in stop_texts[0]  # the engine's own close
    sells = [o for o in rig.exchange_orders() if o.side == "sell"]
    assert len(sells) == 1 and sells[0].trigger_price is None and sells[0].status == "closed"
    assert pos.stop_price is not None
    await rig.assert_books_match()


async def test_a_refused_stop_is_tried_again_on_the_next_candle(rig):
    """Issue 16 #3: one refusal used to give the market up for the loop's life (every
    later position there had no stop on the exchange until a restart)."""
    rig.emu.refused_ordertypes.add("stop-loss")
    await rig.start(trailing_stop=False)
    await entered(rig)
    assert rig.exchange_stops() == []
    rig.emu.refused_ordertypes.discard("stop-loss")  # the refusal was passing
    await rig.step()
    assert await rig.position() is not None  # still held one candle later
    assert [o for o in rig.exchange_stops() if o.status == "open"], "stop placed again"
    await rig.assert_books_match()
