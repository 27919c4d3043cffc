"""The notification outbox: rows written in the same transaction as the event they
announce, delivered later by the bot's sender. A row holds either an event (its type
name and JSON payload: ``core.events_codec``), rendered by the sender when it sends, or
a text (rows queued before the events, or by ``enqueue`` itself).

Each user sets each event group to ``on``, ``silent`` (delivered without sound) or
``off`` (not written at all).
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from nija_tg.storage.db import Batched, Database, Transaction

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
    return await _insert(tx, user_id, kind, text, None, None, dedupe_key, not_before)


async def enqueue_event(
    tx: Transaction,
    user_id: int,
    kind: str,
    event_type: str,
    payload: str,
    *,
    dedupe_key: str | None = None,
    not_before: float = 0.0,
) -> int | None:
    """Queue an event (its type name and JSON ``payload``, ``core.events_codec``) for
    ``user_id``'s chat, as ``enqueue`` does text: the bot's sender renders it when it
    sends. Returns the outbox id or None (turned off, no such user, told already)."""
    return await _insert(tx, user_id, kind, "", event_type, payload, dedupe_key, not_before)


async def _insert(
    tx: Transaction,
    user_id: int,
    kind: str,
    text: str,
    event_type: str | None,
    payload: str | None,
    dedupe_key: str | None,
    not_before: float,
) -> int | None:
    # one statement: the user's chat and preference read by the insert itself
    group = None if kind in ALWAYS else KIND_GROUP.get(kind, "")
    row = await tx.fetchone(
        "INSERT OR IGNORE INTO outbox(user_id, chat_id, kind, text, event_type, payload, "
        "silent, not_before, dedupe_key, created_at) "
        "SELECT user_id, chat_id, ?, ?, ?, ?, pref = 'silent', ?, ?, ? "
        "FROM (SELECT user_id, chat_id, CASE WHEN ? IS NULL THEN 'on' ELSE COALESCE("
        "json_extract(COALESCE(notify_prefs, '{}'), '$.\"' || ? || '\"'), 'on') END AS pref "
        "FROM users WHERE user_id = ?) WHERE pref != 'off' RETURNING outbox_id",
        (
            kind,
            text,
            event_type,
            payload,
            not_before,
            dedupe_key,
            time.time(),
            group,
            group,
            user_id,
        ),
    )
    return None if row is None else row["outbox_id"]


# ``enqueue_event`` left for the group's COMMIT: every body's rows in one statement that
# reads each user's chat and preference itself (a user deleted meanwhile, or who turned
# the event off, gets no row, as with ``_insert``); rows inserted in the order left
_EVENT_LATER = Batched(
    "INSERT OR IGNORE INTO outbox(user_id, chat_id, kind, text, event_type, payload, "
    "silent, not_before, dedupe_key, created_at) "
    "SELECT user_id, chat_id, kind, '', event_type, payload, pref = 'silent', not_before, "
    "dedupe_key, created_at FROM (SELECT v.column1 AS seq, u.user_id AS user_id, "
    "u.chat_id AS chat_id, v.column3 AS kind, v.column4 AS event_type, v.column5 AS payload, "
    "v.column6 AS not_before, v.column7 AS dedupe_key, v.column8 AS created_at, "
    "CASE WHEN v.column9 IS NULL THEN 'on' ELSE COALESCE(json_extract(COALESCE("
    "u.notify_prefs, '{}'), '$.\"' || v.column9 || '\"'), 'on') END AS pref FROM (VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ") AS v JOIN users u ON u.user_id = v.column2) WHERE pref != 'off' ORDER BY seq",
)
_later_seq = itertools.count()


def enqueue_event_later(
    tx: Transaction,
    user_id: int,
    kind: str,
    event_type: str,
    payload: str,
    *,
    dedupe_key: str | None = None,
    not_before: float = 0.0,
) -> None:
    """``enqueue_event`` left for the group's COMMIT (``Transaction.later``): the row
    commits with the body's other writes, in one multi-row statement with the other
    bodies' rows. No outbox id comes back."""
    seq = next(_later_seq)
    group = None if kind in ALWAYS else KIND_GROUP.get(kind, "")
    tx.later(
        _EVENT_LATER,
        ("outbox", seq),
        (seq, user_id, kind, event_type, payload, not_before, dedupe_key, time.time(), group),
    )


# -- delivery side (the bot's sender) -------------------------------------------------
# One sender process delivers; rows stay ``pending`` until Telegram answered, so a crash
# between the send and ``mark_sent`` repeats a message but never loses one.

MAX_MESSAGE_UNITS = 4096  # Telegram's text limit (UTF-16 code units, counted conservatively)
_SEPARATOR = "\n\n"
_HEADER_RESERVE = 32

