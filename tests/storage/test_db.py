import asyncio
import sqlite3

from nija_tg.storage.db import Database
from nija_tg.storage.migrations import MIGRATIONS, apply_migrations
from tests.conftest import PYTHON, REPO

EXPECTED_TABLES = {
    "users",
    "credentials",
    "risk_settings",
    "viewer_grants",
    "orders",
    "fills",
    "positions",
    "trading_sessions",
    "outbox",
    "audit_log",
    "app_state",
    "snapshots",
    "equity_history",
    "paper_accounts",
    "schema_migrations",
}


async def test_pragmas_and_tables(db):
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
    assert (await db.fetchone("PRAGMA busy_timeout"))[0] >= 5000
    assert (await db.fetchone("PRAGMA synchronous"))[0] == 2  # FULL
    names = {r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master")}
    assert EXPECTED_TABLES <= names


async def test_migrations_run_twice_are_a_no_op(settings):
    db = await Database.open(settings.db_path)
    await db.close()
    db = await Database.open(settings.db_path)
    try:
        rows = await db.fetchall("SELECT version FROM schema_migrations")
        assert [r["version"] for r in rows] == [v for v, _ in MIGRATIONS]
        async with db.transaction() as tx:
            state = await tx.fetchall("SELECT key FROM app_state")
        assert sorted(r["key"] for r in state) == ["change_counter", "halted"]
    finally:
        await db.close()
    import aiosqlite

    async with aiosqlite.connect(settings.db_path, isolation_level=None) as conn:
        assert await apply_migrations(conn) == []


async def test_transaction_rolls_back_on_error(db):
    try:
        async with db.transaction() as tx:
            await tx.execute("UPDATE app_state SET value = '99' WHERE key = 'halted'")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    row = await db.fetchone("SELECT value FROM app_state WHERE key = 'halted'")
    assert row["value"] == "0"


async def test_transactions_begin_immediate(db, settings):
    """While we hold a write transaction, another connection cannot take the write lock
    (it would with a deferred BEGIN until its first write)."""
    other = sqlite3.connect(settings.db_path, timeout=0.05, isolation_level=None)
    try:
        async with db.transaction():
            try:
                other.execute("BEGIN IMMEDIATE")
                locked = False
                other.execute("ROLLBACK")
            except sqlite3.OperationalError:
                locked = True
        assert locked
    finally:
        other.close()


async def test_concurrent_tasks_in_one_process_serialise(db):
    async def bump():
        async with db.transaction() as tx:
            row = await tx.fetchone("SELECT value FROM app_state WHERE key='change_counter'")
            await asyncio.sleep(0)
            await tx.execute(
                "UPDATE app_state SET value = ? WHERE key='change_counter'",
                (str(int(row["value"]) + 1),),
            )

    await asyncio.gather(*(bump() for _ in range(50)))
    row = await db.fetchone("SELECT value FROM app_state WHERE key='change_counter'")
    assert row["value"] == "50"


async def test_two_os_processes_write_at_once_without_lock_errors(db, settings):
    count = 300
    procs = [
        await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "tests.storage.writer_process",
            str(settings.db_path),
            name,
            str(count),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    outputs = [await p.communicate() for p in procs]
    for (out, err), proc in zip(outputs, procs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"locked" not in err
        assert out.decode().strip() == f"done {count}"
    row = await db.fetchone("SELECT value FROM app_state WHERE key='change_counter'")
    assert int(row["value"]) == 2 * count  # no lost update: read-then-write was atomic
    audits = await db.fetchone("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'stress.%'")
    assert audits[0] == 2 * count
    assert await db.integrity_check() == "ok"


async def test_online_backup_is_consistent(db, tmp_path):
    async with db.transaction() as tx:
        await tx.execute("UPDATE app_state SET value = '1' WHERE key = 'halted'")
    target = tmp_path / "backup" / "copy.sqlite3"
    await db.backup(target)
    restored = await Database.open(target, migrate=False)
    try:
        assert await restored.integrity_check() == "ok"
        row = await restored.fetchone("SELECT value FROM app_state WHERE key = 'halted'")
        assert row["value"] == "1"
    finally:
        await restored.close()


async def test_cancelled_transactions_leave_the_connection_usable(db):
    """Cancel tasks at every point of a transaction: the next one still works."""

    async def write(i: int) -> None:
        async with db.transaction() as tx:
            await tx.execute("UPDATE app_state SET value = ? WHERE key = 'halted'", (str(i),))
            await asyncio.sleep(0)

    for delay in (0, 0.0001, 0.0005, 0.001, 0.002, 0.005):
        tasks = [asyncio.create_task(write(i)) for i in range(5)]
        await asyncio.sleep(delay)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        async with db.transaction() as tx:
            await tx.execute("UPDATE app_state SET value = '0' WHERE key = 'halted'")
    row = await db.fetchone("SELECT value FROM app_state WHERE key = 'halted'")
    assert row["value"] == "0"
