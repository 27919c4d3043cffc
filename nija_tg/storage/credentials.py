"""Credential rows: ciphertext and what may be shown (masked tail, verification)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.users import bump_change_counter


@dataclass(frozen=True, slots=True)
class CredentialRow:
    user_id: int
    exchange_id: str
    ciphertext: bytes
    key_tail: str
    verified: bool
    verify_reason: str
    permissions: list[str]
    can_withdraw: bool | None
    updated_at: float

    def __repr__(self) -> str:  # never print the ciphertext
        return f"CredentialRow(user_id={self.user_id}, exchange_id={self.exchange_id!r})"


def _row(r) -> CredentialRow | None:
    if r is None:
        return None
    return CredentialRow(
        user_id=r["user_id"],
        exchange_id=r["exchange_id"],
        ciphertext=bytes(r["ciphertext"]),
        key_tail=r["key_tail"],
        verified=bool(r["verified"]),
        verify_reason=r["verify_reason"],
        permissions=json.loads(r["permissions"]),
        can_withdraw=None if r["can_withdraw"] is None else bool(r["can_withdraw"]),
        updated_at=r["updated_at"],
    )


async def store(
    tx: Transaction,
    user_id: int,
    exchange_id: str,
    ciphertext: bytes,
    key_tail: str,
    *,
    verified: bool,
    verify_reason: str = "",
    permissions: list[str] | tuple[str, ...] = (),
    can_withdraw: bool | None = None,
) -> None:
    now = time.time()
    await tx.execute(
        "INSERT INTO credentials(user_id, exchange_id, ciphertext, key_tail, verified, "
        "verify_reason, permissions, can_withdraw, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
        "exchange_id = excluded.exchange_id, ciphertext = excluded.ciphertext, "
        "key_tail = excluded.key_tail, verified = excluded.verified, "
        "verify_reason = excluded.verify_reason, permissions = excluded.permissions, "
        "can_withdraw = excluded.can_withdraw, updated_at = excluded.updated_at",
        (
            user_id,
            exchange_id,
            ciphertext,
            key_tail,
            int(verified),
            verify_reason,
            json.dumps(list(permissions)),
            None if can_withdraw is None else int(can_withdraw),
            now,
            now,
        ),
    )
    await bump_change_counter(tx)


async def get(db: Database, user_id: int) -> CredentialRow | None:
    return _row(await db.fetchone("SELECT * FROM credentials WHERE user_id = ?", (user_id,)))


async def delete(tx: Transaction, user_id: int) -> bool:
    cur = await tx.execute("DELETE FROM credentials WHERE user_id = ?", (user_id,))
    await tx.execute(
        "UPDATE users SET trading_on = 0, mode = 'paper' WHERE user_id = ?", (user_id,)
    )
    await bump_change_counter(tx)
    return cur.rowcount > 0


async def mark_unverified(tx: Transaction, user_id: int, reason: str) -> None:
    await tx.execute(
        "UPDATE credentials SET verified = 0, verify_reason = ?, updated_at = ? WHERE user_id = ?",
        (reason, time.time(), user_id),
    )


# --- key rotation (operator only, across all users) -------------------------------


async def rotation_batch(db: Database, after_user_id: int, limit: int) -> list[tuple[int, bytes]]:
    rows = await db.fetchall(
        "SELECT user_id, ciphertext FROM credentials WHERE user_id > ? ORDER BY user_id LIMIT ?",
        (after_user_id, limit),
    )
    return [(r["user_id"], bytes(r["ciphertext"])) for r in rows]


async def replace_ciphertext(tx: Transaction, user_id: int, old: bytes, new: bytes) -> bool:
    """Compare-and-set, so a /connect that raced the rotation is never overwritten."""
    cur = await tx.execute(
        "UPDATE credentials SET ciphertext = ? WHERE user_id = ? AND ciphertext = ?",
        (new, user_id, old),
    )
    return cur.rowcount > 0
