"""One outgoing budget (issue 14, item 1), observed through the fake Bot API enforcing
Telegram's limits: the real Application answers users and delivers the outbox from the
same process, replies first; alerts before fills before summaries; ~30/s overall and
~1/s per chat held; 429 ``retry_after`` honoured; deletions never wait; paid broadcasts
only when the operator turned them on.

Ordering, not wall-clock thresholds (timing is bench/fairness.py's)."""

from __future__ import annotations

import asyncio

from nija_tg.core.models import Role
from nija_tg.handlers.rate_limit import PerChatRateLimiter
from nija_tg.storage import outbox, users
from nija_tg.storage.db import Database
from tests.handlers.harness import BotHarness, start_bot, stop_bot

ASKERS = list(range(8000, 8020))
STOPS = list(range(9000, 9020))  # chats holding an alert
FILLS = list(range(9100, 9190))
SUMMARIES = list(range(9200, 9240))


async def queue(db: Database, plan: dict[int, str]) -> None:
    """Register each chat's user and queue one row of ``kind`` for it, in one
    transaction (the sender sees all of them or none)."""
    async with db.transaction() as tx:
        for uid in plan:
            await users.upsert_user(tx, uid, uid, None, "N", Role.TRADER)
        for uid, kind in plan.items():
            await outbox.enqueue(tx, uid, kind, f"{kind} for {uid}")


async def all_sent(bot: BotHarness, rows: int, timeout: float = 60) -> None:
    assert bot.engine is not None
    async with asyncio.timeout(timeout):
        while (await outbox.counts(bot.engine.db))["sent"] < rows:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


def position(bot: BotHarness, chats: list[int]) -> list[int]:
    wanted = set(chats)
    return [
        i
        for i, r in enumerate(bot.api.requests)
        if r.method == "sendMessage" and r.ok and r.chat_id in wanted
    ]


async def test_replies_go_before_queued_notifications_within_telegrams_limits(data_dir):
    bot = await start_bot(data_dir, api_options={"enforce_limits": True})
    try:
        await asyncio.gather(*(bot.say(uid, "/start", timeout=30) for uid in ASKERS))
        await asyncio.sleep(1.1)  # the askers' chats may take a message again
        plan = dict.fromkeys(SUMMARIES, "summary")
        plan.update(dict.fromkeys(FILLS, "fill"))
        plan.update(dict.fromkeys(STOPS, "stop"))
        assert bot.engine is not None
        since = bot.api.mark()
        await queue(bot.engine.db, plan)
        asks = [bot.ask(uid, "/status", timeout=60) for uid in ASKERS]
        await asyncio.gather(*asks)
        pending_after_replies = (await outbox.counts(bot.engine.db))["pending"]
        await all_sent(bot, len(plan))

        # every /status answered while most of the 150 notifications still waited
        assert pending_after_replies >= len(plan) // 2
        # alerts first, then fills, then summaries (each chat holds one row)
        stops, fills, summaries = (
            position(bot, STOPS),
            position(bot, FILLS),
            position(bot, SUMMARIES),
        )
        assert len(stops) == len(STOPS) and len(summaries) == len(SUMMARIES)
        assert max(stops) < min(fills) and max(fills) < min(summaries)
        # Telegram's limits held, nothing refused, nothing paid for
        assert bot.api.rate_limited == [] and bot.api.violations == []
        assert bot.api.max_rate_per_bot() <= 30 and bot.api.max_rate_per_chat() <= 1
        assert not any(r.params.get("allow_paid_broadcast") for r in bot.api.requests[since:])
        assert bot.api.flood.paid_count() == 0
    finally:
        await stop_bot(bot)


async def test_retry_after_pauses_the_budget_and_deletions_still_go_at_once(data_dir):
    """The fake allows one message per 2 s in a chat: the bot's second message there is
    refused with retry_after; the budget waits it out (no request inside the penalty
    window) and retries, while a deletion goes at once."""
    bot = await start_bot(
        data_dir, api_options={"enforce_limits": True, "per_chat_per_second": 0.5}
    )
    try:
        chat = ASKERS[0]
        tg = bot.app.bot
        secret = bot.api.user_message(chat, "SECRET-TO-DELETE-0000")
        since = bot.api.mark()
        sends = asyncio.gather(*(tg.send_message(chat, f"m{i}") for i in range(3)))
        await bot.api.wait_for("sendMessage", lambda r: r.status == 429, since=since)
        await tg.delete_message(chat, secret)
        await sends
        done = [r for r in bot.api.requests[since:] if r.method != "getUpdates"]
        methods = [(r.method, r.status) for r in done]
        assert [r.params["text"] for r in done if r.method == "sendMessage" and r.ok] == [
            "m0",
            "m1",
            "m2",
        ]
        assert bot.api.rate_limited and bot.api.violations == []
        # the deletion went during the pause, before the refused message was retried
        first_429 = methods.index(("sendMessage", 429))
        deleted = methods.index(("deleteMessage", 200))
        retried = methods.index(("sendMessage", 200), first_429)
        assert first_429 < deleted < retried
        limiter = tg.rate_limiter
        assert isinstance(limiter, PerChatRateLimiter) and limiter.budget.retry_afters >= 1
    finally:
        await stop_bot(bot)


async def test_paid_broadcasts_carry_the_replies_the_free_budget_cannot_take(data_dir):
    """With NIJA_PAID_BROADCAST_RATE, a burst of replies over a notification backlog goes
    partly as paid broadcasts (counted in their own window by the fake); the free 30/s
    still holds, nothing is refused, every notification is delivered."""
    bot = await start_bot(
        data_dir, api_options={"enforce_limits": True}, NIJA_PAID_BROADCAST_RATE="200"
    )
    try:
        await asyncio.gather(*(bot.say(uid, "/start", timeout=30) for uid in ASKERS))
        await asyncio.sleep(1.1)
        plan = dict.fromkeys(FILLS, "fill")
        assert bot.engine is not None
        since = bot.api.mark()
        await queue(bot.engine.db, plan)
        await asyncio.gather(*(bot.ask(uid, "/status", timeout=60) for uid in ASKERS))
        await all_sent(bot, len(plan))
        sent = [r for r in bot.api.requests[since:] if r.method == "sendMessage" and r.ok]
        paid = [r for r in sent if r.params.get("allow_paid_broadcast")]
        assert len(sent) == len(plan) + len(ASKERS)
        assert paid and len(paid) < len(sent)  # only what the free 30/s could not take
        assert any(r.chat_id in ASKERS for r in paid)
        flagged = [
            r for r in bot.api.requests if r.ok and r.params.get("allow_paid_broadcast")
        ]  # the /start burst before may have paid too
        assert bot.api.flood.paid_count() == len(flagged) >= len(paid)
        assert bot.api.rate_limited == [] and bot.api.violations == []
        assert bot.api.max_rate_per_bot() <= 30 and bot.api.flood.max_rate_paid() <= 200
    finally:
        await stop_bot(bot)
