"""Every word of the admins' answers to their actions: /pause, /resume, /halt, /unhalt,
/broadcast (preview and confirmations), /role, /grant, /revoke, /bound, and the admin
commands' usage lines and refusals. (The users' side of each action is an event:
``render.py``.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nija_tg.core.models import Role
from nija_tg.core.setting_bounds import Bound, describe
from nija_tg.messages.text import esc, plural

REFUSAL = "That command is for admins."
PRIVATE_ONLY = "Admin commands work only in a private chat with me."
CANCELLED = "Cancelled."
MAX_BOUND_LINES = 60
DEFAULT_NOTES = ("(default)", "(upper end: default)")

_USAGE = {
    "users": "Usage: /users [page] — page is a number from 1",
    "user": "Usage: /user <id> — a Telegram user id (digits only)",
    "pause": "Usage: /pause <id|all> [reason]",
    "resume": "Usage: /resume <id|all>",
    "role": "Usage: /role <id> admin|trader|viewer",
    "grant": "Usage: /grant <viewer id> <trader id>",
    "revoke": "Usage: /revoke <viewer id> <trader id>",
    "audit": "Usage: /audit [n] — n between 1 and 100",
    "broadcast": "Usage: /broadcast <text> — up to 3500 characters",
    "halt": "Usage: /halt — no arguments",
    "unhalt": "Usage: /unhalt — no arguments",
    "health": "Usage: /health — no arguments",
    "bound": "Usage: /bound [<setting> <lo..hi|choices|off> [user id|all]] — e.g. "
    "/bound max_position_usd ..500, /bound allowed_pairs BTC,ETH 12345, /bound leverage_cap off",
}
ADMIN_COMMANDS_WITH_USAGE = tuple(_USAGE)


def usage(command: str) -> str:
    """The usage line of an admin command (escaped)."""
    return esc(_USAGE[command])


def _people(n: int) -> str:
    return plural(n, "user")


def _told(n: int) -> str:
    """Who was told: ``each was told`` for several, ``they were told`` for one."""
    return "they were told" if n == 1 else "each was told"


# --- /pause, /resume ------------------------------------------------------------------------

NOBODY_TO_PAUSE = "Nobody to pause."
NOBODY_PAUSED = "Nobody is paused."
PAUSE_CANCELLED = "Cancelled: nobody paused."


def pause_all_question(count: int, reason: str) -> str:
    why = f"\nReason: {esc(reason[:200])}" if reason.strip() else ""
    return (
        f"⚠️ <b>Pause {_people(count)}?</b> No new trades for "
        f"{'them' if count == 1 else 'any of them'} until an admin resumes them; stops keep "
        f"protecting open positions. {'They are' if count == 1 else 'Each is'} told.{why}"
    )


def pause_all_button(count: int) -> str:
    return f"Yes, pause {_people(count)}"


def paused_one(target: int, paused: bool) -> str:
    if paused:
        return f"Paused user <code>{target}</code>; they were told."
    return f"User <code>{target}</code> is already paused."


def paused_all(paused: Sequence[Any]) -> str:
    n = len(paused)
    return f"Paused {_people(n)}; {_told(n)}." if paused else NOBODY_TO_PAUSE


def resumed_one(target: int, resumed: bool) -> str:
    if resumed:
        return f"Resumed user <code>{target}</code>; they were told."
    return f"User <code>{target}</code> is not paused."


def resumed_all(resumed: Sequence[Any]) -> str:
    n = len(resumed)
    return f"Resumed {_people(n)}; {_told(n)}." if resumed else NOBODY_PAUSED


# --- /halt, /unhalt --------------------------------------------------------------------------

HALT_QUESTION = (
    "⚠️ <b>Halt trading for everyone?</b> Every user goes on exits only: no new "
    "positions; strategy exits and stops keep running. /unhalt lifts it."
)
HALT_BUTTON = "Yes, halt all trading"
HALTED_ALREADY = "Trading is already halted. /unhalt lifts the halt."
HALT_CANCELLED = "Cancelled: trading is not halted."
NOT_HALTED = "Trading is not halted."


def halted(told: int) -> str:
    return (
        "🛑 <b>Global halt is on: everyone is on exits only.</b> No new positions for "
        "anyone; strategy exits and stops keep running, so open positions stay protected. "
        f"Told {_people(told)} with trading on. /unhalt lifts it."
    )


def unhalted(told: int) -> str:
    return (
        "✅ Global halt lifted: each user's own switch applies again. Told "
        f"{_people(told)} with trading on."
    )


# --- /broadcast -----------------------------------------------------------------------------

BROADCAST_CANCELLED = "Cancelled: nothing was sent."


def broadcast_preview_heading(recipients: int) -> str:
    return f"📣 <b>Preview</b> — this goes to {_people(recipients)}:"


def broadcast_button(recipients: int) -> str:
    return f"📣 Send to {_people(recipients)}"


def broadcast_queued(queued: int) -> str:
    return f"Broadcast queued for {_people(queued)}."


# --- /role, /grant, /revoke -----------------------------------------------------------------


def role_unchanged(target_id: int, role: Role) -> str:
    return f"User <code>{target_id}</code> is already {esc(role.value)}."


def role_changed(target_id: int, old: Role, new: Role, *, configured_admin: bool) -> str:
    text = (
        f"User <code>{target_id}</code> is now <b>{esc(new.value)}</b> "
        f"(was {esc(old.value)}); their command menu was updated."
    )
    if configured_admin:
        text += "\nNote: they are listed in NIJA_ADMIN_IDS, so /start makes them admin again."
    if new is Role.VIEWER:
        text += "\nViewers do not trade: their trading was switched off."
    return text


def granted(viewer_id: int, trader_id: int, new: bool) -> str:
    if new:
        return f"Viewer <code>{viewer_id}</code> can now see trader <code>{trader_id}</code>."
    return f"Viewer <code>{viewer_id}</code> could already see trader <code>{trader_id}</code>."


def revoked(viewer_id: int, trader_id: int, existed: bool) -> str:
    if existed:
        return f"Viewer <code>{viewer_id}</code> can no longer see trader <code>{trader_id}</code>."
    return f"There was no grant of trader <code>{trader_id}</code> to <code>{viewer_id}</code>."


# --- /bound -----------------------------------------------------------------------------------

NO_BOUNDS = "No bounds are set: users may use the full ranges."


def bound_set(
    name: str,
    bound: Bound | None,
    target_id: int | None,
    clamped: int,
    default: Bound | None = None,
) -> str:
    """A bound set (``bound``) or lifted (None) for everyone or one user; ``clamped``
    users had their settings moved inside it; ``default`` holds again when lifted."""
    who = "everyone" if target_id is None else f"user <code>{target_id}</code>"
    if bound is None:
        text = f"Bound on <b>{esc(name)}</b> lifted for {who}."
        if default is not None and target_id is None:
            text += f"\nThe default bound holds again: {esc(describe(default))}."
        return text
    text = f"Bound set for {who}: <b>{esc(name)}</b> {esc(describe(bound))}."
    if clamped:
        text += f"\nSettings moved inside it for {_people(clamped)}; {_told(clamped)}."
    return text


def bounds(lines: Sequence[str]) -> str:
    """/bound alone: every bound in effect (lines as the bounds service words them)."""
    if not lines:
        return NO_BOUNDS
    shown = [esc(line) for line in lines[:MAX_BOUND_LINES]]
    if len(lines) > MAX_BOUND_LINES:
        shown.append(f"… and {len(lines) - MAX_BOUND_LINES} more")
    text = "⚖️ <b>Bounds on settings</b> (in effect)\n" + "\n".join(shown)
    if any(line.endswith(DEFAULT_NOTES) for line in lines):
        text += (
            "\n<i>(default)</i>: holds until an admin bounds the same setting, e.g. "
            "<code>/bound leverage_cap ..20</code>."
        )
    return text
