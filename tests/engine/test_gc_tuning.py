"""The engine runs with the garbage-collector settings of ``gc_tuning`` (issue 13): the
engine process sets the thresholds at start, and its daemon freezes the long-lived
objects once the loops desired at start have subscribed to the hub. (What it saves is
measured by bench.engine_fanout, which calls the same functions; no timing here.)"""

from __future__ import annotations

import asyncio
import gc

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
