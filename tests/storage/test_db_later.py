"""Writes left for the group's COMMIT (``Transaction.later``): the same-shaped writes of
every body of a group run as one multi-row statement, durable when their callers
return; a failed body drops its own; a later write with the same key replaces one."""

import asyncio
import sqlite3

import pytest

from nija_tg.storage.db import Batched

INSERT = Batched(
    "INSERT INTO t(k, v) VALUES ", "(?, ?)", " ON CONFLICT(k) DO UPDATE SET v = excluded.v"
)
RETURNING = Batched("INSERT INTO t(k, v) VALUES ", "(?, ?)", " RETURNING *", returning="k")
UPDATE = Batched(
    "UPDATE t SET v = x.column2 FROM (VALUES ", "(?, ?)", ") AS x WHERE t.k = x.column1"
)


async def _table(db):
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v TEXT)")


def _count(db):
    seen: list[str] = []
    db._writer.set_trace_callback(seen.append)
    return seen


async def test_bodies_of_a_group_share_one_statement_per_shape(db):
    await _table(db)
    seen = _count(db)

    async def body(i: int) -> None:
        async with db.transaction() as tx:
            tx.later(INSERT, ("t", i), (f"k{i}", f"v{i}"))

    await asyncio.gather(*(body(i) for i in range(50)))
    rows = await db.fetchall("SELECT k, v FROM t ORDER BY id")
    assert len(rows) == 50 and {r["k"] for r in rows} == {f"k{i}" for i in range(50)}
    inserts = [s for s in seen if s.startswith("INSERT INTO t")]
    assert len(inserts) < 5  # a statement per group, not per body
    assert not [s for s in seen if s.startswith("SAVEPOINT")]  # nothing to undo in a body


async def test_a_failed_body_drops_its_writes_and_the_others_stand(db):
    await _table(db)

    async def good(i: int) -> None:
        async with db.transaction() as tx:
            tx.later(INSERT, ("t", i), (f"k{i}", "ok"))

    async def bad() -> None:
        async with db.transaction() as tx:
            tx.later(INSERT, ("t", "bad"), ("bad", "no"))
            raise RuntimeError("boom")

    results = await asyncio.gather(good(1), bad(), good(2), return_exceptions=True)
    assert isinstance(results[1], RuntimeError)
    keys = {r["k"] for r in await db.fetchall("SELECT k FROM t")}
    assert keys == {"k1", "k2"}


async def test_the_last_write_of_a_key_wins(db):
    await _table(db)
    async with db.transaction() as tx:
        tx.later(INSERT, "row", ("a", "first"))
        tx.later(INSERT, "row", ("a", "second"))
    row = await db.fetchone("SELECT v FROM t WHERE k = 'a'")
    assert row["v"] == "second"


async def test_rows_come_back_to_their_bodies(db):
    await _table(db)

    async def body(i: int) -> sqlite3.Row:
        async with db.transaction() as tx:
            slot = tx.later(RETURNING, ("t", i), (f"k{i}", f"v{i}"), returned=True)
        assert slot is not None and slot.row is not None
        return slot.row

    rows = await asyncio.gather(*(body(i) for i in range(20)))
    for i, row in enumerate(rows):
        assert row["k"] == f"k{i}" and row["v"] == f"v{i}"
        stored = await db.fetchone("SELECT id FROM t WHERE k = ?", (f"k{i}",))
        assert stored["id"] == row["id"]


async def test_updates_from_values(db):
    await _table(db)
    async with db.transaction() as tx:
        for i in range(5):
            await tx.execute("INSERT INTO t(k, v) VALUES (?, 'old')", (f"k{i}",))

    async def move(i: int) -> None:
        async with db.transaction() as tx:
            tx.later(UPDATE, ("v", i), (f"k{i}", f"new{i}"))

    await asyncio.gather(*(move(i) for i in range(0, 5, 2)))
    rows = {r["k"]: r["v"] for r in await db.fetchall("SELECT k, v FROM t")}
    assert rows == {"k0": "new0", "k1": "old", "k2": "new2", "k3": "old", "k4": "new4"}


