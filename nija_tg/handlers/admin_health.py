"""/health for admins, and the admins' health alerts: the bot watches the engine's
heartbeat and tells every admin when a problem appears (the engine stopped reporting,
candles late by more than two, a venue failing for minutes) and when it clears.

The alerts spend the bot's one outgoing budget at alert priority (telegram_out.budget:
after the replies to users' own actions, before fills and summaries)."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ExtBot

from nija_tg.handlers.admin_common import UsageError, admin_command
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.messages import health as say
from nija_tg.periodic import run_every
from nija_tg.services.health_service import HealthService
from nija_tg.telegram_out.budget import Priority

log = logging.getLogger("nija_tg.bot")

WATCH_INTERVAL_S = 15.0
FIRST_CHECK_S = 60.0  # the engine starts beside the bot: give it time to report


async def health_command(update: Update, context: BotContext, actor_id: int) -> None:
    if context.args:
        raise UsageError("arity")
    await reply(update, say.health(await context.services.health.report()))


def handlers() -> list:
    return [admin_command("health", health_command)]


class HealthAlerts:
    """Runs in the bot process (started in ``post_init``)."""

    def __init__(
        self,
        service: HealthService,
        bot: ExtBot,
        interval_s: float = WATCH_INTERVAL_S,
        first_check_s: float = FIRST_CHECK_S,
    ) -> None:
        self.service = service
        self.bot = bot
        self.interval_s = interval_s
        self.first_check_s = first_check_s

    async def check(self) -> int:
        """Tell the admins what changed; the number of messages sent."""
        changes = await self.service.alert_changes()
        if not changes:
            return 0
        sent = 0
        admins = await self.service.admin_ids()
        for change in changes:
            log.warning("health %s: %s", "cleared" if change.cleared else "problem", change.text)
            for chat_id in admins:
                try:
                    await self.bot.send_message(
                        chat_id,
                        say.alert(change),
                        parse_mode="HTML",
                        rate_limit_args=Priority.ALERT,  # after replies, before fills
                    )
                    sent += 1
                except TelegramError as exc:
                    log.info("health alert to admin %s not sent: %s", chat_id, exc)
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(
            stop,
            self.interval_s,
            self.check,
            log=log,
            failure="health check failed",
            first_delay_s=self.first_check_s,
        )
