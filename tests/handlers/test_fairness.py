"""Fairness (issue 11, point 6): one user's flood does not delay anyone else, and a
message that may carry a secret is deleted at once, even when it is dropped.

Ordering, not wall-clock thresholds: the bot answers a private chat at most once a
second, so a flooder's n-th reply cannot come before n - 1 seconds have passed. Queued
behind the flood, the other user would be answered after the flooder's queue (up to
MAX_QUEUED_PER_USER replies, one a second); answered beside it, within a few of them.
The other user's answers must come before the flooder's (MAX_QUEUED_PER_USER // 2)-th:
half the queue, room for a loaded machine (the other user's three steps need the CPU,
the flooder's replies only the clock; with the bound at the third, a run beside the
whole suite and two CPU burners saw the status one reply late). Checked: with the
shared slot taken before the user's turn and 8 slots, the bound fails. (Timing is
measured by bench/fairness.py.)
"""

from __future__ import annotations

import asyncio

from nija_tg.handlers.update_processor import (
    KEEP_ON_SHUTDOWN,
    MAX_QUEUED_PER_USER,
    PerUserUpdateProcessor,
)
from nija_tg.messages.common import SKIPPED, SKIPPED_SECRETS
from nija_tg.messages.connect import PASTED_SECRET
from tests.handlers.harness import start_bot, stop_bot

FLOODER, BOB = 7001, 7002
FLOOD = 300
KEY = "Z4VJmQNuf7NqZXWwWQ8bKRnwc0KRq/AwcZOAPlIFQ4Z97RuuAtpMD9B4"


def processor(bot) -> PerUserUpdateProcessor:
    proc = bot.app.update_processor
    assert isinstance(proc, PerUserUpdateProcessor)
    return proc


def replies_to(bot, chat_id: int, since: int) -> list[int]:
    """Indexes (in bot.api.requests) of the sendMessage calls to ``chat_id``."""
    return [
        i
        for i, r in enumerate(bot.api.requests)
        if i >= since and r.method == "sendMessage" and r.chat_id == chat_id
    ]


async def test_a_flood_does_not_delay_another_users_status_or_key_deletion(bot):
    await bot.say(FLOODER, "/start")
    await bot.say(BOB, "/start")
    await bot.say(BOB, "/connect kraken")  # Bob waits at the credential step
    since = bot.api.mark()
    for n in range(FLOOD):
        bot.api.user_message(FLOODER, f"hello {n}")
    await bot.api.wait_for("sendMessage", lambda r: r.chat_id == FLOODER, since=since)
    key_id = bot.api.user_message(BOB, KEY)
    deleted = await bot.api.wait_for(
        "deleteMessage", lambda r: int(r.params["message_id"]) == key_id, since=since, timeout=60
    )
    prompt = await bot.api.wait_for(
        "sendMessage", lambda r: r.chat_id == BOB, since=since, timeout=60
    )
    status = await bot.ask(BOB, "/status", timeout=60)
    flooder = replies_to(bot, FLOODER, since)
    n = MAX_QUEUED_PER_USER // 2  # queued behind the flood: after the 20th
    nth = flooder[n - 1] if len(flooder) >= n else len(bot.api.requests)
    at = {id(r): i for i, r in enumerate(bot.api.requests)}
    assert at[id(deleted)] < nth and at[id(prompt)] < nth and at[id(status)] < nth
    assert "(2/2)" in prompt.params["text"] and status.params["text"] != SKIPPED

    # the flooder: at most MAX_QUEUED_PER_USER answered, the rest dropped, told once
    assert processor(bot).dropped >= FLOOD - MAX_QUEUED_PER_USER - 5
    await bot.settle(1.5)
    texts_ = bot.api.texts(FLOODER, since=since)
    assert texts_.count(SKIPPED) == 1
    assert len(texts_) <= MAX_QUEUED_PER_USER + 1


