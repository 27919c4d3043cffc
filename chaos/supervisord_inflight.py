"""Item 10, the missing part: supervisord stopped while LIVE strategy orders are in flight.

The real supervisord.conf (copied byte for byte into a temporary deploy directory, as
chaos/supervisord_stop.py does) runs the bot (against the fake Bot API) and the engine.
The engine trades ``--users`` LIVE users (credentials from ``KrakenEmulator.add_account``,
encrypted with the vault under ``NIJA_ENGINE_KEY``, trading on, ``max_open_positions``
``--positions``) on a Kraken emulator served by *this* process (aiohttp on 127.0.0.1 in a
background thread). The emulator serves synthetic candles for the 8 default pairs that
climb steadily up to the current wall-clock time and go on climbing, so the ``adx_trend``
strategy enters at the next 5-minute close (checked offline before anything starts).

Every ``AddOrder`` is slowed down (``--latency-s``: half before the order is placed, half
after, below ccxt's 10 s timeout), so submits are really in flight. After the next
5-minute boundary, once the first ``AddOrder`` has arrived (and until every user has one in
flight or ``--gather-s`` passed), supervisord gets SIGTERM. Measured: supervisord exits,
both programs ``stopped ... (exit status 0)`` before ``stopwaitsecs``, no process of the
deployment left (pgrep), how many ``AddOrder`` requests were in flight at the SIGTERM and
how each ended (answered, or cut off with the order placed or not).

Then supervisord starts again without latency; once every loop has started and no order is
``intent``/``submitted``, it is stopped and the exchange is compared with the database
(engine_kill.check, strict): each client id once on the exchange, each of our exchange
orders known to the database with the same state, each fill recorded once with one
``fill`` outbox row, positions equal to the exchange balances; plus no order left
``intent``/``submitted`` in the database at all.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from chaos.common import PYTHON, REPO, VENV_BIN, base_parser, child_env, emit, result, wait_for
from chaos.engine_kill import db_path_of
from chaos.engine_kill_check import check, outcomes, unresolved
from chaos.supervisord_stop import (
    TOKEN,
    _server,
    log_events,
    running_sessions,
    start,
    status,
    stop_and_measure,
)

FIVE_MIN = 300_000
HISTORY = 300  # closed candles behind the start (the hub's window)
AHEAD = 36  # candles after the start (3 hours of climbing)
BASE_PRICES = {
    "BTC/USD": 60000.0,
    "ETH/USD": 3000.0,
    "SOL/USD": 150.0,
    "AVAX/USD": 30.0,
    "POL/USD": 0.5,
    "DOT/USD": 6.0,
    "LINK/USD": 15.0,
    "ADA/USD": 0.5,
}


# -- synthetic market ---------------------------------------------------------------------


def trend_candles(base: float, first_ts: int, n: int, rng: random.Random) -> list[list[float]]:
    """``n`` 5-minute candles climbing about 0.2 % per candle with small pullbacks."""
    rows, close = [], base
    for i in range(n):
        step = -0.0008 if i % 6 == 5 else 0.002 + rng.uniform(-0.0005, 0.0005)
        o, close = close, close * math.exp(step)
        high = max(o, close) * (1 + rng.uniform(0.0002, 0.0006))
        low = min(o, close) * (1 - rng.uniform(0.0002, 0.0006))
        rows.append([first_ts + i * FIVE_MIN, o, high, low, close, 100 + rng.uniform(0, 50)])
    return rows


def synthetic_market(now_ms: int, seed: int) -> dict[str, list[list[float]]]:
    """Candles per pair: HISTORY closed ones before the current slot, then AHEAD more."""
    rng = random.Random(seed)
    first = now_ms // FIVE_MIN * FIVE_MIN - HISTORY * FIVE_MIN
    return {s: trend_candles(p, first, HISTORY + AHEAD, rng) for s, p in BASE_PRICES.items()}


def offline_signals(candles: dict[str, list[list[float]]], at_ms: int) -> dict[str, str]:
    """What adx_trend says on the closed candles before ``at_ms`` (a boundary), per pair."""
    import pandas as pd

    from nija_tg.strategies import get_strategy

    strategy = get_strategy("adx_trend")
    cols = ["ts", "open", "high", "low", "close", "volume"]
    out = {}
    for symbol, rows in candles.items():
        frame = pd.DataFrame([r for r in rows if r[0] < at_ms][-HISTORY:], columns=cols)
        out[symbol] = strategy.signal(frame).action.name
    return out


# -- the emulator, slowed down on AddOrder --------------------------------------------------


@dataclass
class Submit:
    """One AddOrder request as the emulator saw it."""

    client_id: str | None
    arrived: float
    placed: float | None = None
    answered: float | None = None
    cut: str | None = None  # why the answer never left, if it did not


def _make_emulator(latency_s: float) -> Any:
    from tests.fakes.kraken import KrakenEmulator
    from tests.fakes.kraken_auth import parse_params

    class SlowAddOrderKraken(KrakenEmulator):
        """KrakenEmulator whose AddOrder takes ``latency`` s (half before placing, half
        after); every AddOrder is recorded in ``submits``."""

        def __init__(self) -> None:
            super().__init__()
            self.latency = latency_s
            self.submits: list[Submit] = []

        @web.middleware
        async def _middleware(self, request: web.Request, handler):
            if not request.path.endswith("/AddOrder"):
                return await super()._middleware(request, handler)
            body = await request.text()
            try:
                cid = parse_params(request, body).get("cl_ord_id")
            except Exception:  # noqa: BLE001 - the handler answers the malformed body
                cid = None
            sub = Submit(str(cid) if cid else None, time.time())
            self.submits.append(sub)
            half = self.latency / 2

            async def slow(req: web.Request) -> web.StreamResponse:
                if half:
                    await asyncio.sleep(half)
                resp = await handler(req)
                sub.placed = time.time()
                if half:
                    await asyncio.sleep(half)
                return resp

            try:
                resp = await super()._middleware(request, slow)
            except asyncio.CancelledError:
                sub.cut = "cancelled"
                raise
            transport = request.transport
            if transport is None or transport.is_closing():
                sub.cut = "client gone"
            else:
                sub.answered = time.time()
            return resp

    return SlowAddOrderKraken()


class EmulatorThread:
    """The emulator on its own event loop in a daemon thread."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self.emu.start(), self.loop).result(30)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.emu.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# -- users ----------------------------------------------------------------------------------


