"""The notification outbox: rows written in the same transaction as the event they
announce, delivered later by the engine's sender.

Each user sets each event group to ``on``, ``silent`` (delivered without sound) or
``off`` (not written at all).
"""

from __future__ import annotations

import json
import time

from nija_tg.storage.db import Transaction

# event kind -> preference group the user controls with /notify
KIND_GROUP = {
    "fill": "fills",
    "stop": "stops",
    "take_profit": "stops",
    "daily_loss": "halts",
    "drawdown": "halts",
    "pause": "halts",
    "halt": "halts",
    "error": "errors",
    "connection": "errors",
    "summary": "summary",
}
GROUPS = ("fills", "stops", "halts", "errors", "summary")
PREF_VALUES = ("on", "silent", "off")
# Kinds that are always delivered whatever the preferences (service messages).
ALWAYS = frozenset({"broadcast", "info", "account"})


async def enqueue(
    tx: Transaction,
    user_id: int,
    kind: str,
    text: str,
    *,
    dedupe_key: str | None = None,
    not_before: float = 0.0,
) -> int | None:
    """Queue ``text`` for ``user_id``'s chat, honouring their preference for ``kind``.

    Returns the outbox id, or None when the user turned this event off, does not exist,
    or a row with the same ``dedupe_key`` exists already (idempotent events)."""
    row = await tx.fetchone("SELECT chat_id, notify_prefs FROM users WHERE user_id = ?", (user_id,))
    if row is None:
        return None
    prefs = json.loads(row["notify_prefs"] or "{}")
    pref = "on" if kind in ALWAYS else prefs.get(KIND_GROUP.get(kind, ""), "on")
    if pref == "off":
        return None
    cur = await tx.execute(
        "INSERT OR IGNORE INTO outbox(user_id, chat_id, kind, text, silent, not_before, "
        "dedupe_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            row["chat_id"],
            kind,
            text,
            int(pref == "silent"),
            not_before,
            dedupe_key,
            time.time(),
        ),
    )
    return cur.lastrowid if cur.rowcount else None
