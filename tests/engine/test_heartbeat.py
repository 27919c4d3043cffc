"""The engine's heartbeat in a running daemon: the rows the bot judges health by."""

from __future__ import annotations

import asyncio

from nija_tg.core.errors import AuthenticationError, ExchangeUnreachableError
from nija_tg.exchange.venue_health import VenueHealth
from nija_tg.services.health_service import HealthService
from nija_tg.storage import heartbeats, outbox
from tests.engine.test_daemon import add_user, make_daemon, until


async def test_a_running_daemon_reports_engine_markets_and_venues(settings, db, vault):
    await add_user(db, 1)
    await add_user(db, 2)
    async with db.transaction() as tx:
        await outbox.enqueue(tx, 1, "fill", "queued before the sender runs")
    venues = VenueHealth()
    venues.ok("kraken", private=True)
    daemon = make_daemon(
        settings, db, vault, account_factory=None, venues=venues, heartbeat_interval_s=0.05
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(daemon.run(stop))
    try:
        seen: dict = {}

        async def beating():
            rows = {r.component: r for r in await heartbeats.read_all(db)}
            market = rows.get("market:kraken:5m")
            # the last candle close processed (the hub's boundaries run on without data)
            last = max(daemon.hub.updated_at(k) for k in daemon.hub.keys) if daemon.hub.keys else -1
            seen.update(rows=rows, last=last)
            return (
                rows.get("engine") is not None
                and rows["engine"].data["loops"] == 2
                and market is not None
                and market.data["last_close"] == last > 0
            )

        assert await until(beating)
        rows = seen["rows"]
        # the queued row at least (the paper users' own fills may queue more meanwhile)
        assert rows["engine"].data["backlog"] >= 1
        assert rows["market:kraken:5m"].data == {
            "timeframe_ms": 300_000,
            "markets": 2,
            "last_close": seen["last"],
        }
        assert rows["venue:kraken"].data["last_private_ok"] is not None
        report = await HealthService(db).report()
        assert report.engine is not None and report.engine.data["loops"] == 2
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)


def test_venue_health_blames_the_venue_only_for_its_own_failures():
    now = [100.0]
    health = VenueHealth(clock=lambda: now[0])
    health.failed("bingx", ExchangeUnreachableError("down"))
    now[0] = 160.0
    health.failed("bingx", ExchangeUnreachableError("still down"))
    state = health.venues["bingx"]
    assert state.failing_since == 100.0 and state.failures == 2
    assert state.last_error == "ExchangeUnreachableError"
    health.failed("bingx", AuthenticationError("a user's key"))  # the venue answered
    assert state.failing_since is None and state.last_ok == 160.0
    assert state.last_private_ok is None


async def test_prometheus_metrics_of_a_running_daemon(settings, db, vault):
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await add_user(db, 1)
    await add_user(db, 2)
    daemon = make_daemon(
        settings, db, vault, account_factory=None, heartbeat_interval_s=0.05, metrics_port=port
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(daemon.run(stop))

    def scrape() -> dict[str, float]:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }

    try:

        async def decided_and_counted():
            await daemon.metrics.refresh()
            values = await asyncio.to_thread(scrape)
            return (
                values.get("nija_loops") == 2
                and values.get("nija_candle_to_decision_seconds_count", 0) >= 2
                and 0 <= values.get("nija_heartbeat_age_seconds", -1) < 60
            )

        assert await until(decided_and_counted)
        values = await asyncio.to_thread(scrape)
        assert values["nija_notification_backlog"] == 0
        assert "nija_fills_total" in values
        assert values["nija_loop_steps_waited"] == 0  # the daemon's step waits are served
        assert values["nija_loop_step_wait_warnings_total"] == 0
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)