_DUE = (
    "FROM outbox o LEFT JOIN users u ON u.user_id = o.user_id "
    "WHERE o.status = 'pending' AND o.not_before <= ? AND COALESCE(u.reachable, 1) = 1"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    outbox_id: int
    user_id: int | None
    chat_id: int
    kind: str
    text: str
    silent: bool
    status: str
    attempts: int
    not_before: float
    created_at: float
    sent_at: float | None
    # a queued event (``core.events_codec``): its type name and JSON payload, rendered
    # by the sender; None for rows queued as text (and every row older than migration 12)
    event_type: str | None = None
    payload: str | None = None

    def with_text(self, text: str) -> OutboxRow:
        """This row carrying ``text`` (its event rendered) for ``merge``."""
        return replace(self, text=text)


@dataclass(frozen=True, slots=True)
class Digest:
    """One message for one chat made of one or more outbox rows."""

    chat_id: int
    text: str
    silent: bool
    rows: tuple[OutboxRow, ...]

    @property
    def ids(self) -> list[int]:
        return [r.outbox_id for r in self.rows]

    @property
    def user_ids(self) -> set[int]:
        return {r.user_id for r in self.rows if r.user_id is not None}


def _row(row: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        outbox_id=row["outbox_id"],
        user_id=row["user_id"],
        chat_id=row["chat_id"],
        kind=row["kind"],
        text=row["text"],
        silent=bool(row["silent"]),
        status=row["status"],
        attempts=row["attempts"],
        not_before=row["not_before"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        event_type=row["event_type"],
        payload=row["payload"],
    )


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


async def due_chats(
    db: Database, now: float, *, exclude: Collection[int] = (), limit: int = 100
) -> list[int]:
    """Chats with due pending rows of reachable users, the longest-waiting first."""
    skip = list(exclude)
    extra = f" AND o.chat_id NOT IN ({_marks(skip)})" if skip else ""
    rows = await db.fetchall(
        f"SELECT o.chat_id, MIN(o.outbox_id) AS first {_DUE}{extra} "
        "GROUP BY o.chat_id ORDER BY first LIMIT ?",
        (now, *skip, limit),
    )
    return [r["chat_id"] for r in rows]


async def claim_due(
    db: Database,
    now: float,
    *,
    chat_ids: Collection[int] | None = None,
    per_chat: int = 50,
    limit: int = 5000,
) -> list[OutboxRow]:
    """Due pending rows (``not_before <= now``, user reachable), oldest first, at most
    ``per_chat`` per chat, optionally only for ``chat_ids``. Rows stay pending until
    ``mark_sent``/``drop``: the single sender is their only consumer."""
    only = list(chat_ids) if chat_ids is not None else None
    if only is not None and not only:
        return []
    extra = f" AND o.chat_id IN ({_marks(only)})" if only else ""
    rows = await db.fetchall(
        "SELECT * FROM (SELECT o.*, ROW_NUMBER() OVER "
        f"(PARTITION BY o.chat_id ORDER BY o.outbox_id) AS rn {_DUE}{extra}) "
        "WHERE rn <= ? ORDER BY outbox_id LIMIT ?",
        (now, *(only or ()), per_chat, limit),
    )
    return [_row(r) for r in rows]


async def mark_sent(db: Database, ids: Sequence[int], now: float | None = None) -> None:
    if not ids:
        return
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 "
            f"WHERE outbox_id IN ({_marks(ids)}) AND status = 'pending'",
            (now if now is not None else time.time(), *ids),
        )


async def reschedule(db: Database, ids: Sequence[int], not_before: float) -> None:
    """Try these rows again no earlier than ``not_before`` (429, 5xx, network errors)."""
    if not ids:
        return
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET not_before = ?, attempts = attempts + 1 "
            f"WHERE outbox_id IN ({_marks(ids)}) AND status = 'pending'",
            (not_before, *ids),
        )


async def drop(db: Database, ids: Sequence[int]) -> None:
    """Give up on rows Telegram can never deliver (e.g. "chat not found")."""
    if not ids:
        return
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET status = 'dropped', attempts = attempts + 1 "
            f"WHERE outbox_id IN ({_marks(ids)}) AND status = 'pending'",
            tuple(ids),
        )


async def mark_unreachable(db: Database, user_ids: Collection[int]) -> None:
    """Telegram said 403 (blocked): keep their rows pending but stop trying until the
    user writes to the bot again (``users.upsert_user`` sets ``reachable = 1``)."""
    users = list(user_ids)
    if not users:
        return
    async with db.transaction() as tx:
        await tx.execute(
            f"UPDATE users SET reachable = 0 WHERE user_id IN ({_marks(users)})", tuple(users)
        )


async def move_chat(db: Database, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup: pending rows follow it."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
            (new_chat_id, old_chat_id),
        )