async def test_dropped_messages_that_may_carry_secrets_are_deleted_first(bot):
    await bot.say(FLOODER, "/start")
    since = bot.api.mark()
    keys = [f"{KEY[:-3]}{n:03d}" for n in range(60)]
    ids = [bot.api.user_message(FLOODER, key) for key in keys]
    await bot.api.wait_for("sendMessage", lambda r: r.chat_id == FLOODER, since=since)
    await bot.settle(1.0)
    deleted = {int(r.params["message_id"]) for r in bot.api.sent_to(FLOODER, "deleteMessage")}
    assert set(ids) <= deleted  # every one, answered or dropped
    assert processor(bot).dropped >= len(keys) - MAX_QUEUED_PER_USER - 5
    await bot.settle(2.0)
    texts_ = bot.api.texts(FLOODER, since=since)
    assert texts_.count(SKIPPED_SECRETS) == 1 and SKIPPED not in texts_
    assert set(texts_) <= {PASTED_SECRET, SKIPPED_SECRETS}
    for text in texts_:
        assert not any(key[:12] in text for key in keys)


async def test_at_the_credential_step_every_message_is_deleted_at_once(bot):
    """While /connect waits for a credential, anything but our commands may be it:
    deleted on arrival, before it queues, also when the queue is full."""
    await bot.say(BOB, "/start")
    await bot.say(BOB, "/connect kraken")
    since = bot.api.mark()
    ids = [bot.api.user_message(BOB, f"pw{n}") for n in range(40)]  # short: no key shape
    await bot.api.wait_for("sendMessage", lambda r: r.chat_id == BOB, since=since)
    await bot.settle(1.0)
    deleted = {int(r.params["message_id"]) for r in bot.api.sent_to(BOB, "deleteMessage")}
    assert set(ids) <= deleted
    first = bot.api.texts(BOB, since=since)[0]
    assert "(2/2)" in first or first == SKIPPED


async def test_a_key_sent_right_after_connect_is_deleted_before_connect_is_answered(bot):
    """The key arrives while "/connect kraken" still waits its turn: it is deleted at
    once, not after /connect has been answered."""
    await bot.say(BOB, "/start")
    since = bot.api.mark()
    bot.api.user_message(BOB, "/help")  # keeps Bob's queue busy for a moment
    bot.api.user_message(BOB, "/connect kraken")
    key_id = bot.api.user_message(BOB, "pw-short")  # no key shape: deleted for the step
    deleted = await bot.api.wait_for(
        "deleteMessage", lambda r: int(r.params["message_id"]) == key_id, since=since
    )
    first_prompt = await bot.api.wait_for(
        "sendMessage", lambda r: "(1/2)" in str(r.params.get("text")), since=since, timeout=15
    )
    assert bot.api.requests.index(deleted) < bot.api.requests.index(first_prompt)
    second = await bot.api.wait_for(  # and the conversation still took it as the key
        "sendMessage", lambda r: "(2/2)" in str(r.params.get("text")), since=since, timeout=15
    )
    assert second.chat_id == BOB


async def test_stopping_answers_at_most_two_more_queued_updates_per_user(data_dir):
    """Issue 15, item 8: once the bot stops, a flooder's queue is not answered at one
    reply a second (20 s); at most KEEP_ON_SHUTDOWN more of each user's queued updates
    are, so a user with a command or two queued loses nothing."""
    bot = await start_bot(data_dir)
    try:
        await bot.say(FLOODER, "/start")
        await bot.say(BOB, "/start")
        await bot.settle(1.1)  # Bob's chat may take a message again
        since = bot.api.mark()
        for n in range(FLOOD):
            bot.api.user_message(FLOODER, f"hello {n}")
        await bot.api.wait_for("sendMessage", lambda r: r.chat_id == FLOODER, since=since)
        bot.api.user_message(BOB, "/help")
        bot.api.user_message(BOB, "/help")
        proc = processor(bot)

        def bob_waits() -> bool:  # one of Bob's still queued, the other answered or too
            seen = len(bot.api.texts(BOB, since=since)) + proc.queued(BOB)
            return proc.queued(BOB) >= 1 and seen >= 2

        async with asyncio.timeout(10):
            while not bob_waits() or proc.queued(FLOODER) < MAX_QUEUED_PER_USER - 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        flooder_queued = proc.queued(FLOODER)
        await bot.app.updater.stop()
        before = len(replies_to(bot, FLOODER, since))
        await bot.app.stop()

        answered = len(replies_to(bot, FLOODER, since)) - before
        # the one running, KEEP_ON_SHUTDOWN more, and possibly the one "skipped" notice
        assert answered <= 1 + KEEP_ON_SHUTDOWN + 1
        assert proc.dropped_on_shutdown >= flooder_queued - 1 - KEEP_ON_SHUTDOWN
        assert len(bot.api.texts(BOB, since=since)) == 2  # both of Bob's answered
    finally:
        await stop_bot(bot)
