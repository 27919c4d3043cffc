"""Credential rows: ciphertext and what may be shown (masked tail, verification)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from nija_tg.storage.db import Database, Reader, Transaction
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


async def count(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM credentials")
    return int(row[0]) if row else 0


async def get(db: Database, user_id: int) -> CredentialRow | None:
    return _row(await db.fetchone("SELECT * FROM credentials WHERE user_id = ?", (user_id,)))


async def exchanges_and_tails(db: Reader, user_id: int) -> list[tuple[str, str]]:
    """``(exchange_id, key_tail)`` of the user's key and of a key waiting for approval
    (what /forget erases from the audit rows about them); no ciphertext."""
    rows = await db.fetchall(
        "SELECT exchange_id, key_tail FROM credentials WHERE user_id = ? UNION ALL "
        "SELECT exchange_id, key_tail FROM pending_credentials WHERE user_id = ?",
        (user_id, user_id),
    )
    return [(str(r["exchange_id"]), str(r["key_tail"])) for r in rows]


async def delete(tx: Transaction, user_id: int) -> bool:
    cur = await tx.execute("DELETE FROM credentials WHERE user_id = ?", (user_id,))
    await tx.execute("DELETE FROM pending_credentials WHERE user_id = ?", (user_id,))
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


# --- pending credentials: sealed by the bot, verified by the engine -------------------


@dataclass(frozen=True, slots=True)
class PendingRow:
    user_id: int
    exchange_id: str
    ciphertext: bytes
    key_tail: str
    submitted_at: float

    def __repr__(self) -> str:  # never print the ciphertext
        return f"PendingRow(user_id={self.user_id}, exchange_id={self.exchange_id!r})"


async def submit_pending(
    tx: Transaction,
    user_id: int,
    exchange_id: str,
    ciphertext: bytes,
    key_tail: str,
    key_id: str,
) -> bool:
    """Store a credential for the engine to verify, only while ``key_id`` is the current
    sealing key (a rotation that published a new key refuses blobs sealed to the old
    one, so nothing is stored under a key about to be retired). False when refused."""
    cur = await tx.execute(
        "INSERT INTO pending_credentials(user_id, exchange_id, ciphertext, key_tail, "
        "submitted_at) SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM seal_keys "
        "WHERE key_id = ? AND state = 'current') ON CONFLICT(user_id) DO UPDATE SET "
        "exchange_id = excluded.exchange_id, ciphertext = excluded.ciphertext, "
        "key_tail = excluded.key_tail, submitted_at = excluded.submitted_at",
        (user_id, exchange_id, ciphertext, key_tail, time.time(), key_id),
    )
    return cur.rowcount > 0


_PENDING = (
    "SELECT user_id, exchange_id, ciphertext, key_tail, submitted_at FROM pending_credentials"
)


def _pending(r) -> PendingRow:
    return PendingRow(r[0], r[1], bytes(r[2]), r[3], r[4])


async def pending(db: Database, limit: int = 50) -> list[PendingRow]:
    rows = await db.fetchall(f"{_PENDING} ORDER BY submitted_at LIMIT ?", (limit,))
    return [_pending(r) for r in rows]


async def has_pending(db: Database, user_id: int) -> bool:
    row = await db.fetchone("SELECT 1 FROM pending_credentials WHERE user_id = ?", (user_id,))
    return row is not None


async def pending_row(db: Database, user_id: int, submitted_at: float) -> PendingRow | None:
    """That submission as it is now (a rotation may have re-sealed it), or None when it
    was replaced, verified or withdrawn meanwhile."""
    r = await db.fetchone(
        f"{_PENDING} WHERE user_id = ? AND submitted_at = ?", (user_id, submitted_at)
    )
    return None if r is None else _pending(r)


async def promote_pending(
    tx: Transaction,
    row: PendingRow,
    *,
    permissions: list[str] | tuple[str, ...],
    can_withdraw: bool | None,
) -> bool:
    """Move a verified pending credential into ``credentials`` (replacing the user's
    previous one), copying the ciphertext as it is now (a rotation may have re-sealed
    it meanwhile). False when the user submitted another one or cancelled meanwhile."""
    now = time.time()
    cur = await tx.execute(
        "INSERT INTO credentials(user_id, exchange_id, ciphertext, key_tail, verified, "
        "verify_reason, permissions, can_withdraw, created_at, updated_at) "
        "SELECT user_id, exchange_id, ciphertext, key_tail, 1, '', ?, ?, ?, ? "
        "FROM pending_credentials WHERE user_id = ? AND submitted_at = ? "
        "ON CONFLICT(user_id) DO UPDATE SET "
        "exchange_id = excluded.exchange_id, ciphertext = excluded.ciphertext, "
        "key_tail = excluded.key_tail, verified = 1, verify_reason = '', "
        "permissions = excluded.permissions, can_withdraw = excluded.can_withdraw, "
        "updated_at = excluded.updated_at",
        (
            json.dumps(list(permissions)),
            None if can_withdraw is None else int(can_withdraw),
            now,
            now,
            row.user_id,
            row.submitted_at,
        ),
    )
    if cur.rowcount == 0:
        return False
    await drop_pending(tx, row)
    await bump_change_counter(tx)
    return True


async def drop_pending(tx: Transaction, row: PendingRow) -> bool:
    """Erase a pending credential (refused, or promoted)."""
    cur = await tx.execute(
        "DELETE FROM pending_credentials WHERE user_id = ? AND submitted_at = ?",
        (row.user_id, row.submitted_at),
    )
    return cur.rowcount > 0


# --- key rotation (operator only, across all users) -------------------------------

SEALED_TABLES = ("credentials", "pending_credentials")


async def rotation_batch(
    db: Database, table: str, after_user_id: int, limit: int
) -> list[tuple[int, str, bytes]]:
    """(user_id, exchange_id, ciphertext) of ``table`` in user id order."""
    assert table in SEALED_TABLES
    rows = await db.fetchall(
        f"SELECT user_id, exchange_id, ciphertext FROM {table} "
        "WHERE user_id > ? ORDER BY user_id LIMIT ?",
        (after_user_id, limit),
    )
    return [(r[0], r[1], bytes(r[2])) for r in rows]


async def replace_ciphertext(
    tx: Transaction, table: str, user_id: int, old: bytes, new: bytes
) -> bool:
    """Compare-and-set, so a /connect that raced the rotation is never overwritten."""
    assert table in SEALED_TABLES
    cur = await tx.execute(
        f"UPDATE {table} SET ciphertext = ? WHERE user_id = ? AND ciphertext = ?",
        (new, user_id, old),
    )
    return cur.rowcount > 0