async def test_a_refused_row_fails_its_caller_only(db):
    """A constraint refusing one row of a multi-row statement: its caller raises, the
    other callers' rows (and that caller's other writes) are committed."""
    await _table(db)
    plain = Batched("INSERT INTO t(k, v) VALUES ", "(?, ?)")
    other = Batched("INSERT INTO t(k, v) VALUES ", "(?, ?)", " ON CONFLICT(k) DO NOTHING")
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t(k, v) VALUES ('taken', 'x')")

    async def body(k: str) -> None:
        async with db.transaction() as tx:
            tx.later(plain, k, (k, "y"))
            tx.later(other, ("o", k), (f"{k}-other", "z"))

    results = await asyncio.gather(
        body("fresh"), body("taken"), body("new"), return_exceptions=True
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], sqlite3.IntegrityError)
    keys = {r["k"] for r in await db.fetchall("SELECT k FROM t")}
    assert keys == {"taken", "fresh", "new", "fresh-other", "taken-other", "new-other"}
    assert (await db.fetchone("SELECT v FROM t WHERE k = 'taken'"))["v"] == "x"
    async with db.transaction() as tx:  # the database goes on
        tx.later(plain, "after", ("after", "z"))
    assert (await db.fetchone("SELECT v FROM t WHERE k = 'after'"))["v"] == "z"


@pytest.mark.parametrize("n", [1, 3])
async def test_a_returned_row_is_none_before_the_commit(db, n):
    await _table(db)
    async with db.transaction() as tx:
        slots = [tx.later(RETURNING, i, (f"r{i}", "v"), returned=True) for i in range(n)]
        assert all(s is not None and s.row is None for s in slots)
    assert all(s is not None and s.row is not None for s in slots)


async def test_write_later_joins_the_open_group_and_returns_once_committed(db):
    await _table(db)
    seen = _count(db)

    async def body(i: int) -> None:
        async with db.transaction() as tx:
            tx.later(INSERT, ("t", i), (f"b{i}", "body"))

    async def alone(i: int) -> sqlite3.Row:
        slot = await db.write_later(RETURNING, ("r", i), (f"w{i}", "write"), returned=True)
        assert slot is not None and slot.row is not None
        stored = await db.fetchone("SELECT v FROM t WHERE k = ?", (f"w{i}",))
        assert stored is not None  # committed when it returns
        return slot.row

    results = await asyncio.gather(*(body(i) for i in range(10)), *(alone(i) for i in range(10)))
    assert [r["k"] for r in results[10:]] == [f"w{i}" for i in range(10)]
    assert len([s for s in seen if s.startswith("BEGIN")]) <= 3
    assert len([s for s in seen if s.startswith("INSERT INTO t")]) <= 6


async def test_write_later_stands_when_its_caller_is_cancelled(db):
    await _table(db)
    first_in, second_in = asyncio.Event(), asyncio.Event()

    async def body(key: str, inside: asyncio.Event) -> None:
        async with db.transaction() as tx:
            tx.later(INSERT, key, (key, "x"))
            inside.set()
            await asyncio.sleep(0.05)

    h = asyncio.ensure_future(body("h", first_in))
    await first_in.wait()
    s = asyncio.ensure_future(body("s", second_in))
    await second_in.wait()  # the first body ended: its group is open, behind the second
    w = asyncio.ensure_future(db.write_later(INSERT, "w", ("w", "x")))
    await asyncio.sleep(0)  # it joined the group and waits for the COMMIT
    w.cancel()
    await asyncio.gather(h, s)
    assert w.cancelled()
    keys = {r["k"] for r in await db.fetchall("SELECT k FROM t")}
    assert keys == {"h", "s", "w"}  # cancelled after it joined a group: the write stands
