"""Entry point of the engine process: wires storage, vault, exchanges and the sender
into the daemon and runs it until SIGTERM/SIGINT, then drains and exits 0."""

from __future__ import annotations

import asyncio
import logging
import signal

from nija_tg.config import Settings
from nija_tg.engine.reconciler import Reconciler
from nija_tg.runtime import open_runtime
from nija_tg.services import desired_state

log = logging.getLogger("nija_tg.engine")


async def _idle_user_loop(user_id: int) -> None:
    """Placeholder until the trading loop lands: holds the user's slot."""
    await asyncio.Event().wait()


async def engine_main(settings: Settings, stop: asyncio.Event) -> None:
    runtime = await open_runtime(settings)
    db = runtime.db
    reconciler = Reconciler(
        desired_users=lambda: desired_state.trading_users(db),
        change_counter=lambda: desired_state.change_counter(db),
        loop_factory=_idle_user_loop,
    )
    log.info("engine started")
    try:
        await reconciler.run(stop)
    finally:
        log.info("engine stopping: draining loops")
        await reconciler.shutdown(grace=settings.engine_drain_seconds)
        await runtime.close()
        log.info("engine stopped")


def run_engine(settings: Settings) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await engine_main(settings, stop)

    asyncio.run(main())
    return 0