async def seed_live_users(
    db_path: Path, emu: Any, users: int, positions: int, master_key: str
) -> dict[str, int]:
    """LIVE users, trading on, adx_trend defaults, stored verified credentials."""
    from nija_tg.core.models import Role, TradingMode
    from nija_tg.core.risk_settings import RiskSettings
    from nija_tg.storage import credentials, settings_repo
    from nija_tg.storage import users as users_repo
    from nija_tg.storage.db import Database
    from nija_tg.vault.keyring import KeyRing, parse_private_keys

    vault = KeyRing(parse_private_keys(master_key, "engine key"))
    db = await Database.open(db_path)
    by_key = {}
    try:
        for uid in range(1, users + 1):
            acct = emu.add_account({"USD": Decimal(10000)})
            by_key[acct.api_key] = uid
            settings = RiskSettings(
                max_open_positions=positions,
                max_position_usd=Decimal(300),
                daily_loss_usd=Decimal(1000),
            )
            blob = vault.seal(uid, "kraken", emu.credentials(acct))
            async with db.transaction() as tx:
                await users_repo.upsert_user(tx, uid, 7000 + uid, f"live{uid}", None, Role.TRADER)
                await settings_repo.save(tx, uid, settings)
                await credentials.store(tx, uid, "kraken", blob, acct.api_key[-4:], verified=True)
                await users_repo.set_mode(tx, uid, TradingMode.LIVE)
                await users_repo.set_trading(tx, uid, True)
    finally:
        await db.close()
    return by_key


# -- the run --------------------------------------------------------------------------------


@dataclass
class Run:
    users: int = 6
    positions: int = 3
    latency_s: float = 8.0
    gather_s: float = 2.0
    settle_s: float = 20.0
    seed: int = 6
    failures: list[str] = field(default_factory=list)


def _snapshot(emu: Any) -> list[Submit]:
    return [Submit(**vars(s)) for s in list(emu.submits)]


