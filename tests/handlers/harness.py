"""Drive the real bot Application through the fake Bot API server, as users would.

Beside the bot runs the engine's half of key custody, as in production but in this
process: the engine's key ring (its public key published in the database) and the key
intake that verifies submitted credentials against the exchange emulators. The bot
Application holds no key; it delivers the verdicts (and every outbox row) through its
own outbox sender, as in production."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from telegram.ext import Application

from nija_tg.bot_main import build_application
from nija_tg.config import Settings, load_settings
from nija_tg.engine.key_intake import KeyIntake
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.handlers.context import SERVICES_KEY
from nija_tg.services import key_rotation
from nija_tg.services.container import Services
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import KeyRing, generate_private_key, parse_private_keys
from tests.conftest import TEST_TOKEN
from tests.fakes.telegram_api import FakeBotAPI, RecordedRequest

ADMIN_ID = 1000


@dataclass
class EngineSide:
    """The engine's key custody running beside the bot (its own database handle)."""

    keyring: KeyRing
    private_key: str  # the engine key's text form, as NIJA_ENGINE_KEY would hold it
    db: Database
    gateway: CcxtGateway
    intake: KeyIntake
    stop: asyncio.Event
    tasks: list[asyncio.Task]

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.gateway.close_all()
        await self.db.close()


@dataclass
class BotHarness:
    api: FakeBotAPI
    app: Application
    settings: Settings
    engine: EngineSide | None = None
    exchange_urls: dict[str, str] = field(default_factory=dict)

    @property
    def keyring(self) -> KeyRing:
        assert self.engine is not None
        return self.engine.keyring

    @property
    def services(self) -> Services:
        return self.app.bot_data[SERVICES_KEY]

    async def send(self, user_id: int, text: str, **kwargs) -> int:
        """A user sends ``text``; returns its message id."""
        return self.api.user_message(user_id, text, **kwargs)

    async def say(self, user_id: int, text: str, *, timeout: float = 10, **kwargs) -> str:
        """Send and return the text of the bot's next message to that chat."""
        record = await self.ask(user_id, text, timeout=timeout, **kwargs)
        return str(record.params.get("text", ""))

    async def ask(
        self,
        user_id: int,
        text: str,
        *,
        timeout: float = 10,
        method: str = "sendMessage",
        **kwargs,
    ) -> RecordedRequest:
        since = self.api.mark()
        self.api.user_message(user_id, text, **kwargs)
        chat = kwargs.get("chat_id", user_id)
        return await self.next(chat, since=since, timeout=timeout, method=method)

    async def next(
        self, chat_id: int, *, since: int, timeout: float = 10, method: str = "sendMessage"
    ) -> RecordedRequest:
        return await self.api.wait_for(
            method, lambda r: str(r.chat_id) == str(chat_id), timeout=timeout, since=since
        )

    async def press(
        self,
        user_id: int,
        data: str,
        message_id: int,
        *,
        timeout: float = 10,
        method: str = "sendMessage",
        chat_id: int | None = None,
    ) -> RecordedRequest:
        since = self.api.mark()
        self.api.user_callback(user_id, data, message_id=message_id, chat_id=chat_id)
        return await self.next(chat_id or user_id, since=since, timeout=timeout, method=method)

    async def settle(self, seconds: float = 0.3) -> None:
        await asyncio.sleep(seconds)

    def texts(self, chat_id: int, since: int = 0) -> list[str]:
        return self.api.texts(chat_id, since=since)


def harness_settings(data_dir: Path, base_url: str, **env: str) -> Settings:
    values = {
        "NIJA_DATA_DIR": str(data_dir),
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_BASE_URL": base_url,
        "NIJA_ADMIN_IDS": str(ADMIN_ID),
        **env,
    }
    return load_settings(values, dotenv=None)


async def start_engine_side(
    settings: Settings, keyring: KeyRing | None = None, *, run: bool = True
) -> EngineSide:
    """Publish the engine's public key; with ``run``, run the key intake too (else
    submitted keys stay pending). The bot's own sender delivers the outbox."""
    private_key = generate_private_key()
    keyring = keyring or KeyRing(parse_private_keys(private_key, "test engine key"))
    db = await Database.open(settings.db_path)
    await key_rotation.publish_primary(db, keyring)
    gateway = CcxtGateway(exchange_urls=dict(settings.exchange_urls))
    intake = KeyIntake(
        db, keyring, gateway, allow_unproven=settings.allow_unproven_exchanges, poll_interval=0.05
    )
    stop = asyncio.Event()
    tasks = []
    if run:
        tasks = [asyncio.create_task(intake.run(stop))]
    return EngineSide(keyring, private_key, db, gateway, intake, stop, tasks)


async def start_bot(
    data_dir: Path, api_options: dict | None = None, *, engine: bool = False, **env: str
) -> BotHarness:
    """The bot (with its outbox sender), with the engine's key published;
    ``engine=True`` also runs the engine's key intake (verdicts of /connect reach the
    chat)."""
    api = FakeBotAPI(token=TEST_TOKEN, **(api_options or {}))
    await api.start()
    settings = harness_settings(data_dir, api.url, **env)
    engine_side = await start_engine_side(settings, run=engine)
    app = build_application(settings)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return BotHarness(api=api, app=app, settings=settings, engine=engine_side)


async def stop_bot(bot: BotHarness) -> None:
    if bot.engine is not None:
        await bot.engine.close()
    app = bot.app
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.post_shutdown(app)
    await app.shutdown()
    await bot.api.stop()
