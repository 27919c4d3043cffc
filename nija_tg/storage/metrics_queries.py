"""Counts for the engine's Prometheus metrics (read every few seconds, not per scrape)."""

from __future__ import annotations

from nija_tg.storage.db import Reader


async def orders_by_status(db: Reader) -> dict[str, int]:
    rows = await db.fetchall("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def fills_count(db: Reader) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM fills")
    return row["n"] if row else 0
