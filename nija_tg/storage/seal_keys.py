"""Published public keys (the engine's sealing keys) and the key ids the engine holds.

Public halves only: nothing here opens a credential. Exactly one key is ``current``
(every process seals to it); a rotation marks the old ones ``retiring`` while rows are
re-sealed, then ``retired`` (the engine forgets their private halves).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.users import bump_change_counter


@dataclass(frozen=True, slots=True)
class SealKeyRow:
    key_id: str
    public_key: bytes
    state: str


async def current(db: Database | Transaction) -> SealKeyRow | None:
    row = await db.fetchone(
        "SELECT key_id, public_key, state FROM seal_keys WHERE state = 'current'"
    )
    return None if row is None else SealKeyRow(row[0], bytes(row[1]), row[2])


async def states(db: Database | Transaction) -> dict[str, str]:
    rows = await db.fetchall("SELECT key_id, state FROM seal_keys")
    return {r[0]: r[1] for r in rows}


async def publish(tx: Transaction, key_id: str, public_key: bytes) -> bool:
    """Make ``key_id`` the current key (others current -> retiring). Idempotent; True
    when something changed."""
    row = await tx.fetchone("SELECT state FROM seal_keys WHERE key_id = ?", (key_id,))
    if row is not None and row[0] == "current":
        return False
    if row is not None and row[0] == "retired":
        raise ValueError("a retired key is never published again")
    await tx.execute("UPDATE seal_keys SET state = 'retiring' WHERE state = 'current'")
    await tx.execute(
        "INSERT INTO seal_keys(key_id, public_key, state, created_at) VALUES (?, ?, 'current', ?)"
        " ON CONFLICT(key_id) DO UPDATE SET state = 'current'",
        (key_id, public_key, time.time()),
    )
    await bump_change_counter(tx)
    return True


async def retire_all_but_current(tx: Transaction) -> list[str]:
    rows = await tx.fetchall("SELECT key_id FROM seal_keys WHERE state = 'retiring'")
    await tx.execute(
        "UPDATE seal_keys SET state = 'retired', retired_at = ? WHERE state = 'retiring'",
        (time.time(),),
    )
    if rows:
        await bump_change_counter(tx)
    return [r[0] for r in rows]


async def report_engine_keys(tx: Transaction, key_ids: list[str]) -> None:
    """The engine says which private keys it holds (read by ``rotate-key --env``)."""
    await tx.execute(
        "INSERT INTO engine_keyring(id, key_ids, updated_at) VALUES (1, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET key_ids = excluded.key_ids, "
        "updated_at = excluded.updated_at",
        (json.dumps(sorted(key_ids)), time.time()),
    )


async def engine_keys(db: Database) -> tuple[list[str], float] | None:
    row = await db.fetchone("SELECT key_ids, updated_at FROM engine_keyring WHERE id = 1")
    return None if row is None else (json.loads(row[0]), float(row[1]))
