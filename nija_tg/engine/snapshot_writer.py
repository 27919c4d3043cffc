"""Write-behind of the loops' snapshots, equity points and limit marks: one transaction
for every user's snapshot of a candle close, instead of one per user.

A loop ``put``s its snapshot and equity point (and, when an order filled at the close,
the snapshot again with the balances after the fills, without a second point); the
writer commits everything pending when the hub reports that every loop is done with the
close (``MarketHub.on_idle``), or at the latest ``max_delay`` seconds after the first
pending put (a slow loop does not hold back the others' snapshots), and on ``close``. A
newer snapshot of a user replaces its pending one; equity points are all kept. Limit
marks (start of day, the day's cash flow, the flow-adjusted peak:
storage/cash_flows.py) ride in the same transaction, the newest per account.

Snapshots and equity points are derived dashboard data (the bot's /status, /balance,
charts), recomputed on every candle close: a crash loses at most the batch not yet
written (the last ``max_delay`` seconds), never an order, fill or position. A loop
restarting in the same process reads its pending snapshot through ``latest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal

from nija_tg.core.cash_flows import LimitMarks
from nija_tg.storage import cash_flows, snapshots
from nija_tg.storage.cash_flows import MarksKey
from nija_tg.storage.db import Database
from nija_tg.storage.snapshots import Snapshot

log = logging.getLogger("nija_tg.engine.snapshots")


class SnapshotWriter:
    def __init__(self, db: Database, *, max_delay: float = 1.0) -> None:
        self.db = db
        self.max_delay = max_delay
        self._snaps: dict[int, Snapshot] = {}
        self._points: list[tuple[int, float, Decimal]] = []
        self._marks: dict[MarksKey, LimitMarks] = {}
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task | None = None
        self._soon: asyncio.Task | None = None
        self._writing = 0  # items of the batch being written (not committed yet)
        self.batches = 0  # transactions committed (tests, benchmarks)
        self.written = 0  # snapshots written

    @property
    def pending(self) -> int:
        """Items not committed yet: queued, or in the batch being written (whose
        transaction waits for its group's COMMIT)."""
        return len(self._snaps) + len(self._points) + len(self._marks) + self._writing

    def put(self, user_id: int, snap: Snapshot, ts_s: float, *, point: bool = True) -> None:
        """Queue ``snap`` (replacing the user's pending one) and, when it has an
        equity and ``point``, one equity point at ``ts_s``. A snapshot refreshed after
        the close's fills goes without a point: one equity point per candle close."""
        self._snaps[user_id] = snap
        if point and snap.equity is not None:
            self._points.append((user_id, ts_s, snap.equity))
        if self._timer is None or self._timer.done():
            self._timer = asyncio.ensure_future(self._flush_later())

    def put_marks(self, key: MarksKey, marks: LimitMarks) -> None:
        """Queue an account's limit marks (replacing its pending ones)."""
        self._marks[key] = marks
        if self._timer is None or self._timer.done():
            self._timer = asyncio.ensure_future(self._flush_later())

    async def latest_marks(self, key: MarksKey) -> LimitMarks | None:
        """An account's newest limit marks: the pending ones, else the stored ones."""
        pending = self._marks.get(key)
        return pending if pending is not None else await cash_flows.get_marks(self.db, *key)

    async def latest(self, user_id: int) -> Snapshot | None:
        """The user's newest snapshot: the pending one, else the stored one."""
        pending = self._snaps.get(user_id)
        return pending if pending is not None else await snapshots.get(self.db, user_id)

    def flush_soon(self) -> None:
        """Flush in a task of its own (the hub calls this when every loop is idle)."""
        if self.pending and (self._soon is None or self._soon.done()):
            self._soon = asyncio.ensure_future(self.flush_logged())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_delay)
        await self.flush_logged()

    async def flush_logged(self) -> None:
        """``flush``, logging a failure (the batch stays pending and is retried)."""
        try:
            await self.flush()
        except Exception:
            log.exception("writing %d snapshots failed; retrying later", len(self._snaps))
            if self.pending and (self._timer is None or self._timer.done()):
                self._timer = asyncio.ensure_future(self._flush_later())

    async def flush(self) -> int:
        """Commit everything pending in one transaction; returns how many snapshots.
        Waits for a flush already running, so on return everything put before the
        call is committed. On failure the batch goes back to pending (newer puts win)."""
        async with self._lock:
            snaps, points, marks = self._snaps, self._points, self._marks
            if not snaps and not points and not marks:
                return 0
            self._snaps, self._points, self._marks = {}, [], {}
            self._writing = len(snaps) + len(points) + len(marks)
            try:
                async with self.db.transaction() as tx:
                    await snapshots.save_many(tx, snaps)
                    await snapshots.append_equity_many(tx, points)
                    await cash_flows.save_marks_many(tx, marks)
            except BaseException:
                for uid, snap in snaps.items():
                    self._snaps.setdefault(uid, snap)
                self._points[:0] = points
                for key, mark in marks.items():
                    self._marks.setdefault(key, mark)
                raise
            finally:
                self._writing = 0
            self.batches += 1
            self.written += len(snaps)
            return len(snaps)

    async def close(self) -> None:
        """Stop the timers and write what is pending."""
        for task in (self._timer, self._soon):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._timer = self._soon = None
        await self.flush()
