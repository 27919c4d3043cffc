"""Every word of /disconnect beyond /connect's shared texts (``messages/connect.py``):
the question naming the key, its buttons and the answers to them."""

from __future__ import annotations

from nija_tg.messages.connect import DISCONNECT_CONFIRM
from nija_tg.messages.text import esc

USAGE = "Usage: /disconnect (no arguments); you will be asked to confirm."
ERASE_BUTTON = "Yes, erase my keys"
KEEP_BUTTON = "No, keep them"
CANCELLED_TOAST = "Cancelled."
KEPT = "Nothing changed: your keys stay connected."
ERASING_TOAST = "Erasing your keys…"


def question(exchange_id: str | None, key_tail: str | None) -> str:
    """The confirmation: the key named when it is stored (a pending check has none yet)."""
    if exchange_id is None:
        what = "your key"
    else:
        what = f"your <b>{esc(exchange_id)}</b> key {esc(key_tail or '')}"
    return DISCONNECT_CONFIRM.format(what=what)
