"""Words every part of the bot shares: the reply keyboard's quick buttons, the Yes/No
confirmations' common answers, an expired button, a sender faster than the bot can
answer, what the bot says to what no feature took (unknown commands, stickers, photos)
and when a handler failed."""

from __future__ import annotations

from nija_tg.messages.text import esc

STATUS_KEY = "📊 Status"
POSITIONS_KEY = "📂 Positions"
PNL_KEY = "📈 P&L"
SETTINGS_KEY = "⚙️ Settings"
KEYBOARD_NOTE = "⌨️ Quick buttons are below the message field: Status, Positions, P&amp;L, Settings."
KEYBOARD_PLACEHOLDER = "Tap a button or send a /command"
NOT_YOURS = "This button has expired or is not for you. Send the command again."
CANCELLED = "Cancelled: nothing was done."
NO_BUTTON = "Cancel"
UNKNOWN_SHAPE = "I don't know that command. Send /help for the list."
COMMANDS_ONLY = "I understand commands only. Send /help to see them."
SOMETHING_WENT_WRONG = "Sorry, something went wrong on our side. Please try again in a moment."
EXPIRED_BUTTON = "This button has expired. Send the command again."
# a sender whose queue overflowed (handlers/update_processor.py)
SKIPPED = "You are sending faster than I can answer; I skipped some messages."
SKIPPED_SECRETS = (
    "You are sending faster than I can answer; I skipped some messages. Some of them "
    "looked like API keys or secrets: I deleted those. Revoke those keys on the exchange "
    "and create new ones."
)


def unknown_command(name: str) -> str:
    """``name``: a well-formed command word (``[a-z0-9_]{1,32}``), never its arguments."""
    return f"I don't know the command /{esc(name)}. Send /help for the list."


def failed(user_message: str) -> str:
    """A handled error's own explanation (``NijaError.user_message``), escaped."""
    return esc(user_message)
