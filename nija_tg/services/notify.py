"""A service tells a user something: a typed event (``core.events``) rendered by the one
renderer (``messages.render``) into an outbox row, in the caller's transaction, under
the event's kind (the user's /notify preference) and dedupe key. No service
builds message text."""

from __future__ import annotations

from nija_tg.core.events import Event
from nija_tg.messages.render import render
from nija_tg.storage import outbox
from nija_tg.storage.db import Transaction


async def tell(tx: Transaction, user_id: int, event: Event) -> int | None:
    """Queue ``event`` for ``user_id``; the outbox id, or None (turned off, no such
    user, or told already: same dedupe key)."""
    return await outbox.enqueue(
        tx, user_id, event.kind, render(event), dedupe_key=event.dedupe_key(user_id)
    )
