"""Turns the desired state in the database into one asyncio task per user who needs a
loop (who trades, or holds a position to protect).

Every ``poll_interval`` it reads the change counter (one cheap row); when it moved, or
every ``full_refresh`` seconds anyway, it re-reads who should trade and starts or
cancels tasks so the running set matches. A task that crashes is restarted with
exponential backoff; after ``alert_after`` consecutive crashes ``on_crash_alert`` is
called once for that streak. A task that ends by itself (its user neither trades nor
holds anything any more, or was paused for a dead key) makes the next pass read the
desired state again before anything is restarted: its ending changed positions, not
the change counter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("nija_tg.engine")

LoopFactory = Callable[[int], Coroutine[Any, Any, None]]


@dataclass
class _Slot:
    task: asyncio.Task | None = None
    failures: int = 0
    retry_at: float = 0.0
    alerted: bool = False
    started_at: float = 0.0


class Reconciler:
    def __init__(
        self,
        desired_users: Callable[[], Awaitable[set[int]]],
        change_counter: Callable[[], Awaitable[int]],
        loop_factory: LoopFactory,
        *,
        on_crash_alert: Callable[[int, int, BaseException], Awaitable[None]] | None = None,
        poll_interval: float = 0.25,
        full_refresh: float = 10.0,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        alert_after: int = 3,
        healthy_after: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._desired_users = desired_users
        self._change_counter = change_counter
        self._loop_factory = loop_factory
        self._on_crash_alert = on_crash_alert
        self.poll_interval = poll_interval
        self.full_refresh = full_refresh
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.alert_after = alert_after
        self.healthy_after = healthy_after
        self._monotonic = monotonic
        self.slots: dict[int, _Slot] = {}
        self.desired: set[int] = set()
        self._last_counter: int | None = None
        self._last_full = 0.0

    @property
    def running(self) -> set[int]:
        return {uid for uid, s in self.slots.items() if s.task is not None and not s.task.done()}

    async def tick(self) -> None:
        """One pass: notice changes, collect finished tasks, converge."""
        counter = await self._change_counter()
        now = self._monotonic()
        if counter != self._last_counter or now - self._last_full >= self.full_refresh:
            self.desired = await self._desired_users()
            self._last_counter = counter
            self._last_full = now
        await self._collect(now)
        self._converge(now)

    async def _collect(self, now: float) -> None:
        for user_id, slot in list(self.slots.items()):
            task = slot.task
            if task is None or not task.done():
                if task is not None and now - slot.started_at >= self.healthy_after:
                    slot.failures, slot.alerted = 0, False
                continue
            slot.task = None
            if task.cancelled():
                continue
            error = task.exception()
            if error is None:
                # the loop ended by itself (nothing left to trade or protect, or a dead
                # key): read the desired state again before converging; if the user is
                # still wanted, start again after a pause rather than in a tight loop
                slot.retry_at = now + self.backoff_base
                self._last_counter = None
                continue
            slot.failures += 1
            delay = min(self.backoff_max, self.backoff_base * 2 ** (slot.failures - 1))
            slot.retry_at = now + delay
            log.warning(
                "loop of user %s crashed (%s, failure %d); restart in %.1fs",
                user_id,
                type(error).__name__,
                slot.failures,
                delay,
            )
            if slot.failures >= self.alert_after and not slot.alerted and self._on_crash_alert:
                slot.alerted = True
                try:
                    await self._on_crash_alert(user_id, slot.failures, error)
                except Exception:
                    log.exception("crash alert for user %s failed", user_id)

    def _converge(self, now: float) -> None:
        for user_id in self.desired:
            slot = self.slots.setdefault(user_id, _Slot())
            if slot.task is None and now >= slot.retry_at:
                slot.task = asyncio.create_task(
                    self._loop_factory(user_id), name=f"user-loop-{user_id}"
                )
                slot.started_at = now
        for user_id, slot in list(self.slots.items()):
            if user_id not in self.desired:
                if slot.task is not None and not slot.task.done():
                    slot.task.cancel()
                elif slot.task is None:
                    del self.slots[user_id]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("reconcile pass failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def shutdown(self, grace: float) -> None:
        """Cancel every loop and wait up to ``grace`` seconds for them to finish."""
        tasks = [s.task for s in self.slots.values() if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        self.slots.clear()
