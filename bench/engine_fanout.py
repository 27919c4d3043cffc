"""Engine fan-out: N paper users trading the same 8 pairs on 5m candles, every one a real
UserLoop (strategy on the shared indicator frame, risk checks, engine-side stops, the
Executor, PaperAccount fills with fees, SQLite writes: orders, fills, paper state,
snapshots, equity points, outbox rows), fed by one MarketHub in lockstep under a
SimulatedClock from a replay of real candles (tests/data, see bench/candles.py).

Per candle close it measures the time from the hub's fetch to the moment every user
loop has finished with that candle (wall and CPU), market-data requests (candles per
pair, and tickers the paper fills ask for), the SQL statements and COMMITs SQLite ran
(its trace callback), orders, fills, outbox rows; and RSS before the loops start and
after the candles (memory per user). The loops are wired as the daemon wires them:
paper orders priced from the hub (``HubPrices``), loops started in batches
(``StartBatches``), group commit on (``--no-group-commit``: every transaction commits
alone, as before issue 13), and the garbage collector set as the engine sets it
(``nija_tg.engine.gc_tuning``: thresholds at start, long-lived objects frozen once the
loops have started; ``--gc default``: Python's defaults, nothing frozen).

Per measured close it also lists the orders it created (``orders_each_close``: with the
default data the third measured close is the heavy one, one order per user) and the
garbage collector's time and collections in it (``gc_each_close``). Profiles of one
close alone: ``--profile-heavy`` (cProfile over each measured close, the one with the
most orders reported; ``BENCH_PYSPY_DIR``/``BENCH_PYSPY`` = a py-spy executable
installed outside the project: py-spy samples each measured close alone, the GIL
holder only, into ``close-<n>.txt``).

One size per process (so RSS is per size); ``--runs N`` runs it N times, each in its
own process, and reports the median of every figure with every run kept:

    .venv/bin/python -m bench.engine_fanout --users 1000 --candles 4 --runs 3
    .venv/bin/python -m bench.engine_fanout --quick
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import candles as bc
from bench.common import emit, mib, peak_rss_bytes, profile_summary, rss_bytes, summary_ms
from nija_tg.core.models import Role
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine import gc_tuning
from nija_tg.engine.clock import SimulatedClock
from nija_tg.engine.daemon import HubPrices, StartBatches
from nija_tg.engine.market_data import MarketHub
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.engine.user_loop import LoopDeps, UserLoop
from nija_tg.storage import settings_repo, users
from nija_tg.storage.db import Database
from nija_tg.storage.paper_store import SqlitePaperStore
from tests.engine.replay import ReplaySource

EXCHANGE = "kraken"  # paper users without keys trade kraken's USD pairs
PAIRS = ("BTC", "ETH", "SOL", "AVAX", "POL", "DOT", "LINK", "ADA")  # the default 8
TF = 300_000
WINDOW = 300


class StatementCounter:
    """Counts the SQL statements SQLite runs (its trace callback, called on aiosqlite's
    threads) and the write transactions among them."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.kinds: Counter[str] | None = None  # by statement text (--sql-kinds)

    def __call__(self, sql: str) -> None:
        self.statements += 1
        if sql.startswith("COMMIT"):
            self.commits += 1
        if self.kinds is not None:
            self.kinds[_shape(sql)] += 1

    async def attach(self, db: Database) -> None:
        await db.set_trace(self)


def _shape(sql: str) -> str:
    """A statement's text without its values (the trace shows them bound)."""
    text = re.sub(r"'(?:[^']|'')*'", "?", " ".join(sql.split()))
    return re.sub(r"\b\d+(?:\.\d+)?(?:e-?\d+)?\b", "?", text)[:90]


