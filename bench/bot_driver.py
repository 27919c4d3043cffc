"""The real bot (python-telegram-bot Application from nija_tg.bot_main) against the fake
Bot API, with arrival times the latency benchmarks need.

``TimedBotAPI`` is the tests' FakeBotAPI plus three timestamps (time.monotonic): when a
user's message was handed to the bot in a getUpdates answer, and when the bot's
sendMessage / deleteMessage requests for a chat arrived. Waiters get a future per chat,
so hundreds of concurrent users cost nothing to watch.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from nija_tg.bot_main import build_application
from nija_tg.core.models import BalanceLine, Role
from nija_tg.engine import loop_store
from nija_tg.storage import users
from nija_tg.storage.db import Database
from tests.conftest import TEST_TOKEN
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.telegram_api_wire import DecodedRequest, as_int_chat_id
from tests.handlers.harness import BotHarness, harness_settings, start_engine_side, stop_bot

__all__ = ["TimedBotAPI", "register_users", "start_timed_bot", "stop_bot"]


class TimedBotAPI(FakeBotAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed: dict[tuple[int, int], float] = {}  # (chat, message id) -> handed at
        self._waiters: dict[tuple[str, int], list[asyncio.Future[float]]] = defaultdict(list)

    def expect(self, method: str, chat_id: int) -> asyncio.Future[float]:
        """A future resolved with the arrival time of the next ``method`` to ``chat_id``."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[(method, chat_id)].append(fut)
        return fut

    def _arrived(self, method: str, req: DecodedRequest, at: float) -> None:
        chat = as_int_chat_id(req.params.get("chat_id"))
        if not isinstance(chat, int):
            return
        waiters = self._waiters.get((method, chat))
        while waiters:
            fut = waiters.pop(0)
            if not fut.done():
                fut.set_result(at)
                break

    async def api_getUpdates(self, req: DecodedRequest) -> Any:
        batch = await super().api_getUpdates(req)
        now = time.monotonic()
        for update in batch:
            msg = update.get("message")
            if msg is not None:
                self.handed.setdefault((msg["chat"]["id"], msg["message_id"]), now)
        return batch

    async def api_sendMessage(self, req: DecodedRequest) -> Any:
        self._arrived("sendMessage", req, time.monotonic())
        return await super().api_sendMessage(req)

    async def api_deleteMessage(self, req: DecodedRequest) -> Any:
        self._arrived("deleteMessage", req, time.monotonic())
        return await super().api_deleteMessage(req)


async def register_users(db_path: Path, user_ids: list[int], *, snapshot: bool = True) -> None:
    """Registered traders (as /start would leave them), each with a paper snapshot so
    /balance and /status have something to show; written before the bot starts."""
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            for uid in user_ids:
                await users.upsert_user(tx, uid, uid, f"u{uid}", "Bench", Role.TRADER)
                if snapshot:
                    usd = Decimal(10000)
                    await loop_store.save_snapshot(
                        tx,
                        uid,
                        ts_s=time.time(),
                        equity=usd,
                        balances=[BalanceLine("USD", usd, Decimal(0), usd)],
                        positions=[],
                        prices={},
                        last_signal=None,
                        start_of_day_equity=usd,
                        peak_equity=usd,
                        day=time.strftime("%Y-%m-%d", time.gmtime()),
                    )
    finally:
        await db.close()


async def start_timed_bot(data_dir: Path, user_ids: list[int], **env: str) -> BotHarness:
    """The bot as tests.handlers.harness.start_bot starts it, over a TimedBotAPI, with
    ``user_ids`` registered beforehand. Stop it with ``stop_bot``."""
    api = TimedBotAPI(token=TEST_TOKEN)
    await api.start()
    settings = harness_settings(data_dir, api.url, **env)
    await register_users(settings.db_path, user_ids)
    engine = await start_engine_side(settings, run=False)  # publishes the sealing key
    app = build_application(settings)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return BotHarness(api=api, app=app, settings=settings, engine=engine)
