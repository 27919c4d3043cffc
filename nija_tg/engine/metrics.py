"""Prometheus metrics of the engine, served when ``NIJA_METRICS_PORT`` is set.

Counts that live in the database (orders by outcome, fills, notifications) are read by
an async task every ``REFRESH_S`` and served from that snapshot, so a scrape never
touches the database from the HTTP server's thread. The candle close -> decision latency
is observed when every loop is done with a close (the hub's idle hook): the time from
the candle's close to the last user's decision.

Candle subscribes the venue refused or left unanswered (``CandleStreams.refused`` /
``unanswered`` of the market data source: such a market stays on REST until a subscribe
is taken) are served per market, copied at each refresh on the event loop (the scrape
never iterates the live counters)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from nija_tg.engine.market_data import MarketHub
from nija_tg.periodic import run_every
from nija_tg.storage import metrics_queries, outbox
from nija_tg.storage.db import Database

log = logging.getLogger("nija_tg.engine")

REFRESH_S = 5.0
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)


Market = tuple[str, str, str]  # (exchange, symbol, timeframe)


class SubscribeCounts(Protocol):
    """Candle subscribes per market (``exchange.ccxt_stream.CandleStreams``)."""

    @property
    def refused(self) -> Mapping[Market, int]: ...
    @property
    def unanswered(self) -> Mapping[Market, int]: ...


class StepWaitCounts(Protocol):
    """Steps waited for after their loop ended (``engine.daemon.StepWaits``)."""

    @property
    def waiting(self) -> int: ...
    @property
    def warnings(self) -> int: ...


@dataclass
class Snapshot:
    loops: int = 0
    orders: dict[str, int] = field(default_factory=dict)
    fills: int = 0
    outbox: dict[str, int] = field(default_factory=dict)
    backlog: int = 0
    last_beat: float | None = None
    subscribes_refused: dict[Market, int] = field(default_factory=dict)
    subscribes_unanswered: dict[Market, int] = field(default_factory=dict)
    steps_waited: tuple[int, int] | None = None  # (waited for now, warnings logged)


def _copied(counts: Mapping[Market, int]) -> dict[Market, int]:
    return {market: n for market, n in dict(counts).items() if n}


def _per_market(name: str, doc: str, counts: Mapping[Market, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=["exchange", "symbol", "timeframe"])
    for market, n in sorted(counts.items()):
        family.add_metric(list(market), n)
    return family


class _FromSnapshot(Collector):
    def __init__(self, metrics: EngineMetrics) -> None:
        self.metrics = metrics

    def collect(self):
        snap = self.metrics.snapshot
        yield GaugeMetricFamily("nija_loops", "User trading loops running", value=snap.loops)
        orders = CounterMetricFamily(
            "nija_orders", "Orders by their current outcome", labels=["status"]
        )
        for status, n in sorted(snap.orders.items()):
            orders.add_metric([status], n)
        yield orders
        yield CounterMetricFamily("nija_fills", "Fills recorded", value=snap.fills)
        sent = CounterMetricFamily(
            "nija_notifications", "Notifications by outcome", labels=["status"]
        )
        for status, n in sorted(snap.outbox.items()):
            sent.add_metric([status], n)
        yield sent
        yield GaugeMetricFamily(
            "nija_notification_backlog", "Notifications waiting to be sent", value=snap.backlog
        )
        age = -1.0 if snap.last_beat is None else max(0.0, time.time() - snap.last_beat)
        yield GaugeMetricFamily(
            "nija_heartbeat_age_seconds", "Seconds since the engine's last heartbeat", value=age
        )
        yield _per_market(
            "nija_candle_subscribes_refused",
            "Candle WebSocket subscribes the venue refused (the market stays on REST)",
            snap.subscribes_refused,
        )
        yield _per_market(
            "nija_candle_subscribes_unanswered",
            "Candle WebSocket subscribes the venue left unanswered (the market stays on REST)",
            snap.subscribes_unanswered,
        )
        if snap.steps_waited is not None:
            waiting, warnings = snap.steps_waited
            yield GaugeMetricFamily(
                "nija_loop_steps_waited",
                "Steps that outlasted their loop and hold its user's next loop",
                value=waiting,
            )
            yield CounterMetricFamily(
                "nija_loop_step_wait_warnings",
                "Warnings logged about such steps (again every few drain times)",
                value=warnings,
            )


class EngineMetrics:
    def __init__(
        self,
        db: Database,
        hub: MarketHub,
        loops: Callable[[], int],
        last_beat: Callable[[], float | None],
        backlog: Callable[[], int],
        *,
        now_ms: Callable[[], int],
        registry: CollectorRegistry | None = None,
        subscribes: SubscribeCounts | None = None,
        step_waits: StepWaitCounts | None = None,
    ) -> None:
        """``subscribes``: the candle streams' counts; by default the hub's market data
        source's ``streams`` (the gateway's ``CandleStreams``) when it has them.
        ``step_waits``: the daemon's steps waited for (not served without it)."""
        self.db = db
        self.hub = hub
        self.subscribes = subscribes or getattr(hub.source, "streams", None)
        self.step_waits = step_waits
        self.loops = loops
        self.last_beat = last_beat
        self.backlog = backlog
        self.now_ms = now_ms
        self.registry = registry or CollectorRegistry()
        self.snapshot = Snapshot()
        self.latency = Histogram(
            "nija_candle_to_decision_seconds",
            "From a candle's close to the last loop's decision on it",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_FromSnapshot(self))
        self._observed = -1
        hub.on_idle(self._all_decided)

    def _all_decided(self) -> None:
        boundary = self.hub.published
        if boundary <= 0 or boundary == self._observed:
            return
        self._observed = boundary
        self.latency.observe(max(0.0, (self.now_ms() - boundary) / 1000))

    async def refresh(self) -> None:
        streams = self.subscribes
        self.snapshot = Snapshot(
            loops=self.loops(),
            orders=await metrics_queries.orders_by_status(self.db),
            fills=await metrics_queries.fills_count(self.db),
            outbox=await outbox.counts(self.db),
            backlog=self.backlog(),  # counted by the heartbeat: not queried twice
            last_beat=self.last_beat(),
            subscribes_refused={} if streams is None else _copied(streams.refused),
            subscribes_unanswered={} if streams is None else _copied(streams.unanswered),
            steps_waited=None
            if self.step_waits is None
            else (self.step_waits.waiting, self.step_waits.warnings),
        )

    def serve(self, port: int, addr: str) -> None:
        self._server, _ = start_http_server(port, addr=addr, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", addr, port)

    def close(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(stop, REFRESH_S, self.refresh, log=log, failure="metrics not refreshed")