async def next_due_at(db: Database) -> float | None:
    """Earliest ``not_before`` among pending rows of reachable users (None: nothing)."""
    row = await db.fetchone(f"SELECT MIN(o.not_before) AS t {_DUE}", (float("inf"),))
    return None if row is None or row["t"] is None else float(row["t"])


async def recently_sent(db: Database, since: float) -> dict[int, float]:
    """chat_id -> latest ``sent_at`` after ``since`` (a restarted sender spaces these)."""
    found = await db.fetchall(
        "SELECT chat_id, MAX(sent_at) AS t FROM outbox WHERE status = 'sent' AND sent_at >= ? "
        "GROUP BY chat_id",
        (since,),
    )
    return {r["chat_id"]: float(r["t"]) for r in found}


async def purge(db: Database, older_than: float) -> int:
    """Delete sent and dropped rows created before ``older_than`` (housekeeping)."""
    async with db.transaction() as tx:
        cur = await tx.execute(
            "DELETE FROM outbox WHERE status IN ('sent', 'dropped') AND created_at < ?",
            (older_than,),
        )
    return cur.rowcount


async def cap_unreachable(db: Database, keep: int) -> int:
    """Keep at most ``keep`` pending rows per user who blocked the bot: older ones are
    marked dropped (the newest wait for their return, merged into digests). Returns how
    many rows were dropped."""
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE outbox SET status = 'dropped' WHERE outbox_id IN ("
            " SELECT outbox_id FROM ("
            "  SELECT o.outbox_id, ROW_NUMBER() OVER ("
            "   PARTITION BY o.user_id ORDER BY o.outbox_id DESC) AS newer"
            "  FROM outbox o JOIN users u ON u.user_id = o.user_id"
            "  WHERE o.status = 'pending' AND u.reachable = 0)"
            " WHERE newer > ?)",
            (keep,),
        )
    return cur.rowcount


# -- inspection (admin views, tests) ------------------------------------------------------
async def counts(db: Database) -> dict[str, int]:
    """Rows per status, e.g. ``{"pending": 3, "sent": 10, "dropped": 0}``."""
    out = {"pending": 0, "sent": 0, "dropped": 0}
    for r in await db.fetchall("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status"):
        out[r["status"]] = r["n"]
    return out


async def deliverable_count(db: Database) -> int:
    """Pending rows of reachable users, whatever their ``not_before``."""
    row = await db.fetchone(f"SELECT COUNT(*) AS n {_DUE}", (float("inf"),))
    return row["n"] if row else 0


async def list_rows(
    db: Database, *, user_id: int | None = None, status: str | None = None
) -> list[OutboxRow]:
    clauses, params = [], []
    if user_id is not None:
        clauses.append("user_id = ?")
        params.append(user_id)
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    found = await db.fetchall(f"SELECT * FROM outbox{where} ORDER BY outbox_id", params)
    return [_row(r) for r in found]


async def get(db: Database, outbox_id: int) -> OutboxRow | None:
    row = await db.fetchone("SELECT * FROM outbox WHERE outbox_id = ?", (outbox_id,))
    return _row(row) if row else None


# -- digests --------------------------------------------------------------------------------
def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, units: int) -> str:
    out, used = [], 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > units:
            break
        out.append(ch)
        used += size
    return "".join(out)


def merge(
    rows: Sequence[OutboxRow],
    limit: int = MAX_MESSAGE_UNITS,
    header: Callable[[int], str] | None = None,
) -> Digest:
    """Merge one chat's pending rows (oldest first) into one message under ``limit``.
    ``header(n)``: the caller's words put above n > 1 merged rows (at most
    ``_HEADER_RESERVE`` units; the sender's are ``messages.render.digest_header``);
    storage adds none of its own.

    Event rows must carry their rendered text (``OutboxRow.with_text``). Rows that do
    not fit are left out (they stay pending for the next message); a single row longer
    than the limit is cut with "…". Silent only if every merged row is."""
    if not rows:
        raise ValueError("nothing to merge")
    if any(r.event_type is not None and not r.text for r in rows):
        raise ValueError("an event row is merged before it was rendered")
    budget = limit - _HEADER_RESERVE if len(rows) > 1 else limit
    taken: list[OutboxRow] = []
    parts: list[str] = []
    used = 0
    for row in rows:
        text = row.text.strip()
        size = tg_len(text) + (tg_len(_SEPARATOR) if parts else 0)
        if taken and used + size > budget:
            break
        taken.append(row)
        if text:
            parts.append(text)
            used += size
    if len(taken) == 1 and parts and tg_len(parts[0]) > limit:
        parts = [_cut(parts[0], limit - 1) + "…"]
    body = _SEPARATOR.join(parts)
    if len(taken) > 1 and body and header is not None:
        body = f"{header(len(taken))}{_SEPARATOR}{body}"
    return Digest(
        chat_id=rows[0].chat_id,
        text=body,
        silent=all(r.silent for r in taken),
        rows=tuple(taken),
    )
