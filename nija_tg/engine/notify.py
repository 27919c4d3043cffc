"""The engine tells a user something: a typed event (``core.events``) queued as an outbox
row of its type and data (``core.events_codec``), in the caller's transaction, under the
event's kind (the user's /notify preference) and dedupe key. The bot's sender renders it
(``messages.render``) when it sends: no engine module builds message text, and the
engine process does not import the renderer."""

from __future__ import annotations

from nija_tg.core import events_codec
from nija_tg.core.events import Event
from nija_tg.storage import outbox
from nija_tg.storage.db import Transaction


async def tell(tx: Transaction, user_id: int, event: Event) -> int | None:
    """Queue ``event`` for ``user_id``; the outbox id, or None (turned off, no such
    user, or told already: same dedupe key)."""
    event_type, payload = events_codec.dumps(event)
    return await outbox.enqueue_event(
        tx, user_id, event.kind, event_type, payload, dedupe_key=event.dedupe_key(user_id)
    )


def tell_later(tx: Transaction, user_id: int, event: Event) -> None:
    """``tell`` left for the group's COMMIT (``outbox.enqueue_event_later``): the row
    commits with the caller's other writes or not at all."""
    event_type, payload = events_codec.dumps(event)
    outbox.enqueue_event_later(
        tx, user_id, event.kind, event_type, payload, dedupe_key=event.dedupe_key(user_id)
    )
