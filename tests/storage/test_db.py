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


# --- group commit ----------------------------------------------------------------------


class _Trace:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, sql: str) -> None:
        self.sql.append(sql)

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.sql if s.startswith(prefix))


async def _traced(db: Database) -> _Trace:
    trace = _Trace()
    await db.set_trace(trace)
    return trace


async def _audit(tx, action: str) -> None:
    await tx.execute(
        "INSERT INTO audit_log(actor_id, action, target_id, detail, ts) VALUES (?, ?, ?, ?, ?)",
        (1, action, None, "", 0),
    )


async def _actions(path, prefix: str) -> set[str]:
    """What another connection sees committed."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT action FROM audit_log WHERE action LIKE ?", (prefix + "%",))
        return {r[0] for r in rows}
    finally:
        conn.close()


async def test_concurrent_transactions_share_one_commit_and_return_after_it(db):
    """50 coroutines writing at once: a few COMMITs, not 50; each caller's row is
    committed (seen by another connection) when its ``async with`` returns."""
    trace = await _traced(db)
    seen_after: dict[int, bool] = {}

    async def write(i: int) -> None:
        async with db.transaction() as tx:
            await _audit(tx, f"group.{i}")
            await asyncio.sleep(0)
        seen_after[i] = f"group.{i}" in await _actions(db.path, "group.")

    await asyncio.gather(*(write(i) for i in range(50)))
    assert all(seen_after.values()) and len(seen_after) == 50
    assert trace.count("COMMIT") <= 3
    assert trace.count("BEGIN") == trace.count("COMMIT")
    await db.set_trace(None)


async def test_a_failing_body_rolls_back_only_itself(db):
    async def write(i: int) -> None:
        async with db.transaction() as tx:
            await _audit(tx, f"part.{i}")
            await asyncio.sleep(0)
            await _audit(tx, f"part.{i}.second")
            if i % 3 == 1:
                raise RuntimeError(f"body {i} fails")

    results = await asyncio.gather(*(write(i) for i in range(12)), return_exceptions=True)
    failed = {i for i, r in enumerate(results) if isinstance(r, RuntimeError)}
    assert failed == {1, 4, 7, 10}
    kept = await _actions(db.path, "part.")
    assert kept == {f"part.{i}{s}" for i in range(12) if i not in failed for s in ("", ".second")}


async def test_a_failing_first_body_alone_rolls_back_and_the_next_write_works(db):
    with_error = None
    try:
        async with db.transaction() as tx:
            await _audit(tx, "alone.1")
            raise ValueError("no")
    except ValueError as err:
        with_error = err
    assert with_error is not None
    async with db.transaction() as tx:
        await _audit(tx, "alone.2")
    assert await _actions(db.path, "alone.") == {"alone.2"}


async def test_a_failed_commit_raises_in_every_caller_of_the_group(db):
    """A deferred foreign key fails at COMMIT: no caller of that group goes on as if
    its rows were durable, and none of them is kept."""
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE gc_parent(id INTEGER PRIMARY KEY)")
        await tx.execute(
            "CREATE TABLE gc_child(pid INTEGER REFERENCES gc_parent(id) "
            "DEFERRABLE INITIALLY DEFERRED)"
        )
    started = asyncio.Event()

    async def good(i: int) -> None:
        await started.wait()
        async with db.transaction() as tx:
            await _audit(tx, f"doomed.{i}")

    async def orphan() -> None:
        async with db.transaction() as tx:
            started.set()
            await asyncio.sleep(0.01)  # the others queue up behind this body
            await tx.execute("INSERT INTO gc_child(pid) VALUES (999)")

    results = await asyncio.gather(orphan(), *(good(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
    assert await _actions(db.path, "doomed.") == set()
    async with db.transaction() as tx:  # the writer is usable again
        await _audit(tx, "after.1")
    assert await _actions(db.path, "after.") == {"after.1"}


async def test_a_lone_writer_takes_no_savepoint_and_reads_take_none(db):
    trace = await _traced(db)
    async with db.transaction() as tx:
        await _audit(tx, "lone.1")
    assert trace.count("SAVEPOINT") == 0

    async def body(i: int) -> None:
        async with db.transaction() as tx:
            await tx.fetchone("SELECT 1")
            await asyncio.sleep(0)
            if i == 2:
                await _audit(tx, "lone.2")

    await asyncio.gather(*(body(i) for i in range(4)))
    assert trace.count("SAVEPOINT") <= 1  # only the body that wrote, and not if it was first


async def test_returning_rows_come_back_from_a_write(db):
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "INSERT INTO audit_log(actor_id, action, target_id, detail, ts) "
            "VALUES (1, 'ret.1', NULL, '', 0) RETURNING action"
        )
    assert row["action"] == "ret.1"


async def test_insert_many_writes_every_row_in_few_statements(db):
    trace = await _traced(db)
    rows = [(1, f"many.{i}", None, "", float(i)) for i in range(20)]
    async with db.transaction() as tx:
        await tx.insert_many(
            "INSERT INTO audit_log(actor_id, action, target_id, detail, ts) VALUES (?, ?, ?, ?, ?)",
            rows,
            max_rows=7,  # chunks: 7 + 7 + 6
        )
    assert await _actions(db.path, "many.") == {f"many.{i}" for i in range(20)}
    assert trace.count("INSERT INTO audit_log") == 3


async def test_single_write_bodies_take_no_savepoint_and_refuse_a_second_write(db):
    trace = await _traced(db)

    async def one(i: int) -> None:
        async with db.transaction(single=True) as tx:
            await tx.fetchone("SELECT 1")
            await _audit(tx, f"single.{i}")

    await asyncio.gather(*(one(i) for i in range(10)))
    assert trace.count("SAVEPOINT") == 0
    assert await _actions(db.path, "single.") == {f"single.{i}" for i in range(10)}
    try:
        async with db.transaction(single=True) as tx:
            await _audit(tx, "twice.1")
            await _audit(tx, "twice.2")
        raised = False
    except RuntimeError:
        raised = True
    assert raised
    assert "twice.2" not in await _actions(db.path, "twice.")
