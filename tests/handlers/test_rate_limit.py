"""The bot's outgoing limits, observed by a fake Bot API that enforces Telegram's."""

import asyncio

import pytest

from tests.handlers.harness import start_bot, stop_bot

CHAT = 7001


@pytest.fixture
async def limited_bot(data_dir):
    harness = await start_bot(
        data_dir, api_options={"enforce_limits": True, "per_chat_per_second": 1.0}
    )
    try:
        yield harness
    finally:
        await stop_bot(harness)


async def test_private_chat_is_paced_and_never_rate_limited(limited_bot):
    bot = limited_bot.app.bot
    since = limited_bot.api.mark()
    await asyncio.gather(*(bot.send_message(CHAT, f"m{i}") for i in range(4)))
    sent = limited_bot.api.sent_to(CHAT, since=since)
    assert sorted(r.params["text"] for r in sent) == ["m0", "m1", "m2", "m3"]
    assert limited_bot.api.rate_limited == []
    assert limited_bot.api.violations == []
    assert limited_bot.api.max_rate_per_chat(CHAT) <= 1


async def test_delete_message_jumps_the_queue(limited_bot):
    bot = limited_bot.app.bot
    message_id = limited_bot.api.user_message(CHAT, "SECRET-TO-DELETE-0000")
    since = limited_bot.api.mark()
    sends = asyncio.gather(*(bot.send_message(CHAT, f"fill {i}") for i in range(3)))
    await asyncio.sleep(0.05)
    await bot.delete_message(CHAT, message_id)
    await sends
    methods = [r.method for r in limited_bot.api.requests[since:] if r.method != "getUpdates"]
    # the deletion is not queued behind the paced messages of the same chat
    assert methods.index("deleteMessage") < len(methods) - 1