class GcTimer:
    """Time the garbage collector spends (``gc.callbacks``), and its collections."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self.collections = 0
        self._started = 0.0
        self.log: list[tuple[int, float]] = []  # (generation, ms) of each collection
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            self.total_s += took
            self.collections += 1
            self.log.append((info.get("generation", -1), round(took * 1000, 1)))

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


class TimedHub(MarketHub):
    """MarketHub that times each candle close until every subscriber is done with it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closes: list[dict[str, float]] = []
        self.sql = StatementCounter()
        self.db: Database | None = None  # counts each close's orders (outside the timing)
        self.users: tuple[int, int] | None = None  # (first, last) user id of this process
        # --profile-heavy: each measured close profiled on its own; the one with the
        # most orders is kept (``heavy_profile``)
        self.profile_closes = False
        self.heavy_profile: tuple[int, cProfile.Profile] | None = None
        self.gc_time = GcTimer()
        self._gc_mark = 0.0

    def note_gc_after(self) -> None:
        """The collector's time since the last close ended (the collection it put off,
        run between closes) goes to that close."""
        if self.closes and "gc_after_s" not in self.closes[-1]:
            self.closes[-1]["gc_after_s"] = self.gc_time.total_s - self._gc_mark

    async def poll(self, boundary: int) -> list:
        self.note_gc_after()
        orders_before = await _count(self.db, "orders", self.users) if self.db is not None else 0
        prof = cProfile.Profile() if self.profile_closes and self.closes else None
        sampler = _start_sampler(len(self.closes)) if self.closes else None
        if prof is not None:
            prof.enable()
        wall, cpu = time.perf_counter(), time.process_time()
        gc_before = self.gc_time.total_s, self.gc_time.collections
        self.gc_time.log.clear()
        fetches_before = self.stats.total
        sql_before, commits_before = self.sql.statements, self.sql.commits
        updated = await super().poll(boundary)
        await self._wait_for(self._all_idle)
        await self.settle()  # the close's snapshots written too
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self._gc_mark = self.gc_time.total_s
        if prof is not None:
            prof.disable()
        if sampler is not None:
            _stop_sampler(sampler)
        statements = self.sql.statements - sql_before
        commits = self.sql.commits - commits_before
        orders = (
            await _count(self.db, "orders", self.users) - orders_before
            if self.db is not None
            else 0
        )
        if prof is not None and (self.heavy_profile is None or orders > self.heavy_profile[0]):
            self.heavy_profile = (orders, prof)
        self.closes.append(
            {
                "wall": wall,
                "cpu": cpu,
                "fetches": self.stats.total - fetches_before,
                "updated": len(updated),
                "statements": statements,
                "commits": commits,
                "orders": orders,
                "gc_s": self.gc_time.total_s - gc_before[0],
                "gc_collections": self.gc_time.collections - gc_before[1],
                "gc_log": list(self.gc_time.log),
            }
        )
        if len(self.closes) == 1 and self.sql.kinds is not None:
            self.sql.kinds.clear()  # by kind over the measured closes, as the totals
        return updated


