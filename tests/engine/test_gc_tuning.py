"""The engine runs with the garbage-collector settings of ``gc_tuning`` (issue 13): the
engine process sets the thresholds at start, and its daemon freezes the long-lived
objects once the loops desired at start have subscribed to the hub. (What it saves is
measured by bench.engine_fanout, which calls the same functions; no timing here.)"""

from __future__ import annotations

import asyncio
import gc

import pytest

from nija_tg.engine import gc_tuning
from tests.engine.test_daemon import add_user, make_daemon, until
from tests.test_cli import run as cli
from tests.test_operations import run_engine_briefly


def test_the_engine_process_sets_the_collector_and_freezes(tmp_path):
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    code, log = run_engine_briefly(data_dir, seconds=1.0)
    assert code == 0, log[-2000:]
    expected = f"garbage collector thresholds {gc_tuning.ENGINE_THRESHOLDS}"
    assert expected in log, log[-2000:]
    assert "long-lived objects frozen" in log, log[-2000:]


async def test_the_daemon_freezes_once_the_loops_desired_at_start_subscribed(settings, db, vault):
    await add_user(db, 1)
    await add_user(db, 2)
    daemon = make_daemon(settings, db, vault, account_factory=None, freeze_after_start=True)

    stop = asyncio.Event()
    runner = asyncio.create_task(daemon.run(stop))
    try:

        async def frozen():
            return daemon.gc_frozen is not None

        assert await until(frozen)
        objects, subscribed = daemon.gc_frozen
        assert subscribed == 2  # both loops had subscribed when it froze
        assert objects > 0 and gc.get_freeze_count() > 0  # (frozen objects freed leave it)
    finally:
        stop.set()
        await runner
        gc.unfreeze()  # the test process's collector as it was


async def test_without_the_option_the_daemon_freezes_nothing(settings, db, vault):
    await add_user(db, 1)
    daemon = make_daemon(settings, db, vault, account_factory=None)
    before = gc.get_freeze_count()
    stop = asyncio.Event()
    runner = asyncio.create_task(daemon.run(stop))
    try:

        async def subscribed():
            return daemon.hub.subscribers == 1

        assert await until(subscribed)
        await asyncio.sleep(0.2)
        assert daemon.gc_frozen is None and gc.get_freeze_count() == before
    finally:
        stop.set()
        await runner


# --- collections between candle closes, not inside them -------------------------------


@pytest.fixture
def collector():
    """The collector as gc_tuning sets it for the engine, restored afterwards."""
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc_tuning.configure(thresholds, between_closes=False)
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


@pytest.mark.parametrize("lockstep", [True, False])
async def test_no_collection_inside_a_close_the_due_one_after_it(collector, lockstep):
    """While the loops work on a close automatic collection is off; once every loop is
    done the collection the thresholds call for runs, and automatic collection is on
    again (lockstep hub: after its settle hooks; the daemon's: when the last loop is
    idle)."""
    from tests.engine.test_market_data import ETH, LTC, TF, make

    gc_tuning.configure((1_000, 20, 20))
    hub, _, clock, eth = make(lockstep=lockstep)
    during: list[bool] = []
    junk: list[list[int]] = []

    async def consumer(keys) -> None:
        sub = hub.subscribe(keys)
        try:
            while True:
                await sub.next_close()
                during.append(gc.isenabled())
                junk.extend([i] for i in range(3_000))  # over the threshold: collection due
                await asyncio.sleep(0)
                during.append(gc.isenabled())
        finally:
            sub.close()

    tasks = [asyncio.create_task(consumer([ETH, LTC])), asyncio.create_task(consumer([ETH]))]
    await hub.wait_for_subscribers(2)
    collections = gc_tuning._Hold.collections
    if lockstep:
        await asyncio.wait_for(hub.run(asyncio.Event(), until_ms=eth[100].ts + 3 * TF), 30)
    else:  # the closes one by one, as the daemon's hub polls them
        for _ in range(3):
            boundary = hub.next_boundary()
            clock.set(boundary)
            await hub.poll(boundary)
            await asyncio.wait_for(hub._wait_for(hub._all_idle), 30)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert during and not any(during)  # never on while a loop worked on a close
    assert gc.isenabled() and not gc_tuning.held()
    assert gc_tuning._Hold.collections > collections  # the due ones ran between closes
    assert gc.get_count()[0] < 1_000 + 500


