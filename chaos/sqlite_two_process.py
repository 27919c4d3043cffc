"""Item 9: two OS processes write one SQLite database at once, with an online backup.

A *bot* process (user upserts, settings writes, audit rows, outbox enqueues) and an
*engine* process (orders intent -> submitted -> filled, fills, snapshots, equity points,
outbox claims marked sent) write through the storage repositories as fast as they can
for ``--seconds``. Each logs every commit with the wall-clock time it finished. Half-way,
this process takes ``Database.backup`` under load.

Checked: no "database is locked"/busy error surfaces in either writer; PRAGMA
integrity_check is ok on the database and on the restored backup; every logged commit is
in the database (nothing lost) exactly once (nothing duplicated); every commit that
finished before the backup call started is in the backup. The -wal file size is sampled
every 50 ms and its maximum reported (wal_autocheckpoint=1000, journal_size_limit=64 MiB).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaos.common import PYTHON, REPO, base_parser, emit, result
from nija_tg.core.models import FillInfo, OrderState, OrderStatus, OrderType, Role, Side
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.storage import audit, fills, orders, outbox, settings_repo, snapshots, users
from nija_tg.storage.db import Database

USERS = 50
SAMPLE_EVERY = 0.05
WAL_LIMIT = 67_108_864  # journal_size_limit in nija_tg/storage/db.py


# -- the two writers (child processes) -------------------------------------------------------


async def _bot_step(db: Database, rng: random.Random, n: int) -> list[str]:
    uid = rng.randint(1, USERS)
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, uid, f"user{uid}_{n % 7}", "Chaos", Role.TRADER)
        if n % 3 == 0:
            prefs = RiskSettings(max_open_positions=1 + n % 5)
            await settings_repo.save(tx, uid, prefs)
        await audit.record(tx, uid, "chaos.bot", uid, seq=n)
        await outbox.enqueue(tx, uid, "info", f"bot message {n}", dedupe_key=f"bot-{n}")
    if n % 5 == 0:  # the bot reads what the engine wrote
        await snapshots.get(db, uid)
        await users.get_user(db, uid)
    return [f"a:{n}"]


async def _engine_step(db: Database, rng: random.Random, n: int) -> list[str]:
    uid = rng.randint(1, USERS)
    done: list[str] = []
    amount, price = Decimal("0.01"), Decimal(20000 + n % 500)
    async with db.transaction() as tx:
        oid = await orders.create(
            tx,
            user_id=uid,
            client_order_id=f"chaos-{n}",
            exchange_id="paper",
            mode="paper",
            symbol="BTC/USDT",
            side=Side.BUY,
            type=OrderType.MARKET,
            amount=amount,
        )
    done.append(f"o:{n}")
    async with db.transaction() as tx:
        await orders.mark_submitted(tx, uid, oid)
    async with db.transaction() as tx:
        fill = FillInfo(
            trade_id=f"t-{n}",
            exchange_order_id=f"x-{n}",
            client_order_id=f"chaos-{n}",
            symbol="BTC/USDT",
            side=Side.BUY,
            amount=amount,
            price=price,
            fee=Decimal("0.02"),
            fee_currency="USDT",
            ts=int(time.time() * 1000),
        )
        await fills.insert(tx, uid, oid, "paper", fill)
        state = OrderState(
            exchange_order_id=f"x-{n}",
            client_order_id=f"chaos-{n}",
            symbol="BTC/USDT",
            side=Side.BUY,
            type=OrderType.MARKET,
            status=OrderStatus.FILLED,
            amount=amount,
            filled=amount,
            price=None,
            average=price,
            fee=Decimal("0.02"),
        )
        await orders.apply_state(tx, uid, oid, state)
        equity = Decimal(10000 + n % 100)
        await snapshots.save(tx, uid, snapshots.Snapshot(equity=equity))
        await snapshots.append_equity(tx, uid, equity, ts=time.time() + n * 1e-6)
    done.append(f"f:{n}")
    if n % 4 == 0:  # the sender: claim due rows, mark them sent
        due = await outbox.claim_due(db, time.time(), per_chat=5, limit=50)
        ids = [r.outbox_id for r in due]
        if ids:
            await outbox.mark_sent(db, ids)
            done.extend(f"s:{i}" for i in ids)
    return done


async def worker(role: str, db_path: Path, seconds: float, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}-{role}")
    step = _bot_step if role == "bot" else _engine_step
    db = await Database.open(db_path, migrate=False)
    commits: list[tuple[str, float]] = []
    locked = 0
    errors: list[str] = []
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            try:
                labels = await step(db, rng, n)
            except sqlite3.Error as exc:
                text = str(exc).lower()
                locked += "locked" in text or "busy" in text
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            now = time.time()
            commits.extend((label, now) for label in labels)
    finally:
        await db.close()
    return {"role": role, "steps": n, "commits": commits, "locked": locked, "errors": errors[:20]}


# -- the supervisor of the run (this process) ------------------------------------------------


async def _seed(db: Database) -> None:
    async with db.transaction() as tx:
        for uid in range(1, USERS + 1):
            await users.upsert_user(tx, uid, uid, None, "Chaos", Role.TRADER)


def _present(path: Path) -> dict[str, set[str]]:
    """Which logged commits a database holds (and how often, for duplicates)."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        seqs = [
            r[0]
            for r in conn.execute(
                "SELECT json_extract(detail, '$.seq') FROM audit_log WHERE action = 'chaos.bot'"
            )
        ]
        found = {
            "a": {str(s) for s in seqs},
            "o": {r[0][6:] for r in conn.execute("SELECT client_order_id FROM orders")},
            "f": {r[0][2:] for r in conn.execute("SELECT trade_id FROM fills")},
            "s": {
                str(r[0]) for r in conn.execute("SELECT outbox_id FROM outbox WHERE status='sent'")
            },
        }
        found["dup_a"] = {str(len(seqs) - len(found["a"]))}
        return found
    finally:
        conn.close()


