"""/health and the admins' health alerts, through the real python-telegram-bot and the
fake Bot API, over heartbeat rows as the engine writes them."""

from __future__ import annotations

import time

from nija_tg.handlers.admin_health import HealthAlerts
from nija_tg.storage import heartbeats
from tests.handlers.harness import ADMIN_ID
from tests.handlers.test_reports import TRADER as TRADER_WITH_DATA
from tests.handlers.test_reports import trader_with_data

TRADER = 3001


async def beat(bot, *, age_s: float = 1.0, last_close_age_s: float = 100.0, failing=None):
    now = time.time()
    rows = {
        "engine": {
            "version": "9.9.9",
            "pid": 42,
            "started_at": now - 3600,
            "loops": 3,
            "backlog": 0,
        },
        "market:kraken:5m": {
            "timeframe_ms": 300_000,
            "markets": 2,
            "last_close": int((now - last_close_age_s) * 1000),
        },
        "venue:kraken": {
            "last_ok": now - 5,
            "last_private_ok": now - 5,
            "failing_since": failing,
            "last_error": "ExchangeUnreachableError" if failing else None,
            "calls": 10,
            "failures": 1 if failing else 0,
        },
    }
    async with bot.services.health.db.transaction() as tx:
        await heartbeats.replace_all(tx, now - age_s, rows)


async def test_health_for_admins_only(bot):
    await bot.say(ADMIN_ID, "/start")
    await bot.say(TRADER, "/start")
    assert "never reported" in await bot.say(ADMIN_ID, "/health")
    await beat(bot)
    text = await bot.say(ADMIN_ID, "/health")
    assert "All good" in text and "9.9.9" in text and "Loops: 3" in text
    assert "kraken:5m: 2 market(s)" in text and "kraken ✅" in text
    await beat(bot, failing=time.time() - 600)
    text = await bot.say(ADMIN_ID, "/health")
    assert "kraken has been failing for 10 min (ExchangeUnreachableError)" in text
    assert await bot.say(TRADER, "/health") == "That command is for admins."
    assert "Usage: /health" in await bot.say(ADMIN_ID, "/health now")


async def test_admins_are_told_once_when_a_problem_appears_and_when_it_clears(bot):
    await bot.say(ADMIN_ID, "/start")
    await bot.say(TRADER, "/start")
    alerts = HealthAlerts(bot.services.health, bot.app.bot, first_check_s=0)
    assert await alerts.check() == 0  # the engine never reported: shown, not alerted
    await beat(bot)
    assert await alerts.check() == 0
    since = bot.api.mark()
    await beat(bot, age_s=300)  # the engine stopped beating five minutes ago
    assert await alerts.check() == 1
    told = bot.texts(ADMIN_ID, since=since)
    assert len(told) == 1 and "the engine last reported 5 min ago" in told[0]
    assert bot.texts(TRADER, since=since) == []
    assert await alerts.check() == 0  # not again
    restarted = HealthAlerts(bot.services.health, bot.app.bot, first_check_s=0)
    assert await restarted.check() == 0  # a restart of the bot does not repeat it
    await beat(bot)
    assert await restarted.check() == 1
    assert "Recovered" in bot.texts(ADMIN_ID, since=since)[-1]
    await beat(bot, last_close_age_s=3600)  # alive, but candles an hour behind
    assert await restarted.check() == 1
    assert "kraken:5m is late" in bot.texts(ADMIN_ID, since=since)[-1]


async def test_the_dashboard_warns_when_its_figures_may_be_old(bot):
    await bot.say(TRADER, "/start")
    assert "may be old" not in await bot.say(TRADER, "/status")  # never reported: no claim
    await beat(bot)
    assert "may be old" not in await bot.say(TRADER, "/status")
    await beat(bot, age_s=600)
    assert "⚠️ The engine last reported 10 min ago: these figures may be old." in await bot.say(
        TRADER, "/status"
    )
    await beat(bot, last_close_age_s=3600)
    assert "kraken:5m is late" in await bot.say(TRADER, "/status")


async def test_balance_and_positions_warn_when_their_figures_may_be_old(bot):
    """/balance and /positions show the engine's last figures "as of" a time: like
    /status, they say so when the engine stopped reporting or a market is late."""
    await trader_with_data(bot)
    await beat(bot)
    for command in ("/balance", "/positions"):
        text = await bot.say(TRADER_WITH_DATA, command)
        assert "as of" in text.lower() and "may be old" not in text, command
    await beat(bot, age_s=600)
    for command in ("/balance", "/positions"):
        text = await bot.say(TRADER_WITH_DATA, command)
        assert "⚠️ The engine last reported 10 min ago: these figures may be old." in text, command
    await beat(bot, last_close_age_s=3600)
    for command in ("/balance", "/positions"):
        assert "kraken:5m is late" in await bot.say(TRADER_WITH_DATA, command), command