async def test_a_close_that_never_ends_turns_collection_back_on(collector, monkeypatch):
    monkeypatch.setattr(gc_tuning, "MAX_HOLD_S", 0.05)
    gc_tuning.configure()
    gc_tuning.close_started()
    assert gc_tuning.held() and not gc.isenabled()
    await asyncio.sleep(0.2)  # no close_done: a loop stuck
    assert not gc_tuning.held() and gc.isenabled()


async def test_not_configured_nothing_is_held(collector):
    gc_tuning.configure(between_closes=False)
    gc_tuning.close_started()
    assert not gc_tuning.held() and gc.isenabled()
    assert gc_tuning.close_done() is None


async def test_automatic_collection_off_already_is_left_off(collector):
    gc_tuning.configure()
    gc.disable()
    gc_tuning.close_started()
    assert not gc_tuning.held()
    assert gc_tuning.close_done() is None and not gc.isenabled()


async def _one_close_two_loops(lockstep: bool = False):
    """A hub with two subscribers both woken by one close (collection held); returns
    (hub, idle_sub, busy_sub, the idle one's next wait)."""
    from tests.engine.test_market_data import ETH, make

    gc_tuning.configure((1_000, 20, 20))
    hub, _, clock, _ = make(lockstep=lockstep)
    idle_sub, busy_sub = hub.subscribe([ETH]), hub.subscribe([ETH])
    first = [asyncio.create_task(s.next_close()) for s in (idle_sub, busy_sub)]
    await asyncio.sleep(0)
    boundary = hub.next_boundary()
    clock.set(boundary)
    await hub.poll(boundary)  # both woken: collection held for the close
    await asyncio.gather(*first)
    assert gc_tuning.held() and not gc.isenabled()
    waiting = asyncio.create_task(idle_sub.next_close())  # the first loop is done
    await asyncio.sleep(0)
    assert gc_tuning.held()  # the second one still works on the close
    return hub, idle_sub, busy_sub, waiting


async def test_the_last_busy_loop_leaving_ends_the_close(collector):
    """The loop still working on the close stops (its user stopped trading) instead of
    becoming idle: the close is over all the same; the idle hooks run and collection is
    on again at once, not after MAX_HOLD_S."""
    hub, idle_sub, busy_sub, waiting = await _one_close_two_loops()
    hooked: list[int] = []
    hub.on_idle(lambda: hooked.append(1))
    busy_sub.close()
    assert hub._all_idle() and hooked == [1]
    assert not gc_tuning.held() and gc.isenabled() and gc_tuning._Hold.timer is None
    waiting.cancel()
    idle_sub.close()


async def test_an_idle_hook_that_raises_does_not_leave_collection_off(collector):
    hub, idle_sub, busy_sub, waiting = await _one_close_two_loops()

    def broken() -> None:
        raise RuntimeError("hook failed (test)")

    hub.on_idle(broken)
    with pytest.raises(RuntimeError):
        await busy_sub.next_close()  # the last one becomes idle: the hook raises in it
    assert not gc_tuning.held() and gc.isenabled()
    waiting.cancel()
    idle_sub.close()
    busy_sub.close()


async def test_a_settle_hook_that_raises_does_not_leave_collection_off(collector):
    """Lockstep: the collection put off runs after the settle hooks, even when one
    raises (the hub's run ends with that error)."""
    from tests.engine.test_market_data import ETH, make

    gc_tuning.configure((1_000, 20, 20))
    hub, _, _, eth = make(lockstep=True)

    settles: list[bool] = []

    async def broken() -> None:
        settles.append(gc_tuning.held())
        if len(settles) > 1:  # after the first close (collection held for it)
            raise RuntimeError("settle failed (test)")

    hub.on_idle(lambda: None, settle=broken)
    sub = hub.subscribe([ETH])

    async def consumer() -> None:
        while True:
            await sub.next_close()

    task = asyncio.create_task(consumer())
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(hub.run(asyncio.Event()), 30)
    assert settles == [False, True]  # the failing one ran while collection was held
    assert not gc_tuning.held() and gc.isenabled()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sub.close()