def _start_sampler(close: int) -> subprocess.Popen | None:
    """With ``BENCH_PYSPY`` (a py-spy executable, installed outside the project) and
    ``BENCH_PYSPY_DIR``: py-spy samples this process during close ``close`` alone
    (collapsed stacks in ``close-<n>.txt``); the second's wait for it to attach is
    before the close's timing starts (an idle thread is not sampled)."""
    spy, out = os.environ.get("BENCH_PYSPY"), os.environ.get("BENCH_PYSPY_DIR")
    if not spy or not out:
        return None
    cmd = [spy, "record", "--pid", str(os.getpid()), "--rate", "1000", "--format", "raw", "--gil"]
    cmd += ["--nonblocking"] if os.environ.get("BENCH_PYSPY_NONBLOCKING") else []
    cmd += ["--output", str(Path(out) / f"close-{close}.txt")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attached (blocks the loop: nothing runs meanwhile)
    return proc


def _stop_sampler(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
    proc.wait(timeout=60)


async def _setup_users(db: Database, n: int, first: int = 1) -> None:
    settings = RiskSettings(allowed_pairs=PAIRS)
    async with db.transaction() as tx:
        for uid in range(first, first + n):
            await users.upsert_user(tx, uid, uid, None, "Bench", Role.TRADER)
            await settings_repo.save(tx, uid, settings)
            await users.set_trading(tx, uid, True)


async def _count(db: Database, table: str, users: tuple[int, int] | None = None) -> int:
    """Rows of ``table`` (of the user ids ``users`` = (first, last) when given: a file
    shared by several bench processes)."""
    if users is None:
        row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - fixed names
    else:
        row = await db.fetchone(
            f"SELECT COUNT(*) AS n FROM {table} WHERE user_id BETWEEN ? AND ?",  # noqa: S608
            users,
        )
    return int(row["n"]) if row else 0


async def _run(
    n_users: int,
    n_candles: int,
    workdir: Path,
    profile: bool,
    budget_s: float,
    sql_kinds: bool = False,
    on_result: Callable[[dict[str, Any], Path], None] | None = None,
    group_commit: bool = True,
    gc_thresholds: tuple[int, int, int] | None = gc_tuning.ENGINE_THRESHOLDS,
    profile_heavy: bool = False,
    gc_between_closes: bool = True,
    first_user: int = 1,
    db_path: Path | None = None,
) -> dict[str, Any]:
    """``first_user``/``db_path``: this process's users are ``first_user`` onwards, in
    the SQLite file ``db_path`` (migrated already; shared with other bench processes:
    ``--processes``) instead of one of its own. ``profile_heavy``: cProfile over each
    measured close alone, the one with the most orders reported (``heavy_profile``).
    ``gc_thresholds`` None: Python's default collector, nothing frozen; else the
    engine's (``gc_tuning``) with these thresholds."""
    if gc_thresholds is not None:  # as engine_main, at start
        gc_tuning.configure(gc_thresholds, between_closes=gc_between_closes)
    length = WINDOW + n_candles + 5
    series = {(EXCHANGE, f"{b}/USD", "5m"): bc.series(i, length) for i, b in enumerate(PAIRS)}
    first = series[(EXCHANGE, "BTC/USD", "5m")]
    clock = SimulatedClock(first[WINDOW].ts)
    source = ReplaySource(clock, series)
    hub = TimedHub(source, clock, window=WINDOW, lockstep=True, late_retries=0)
    db = await Database.open(db_path or workdir / "fanout.sqlite3", migrate=db_path is None)
    hub.db = db
    last_user = first_user + n_users - 1
    hub.users = (first_user, last_user)
    hub.profile_closes = profile_heavy
    if not group_commit:
        db.group_max_bodies = 1  # every transaction body commits alone
    prices = HubPrices(source, hub, clock)  # as the daemon wires paper accounts
    starts = StartBatches(hub)
    try:
        await _setup_users(db, n_users, first_user)
        await hub.sql.attach(db)
        deps = LoopDeps(
            db,
            hub,
            clock,
            prices,
            paper_store=SqlitePaperStore(db),
            paper_exchange=EXCHANGE,
            paper_balance=Decimal(10000),
            drain_seconds=1.0,
            snapshots=SnapshotWriter(db),  # as the daemon runs it
        )
        gc.collect()
        rss_before = rss_bytes()
        prof = cProfile.Profile() if profile else None
        if prof is not None:
            prof.enable()  # startup and the candle closes
        started = time.perf_counter()
        loops = [UserLoop(deps, uid) for uid in range(first_user, last_user + 1)]

        async def started_in_batches(loop: UserLoop) -> None:
            await starts.admit()  # as Daemon._loop
            await loop.run()

        tasks = [asyncio.create_task(started_in_batches(loop)) for loop in loops]
        phase = {"startup_s": None, "rss_started": 0}
        counts_before: dict[str, int] = {}
        tickers_before = 0

        async def measured() -> None:
            nonlocal tickers_before
            await hub.wait_for_subscribers(n_users)
            if gc_thresholds is not None:
                froze = time.perf_counter()
                phase["gc_frozen"] = gc_tuning.freeze_long_lived()  # as the Daemon
                phase["gc_freeze_ms"] = round((time.perf_counter() - froze) * 1000)
            phase["startup_s"] = round(time.perf_counter() - started, 2)
            phase["rss_started"] = rss_bytes()
            tickers_before = source.ticker_calls
            if sql_kinds:
                hub.sql.kinds = Counter()
            for t in ("orders", "fills", "outbox"):
                counts_before[t] = await _count(db, t, hub.users)
            await hub.run(asyncio.Event(), until_ms=clock.now_ms() + n_candles * TF)
            hub.note_gc_after()

        try:
            await asyncio.wait_for(measured(), budget_s)
            finished = True
        except TimeoutError:
            finished = False
        if prof is not None:
            prof.disable()
            if os.environ.get("BENCH_PROFILE_OUT"):  # the whole profile, for pstats
                prof.dump_stats(os.environ["BENCH_PROFILE_OUT"])
        elapsed = time.perf_counter() - started
        gc.collect()
        rss_after = rss_bytes()
        subscribed = hub.subscribers
        counts = {
            t: await _count(db, t, hub.users) - counts_before.get(t, 0)
            for t in ("orders", "fills", "outbox")
        }
        tickers = source.ticker_calls - tickers_before
        result = _result(hub, n_users, finished, budget_s, elapsed, subscribed, phase, counts)
        result.update(
            group_commit=group_commit,
            gc_thresholds=list(gc_thresholds) if gc_thresholds else "default",
            gc_between_closes=gc_between_closes and gc_thresholds is not None,
            gc_frozen=phase.get("gc_frozen", 0),
            gc_freeze_ms=phase.get("gc_freeze_ms", 0),  # the one collection before the freeze
            start_batches=starts.batches,
            ticker_requests_per_close=round(tickers / max(len(hub.closes), 1), 1),
            rss_before_loops_mib=mib(rss_before),
            rss_after_start_mib=mib(phase["rss_started"]),
            rss_after_candles_mib=mib(rss_after),
            peak_rss_mib=mib(peak_rss_bytes()),
            kib_per_user=round((rss_after - rss_before) / n_users / 1024, 1),
        )
        if hub.sql.kinds is not None:
            per = max(len(hub.closes) - 1, 1)  # the first close is not measured
            result["sql_kinds_per_close"] = {
                k: round(v / per, 1) for k, v in hub.sql.kinds.most_common(40)
            }
        if prof is not None:
            result["profile"] = {"wall_s": round(elapsed, 2), **profile_summary(prof, 15)}
        if hub.heavy_profile is not None:
            heavy_orders, heavy = hub.heavy_profile
            if os.environ.get("BENCH_PROFILE_OUT"):  # the heavy close's profile, for pstats
                heavy.dump_stats(os.environ["BENCH_PROFILE_OUT"])
            result["heavy_profile"] = {"orders": heavy_orders, **profile_summary(heavy, 25)}
        if on_result is not None:
            on_result(result, workdir)  # the CLI prints and exits here: teardown is not measured
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        hub.gc_time.remove()
        await db.close()
    return result


def _result(
    hub: TimedHub,
    n_users: int,
    finished: bool,
    budget_s: float,
    elapsed: float,
    subscribed: int,
    phase: dict,
    counts: dict[str, int],
) -> dict[str, Any]:
    closes = hub.closes[1:] or hub.closes  # the first close loads the whole window
    n_measured = len(closes)
    return {
        "users": n_users,
        "pairs": len(PAIRS),
        "candles_measured": n_measured,
        "finished": finished,
        "time_budget_s": budget_s,
        "elapsed_s": round(elapsed, 1),
        "loops_subscribed": subscribed,
        "startup_s": phase["startup_s"],
        "per_candle_wall": summary_ms([c["wall"] for c in closes]),
        "per_candle_cpu": summary_ms([c["cpu"] for c in closes]),
        # each measured close in order: [wall ms, CPU ms] (with 4 closes, p99 is the worst)
        "per_close_ms": [[round(c["wall"] * 1000), round(c["cpu"] * 1000)] for c in closes],
        "orders_each_close": [int(c["orders"]) for c in closes],
        # the collector's time in each measured close (ms) and its collections
        "gc_each_close": [[round(c["gc_s"] * 1000), int(c["gc_collections"])] for c in closes],
        "gc_collections_each_close": [c["gc_log"] for c in closes],  # (generation, ms)
        # the collector's ms after each close, before the next (what the close put off)
        "gc_after_each_close": [round(c.get("gc_after_s", 0.0) * 1000) for c in closes],
        "statements_per_close": round(sum(c["statements"] for c in closes) / n_measured, 1),
        "commits_per_close": round(sum(c["commits"] for c in closes) / n_measured, 1),
        "candle_requests_per_close": sorted({int(c["fetches"]) for c in hub.closes}),
        "orders_per_close": round(counts["orders"] / max(len(hub.closes), 1), 1),
        "fills_per_close": round(counts["fills"] / max(len(hub.closes), 1), 1),
        "outbox_rows_per_close": round(counts["outbox"] / max(len(hub.closes), 1), 1),
    }


def run_one(
    n_users: int,
    n_candles: int,
    profile: bool = False,
    budget_s: float = 600.0,
    sql_kinds: bool = False,
    on_result: Callable[[dict[str, Any], Path], None] | None = None,
    group_commit: bool = True,
    gc_thresholds: tuple[int, int, int] | None = gc_tuning.ENGINE_THRESHOLDS,
    profile_heavy: bool = False,
    gc_between_closes: bool = True,
    first_user: int = 1,
    db_path: Path | None = None,
) -> dict[str, Any]:
    """One size in this process (the CLI's exits at ``on_result``); a caller that goes on
    (a test) gets the collector back as it was: thresholds, nothing frozen."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    thresholds = gc.get_threshold()
    try:
        with tempfile.TemporaryDirectory(prefix="nija-bench-fanout-") as tmp:
            return asyncio.run(
                _run(
                    n_users,
                    n_candles,
                    Path(tmp),
                    profile,
                    budget_s,
                    sql_kinds,
                    on_result,
                    group_commit,
                    gc_thresholds,
                    profile_heavy,
                    gc_between_closes,
                    first_user,
                    db_path,
                )
            )
    finally:
        gc_tuning.configure(thresholds, between_closes=False)
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def main(argv: list[str] | None = None) -> None:
    logging.getLogger("nija_tg").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--candles", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="cProfile over the whole run")
    parser.add_argument(
        "--profile-heavy",
        action="store_true",
        help="cProfile over each measured close alone; the one with the most orders is "
        "reported (heavy_profile; BENCH_PROFILE_OUT=file dumps it for pstats)",
    )
    parser.add_argument("--budget", type=float, default=600.0, help="stop after this many s")
    parser.add_argument("--sql-kinds", action="store_true", help="count statements by text")
    parser.add_argument("--no-group-commit", action="store_true", help="a COMMIT per body")
    parser.add_argument(
        "--gc",
        default="engine",
        help="'engine' (nija_tg.engine.gc_tuning, as the engine runs: collections between "
        "closes), 'inclose' (the engine's thresholds and freeze, collections inside the "
        "closes as before), 'default' (Python's), or three thresholds 'G0,G1,G2' as 'engine'",
    )
    parser.add_argument("--runs", type=int, default=1, help="processes; report the median")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="split the users over this many engine processes started together, one "
        "SQLite file shared (each its own hub and clock; closes not synchronised "
        "between them)",
    )
    parser.add_argument("--first-user", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="10 users, 3 candles")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.candles = 10, 3
    if args.processes > 1:
        given = sys.argv[1:] if argv is None else argv
        emit({"benchmark": "engine_fanout", **_split_run(args, given)}, args.json)
        return
    if args.runs > 1:
        given = sys.argv[1:] if argv is None else argv
        emit({"benchmark": "engine_fanout", **_median_of_runs(args, given)}, args.json)
        return

    def done(result: dict[str, Any], workdir: Path) -> None:
        """Print, then leave at once: stopping 10,000 loops takes minutes and is not
        what is measured."""
        emit({"benchmark": "engine_fanout", **result}, args.json)
        shutil.rmtree(workdir, ignore_errors=True)
        os._exit(0)

    run_one(
        args.users,
        args.candles,
        args.profile,
        args.budget,
        args.sql_kinds,
        on_result=done,
        group_commit=not args.no_group_commit,
        gc_thresholds=_gc_thresholds(args.gc),
        profile_heavy=args.profile_heavy,
        gc_between_closes=args.gc != "inclose",
        first_user=args.first_user,
        db_path=args.db,
    )


def _gc_thresholds(text: str) -> tuple[int, int, int] | None:
    if text == "default":
        return None
    if text in ("engine", "inclose"):
        return gc_tuning.ENGINE_THRESHOLDS
    g0, g1, g2 = (int(v) for v in text.split(","))
    return (g0, g1, g2)


MEDIAN_FIELDS = (
    "elapsed_s",
    "startup_s",
    "statements_per_close",
    "commits_per_close",
    "ticker_requests_per_close",
    "orders_per_close",
    "fills_per_close",
    "outbox_rows_per_close",
    "gc_frozen",
    "gc_freeze_ms",
    "rss_before_loops_mib",
    "rss_after_start_mib",
    "rss_after_candles_mib",
    "peak_rss_mib",
    "kib_per_user",
)


def _median_of_runs(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Run the size ``args.runs`` times, each in a process of its own, one after the
    other; the result is the median of every figure, every run kept under ``runs``."""
    import json

    rest, skip = [], False
    for a in argv:  # the same arguments without --runs / --json
        if skip:
            skip = False
            continue
        if a in ("--runs", "--json"):
            skip = True
            continue
        if a.startswith(("--runs=", "--json=")):
            continue
        rest.append(a)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="nija-bench-runs-") as tmp:
        for i in range(args.runs):
            out = Path(tmp) / f"run{i}.json"
            cmd = [sys.executable, "-m", "bench.engine_fanout", *rest, "--json", str(out)]
            code = subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False).returncode
            if code == 0 and out.exists():
                runs.append(json.loads(out.read_text(encoding="utf-8")))
    if not runs:
        raise SystemExit("no run finished")
    return median_result(runs)


