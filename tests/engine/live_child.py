"""The engine as a child process for the kill -9 runs (issue 6 item 1): the REAL daemon
(``nija_tg.engine.daemon.Daemon``) with the real SQLite database, the vault, the real
``CcxtGateway`` pointed at an exchange emulator (``NIJA_EXCHANGE_URLS``), live accounts
built by ``engine_main.account_factory``, market data through the gateway, and a paced
simulated clock.

Usage (environment: ``NIJA_DATA_DIR``, ``NIJA_ENGINE_KEY``, ``NIJA_EXCHANGE_URLS``)::

    python -m tests.engine.live_child --simnow FILE [--step-s 0.15]

The clock starts at the simulated time written in ``FILE`` (so a restarted child resumes
where the killed one stopped) and moves one 5 m candle every ``--step-s`` seconds of real
time, writing each new time back into ``FILE`` (atomically) before waking anyone: the
parent's emulator reads its "now" from that file, so candles and fill prices follow the
simulation.

Also importable: ``FlipFlop`` (strategy ``test_flipflop``, registered by
``register_flipflop()``), which enters long and exits every few candles so that there is
order traffic to kill into, and ``PacedClock``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd

from nija_tg.engine.clock import SimulatedClock
from nija_tg.strategies import get_strategy, register
from nija_tg.strategies.base import (
    Action,
    Signal,
    Strategy,
    StrategyParams,
    StrategyPosition,
    param,
)

FLIPFLOP = "test_flipflop"
TF_MS = 300_000


# --- a strategy that trades all the time ------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlipFlopParams(StrategyParams):
    period: int = param(4, lo=2, hi=1000)  # candles per enter/exit cycle
    phase: int = param(0, lo=0, hi=1000)  # shifts the cycle (one per user)
    stop_pct: float = param(3.0, lo=0.1, hi=50.0)  # stop distance, % of the close


class FlipFlop(Strategy):
    """Enter long when the candle's slot in the cycle is 0, exit at half the cycle."""

    params_type = FlipFlopParams

    def compute(self, frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        return frame.copy()

    def decide(
        self,
        frame: pd.DataFrame,
        i: int,
        position: StrategyPosition | None,
        params: StrategyParams,
        allow_short: bool,
    ) -> Signal:
        assert isinstance(params, FlipFlopParams)
        ts, close = int(frame["ts"].iloc[i]), float(frame["close"].iloc[i])
        slot = (ts // TF_MS + params.phase) % params.period
        distance = close * params.stop_pct / 100
        if position is None and slot == 0:
            return Signal(Action.ENTER_LONG, 1.0, distance, reason="flip")
        if position is not None and slot == params.period // 2:
            return Signal(Action.EXIT, 1.0, distance, reason="flop")
        return Signal(Action.HOLD, 0.0, distance, reason="wait")


def register_flipflop() -> Strategy:
    """Register ``test_flipflop`` (idempotent) and return it."""
    try:
        return get_strategy(FLIPFLOP)
    except KeyError:
        register(FLIPFLOP)(FlipFlop)
        return get_strategy(FLIPFLOP)


# --- a simulated clock that moves at a fixed pace ---------------------------------------


def read_simnow(path: Path) -> int:
    return int(path.read_text().strip())


def write_simnow(path: Path, ts_ms: int) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(str(int(ts_ms)))
    os.replace(tmp, path)


class PacedClock(SimulatedClock):
    """Simulated time that only ``advance`` moves; ``sleep_until`` waits for it. Each new
    time is published to ``publish`` (if given) before sleepers wake."""

    def __init__(self, start_ms: int, publish: Path | None = None) -> None:
        super().__init__(start_ms)
        self.publish = publish
        self._changed = asyncio.Event()

    def set(self, ts_ms: int) -> None:
        before = self.now_ms()
        super().set(ts_ms)
        if self.now_ms() != before:
            if self.publish is not None:
                write_simnow(self.publish, self.now_ms())
            event, self._changed = self._changed, asyncio.Event()
            event.set()

    async def sleep_until(self, ts_ms: int) -> None:
        while self.now_ms() < ts_ms:
            await self._changed.wait()

    async def drive(self, step_ms: int, interval_s: float) -> None:
        """Advance ``step_ms`` every ``interval_s`` seconds, forever."""
        while True:
            await asyncio.sleep(interval_s)
            self.set(self.now_ms() + step_ms)


# --- the child --------------------------------------------------------------------------


async def child_main(simnow: Path, step_s: float, timeout_ms: int) -> None:
    from nija_tg.config import load_settings
    from nija_tg.engine.daemon import Daemon
    from nija_tg.engine.execution import Executor
    from nija_tg.engine.market_data import MarketHub
    from nija_tg.engine_main import account_factory
    from nija_tg.exchange.ccxt_gateway import CcxtGateway
    from nija_tg.runtime import open_runtime

    register_flipflop()
    settings = load_settings(dict(os.environ), dotenv=None)
    runtime = await open_runtime(settings, with_keyring=True)
    # ccxt's client-side throttle (about 1 request/s per Kraken client) is off: simulated
    # candles come every fraction of a second and the emulator does not limit.
    gateway = CcxtGateway(
        exchange_urls=dict(settings.exchange_urls),
        timeout_ms=timeout_ms,
        retry_delay_s=0.1,
        enable_rate_limit=False,
    )
    clock = PacedClock(read_simnow(simnow), simnow)
    hub = MarketHub(gateway, clock)
    daemon = Daemon(
        runtime,
        account_factory=account_factory(runtime, gateway),
        market_data=gateway,
        clock=clock,
        hub=hub,
        release_account=gateway.release,
        poll_interval=0.1,
        backoff_base=0.2,
    )
    # The emulator shows an order at once (no visibility delay): a short lookup window.
    daemon.deps.executor_factory = functools.partial(
        Executor, lookup_attempts=3, lookup_backoff=0.2
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    driver = asyncio.create_task(clock.drive(TF_MS, step_s))
    try:
        await daemon.run(stop)
    finally:
        driver.cancel()
        await gateway.close_all()
        await runtime.close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simnow", type=Path, required=True)
    parser.add_argument("--step-s", type=float, default=0.15)
    parser.add_argument("--timeout-ms", type=int, default=3000)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("nija_tg").setLevel(logging.INFO)
    asyncio.run(child_main(args.simnow, args.step_s, args.timeout_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
