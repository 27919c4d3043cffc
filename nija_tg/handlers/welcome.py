"""The welcome a new user gets (after /start, or when an admin approves them)."""

from __future__ import annotations

from nija_tg.core.models import Role
from nija_tg.handlers.replies import esc

WELCOME = (
    "Welcome to <b>nija</b>, {name}! You are registered as <b>{role}</b>.\n\n"
    "Next steps:\n"
    "1. /connect your exchange account (in this private chat; keys are encrypted at once "
    "and your message is deleted).\n"
    "2. Check /settings for your risk limits.\n"
    "3. /trade on to start. Paper trading (simulated, no real money) is the default.\n\n"
    "/help lists everything you can do."
)

ASKED = (
    "Thanks, {name}! New users join here with an admin's approval: your request went to "
    "the admins. You will get a message in this chat when they decide."
)
WAITING = "Your request to join is still waiting for an admin. You will get a message here."
CLOSED = "Sorry: this bot is not taking new users."


def welcome_text(first_name: str | None, role: Role) -> str:
    return WELCOME.format(name=esc(first_name or "trader"), role=esc(role.value))


def asked_text(first_name: str | None) -> str:
    return ASKED.format(name=esc(first_name or "there"))
