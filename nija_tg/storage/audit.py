"""The audit log: who did what to whom. Details never hold secrets.

When a user is forgotten (/forget) the rows about them stay, with their action and
time, but their id becomes a pseudonym (``forgotten:<random>``, the same in all their
rows) and their details lose the exchange names, key tails, chats and names
(``pseudonymise``)."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nija_tg.storage.db import Database, Transaction


@dataclass(frozen=True, slots=True)
class AuditRow:
    audit_id: int
    ts: float
    actor_id: int | str | None  # a str is the pseudonym of a forgotten user
    action: str
    target_id: int | str | None
    detail: dict


async def record(
    tx: Transaction,
    actor_id: int | str | None,
    action: str,
    target_id: int | str | None = None,
    **detail: object,
) -> None:
    await tx.execute(
        "INSERT INTO audit_log(ts, actor_id, action, target_id, detail) VALUES (?, ?, ?, ?, ?)",
        (time.time(), actor_id, action, target_id, json.dumps(detail, default=str)),
    )


async def recent(db: Database, limit: int = 20) -> list[AuditRow]:
    rows = await db.fetchall(
        "SELECT * FROM audit_log ORDER BY audit_id DESC LIMIT ?", (max(1, min(limit, 200)),)
    )
    return [_row(r) for r in rows]


async def for_user(db: Database, user_id: int, limit: int = 20) -> list[AuditRow]:
    rows = await db.fetchall(
        "SELECT * FROM audit_log WHERE actor_id = ? OR target_id = ? "
        "ORDER BY audit_id DESC LIMIT ?",
        (user_id, user_id, limit),
    )
    return [_row(r) for r in rows]


async def count_since(db: Database, actor_id: int, action: str, since: float) -> int:
    """How many ``action`` rows ``actor_id`` made since ``since`` (rate limits)."""
    row = await db.fetchone(
        "SELECT COUNT(*) FROM audit_log WHERE actor_id = ? AND action = ? AND ts >= ?",
        (actor_id, action, since),
    )
    return int(row[0]) if row else 0


# Detail keys that say which exchange, key, chat or person: dropped from a forgotten
# user's rows (their string values are also erased wherever else they appear there).
IDENTIFYING = frozenset(
    {"exchange", "exchange_id", "key_tail", "tail", "chat", "chat_id", "username", "first_name"}
)
_ID_KEYS = frozenset({"traders", "viewers", "user", "users", "actor", "target"})
ERASED = "[erased]"
MIN_TERM = 3  # shorter names are not searched for in free text


def _is_id_key(key: str | None) -> bool:
    return key is not None and (key.endswith(("id", "ids")) or key in _ID_KEYS)


def _mentions(value: Any, user_id: int, key: str | None = None) -> bool:
    if isinstance(value, dict):
        return any(_mentions(v, user_id, k) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, user_id, key) for v in value)
    if isinstance(value, bool) or not _is_id_key(key):
        return False
    return value == user_id or value == str(user_id)


def _scrub(value: Any, user_id: int, pseudonym: str, terms: re.Pattern | None, key=None) -> Any:
    if isinstance(value, dict):
        return {
            k: _scrub(v, user_id, pseudonym, terms, k)
            for k, v in value.items()
            if k not in IDENTIFYING
        }
    if isinstance(value, list):
        return [_scrub(v, user_id, pseudonym, terms, key) for v in value]
    if not isinstance(value, bool) and _is_id_key(key) and value in (user_id, str(user_id)):
        return pseudonym
    if isinstance(value, str) and terms is not None:
        return terms.sub(ERASED, value)
    return value


async def pseudonymise(tx: Transaction, user_id: int, erase: Iterable[str] = ()) -> str:
    """Rewrite the rows about ``user_id`` (as actor, target, or an id in the details):
    the id becomes a pseudonym, identifying detail keys go, and ``erase`` (their
    exchange names, key tails, names) plus those keys' values are replaced by
    ``[erased]`` in the rest of those details. Returns the pseudonym."""
    pseudonym = f"forgotten:{secrets.token_hex(8)}"
    rows = await tx.fetchall(
        "SELECT audit_id, actor_id, target_id, detail FROM audit_log "
        "WHERE actor_id = ? OR target_id = ? OR detail LIKE ?",
        (user_id, user_id, f"%{user_id}%"),
    )
    terms = {t for t in erase if t and len(t) >= MIN_TERM}
    about: list[tuple[Any, dict]] = []
    for r in rows:
        detail = json.loads(r["detail"] or "{}")
        if user_id in (r["actor_id"], r["target_id"]) or _mentions(detail, user_id):
            about.append((r, detail))
            terms.update(
                v
                for k, v in detail.items()
                if k in IDENTIFYING and isinstance(v, str) and len(v) >= MIN_TERM
            )
    pattern = (
        re.compile("|".join(map(re.escape, sorted(terms, key=len, reverse=True))), re.IGNORECASE)
        if terms
        else None
    )
    for r, detail in about:
        await tx.execute(
            "UPDATE audit_log SET actor_id = ?, target_id = ?, detail = ? WHERE audit_id = ?",
            (
                pseudonym if r["actor_id"] == user_id else r["actor_id"],
                pseudonym if r["target_id"] == user_id else r["target_id"],
                json.dumps(_scrub(detail, user_id, pseudonym, pattern), default=str),
                r["audit_id"],
            ),
        )
    return pseudonym


def _row(r) -> AuditRow:
    detail = json.loads(r["detail"])
    return AuditRow(r["audit_id"], r["ts"], r["actor_id"], r["action"], r["target_id"], detail)
