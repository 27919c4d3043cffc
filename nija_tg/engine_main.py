"""Entry point of the engine process: wires storage, the key ring, exchanges, the key
intake and the sender into the daemon and runs it until SIGTERM/SIGINT, then drains and
exits 0. The engine is the only process that holds a private key."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from nija_tg.config import Settings
from nija_tg.core.errors import AuthenticationError
from nija_tg.engine import maintenance
from nija_tg.engine.clock import WallClock
from nija_tg.engine.daemon import run_daemon
from nija_tg.engine.key_intake import KeyIntake
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.protocol import TradingAccount
from nija_tg.redaction import registry
from nija_tg.runtime import Runtime, open_legacy_vault, open_runtime
from nija_tg.services import key_rotation
from nija_tg.storage import credentials

log = logging.getLogger("nija_tg.engine")

NO_KEY = "No exchange key is stored for live trading. Please /connect first."


def account_factory(runtime: Runtime, gateway: CcxtGateway):
    """Live accounts: the stored ciphertext opened by the key ring (bound to this user
    and exchange) and handed to the gateway; nothing of it is logged or kept here.
    Raises AuthenticationError / VaultError, which pause the user."""

    async def make(user_id: int) -> TradingAccount:
        cred = await credentials.get(runtime.db, user_id)
        if cred is None:
            raise AuthenticationError("no stored credentials", user_message=NO_KEY)
        secrets = runtime.keyring.open(cred.ciphertext, user_id, cred.exchange_id)
        return gateway.account(user_id, cred.exchange_id, secrets)

    return make


def _sender(runtime: Runtime):
    """The outbox sender, when a bot token is configured (else notifications wait in
    the outbox for an engine that has one)."""
    settings = runtime.settings
    if not settings.telegram_token:
        log.warning("TELEGRAM_BOT_TOKEN not set: notifications stay queued")
        return None
    from telegram import Bot

    from nija_tg.engine.sender import Sender

    bot = Bot(settings.telegram_token, base_url=f"{settings.telegram_api_base_url}/bot")
    return bot, Sender(runtime.db, bot, rate=settings.sender_rate)


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


def key_intake(runtime: Runtime, gateway: CcxtGateway, sender) -> KeyIntake:
    return KeyIntake(
        runtime.db,
        runtime.keyring,
        gateway,
        allow_unproven=runtime.settings.allow_unproven_exchanges,
        on_verdict=sender.notify if sender is not None else None,
    )


async def engine_main(settings: Settings, stop: asyncio.Event) -> None:
    runtime = await open_runtime(settings, with_keyring=True)
    gateway = CcxtGateway(exchange_urls=dict(settings.exchange_urls), sandbox=settings.sandbox)
    try:
        await prepare_keys(runtime)
        async with contextlib.AsyncExitStack() as stack:
            made = _sender(runtime)
            sender = None
            if made is not None:
                bot, sender = made
                try:
                    await bot.initialize()
                except Exception as exc:  # the sender retries; the engine runs anyway
                    log.warning("Telegram not reachable at start (%s)", type(exc).__name__)
                stack.push_async_callback(bot.shutdown)
            housekeeping = asyncio.create_task(maintenance.run(runtime.db, stop))
            stack.push_async_callback(_finish, housekeeping)
            intake = asyncio.create_task(key_intake(runtime, gateway, sender).run(stop))
            stack.push_async_callback(_finish, intake)
            await run_daemon(
                runtime,
                stop,
                account_factory=account_factory(runtime, gateway),
                market_data=gateway,
                clock=WallClock(),
                sender=sender,
                release_account=gateway.release,
                venues=gateway.health,
                metrics_port=settings.metrics_port,
                metrics_listen=settings.metrics_listen,
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
