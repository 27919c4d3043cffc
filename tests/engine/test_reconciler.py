"""Reconciler: desired users from the database become running tasks (and stop) within a
second of a change; a user holding a position keeps a loop whatever the switch, a pause
or the halt; crashed loops restart with exponential backoff; an alert after repeated
crashes, once per streak."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.core.trading_gate import Gate, TradingSwitch
from nija_tg.engine.reconciler import Reconciler
from nija_tg.services import desired_state
from nija_tg.storage import close_requests, credentials, positions, users


async def _until(predicate, timeout=10.0):
    """Wait (briefly polling) until predicate() holds; False after ``timeout`` (patience
    on a loaded machine, not a measure: the reconciler polls every 0.05 s here and reads
    everything only every hour, so a change it missed never comes)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_start_and_stop_within_a_second_of_a_change(db):
    async with db.transaction() as tx:
        for uid in (1, 2):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
    started: list[int] = []
    cancelled: list[int] = []

    async def loop(user_id: int) -> None:
        started.append(user_id)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(user_id)
            raise

    rec = Reconciler(
        lambda: desired_state.trading_users(db),
        lambda: desired_state.change_counter(db),
        loop,
        poll_interval=0.05,
        full_refresh=3600,
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(rec.run(stop))
    try:
        await asyncio.sleep(0.1)
        assert rec.running == set()
        async with db.transaction() as tx:
            await users.set_trading(tx, 1, True)
            await users.set_trading(tx, 2, True)
        assert await _until(lambda: rec.running == {1, 2})
        async with db.transaction() as tx:
            await users.set_status(tx, 2, UserStatus.PAUSED, "test")
        assert await _until(lambda: rec.running == {1})
        assert cancelled == [2]
        async with db.transaction() as tx:
            await users.set_halted(tx, True)  # exits only for everyone: loops go on
        await asyncio.sleep(0.2)
        assert rec.running == {1}
        async with db.transaction() as tx:
            await users.set_trading(tx, 1, False)
        assert await _until(lambda: rec.running == set())
        assert sorted(cancelled) == [1, 2]
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
        await rec.shutdown(1)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_crash_restart_with_exponential_backoff_and_one_alert_per_streak():
    t = FakeTime()
    starts: list[float] = []
    alerts: list[tuple[int, int]] = []
    healthy = asyncio.Event()

    async def loop(user_id: int) -> None:
        starts.append(t.now)
        if not healthy.is_set():
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    async def alert(user_id: int, failures: int, error: BaseException) -> None:
        alerts.append((user_id, failures))

    async def desired() -> set[int]:
        return {7}

    async def counter() -> int:
        return 0

    rec = Reconciler(
        desired,
        counter,
        loop,
        on_crash_alert=alert,
        backoff_base=1.0,
        backoff_max=8.0,
        alert_after=3,
        healthy_after=60.0,
        monotonic=t,
    )

    async def step(advance: float) -> None:
        t.now += advance
        await rec.tick()
        await asyncio.sleep(0)  # let a started task run (and crash)
        await asyncio.sleep(0)

    await step(0)
    assert starts == [1000.0]
    await step(0)  # collects the crash: retry in 1 s
    assert rec.slots[7].failures == 1 and rec.slots[7].retry_at == 1001.0
    await step(0.5)
    assert len(starts) == 1  # not before the backoff
    for expected_delay in (2.0, 4.0, 8.0, 8.0):  # doubling, capped at backoff_max
        await step(rec.slots[7].retry_at - t.now)  # restart at the retry time
        await step(0)  # crashes again
        assert rec.slots[7].retry_at - t.now == expected_delay
    assert len(starts) == 5
    assert alerts == [(7, 3)]  # once, at the third failure of the streak

    healthy.set()
    await step(rec.slots[7].retry_at - t.now)
    assert rec.running == {7}
    await step(61)  # healthy for a while: the streak is over
    assert rec.slots[7].failures == 0 and not rec.slots[7].alerted
    await rec.shutdown(1)
    assert rec.running == set()


async def test_loop_that_returns_is_not_restarted_in_a_tight_loop():
    t = FakeTime()
    starts = []

    async def loop(user_id: int) -> None:
        starts.append(t.now)

    async def desired() -> set[int]:
        return {1}

    async def counter() -> int:
        return 0

    rec = Reconciler(desired, counter, loop, backoff_base=5.0, monotonic=t)
    await rec.tick()
    await asyncio.sleep(0)
    await rec.tick()
    await rec.tick()
    assert len(starts) == 1
    t.now += 5
    await rec.tick()
    await asyncio.sleep(0)
    assert len(starts) == 2


async def hold(db, uid: int, mode: str = "paper") -> None:
    async with db.transaction() as tx:
        await positions.upsert(
            tx,
            uid,
            "ETH/USD",
            "long",
            amount=Decimal("0.1"),
            entry_price=Decimal(2000),
            entry_fees=Decimal(0),
            realized_pnl=Decimal(0),
            mode=mode,
        )


async def test_desired_state_protects_every_holder_and_gives_each_its_gate(db):
    """Issue 12 item 2: a loop for everyone who trades, and for everyone holding a
    position we opened in their current mode, whatever the switch, pause or halt."""
    async with db.transaction() as tx:
        for uid in range(1, 9):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
        await users.set_switch(tx, 1, TradingSwitch.ON)
        await users.set_switch(tx, 2, TradingSwitch.EXITS)
        await users.set_status(tx, 4, UserStatus.PAUSED, "risk review")  # holds, paused
        await users.set_switch(tx, 5, TradingSwitch.ON)
        await users.set_status(tx, 5, UserStatus.PAUSED, "drawdown")  # paused, holds nothing
        await users.set_mode(tx, 6, TradingMode.LIVE)  # holds a paper position only
        await users.set_mode(tx, 7, TradingMode.LIVE)  # dead key, holds a live position
        await users.set_status(tx, 7, UserStatus.PAUSED, "connection")
        await credentials.store(tx, 7, "kraken", b"sealed", "tail", verified=False)
    for uid in (3, 4, 6):
        await hold(db, uid)
    await hold(db, 7, "live")
    async with db.transaction() as tx:
        await close_requests.request(tx, 8, None)  # holds nothing, asked to close
    state = await desired_state.read(db)
    assert state.loops == {1, 2, 3, 4, 8}
    gates = {uid: u.gate for uid, u in state.users.items()}
    assert gates == {
        1: Gate.ACTIVE,
        2: Gate.EXITS_ONLY,
        3: Gate.PROTECT,  # switch off, holds a position
        4: Gate.PROTECT,  # paused by an admin, holds a position
        8: Gate.PROTECT,
    }
    assert state.users[8].asks_close and not state.users[8].holds
    async with db.transaction() as tx:
        await users.set_halted(tx, True)
        await credentials.store(tx, 7, "kraken", b"sealed", "tail", verified=True)
    state = await desired_state.read(db)
    assert state.loops == {1, 2, 3, 4, 7, 8}  # a verified key brings 7's protection back
    assert state.users[1].gate is Gate.EXITS_ONLY  # the halt: exits only
    assert state.users[7].gate is Gate.PROTECT