def wait_for_submits(emu: Any, run: Run) -> tuple[float, list[Submit]]:
    """Wait for the next boundary's first AddOrder, then up to ``gather_s`` for one per
    user; returns (boundary s, the submits in flight at that moment)."""
    boundary = (time.time() * 1000 // FIVE_MIN + 1) * FIVE_MIN / 1000
    print(f"waiting {boundary - time.time():.0f} s for the next 5-minute close", flush=True)
    while time.time() < boundary:
        left = boundary - time.time()
        time.sleep(min(30.0, max(0.0, left)))
        if left > 30:
            print(f"  {boundary - time.time():.0f} s to go", flush=True)
    wait_for(lambda: emu.submits, 90, "the first AddOrder after the candle close", 0.02)
    first = time.monotonic()
    while time.monotonic() - first < run.gather_s:
        inflight = [s for s in _snapshot(emu) if s.answered is None and s.cut is None]
        if len(inflight) >= run.users:
            break
        time.sleep(0.02)
    return boundary, [s for s in _snapshot(emu) if s.answered is None and s.cut is None]


def fate(emu: Any, inflight: list[Submit]) -> dict[str, int]:
    """How the submits in flight at the SIGTERM ended."""
    now = {s.arrived: s for s in _snapshot(emu)}
    out: dict[str, int] = {}
    for s in inflight:
        end = now.get(s.arrived, s)
        key = (
            "answered"
            if end.answered is not None
            else f"cut ({end.cut}), order {'placed' if end.placed else 'not placed'}"
        )
        out[key] = out.get(key, 0) + 1
    return out


def begun_after(db_path: Path, sent: float) -> list[str]:
    """Client ids of the orders whose intent was written after the SIGTERM."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        rows = conn.execute("SELECT client_order_id FROM orders WHERE created_at > ?", (sent,))
        return [r[0] for r in rows]
    finally:
        conn.close()


def stop_log_counts(text: str) -> dict[str, int]:
    """What the stopped engine logged from its stop on (its log up to now)."""
    tail = text.split("engine stopping", 1)[1] if "engine stopping" in text else ""
    after = tail.split("engine stopped", 1)[1] if "engine stopped" in tail else ""
    return {
        "submits_logged": tail.count(" submit market ") + tail.count(" submit limit "),
        "outcome_unknown": tail.count("outcome unknown"),
        "session_not_closed": tail.count("could not close the session"),
        "lines_after_engine_stopped": sum(1 for ln in after.splitlines() if ln[:2] == "20"),
    }


def run_inflight(work: Path, run: Run) -> dict[str, Any]:
    from nija_tg.vault.keyring import generate_private_key

    started = time.monotonic()
    fails = run.failures
    root, servers = work / "deploy", work / "servers"
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    servers.mkdir()
    conf = root / "supervisord.conf"
    shutil.copy(REPO / "supervisord.conf", conf)

    emu = _make_emulator(run.latency_s)
    emu.candles.update(synthetic_market(int(time.time() * 1000), run.seed))
    master_key = generate_private_key()
    api_proc, api = _server(
        ["tests.fakes.telegram_api", "--port", "0", "--token", TOKEN]
        + ["--port-file", str(servers / "api.port")],
        servers / "api.port",
    )
    figures: dict[str, Any] = {}
    try:
        with EmulatorThread(emu) as kraken:
            env = child_env(
                data_dir,
                NIJA_PYTHON=PYTHON,
                NIJA_ENGINE_KEY=master_key,
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_BASE_URL=api,
                NIJA_EXCHANGE_URLS=json.dumps({"kraken": kraken}),
            )
            env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
            init = [PYTHON, "-m", "nija_tg", "init"]
            subprocess.run(init, env=env, cwd=root, check=True, capture_output=True)
            db_path = db_path_of(data_dir)
            by_key = asyncio.run(
                seed_live_users(db_path, emu, run.users, run.positions, master_key)
            )
            figures.update(measure(conf, env, emu, by_key, db_path, data_dir, run))
    finally:
        api_proc.terminate()
        api_proc.wait(timeout=15)
    return result("supervisord_inflight", fails, started, **figures)


def measure(
    conf: Path, env: dict[str, str], emu: Any, by_key: dict[str, int], db_path: Path,
    data_dir: Path, run: Run,
) -> dict[str, Any]:  # fmt: skip
    fails = run.failures
    log = data_dir / "logs" / "supervisord.log"
    # The hub's first fetch is at the first boundary after the start: leave the engine
    # time to start before it, so that the entries happen at a boundary we watch.
    if (left := FIVE_MIN / 1000 - time.time() % (FIVE_MIN / 1000)) < 45:
        print(f"waiting {left:.0f} s: too close to a boundary to start", flush=True)
        time.sleep(left + 3)
    next_close = (int(time.time() * 1000) // FIVE_MIN + 1) * FIVE_MIN
    offline = offline_signals(emu.candles, next_close)
    if any(a != "ENTER_LONG" for a in offline.values()):
        fails.append(f"synthetic candles do not signal an entry offline: {offline}")
    proc = start(conf, env)
    wait_for(lambda: status(conf, env) == {"bot": "RUNNING", "engine": "RUNNING"}, 90, "RUNNING")
    boundary, inflight = wait_for_submits(emu, run)
    sent = time.time()
    db_left_before = unresolved(db_path)
    took = stop_and_measure(proc, log, data_dir, fails, "stop with orders in flight")
    stop_s = round(time.time() - sent, 2)
    left = unresolved(db_path)
    submits = _snapshot(emu)
    after_sigterm = sum(1 for s in submits if s.arrived > sent)
    if after_sigterm:
        fails.append(f"{after_sigterm} AddOrder requests arrived after the SIGTERM")
    in_flight_fate = fate(emu, inflight)
    print(f"SIGTERM with {len(inflight)} AddOrder in flight: {in_flight_fate}", flush=True)

    begun = begun_after(db_path, sent)
    on_exchange = {s.client_id for s in submits}
    engine_log = (data_dir / "logs" / "engine.log").read_text(errors="replace")
    emu.latency = 0.0
    since = time.time()
    reconciled_s = None
    proc = start(conf, env)
    try:
        wait_for(lambda: running_sessions(db_path, since) >= run.users, 120, "loops restarted")
        wait_for(lambda: not unresolved(db_path), 180, "orders reconciled")
        reconciled_s = round(time.time() - since, 1)
        time.sleep(run.settle_s)
    except AssertionError as exc:
        fails.append(f"restart: {exc}")
    restart_took = stop_and_measure(proc, log, data_dir, fails, "stop after the restart")
    final_left = unresolved(db_path)
    if final_left:
        fails.append(f"orders still intent/submitted after the restart: {final_left}")
    res = check(db_path, emu, by_key, time.time(), strict=True)
    fails += [f"after the restart: {f}" for f in res.pop("failures")]
    boundary_lines = [m for ts, m in log_events(log, sent) if "stopped:" in m or "exited:" in m]
    return {
        "offline_signals": sorted(set(offline.values())),
        "users": run.users,
        "max_open_positions": run.positions,
        "addorder_latency_s": run.latency_s,
        "boundary_utc": time.strftime("%H:%M:%S", time.gmtime(boundary)),
        "sigterm_after_boundary_s": round(sent - boundary, 2),
        "inflight_at_sigterm": len(inflight),
        "inflight_fate": in_flight_fate,
        "addorders_before_stop": len(submits),
        "addorders_after_sigterm": after_sigterm,
        "db_unresolved_at_sigterm": len(db_left_before),
        "orders_begun_after_sigterm": len(begun),
        "begun_after_sigterm_reached_exchange": len(set(begun) & on_exchange),
        "engine_log_after_sigterm": stop_log_counts(engine_log),
        "restart_reconciled_s": reconciled_s,
        "left_by_stop": left,
        "left_by_stop_outcome": outcomes(db_path, left),
        "stop_s": took,
        "supervisord_exit_s": stop_s,
        "restart_stop_s": restart_took,
        "stop_log": boundary_lines,
        "unresolved_after_restart": len(final_left),
        **{f"final_{k}": v for k, v in res.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--positions", type=int, default=3, help="max_open_positions (2-4)")
    parser.add_argument("--latency-s", type=float, default=8.0, help="per AddOrder (< 10)")
    parser.add_argument("--gather-s", type=float, default=2.0)
    parser.add_argument("--settle-s", type=float, default=20.0)
    args = parser.parse_args(argv)
    run = Run(args.users, args.positions, args.latency_s, args.gather_s, args.settle_s, args.seed)
    with tempfile.TemporaryDirectory(prefix="chaos-inflight-") as tmp:
        res = run_inflight(args.work_dir or Path(tmp), run)
    return emit(res, args.out)


if __name__ == "__main__":
    sys.exit(main())
