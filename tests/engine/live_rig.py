"""Pieces shared by the tests that run the real daemon in-process against an exchange
emulator: a LIVE user arranged in the database, and the daemon wired like engine_main
(real gateway, vault-decrypting account factory) with test-speed timings."""

from __future__ import annotations

import asyncio
import functools
import time

from nija_tg.core.models import Role, TradingMode
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.daemon import Daemon
from nija_tg.engine.execution import Executor
from nija_tg.engine.market_data import MarketHub
from nija_tg.engine_main import account_factory
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.runtime import Runtime
from nija_tg.storage import credentials, settings_repo, users

TF = 300_000  # 5m candles


async def until(predicate, timeout: float = 20.0) -> bool:
    """Poll a synchronous ``predicate`` until it holds (True) or ``timeout`` passes."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.01)
    return True


async def arrange_live_user(
    runtime: Runtime,
    uid: int,
    exchange_id: str,
    creds: dict[str, str],
    risk: RiskSettings,
    *,
    chat_id: int,
    username: str,
) -> None:
    """A registered trader in LIVE mode, trading on, with verified encrypted keys."""
    blob = runtime.keyring.seal(uid, exchange_id, creds)
    async with runtime.db.transaction() as tx:
        await users.upsert_user(tx, uid, chat_id, username, None, Role.TRADER)
        await settings_repo.save(tx, uid, risk)
        await credentials.store(tx, uid, exchange_id, blob, "tail", verified=True)
        await users.set_mode(tx, uid, TradingMode.LIVE)
        await users.set_trading(tx, uid, True)


def live_gateway(exchange_id: str, base_url: str, timeout_ms: int) -> CcxtGateway:
    return CcxtGateway(
        exchange_urls={exchange_id: base_url},
        timeout_ms=timeout_ms,
        enable_rate_limit=False,
        retry_delay_s=0.02,
    )


def start_live_daemon(
    runtime: Runtime, gateway: CcxtGateway, clock, stop_event: asyncio.Event
) -> tuple[MarketHub, Daemon, asyncio.Task]:
    """The daemon as engine_main wires it, with short polls, backoffs and lookups."""
    hub = MarketHub(gateway, clock, late_retries=0)
    daemon = Daemon(
        runtime,
        account_factory=account_factory(runtime, gateway),
        market_data=gateway,
        clock=clock,
        hub=hub,
        release_account=gateway.release,
        poll_interval=0.05,
        backoff_base=0.05,
    )
    daemon.deps.executor_factory = functools.partial(
        Executor, lookup_attempts=3, lookup_backoff=0.05
    )
    return hub, daemon, asyncio.create_task(daemon.run(stop_event))


async def advance_candle(clock, hub: MarketHub) -> None:
    """Move the simulated clock one candle on and wait until every loop handled that
    close (or none is left). The hub must be waiting for its next close first: moved
    before it computed that, it would wait for the close after."""
    ready = await until(lambda: hub.subscribers == 0 or hub.waiting_for is not None)
    assert ready, "the hub is not waiting for a close"
    clock.set(clock.now_ms() + TF)
    boundary = clock.now_ms() // TF * TF

    def done() -> bool:
        if hub.subscribers == 0:
            return True
        return hub.published >= boundary and hub._all_idle()

    assert await until(done), "the loops did not finish the candle"
