"""The engine's heartbeat: one row per component (``engine``, ``market:<exchange>:<tf>``,
``venue:<exchange>``), replaced on every beat; the bot reads them for ``/health``, the
admins' alerts and the dashboards' age warning."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nija_tg.storage.db import Reader, Transaction


@dataclass(frozen=True)
class HeartbeatRow:
    component: str
    beat_at: float  # unix seconds of the beat that wrote it
    data: dict[str, Any]


async def replace_all(tx: Transaction, beat_at: float, rows: Mapping[str, dict]) -> None:
    """The beat's rows replace every earlier one (a component gone is removed)."""
    await tx.execute("DELETE FROM engine_heartbeats")
    await tx.executemany(
        "INSERT INTO engine_heartbeats(component, beat_at, data) VALUES (?, ?, ?)",
        [(name, beat_at, json.dumps(data, sort_keys=True)) for name, data in rows.items()],
    )


async def read_all(db: Reader) -> list[HeartbeatRow]:
    rows = await db.fetchall(
        "SELECT component, beat_at, data FROM engine_heartbeats ORDER BY component"
    )
    return [HeartbeatRow(r["component"], r["beat_at"], json.loads(r["data"])) for r in rows]


async def open_alerts(db: Reader) -> dict[str, str]:
    """Problems the admins were told about and not yet told cleared: key -> text."""
    rows = await db.fetchall("SELECT problem, text FROM health_alerts")
    return {r["problem"]: r["text"] for r in rows}


async def alert_raised(tx: Transaction, problem: str, text: str, since: float) -> None:
    await tx.execute(
        "INSERT OR REPLACE INTO health_alerts(problem, text, since) VALUES (?, ?, ?)",
        (problem, text, since),
    )


async def alert_cleared(tx: Transaction, problem: str) -> None:
    await tx.execute("DELETE FROM health_alerts WHERE problem = ?", (problem,))
