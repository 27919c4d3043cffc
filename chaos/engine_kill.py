"""Item 1: kill -9 of the engine at random moments during live trading.

This process runs a Kraken emulator (tests/fakes/kraken.py) on 127.0.0.1 and a
controller; the engine is a child process (tests/engine/live_child.py: the real daemon,
SQLite database, vault, ``CcxtGateway`` pointed at the emulator, live accounts built by
``engine_main.account_factory``) trading ``--users`` LIVE users with the ``test_flipflop``
strategy (an entry and an exit every few candles per pair) under a paced simulated clock
(one 5 m candle every ``--step-s`` s). The child publishes the simulated time in a file;
the emulator reads its "now" from it, so candles and fill prices follow the simulation.

Each cycle starts the child and SIGKILLs it at a random moment: either 0.2-3 s after the
spawn (``--startup-share`` of the cycles: the kill lands in start-up or reconciliation),
or 0.2-3 s after every user's loop has reconciled and processed a candle. After every
restart, once every loop has reconciled, the child is frozen (SIGSTOP) and checked:

- every client id with our prefix on the exchange has exactly one exchange order;
- the database knows every one of them, for the right user;
- orders from before the restart are resolved (no intent/submitted left), and their
  state matches the exchange (filled/open/canceled; "rejected" only if the exchange has
  no such order);
- each exchange fill is exactly one fill row (count and amount per order), trade ids are
  unique, and each fill row has its outbox row (kind 'fill', or 'stop' for a stop order
  the exchange executed; dedupe key ``fill:<user>:kraken:<trade id>``: the emulator fills
  an order in one trade). Stop orders resting on Kraken are orders like the others;
- position amounts equal the exchange's base balances (users without orders in flight);
- no fill of ours sold more than our position (issue 16; the emulator's sell audit,
  tests/fakes/sell_audit.py).

Orders the running child has in flight (created after the restart, still intent or
submitted) are exempt until the next check. A final run is stopped with SIGTERM and
checked strictly. The outbox sender is not run: Telegram duplicates are the sender's
business (item 3); here every fill must have exactly one outbox row.

Usage: ``python -m chaos.engine_kill --kills 50 --out result.json``
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaos.common import PYTHON, REPO, base_parser, child_env, emit, result
from chaos.engine_kill_check import check, connect, outcomes, unresolved

TF_MS = 300_000


@dataclass
class KillPlan:
    kills: int = 50
    users: int = 3
    pairs: tuple[str, ...] = ("ETH", "SOL")
    step_s: float = 0.15
    min_delay: float = 0.2
    max_delay: float = 3.0
    startup_share: float = 0.2
    seed: int = 6
    start_candle: int = 320  # the window behind the simulated start
    ready_timeout: float = 90.0


@dataclass
class Tally:
    failures: list[str] = field(default_factory=list)
    kills: int = 0
    startup_kills: int = 0
    checks: int = 0
    kills_mid_order: int = 0  # kills that left an intent/submitted order behind
    left_by_kills: dict[str, str] = field(default_factory=dict)  # client id -> status
    stats: Counter[str] = field(default_factory=Counter)


# --- setup -----------------------------------------------------------------------------


async def seed(db_path: Path, emu: Any, plan: KillPlan, master_key: str) -> dict[str, int]:
    """LIVE users with trading on and stored, verified credentials. Returns api key -> uid."""
    from nija_tg.core.models import Role, TradingMode
    from nija_tg.core.risk_settings import RiskSettings
    from nija_tg.storage import credentials, settings_repo, users
    from nija_tg.storage.db import Database
    from nija_tg.vault.keyring import KeyRing, parse_private_keys
    from tests.engine.live_child import FLIPFLOP, FlipFlopParams, register_flipflop

    register_flipflop()
    vault = KeyRing(parse_private_keys(master_key, "engine key"))
    db = await Database.open(db_path)
    by_key = {}
    try:
        for uid in range(1, plan.users + 1):
            acct = emu.add_account({"USD": Decimal(10000)})
            by_key[acct.api_key] = uid
            settings = RiskSettings(
                strategy=FLIPFLOP,
                strategy_params=FlipFlopParams(period=4, phase=uid),
                allowed_pairs=plan.pairs,
                max_open_positions=len(plan.pairs),
                max_position_usd=Decimal(300),
                max_drawdown_pct=Decimal(90),
                daily_loss_pct=Decimal(50),
                daily_loss_usd=Decimal(100000),
            )
            blob = vault.seal(uid, "kraken", emu.credentials(acct))
            async with db.transaction() as tx:
                await users.upsert_user(tx, uid, 9000 + uid, f"kill{uid}", None, Role.TRADER)
                await settings_repo.save(tx, uid, settings)
                await credentials.store(tx, uid, "kraken", blob, acct.api_key[-4:], verified=True)
                await users.set_mode(tx, uid, TradingMode.LIVE)
                await users.set_trading(tx, uid, True)
    finally:
        await db.close()
    return by_key


def db_path_of(data_dir: Path) -> Path:
    """Where the engine (settings from NIJA_DATA_DIR) keeps its database."""
    from nija_tg.config import load_settings

    return load_settings({"NIJA_DATA_DIR": str(data_dir)}, dotenv=None).db_path


def simnow_reader(path: Path):
    """The emulator's clock: the child's published simulated time."""
    last = [0]

    def now() -> int:
        try:
            last[0] = int(path.read_text())
        except (OSError, ValueError):
            pass  # keep the last value
        return last[0]

    return now


def freeze(proc: asyncio.subprocess.Process) -> None:
    """SIGSTOP the child and wait until the kernel shows it stopped."""
    proc.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("T", "t", "Z"):
            return
        time.sleep(0.002)


# --- the invariants --------------------------------------------------------------------


# --- the controller --------------------------------------------------------------------


class Controller:
    def __init__(self, work: Path, emu: Any, plan: KillPlan, master_key: str, by_key) -> None:
        self.work, self.emu, self.plan, self.by_key = work, emu, plan, by_key
        self.data = work / "data"
        self.db_path = db_path_of(self.data)
        self.simnow = work / "simnow"
        self.log = work / "child.log"
        urls = json.dumps({"kraken": emu.base_url})
        self.env = child_env(self.data, NIJA_ENGINE_KEY=master_key, NIJA_EXCHANGE_URLS=urls)
        self.rng = random.Random(plan.seed)
        self.tally = Tally()

    async def spawn(self) -> asyncio.subprocess.Process:
        with self.log.open("ab") as fh:
            return await asyncio.create_subprocess_exec(
                PYTHON,
                "-m",
                "tests.engine.live_child",
                "--simnow",
                str(self.simnow),
                "--step-s",
                str(self.plan.step_s),
                cwd=REPO,
                env=self.env,
                stdout=fh,
                stderr=fh,
            )

    def _ready(self, since: float) -> bool:
        with closing(connect(self.db_path)) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM snapshots WHERE updated_at > ?", (since,)
            ).fetchone()
        return int(row[0]) >= len(self.by_key)

    async def wait_ready(self, proc: asyncio.subprocess.Process, since: float) -> bool:
        """Every user's loop reconciled and handled a candle after ``since``."""
        deadline = time.monotonic() + self.plan.ready_timeout
        while not self._ready(since):
            if proc.returncode is not None:
                self.tally.failures.append(f"child exited with {proc.returncode}: {self._tail()}")
                return False
            if time.monotonic() > deadline:
                self.tally.failures.append(f"loops not ready after restart: {self._tail()}")
                return False
            await asyncio.sleep(0.1)
        return True

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-600:]
        except OSError:
            return ""

    def verify(
        self,
        proc: asyncio.subprocess.Process | None,
        since: float,
        strict: bool,
        settled: set[str] | None = None,
    ) -> None:
        if proc is not None and proc.returncode is None:
            freeze(proc)
        try:
            res = check(self.db_path, self.emu, self.by_key, since, strict, settled)
        finally:
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGCONT)
        self.tally.checks += 1
        self.tally.failures += [f"check {self.tally.checks}: {f}" for f in res.pop("failures")]
        for k, v in res.items():
            self.tally.stats[k] = max(self.tally.stats[k], v)

    async def kill(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        rc = await proc.wait()
        if rc == -signal.SIGKILL:
            self.tally.kills += 1
            left = unresolved(self.db_path)
            if left:
                self.tally.kills_mid_order += 1
                self.tally.left_by_kills.update(left)
        else:
            self.tally.failures.append(f"child ended with {rc} before the kill: {self._tail()}")

    async def cycle(self) -> None:
        since = time.time()
        proc = await self.spawn()
        delay = self.rng.uniform(self.plan.min_delay, self.plan.max_delay)
        if self.rng.random() < self.plan.startup_share:
            self.tally.startup_kills += 1
            await asyncio.sleep(delay)
        else:
            if await self.wait_ready(proc, since):
                self.verify(proc, since, strict=False)
            await asyncio.sleep(delay)
        await self.kill(proc)

    async def final(self) -> None:
        """A last run: reconcile, trade a little, stop with SIGTERM, check strictly (stops
        the exchange executed before this start must be recorded by then)."""
        since = time.time()
        settled = {
            o.order_id
            for o in self.emu.ledger.orders
            if o.trigger_price is not None and o.status != "open"
        }
        proc = await self.spawn()
        if await self.wait_ready(proc, since):
            self.verify(proc, since, strict=False)
            await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            rc = await proc.wait()
        if rc != 0:
            self.tally.failures.append(f"final run exited with {rc}: {self._tail()}")
        self.verify(None, time.time(), strict=True, settled=settled)


async def run_kills(work: Path, plan: KillPlan) -> dict[str, Any]:
    """The whole run in ``work``; returns the JSON result."""
    from nija_tg.vault.keyring import generate_private_key
    from tests.engine.live_child import write_simnow
    from tests.fakes.kraken import KrakenEmulator

    started = time.monotonic()
    (work / "data").mkdir(parents=True, exist_ok=True)
    emu = KrakenEmulator()
    first = emu.candles["ETH/USD"][plan.start_candle][0]
    write_simnow(work / "simnow", int(first) + TF_MS // 2)
    emu.clock_ms = simnow_reader(work / "simnow")
    master_key = generate_private_key()
    await emu.start()
    try:
        by_key = await seed(db_path_of(work / "data"), emu, plan, master_key)
        ctl = Controller(work, emu, plan, master_key, by_key)
        while ctl.tally.kills < plan.kills and len(ctl.tally.failures) < 20:
            await ctl.cycle()
        await ctl.final()
    finally:
        await emu.stop()
    t = ctl.tally
    end = int((work / "simnow").read_text())
    return result(
        "engine_kill",
        t.failures,
        started,
        kills=t.kills,
        kills_planned=plan.kills,
        startup_kills=t.startup_kills,
        kills_mid_order=t.kills_mid_order,
        left_by_kills=outcomes(db_path_of(work / "data"), t.left_by_kills),
        checks=t.checks,
        users=plan.users,
        candles=(end - int(first)) // TF_MS,
        orders=t.stats["orders"],
        filled_orders=t.stats["filled_orders"],
        stop_orders=t.stats["stop_orders"],
        pending_stops_at_checks=t.stats["pending_stops"],
        fills=t.stats["fills"],
        fill_notifications=t.stats["notifications"],
        duplicate_orders=t.stats["duplicates"],
        unknown_to_db=t.stats["unknown"],
        mismatched=t.stats["mismatched"],
        unnotified_fills=t.stats["unnotified"],
        extra_notifications=t.stats["extra_notifications"],
        sells_beyond_position=t.stats["sells_beyond_position"],
        bot_sells_audited=t.stats["bot_sells_audited"],
        telegram_duplicates="n/a (sender not run: one outbox row per fill checked)",
    )


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--step-s", type=float, default=0.15)
    args = parser.parse_args(argv)
    plan = KillPlan(kills=args.kills, users=args.users, step_s=args.step_s, seed=args.seed)
    if args.work_dir is not None:
        res = asyncio.run(run_kills(args.work_dir, plan))
    else:
        with tempfile.TemporaryDirectory(prefix="engine-kill-") as tmp:
            res = asyncio.run(run_kills(Path(tmp), plan))
    return emit(res, args.out)


if __name__ == "__main__":
    sys.exit(main())
