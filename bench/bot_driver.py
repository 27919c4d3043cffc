"""The real bot (python-telegram-bot Application from nija_tg.bot_main) against the fake
Bot API, with arrival times the latency benchmarks need.

``TimedBotAPI`` (bench/fake_side.py) is the tests' FakeBotAPI plus three timestamps
(time.monotonic): when a user's message was handed to the bot in a getUpdates answer, and
when the bot's sendMessage / deleteMessage requests for a chat arrived. ``start_bot_over``
runs the bot over that fake in this loop or in a process of its own.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.fake_side import FakeProcess, InLoopFake, TimedBotAPI
from nija_tg.bot_main import build_application
from nija_tg.core.models import BalanceLine, Role
from nija_tg.engine import loop_store
from nija_tg.storage import users
from nija_tg.storage.db import Database
from tests.conftest import TEST_TOKEN
from tests.handlers.harness import BotHarness, harness_settings, start_engine_side, stop_bot

__all__ = [
    "FakeProcess",
    "InLoopFake",
    "TimedBotAPI",
    "register_users",
    "start_bot_over",
    "start_timed_bot",
    "stop_bot",
]


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
    return await _bot_on(api, api.url, data_dir, user_ids, **env)


async def start_bot_over(
    fake: InLoopFake | FakeProcess, data_dir: Path, user_ids: list[int], **env: str
) -> BotHarness:
    """The same bot over ``fake`` (started here; in this loop or in a process of its
    own, bench/fake_side.py). ``stop_bot`` stops both."""
    await fake.start()
    return await _bot_on(fake, fake.url, data_dir, user_ids, **env)


async def _bot_on(
    api: Any, url: str, data_dir: Path, user_ids: list[int], **env: str
) -> BotHarness:
    """The bot started against the fake Bot API at ``url`` (``api``, kept in the harness)."""
    settings = harness_settings(data_dir, url, **env)
    await register_users(settings.db_path, user_ids)
    engine = await start_engine_side(settings, run=False)  # publishes the sealing key
    app = build_application(settings)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return BotHarness(api=api, app=app, settings=settings, engine=engine)
