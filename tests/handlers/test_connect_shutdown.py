"""The bot's shutdown never waits for a key's verdict: the task that refreshes the menu
once the engine has judged a new key ends when the bot stops (supervisord kills a bot
that takes more than 30 s to stop; the verdict wait is 60 s)."""

from __future__ import annotations

import asyncio

from nija_tg.handlers.connect import VERDICT_WAIT_S
from tests.handlers.harness import start_bot, stop_bot

ALICE = 5101
KEY = "K" * 56
SECRET = "S" * 88


async def test_stopping_the_bot_does_not_wait_for_a_pending_verdict(data_dir):
    bot = await start_bot(data_dir)  # no engine: the key stays pending
    stopped = False
    try:
        await bot.say(ALICE, "/start")
        await bot.say(ALICE, "/connect kraken")
        await bot.say(ALICE, KEY, timeout=20)
        assert "Checking your key" in await bot.say(ALICE, SECRET, timeout=20)
        assert await bot.services.connect.is_pending(ALICE)
        await asyncio.wait_for(stop_bot(bot), timeout=VERDICT_WAIT_S / 2)
        stopped = True
    finally:
        if not stopped:
            await stop_bot(bot)