def _missing(
    commits: list[tuple[str, float]], present: dict[str, set[str]], before: float
) -> list[str]:
    out = []
    for label, t in commits:
        kind, key = label.split(":", 1)
        if t < before and key not in present[kind]:
            out.append(label)
    return out


async def run_async(work: Path, seconds: float, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    failures: list[str] = []
    db_path, backup_path = work / "nija.sqlite3", work / "backup" / "nija-backup.sqlite3"
    db = await Database.open(db_path)
    await _seed(db)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "chaos.sqlite_two_process",
            "--worker",
            role,
            str(db_path),
            str(seconds),
            str(seed),
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for role in ("bot", "engine")
    ]
    for proc in procs:
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 60)
    wal = Path(str(db_path) + "-wal")
    tenths = [0] * 10  # max -wal size in each tenth of the run: flat means bounded
    sampling, t_start = True, time.monotonic()

    async def sample() -> None:
        while sampling:
            i = min(9, int((time.monotonic() - t_start) / seconds * 10))
            try:
                tenths[i] = max(tenths[i], await asyncio.to_thread(os.path.getsize, wal))
            except FileNotFoundError:
                pass
            await asyncio.sleep(SAMPLE_EVERY)

    sampler = asyncio.create_task(sample())
    await asyncio.sleep(seconds / 2)
    backup_called = time.time()
    await db.backup(backup_path)
    backup_seconds = time.time() - backup_called
    outputs = [await asyncio.wait_for(p.communicate(), seconds + 120) for p in procs]
    sampling = False
    await sampler
    reports = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            failures.append(f"writer exited {proc.returncode}: {err.decode()[-500:]}")
            continue
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    if b"locked" in b"".join(err for _, err in outputs):
        failures.append("'locked' appeared on a writer's stderr")
    check = await db.integrity_check()
    await db.close()
    if check != "ok":
        failures.append(f"integrity_check on the database: {check}")
    restored = await Database.open(backup_path, migrate=False)
    backup_check = await restored.integrity_check()
    await restored.close()
    if backup_check != "ok":
        failures.append(f"integrity_check on the restored backup: {backup_check}")
    live, copy = _present(db_path), _present(backup_path)
    commits = [c for r in reports for c in r["commits"]]
    lost = _missing(commits, live, float("inf"))
    # a row marked sent later is still in the backup, as pending: only check rows that exist
    lost_in_backup = _missing(commits, copy, backup_called)
    locked = sum(r["locked"] for r in reports)
    errors = [e for r in reports for e in r["errors"]]
    duplicates = int(next(iter(live["dup_a"])))
    if locked:
        failures.append(f"{locked} 'database is locked' errors surfaced")
    if errors:
        failures.append(f"writer errors: {errors[:3]}")
    if lost:
        failures.append(f"{len(lost)} logged commits missing from the database: {lost[:5]}")
    if lost_in_backup:
        failures.append(f"{len(lost_in_backup)} pre-backup commits missing: {lost_in_backup[:5]}")
    wal_max = max(tenths)
    if wal_max > WAL_LIMIT:
        failures.append(f"-wal grew to {wal_max / 2**20:.1f} MiB (over {WAL_LIMIT >> 20} MiB)")
    if duplicates:
        failures.append(f"{duplicates} duplicated audit rows")
    before = sum(1 for _, t in commits if t < backup_called)
    by_role = {r["role"]: len(r["commits"]) for r in reports}
    return result(
        "sqlite_two_process",
        failures,
        started,
        seconds_writing=seconds,
        commits=len(commits),
        commits_by_role=by_role,
        commits_before_backup=before,
        locked_errors=locked,
        integrity=check,
        backup_integrity=backup_check,
        backup_seconds=round(backup_seconds, 2),
        backup_mb=round(backup_path.stat().st_size / 2**20, 1),
        lost=len(lost),
        lost_in_backup=len(lost_in_backup),
        duplicates=duplicates,
        wal_max_mb=round(wal_max / 2**20, 2),
        wal_max_mb_by_tenth=[round(t / 2**20, 1) for t in tenths],
        db_mb=round(db_path.stat().st_size / 2**20, 1),
    )


def run(work: Path, seconds: float = 180.0, seed: int = 6) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run_async(work, seconds, seed))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        role, db_path, seconds, seed = argv[1:5]
        report = asyncio.run(worker(role, Path(db_path), float(seconds), int(seed)))
        print(json.dumps(report))
        return 0
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chaos-sqlite-") as tmp:
        res = run(args.work_dir or Path(tmp), seconds=args.seconds, seed=args.seed)
    return emit(res, args.out)


if __name__ == "__main__":
    sys.exit(main())
