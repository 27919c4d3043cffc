"""One background job of a process run every few seconds until its stop event is set:
the engine's heartbeat and metrics, the bot's health alerts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_every(
    stop: asyncio.Event,
    interval_s: float,
    step: Callable[[], Awaitable[object]],
    *,
    log: logging.Logger,
    failure: str,
    first_delay_s: float = 0.0,
) -> None:
    """``step()`` now (or after ``first_delay_s``) and every ``interval_s`` until
    ``stop``; a failing step is logged (``failure``) and the job goes on."""
    if first_delay_s > 0:
        await wait_or_stop(stop, first_delay_s)
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.exception(failure)
        await wait_or_stop(stop, interval_s)
