"""The audit log: who did what to whom. Details never hold secrets."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from nija_tg.storage.db import Database, Transaction


@dataclass(frozen=True, slots=True)
class AuditRow:
    audit_id: int
    ts: float
    actor_id: int | None
    action: str
    target_id: int | None
    detail: dict


async def record(
    tx: Transaction,
    actor_id: int | None,
    action: str,
    target_id: int | None = None,
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


def _row(r) -> AuditRow:
    detail = json.loads(r["detail"])
    return AuditRow(r["audit_id"], r["ts"], r["actor_id"], r["action"], r["target_id"], detail)
