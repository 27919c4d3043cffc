"""Health as the bot sees it: the engine's heartbeat rows judged by ``core.health``, and
the alerts owed to the admins (a problem that appeared, a problem that cleared), each
recorded once so that neither a repeat nor a restart of the bot tells it twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nija_tg.core.health import Beat, HealthReport, evaluate
from nija_tg.storage import heartbeats, users
from nija_tg.storage.db import Database


@dataclass(frozen=True)
class AlertChange:
    problem: str
    text: str
    cleared: bool  # False: it appeared; True: it is over


class HealthService:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def report(self) -> HealthReport:
        rows = await heartbeats.read_all(self.db)
        beats = {r.component: Beat(r.beat_at, r.data) for r in rows}
        return evaluate(beats, self.clock())

    async def alert_changes(self) -> list[AlertChange]:
        """What changed since the admins were last told; recorded as told."""
        report = await self.report()
        told = await heartbeats.open_alerts(self.db)
        # an engine that never reported is shown by /health, not alerted: a first start
        # (the bot before the engine's first beat) is not an incident
        now_problems = {p.key: p.text for p in report.problems if report.engine is not None}
        changes = [AlertChange(k, t, False) for k, t in now_problems.items() if k not in told]
        changes += [AlertChange(k, t, True) for k, t in told.items() if k not in now_problems]
        if changes:
            async with self.db.transaction() as tx:
                for change in changes:
                    if change.cleared:
                        await heartbeats.alert_cleared(tx, change.problem)
                    else:
                        await heartbeats.alert_raised(tx, change.problem, change.text, report.now)
        return changes

    async def admin_ids(self) -> list[int]:
        return await users.admin_user_ids(self.db)
