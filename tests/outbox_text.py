"""What a user reads for an outbox row, as the bot's sender renders it when it sends
(``messages.stored``): tests read queued notifications through these, since the engine
and the services queue events (type and payload), not text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nija_tg.messages.stored import stored_text
from nija_tg.storage.db import Database
from nija_tg.storage.outbox import OutboxRow

# the columns a raw ``SELECT`` needs for ``text_of``
TEXT_COLUMNS = "text, event_type, payload"


def text_of(row: OutboxRow | Mapping[str, Any]) -> str:
    """The text of an ``OutboxRow`` or of a raw row holding ``TEXT_COLUMNS``."""
    if isinstance(row, OutboxRow):
        return stored_text(row.text, row.event_type, row.payload)
    return stored_text(row["text"], row["event_type"], row["payload"])


async def told(db: Database, user_id: int, kind: str | None = None) -> list[tuple[str, str]]:
    """(kind, text) of ``user_id``'s rows, oldest first, optionally of one ``kind``."""
    where, params = "user_id = ?", [user_id]
    if kind is not None:
        where += " AND kind = ?"
        params.append(kind)
    rows = await db.fetchall(
        f"SELECT kind, {TEXT_COLUMNS} FROM outbox WHERE {where} ORDER BY outbox_id", params
    )
    return [(r["kind"], text_of(r)) for r in rows]