def _split_run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """``--processes K``: K bench processes started together, users 1..N split between
    them, one SQLite file (migrated here first); each measures its own closes. Per close
    index: the slowest process's wall, and the CPU of every process added."""
    import json

    rest, skip = [], False
    for a in argv:  # the same arguments without --processes / --json / --users
        if skip:
            skip = False
            continue
        if a in ("--processes", "--json", "--users", "--runs"):
            skip = True
            continue
        if a.startswith(("--processes=", "--json=", "--users=", "--runs=")):
            continue
        rest.append(a)
    k = args.processes
    sizes = [args.users // k + (1 if i < args.users % k else 0) for i in range(k)]
    with tempfile.TemporaryDirectory(prefix="nija-bench-split-") as tmp:
        path = Path(tmp) / "fanout.sqlite3"

        async def migrate() -> None:
            await (await Database.open(path)).close()

        asyncio.run(migrate())
        procs, outs, first = [], [], 1
        for i, size in enumerate(sizes):
            out = Path(tmp) / f"proc{i}.json"
            cmd = [sys.executable, "-m", "bench.engine_fanout", *rest, "--users", str(size)]
            cmd += ["--first-user", str(first), "--db", str(path), "--json", str(out)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
            outs.append(out)
            first += size
        for proc in procs:
            proc.wait()
        runs = [json.loads(o.read_text(encoding="utf-8")) for o in outs if o.exists()]
    if len(runs) != k:
        raise SystemExit(f"{k - len(runs)} of {k} processes did not finish")
    closes = min(len(r["per_close_ms"]) for r in runs)
    return {
        "users": args.users,
        "processes": k,
        "users_per_process": sizes,
        # per close index: [the slowest process's wall, every process's CPU added]
        "per_close_ms": [
            [
                max(r["per_close_ms"][i][0] for r in runs),
                sum(r["per_close_ms"][i][1] for r in runs),
            ]
            for i in range(closes)
        ],
        "orders_each_close": [sum(r["orders_each_close"][i] for r in runs) for i in range(closes)],
        "runs": [{k2: v for k2, v in r.items() if k2 != "benchmark"} for r in runs],
    }


def median_result(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every figure of ``runs`` (the others as in the first run)."""
    med = {k: v for k, v in runs[0].items() if k != "benchmark"}
    for key in MEDIAN_FIELDS:
        values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
        if values:
            med[key] = round(statistics.median(values), 1)
    for part in ("per_candle_wall", "per_candle_cpu"):
        fields = runs[0].get(part) or {}
        med[part] = {
            k: round(statistics.median(r[part][k] for r in runs), 2)
            for k in fields
            if all(isinstance((r.get(part) or {}).get(k), int | float) for r in runs)
        }
    med["finished"] = all(r.get("finished") for r in runs)
    med["runs"] = [{k: v for k, v in r.items() if k != "benchmark"} for r in runs]
    med["median_of"] = len(runs)
    return med


if __name__ == "__main__":
    main()
