"""The admins' health alerts spend the bot's one outgoing budget at alert priority
(issue 14, item 1: user action > alerts > fills > summaries), observed at the fake Bot
API enforcing Telegram's limits: an alert raised while replies and fills wait goes after
those replies and before those fills. Ordering, not wall-clock thresholds."""

from __future__ import annotations

import asyncio

from nija_tg.handlers.admin_health import HealthAlerts
from nija_tg.handlers.rate_limit import PerChatRateLimiter
from nija_tg.telegram_out.budget import Priority
from tests.handlers.harness import ADMIN_ID, start_bot, stop_bot
from tests.handlers.test_fairness_budget import all_sent, queue
from tests.handlers.test_health import beat

FIRST = list(range(8300, 8360))  # their replies wait when the alert is raised
LATE = list(range(8400, 8420))  # they ask after the alert is waiting for its token
FILLS = list(range(9400, 9490))


async def replies_in(budget, before: int, count: int) -> None:
    """Until ``count`` replies since ``before`` hold or wait for a token."""
    async with asyncio.timeout(30):
        while budget.waiting(Priority.ACTION) + budget.granted[Priority.ACTION] - before < count:  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_a_health_alert_goes_after_replies_and_before_fills(data_dir):
    """Fills queued, 60 users ask /status, a health alert is raised while their replies
    wait, then 20 more users ask: every reply (the later ones too) goes before the
    alert, and the alert before the fills still queued."""
    bot = await start_bot(data_dir, api_options={"enforce_limits": True})
    try:
        await bot.say(ADMIN_ID, "/start")
        await asyncio.gather(*(bot.say(uid, "/start", timeout=30) for uid in FIRST + LATE))
        await beat(bot)
        alerts = HealthAlerts(bot.services.health, bot.app.bot, first_check_s=0)
        assert await alerts.check() == 0  # healthy: nothing to tell
        await asyncio.sleep(1.1)  # every chat may take a message again
        limiter = bot.app.bot.rate_limiter
        assert isinstance(limiter, PerChatRateLimiter)
        budget = limiter.budget
        assert bot.engine is not None

        await queue(bot.engine.db, dict.fromkeys(FILLS, "fill"))
        since = bot.api.mark()
        before = budget.granted[Priority.ACTION]
        asks = [asyncio.ensure_future(bot.ask(uid, "/status", timeout=60)) for uid in FIRST]
        await replies_in(budget, before, len(FIRST))
        await beat(bot, age_s=300)  # the engine stopped reporting five minutes ago
        check = asyncio.ensure_future(alerts.check())
        async with asyncio.timeout(10):
            while budget.waiting(Priority.ALERT) == 0 and not check.done():  # noqa: ASYNC110
                await asyncio.sleep(0.002)
        assert budget.waiting(Priority.ALERT) == 1  # it waits at alert priority
        fills_granted = budget.granted[Priority.FILL]
        asks += [asyncio.ensure_future(bot.ask(uid, "/status", timeout=60)) for uid in LATE]
        await replies_in(budget, before, len(FIRST) + len(LATE))
        assert await check == 1
        await asyncio.gather(*asks)
        await all_sent(bot, len(FILLS))

        sent = [r for r in bot.api.requests[since:] if r.method == "sendMessage" and r.ok]
        alert_at = next(i for i, r in enumerate(sent) if r.chat_id == ADMIN_ID)
        assert "the engine last reported 5 min ago" in sent[alert_at].params["text"]
        late_replies = [i for i, r in enumerate(sent) if r.chat_id in LATE]
        assert len(late_replies) == len(LATE) and max(late_replies) < alert_at
        assert not any(r.chat_id in FIRST for r in sent[alert_at:])
        # no fill took a token once the alert waited: those before it had theirs already
        fills = [i for i, r in enumerate(sent) if r.chat_id in FILLS]
        assert len([i for i in fills if i < alert_at]) <= fills_granted
        assert len(fills) > fills_granted  # fills were still waiting: they went after it
        assert budget.granted[Priority.ALERT] == 1
        assert bot.api.rate_limited == [] and bot.api.violations == []
    finally:
        await stop_bot(bot)
