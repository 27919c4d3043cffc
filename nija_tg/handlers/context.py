"""The typed context every handler receives (PTB ``ContextTypes``).

``context.services`` is the process's Services; ``context.caller`` is the caller's user
row, loaded once per update by the gatekeeper (None for strangers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    from nija_tg.services.container import Services
    from nija_tg.services.users_service import UserRow

SERVICES_KEY = "services"


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    caller: UserRow | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data[SERVICES_KEY]


CONTEXT_TYPES = ContextTypes(context=BotContext)

BotApplication = Application[ExtBot, BotContext, dict, dict, dict, None]
