"""The engine's heartbeat: every few seconds one transaction replaces the rows that say
it is alive (version, pid, loops, the notification backlog), how far each market group
(exchange, timeframe) got (the last candle close processed) and how each venue answers
(``VenueHealth``). The bot watches them (``services.health_service``)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from nija_tg.engine.market_data import MarketHub
from nija_tg.engine.market_window import timeframe_ms
from nija_tg.exchange.venue_health import VenueHealth
from nija_tg.periodic import run_every
from nija_tg.storage import heartbeats, outbox
from nija_tg.storage.db import Database

log = logging.getLogger("nija_tg.engine")

INTERVAL_S = 5.0


def release() -> str:
    try:
        return version("nija_tg")
    except PackageNotFoundError:
        return "unknown"


class Heartbeat:
    def __init__(
        self,
        db: Database,
        hub: MarketHub,
        loops: Callable[[], int],
        venues: VenueHealth | None = None,
        *,
        clock: Callable[[], float] = time.time,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.db = db
        self.hub = hub
        self.loops = loops
        self.venues = venues
        self.clock = clock
        self.interval_s = interval_s
        self.started_at = clock()
        self.release = release()
        self.last_beat_at: float | None = None
        self.last_backlog = 0  # notifications waiting, as the last beat counted them

    async def rows(self) -> dict[str, dict]:
        rows: dict[str, dict] = {
            "engine": {
                "version": self.release,
                "pid": os.getpid(),
                "started_at": self.started_at,
                "loops": self.loops(),
                "backlog": await self._backlog(),
            }
        }
        for key in self.hub.keys:
            name = f"market:{key.exchange}:{key.timeframe}"
            group = rows.setdefault(
                name, {"timeframe_ms": timeframe_ms(key.timeframe), "markets": 0, "last_close": -1}
            )
            group["markets"] += 1
            group["last_close"] = max(group["last_close"], self.hub.updated_at(key))
        for exchange_id, st in (self.venues.venues if self.venues else {}).items():
            rows[f"venue:{exchange_id}"] = {
                "last_ok": st.last_ok,
                "last_private_ok": st.last_private_ok,
                "failing_since": st.failing_since,
                "last_error": st.last_error,
                "calls": st.calls,
                "failures": st.failures,
            }
        return rows

    async def _backlog(self) -> int:
        self.last_backlog = await outbox.deliverable_count(self.db)
        return self.last_backlog

    async def beat(self) -> None:
        rows = await self.rows()
        at = self.clock()
        async with self.db.transaction() as tx:
            await heartbeats.replace_all(tx, at, rows)
        self.last_beat_at = at

    async def run(self, stop: asyncio.Event) -> None:
        # a missed beat shows as age; it never stops the engine
        await run_every(stop, self.interval_s, self.beat, log=log, failure="heartbeat not written")
