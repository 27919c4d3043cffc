"""Every word of joining: the welcome (after /start, or when an admin approves), approval
mode's request to the admins and its answers, a closed bot's refusal, and the gatekeeper's
lines to strangers and to group chats. Names are shown with ``echo``: escaped, printable
characters only (a right-to-left override cannot turn a join request around), shortened."""

from __future__ import annotations

from nija_tg.core.models import Role
from nija_tg.messages.text import echo, esc

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
RECORDED = (
    "Thanks, {name}! New users join here with an admin's approval. Your request is "
    "recorded, but no admin could be reached just now: an admin will see it when they next "
    "open the bot. You will get a message in this chat when they decide."
)
WAITING = "Your request to join is still waiting for an admin. You will get a message here."
REMINDED = (
    "Your request to join is still waiting for an admin: I reminded the admins. "
    "You will get a message here."
)
WAITING_UNSEEN = (
    "Your request to join is recorded and still waiting: no admin could be reached yet. "
    "An admin will see it when they next open the bot; you will get a message here."
)
NO_PENDING = "No join requests are waiting."
CLOSED = "Sorry: this bot is not taking new users."
REJECTED = "Sorry: your request to join was declined."
START_IN_PRIVATE = "Please talk to me in a private chat: open my profile and press Start."
PRIVATE_ONLY = "I work in private chats only: open my profile and press Start there."
START_FIRST_TOAST = "Please send /start first."
START_FIRST = "Hello! Please send /start to register first."
APPROVE_BUTTON = "✅ Approve"
REJECT_BUTTON = "❌ Reject"
ADMINS_ONLY_TOAST = "That button is for admins."
NO_SUCH_REQUEST = "No such request."
VERDICT = {True: "✅ Approved", False: "❌ Rejected"}


def welcome_text(first_name: str | None, role: Role) -> str:
    return WELCOME.format(name=echo(first_name or "trader"), role=esc(role.value))


def asked_text(first_name: str | None, reached: bool = True) -> str:
    """The newcomer's answer to their first /start: ``reached`` when an admin got it."""
    return (ASKED if reached else RECORDED).format(name=echo(first_name or "there"))


def pending_header(total: int, shown: int) -> str:
    """Above the pending requests (each its own message with Approve / Reject)."""
    head = f"⏳ Join requests waiting: <b>{total}</b>"
    if total > shown:
        head += f"\nThe oldest {shown} are below: decide them, then send /pending for the rest."
    return head


def _newcomer(user_id: int, username: str | None, first_name: str | None) -> str:
    who = echo(first_name or "Someone")
    handle = f" @{echo(username)}" if username else ""
    return f"🆕 Join request: {who}{handle} (id <code>{user_id}</code>)"


def join_request(user_id: int, username: str | None, first_name: str | None) -> str:
    """What each admin gets, above the Approve / Reject buttons."""
    return f"{_newcomer(user_id, username, first_name)}. Let them in?"


def join_decided(user_id: int, username: str | None, first_name: str | None, approve: bool) -> str:
    """The request, edited in the deciding admin's chat."""
    verdict = "approved" if approve else "rejected"
    return f"{_newcomer(user_id, username, first_name)}: {verdict} by you."


def join_decided_by(
    user_id: int,
    username: str | None,
    first_name: str | None,
    status: str,
    decided_by: int | None,
    decider_name: str | None,
) -> str:
    """The request, edited in a later admin's chat: another admin decided first."""
    who = f"admin {echo(decider_name)}" if decider_name else "another admin"
    if decided_by is not None:
        who += f" (id <code>{decided_by}</code>)"
    return f"{_newcomer(user_id, username, first_name)}: already {esc(status)} by {who}."


def already_decided(status: str, decided_by: int | None) -> str:
    """The toast (plain text) of a later press: another admin decided first."""
    return f"Already {status} by {decided_by}."
