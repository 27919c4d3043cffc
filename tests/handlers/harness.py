"""Drive the real bot Application through the fake Bot API server, as users would."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from telegram.ext import Application

from nija_tg.bot_main import build_application
from nija_tg.config import Settings, load_settings
from nija_tg.handlers.context import SERVICES_KEY
from nija_tg.services.container import Services
from nija_tg.vault import generate_key
from tests.conftest import TEST_TOKEN
from tests.fakes.telegram_api import FakeBotAPI, RecordedRequest

ADMIN_ID = 1000


@dataclass
class BotHarness:
    api: FakeBotAPI
    app: Application
    settings: Settings
    exchange_urls: dict[str, str] = field(default_factory=dict)

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
        "NIJA_MASTER_KEY": generate_key(),
        **env,
    }
    return load_settings(values, dotenv=None)


async def start_bot(data_dir: Path, api_options: dict | None = None, **env: str) -> BotHarness:
    api = FakeBotAPI(token=TEST_TOKEN, **(api_options or {}))
    await api.start()
    settings = harness_settings(data_dir, api.url, **env)
    app = build_application(settings)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return BotHarness(api=api, app=app, settings=settings)


async def stop_bot(bot: BotHarness) -> None:
    app = bot.app
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.post_shutdown(app)
    await app.shutdown()
    await bot.api.stop()
