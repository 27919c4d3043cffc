"""Housekeeping of the engine process, once per interval (first run one interval after
start, so a restart loop never turns into a cleaning loop):

- delivered (and dropped) notifications older than the retention are deleted;
- the queue of a user who blocked the bot is capped: the newest ``pending_cap`` rows wait
  for their return (merged into digests), older ones are marked dropped;
- the WAL is checkpointed with TRUNCATE, so the file shrinks back after busy hours
  (SQLite's automatic checkpoints copy pages but never shrink it).

Every step is independent: one failing (e.g. the database busy) is logged and the rest
still run; the next interval tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from nija_tg.storage import outbox
from nija_tg.storage.db import Database

log = logging.getLogger("nija_tg.engine.maintenance")

INTERVAL_S = 3600.0
RETENTION_S = 7 * 86400.0
PENDING_CAP = 1000


@dataclass(frozen=True)
class Report:
    purged: int = 0
    dropped: int = 0
    wal_bytes_before: int = -1  # -1: the checkpoint failed
    wal_bytes_after: int = -1
    wal_busy: bool = False  # a reader kept the checkpoint from truncating


async def run_once(
    db: Database,
    *,
    now: float | None = None,
    retention_s: float = RETENTION_S,
    pending_cap: int = PENDING_CAP,
) -> Report:
    now = time.time() if now is None else now
    purged = dropped = 0
    before = after = -1
    busy = False
    try:
        purged = await outbox.purge(db, now - retention_s)
    except Exception:
        log.exception("outbox purge failed")
    try:
        dropped = await outbox.cap_unreachable(db, pending_cap)
    except Exception:
        log.exception("capping unreachable users' queues failed")
    wal = db.path.with_name(db.path.name + "-wal")
    try:
        size = _size(wal)
        state, _, _ = await db.checkpoint()
        before, after, busy = size, _size(wal), bool(state)
    except Exception:
        log.exception("WAL checkpoint failed")
    report = Report(purged, dropped, before, after, busy)
    log.info(
        "maintenance: %d old notifications deleted, %d dropped for unreachable users, "
        "WAL %d -> %d bytes%s",
        purged,
        dropped,
        before,
        after,
        " (busy)" if busy else "",
    )
    return report


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def run(db: Database, stop: asyncio.Event, interval_s: float = INTERVAL_S) -> None:
    """``run_once`` every ``interval_s`` until ``stop`` is set."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
            return
        except TimeoutError:
            pass
        await run_once(db)
