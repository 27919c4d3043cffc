"""Entry point of the engine process: wires storage, the key ring, exchanges and the key
intake into the daemon and runs it until SIGTERM/SIGINT, then drains and exits 0. The
engine is the only process that holds a private key. It sends nothing to Telegram (and
never imports python-telegram-bot): it writes outbox rows, which the bot process
delivers within its one outgoing budget (nija_tg.telegram_out)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from nija_tg.config import Settings
from nija_tg.core.errors import AuthenticationError
from nija_tg.engine import gc_tuning, maintenance
from nija_tg.engine.clock import WallClock
from nija_tg.engine.daemon import run_daemon
from nija_tg.engine.key_intake import KeyIntake
from nija_tg.engine.market_data import MarketHub
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.protocol import TradingAccount
from nija_tg.redaction import registry
from nija_tg.runtime import Runtime, open_legacy_vault, open_runtime
from nija_tg.services import key_rotation
from nija_tg.storage import credentials

log = logging.getLogger("nija_tg.engine")

NO_KEY = "no_stored_key"  # the error code (words: messages.errors)


def account_factory(runtime: Runtime, gateway: CcxtGateway):
    """Live accounts: the stored ciphertext opened by the key ring (bound to this user
    and exchange) and handed to the gateway; nothing of it is logged or kept here.
    Raises AuthenticationError / VaultError, which pause the user."""

    async def make(user_id: int) -> TradingAccount:
        cred = await credentials.get(runtime.db, user_id)
        if cred is None:
            raise AuthenticationError("no stored credentials", code=NO_KEY)
        secrets = runtime.keyring.open(cred.ciphertext, user_id, cred.exchange_id)
        return gateway.account(user_id, cred.exchange_id, secrets)

    return make


async def prepare_keys(runtime: Runtime) -> None:
    """First start: publish the engine's public key. Every start: migrate credentials
    still under the legacy Fernet master key, and size the redaction registry so every
    stored credential (about three values each, with headroom) stays redacted."""
    ring = runtime.keyring
    needed = 4 * await credentials.count(runtime.db)
    if needed > registry().capacity:
        registry().set_capacity(needed)
    if await key_rotation.publish_primary(runtime.db, ring):
        log.info("published the engine's public key %s", ring.primary.key_id)
    migrated = await key_rotation.migrate_legacy_rows(
        runtime.db, ring, open_legacy_vault(runtime.settings)
    )
    if migrated:
        log.info("migrated %d legacy credential(s) to sealed keys", migrated)


def key_intake(runtime: Runtime, gateway: CcxtGateway) -> KeyIntake:
    """Verdicts go to the outbox; the bot's sender finds them at its next poll."""
    return KeyIntake(
        runtime.db,
        runtime.keyring,
        gateway,
        allow_unproven=runtime.settings.allow_unproven_exchanges,
    )


async def engine_main(settings: Settings, stop: asyncio.Event) -> None:
    gc_tuning.configure()  # the loops' long-lived objects are frozen by the daemon
    runtime = await open_runtime(settings, with_keyring=True)
    gateway = CcxtGateway(exchange_urls=dict(settings.exchange_urls), sandbox=settings.sandbox)
    try:
        await prepare_keys(runtime)
        async with contextlib.AsyncExitStack() as stack:
            housekeeping = asyncio.create_task(maintenance.run(runtime.db, stop))
            stack.push_async_callback(_finish, housekeeping)
            intake = asyncio.create_task(key_intake(runtime, gateway).run(stop))
            stack.push_async_callback(_finish, intake)
            clock = WallClock()
            await run_daemon(
                runtime,
                stop,
                account_factory=account_factory(runtime, gateway),
                market_data=gateway,
                clock=clock,
                # candles by WebSocket where ccxt.pro watches them, REST as the fallback
                hub=MarketHub(gateway, clock, stream=True),
                release_account=gateway.release,
                venues=gateway.health,
                metrics_port=settings.metrics_port,
                metrics_listen=settings.metrics_listen,
                hub_prices=True,  # paper orders priced from the hub's close, not a ticker each
                freeze_after_start=True,  # gc_tuning: no full walk of the loops per close
            )
    finally:
        await gateway.close_all()
        await runtime.close()


async def _finish(task: asyncio.Task) -> None:
    """Stop a background task of the process (it never holds an order)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run_engine(settings: Settings) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await engine_main(settings, stop)

    asyncio.run(main())
    return 0
