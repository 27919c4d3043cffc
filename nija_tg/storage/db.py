"""The SQLite database: connections, pragmas, group commit, online backup.

One writer connection and one reader connection that sees committed data only (WAL
snapshots). Statements run on the event loop's thread: they take microseconds (a
writer holds the write lock, WAL readers never wait for a writer), where a hop to
aiosqlite's thread and back cost ~100 us of CPU each plus a wait for the GIL of up to
the 5 ms switch interval while the loop is busy, which serialised every query of every
loop behind the event loop (1,000 users: ~15,000 hops per close).
``BEGIN IMMEDIATE`` (which may wait ``busy_timeout`` for the other process), ``COMMIT``
(the WAL sync), checkpoints and the integrity check run in a worker thread.

Every write transaction starts with ``BEGIN IMMEDIATE``: a deferred
read-then-write would fail at once with SQLITE_BUSY when the other process holds the
write lock, whereas IMMEDIATE waits ``busy_timeout`` for it.

**Group commit.** ``Database.transaction()`` bodies of different coroutines that meet
at the writer share one ``BEGIN IMMEDIATE`` ... ``COMMIT``: the bodies run one after the
other on the writer connection (never interleaved), each after the first behind its own
``SAVEPOINT`` (taken just before the body's first write; a body that only reads needs
none), so a body that raises rolls back only itself (``ROLLBACK TO``) and its caller
gets the exception at once. The group commits when the bodies that were waiting when
its first body ended have run (``GROUP_MAX_BODIES`` at most), and every caller's
``async with`` returns only after that shared COMMIT: a caller never goes on before its
rows are durable (a failed COMMIT raises in every caller of the group). A lone writer
(the bot) gets a group of one: its own BEGIN and COMMIT, no savepoint. The engine's
1,000 users closing a candle at once share a few commits instead of thousands
(docs/benchmarks.md).

**Writes left for the commit.** A body may leave a write for its group's COMMIT
(``Transaction.later``) instead of running it: the writes of every body of a group that
have the same shape (``Batched``: an INSERT with one ``VALUES`` group, or an UPDATE
``FROM (VALUES ...)``) run as one multi-row statement just before the COMMIT, so 500
users' order outcomes cost a few statements, not thousands. A later write with the same
key in the same group replaces the earlier one (it carries the row's whole new state).
Such a write is durable when its caller returns, like any other (the caller waits for
the COMMIT); a body that raises drops its own. A multi-row statement that a constraint
refuses is run again row by row: the callers whose rows are refused raise (their other
writes stand), the rest of the group commits; any other failure fails the whole group
(every caller raises, nothing of the group is kept). A body cannot read back what it
left for the commit: only the loop's own state, kept in step, knows it until then.

Pragmas: WAL with ``synchronous=FULL``: each COMMIT syncs the WAL, so a committed intent
survives a power cut too, not only a crash of the process; with group commit a close
costs a few syncs, so NORMAL (which may lose the last commits on power loss) would buy
little and weaken "an intent is durable before its order leaves".
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Hashable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from nija_tg.storage.migrations import apply_migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
GROUP_MAX_BODIES = 500  # transaction bodies that share one COMMIT at most
MULTI_ROW_VARIABLES = 30_000  # bound values per multi-row INSERT (SQLite allows 32,766)
MULTI_ROW_MAX = 1_000  # rows per multi-row INSERT
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
    "PRAGMA wal_autocheckpoint=1000",
    "PRAGMA journal_size_limit=67108864",
    "PRAGMA secure_delete=ON",  # erased rows (/forget) are overwritten, not left on disk
)


def _connect_writer(path: Path) -> sqlite3.Connection:
    """The writer: used from the event loop's thread, and from a worker thread for
    BEGIN and COMMIT, never both at once (the write lock)."""
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def _connect_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    return conn


@dataclass(frozen=True, slots=True)
class Batched:
    """The shape of a write that many bodies may leave for their group's COMMIT
    (``Transaction.later``): the statement for n rows is ``head`` + n ``group``s joined
    by commas + ``tail``. An INSERT: ``head`` ends with ``VALUES ``; an UPDATE:
    ``UPDATE t SET c = v.column2 FROM (VALUES `` ... ``) AS v WHERE t.id = v.column1``.
    ``returning``: the tail ends with ``RETURNING *`` and the rows come back to the
    bodies by this column (unique among the group's rows, e.g. a client order id), or by
    these columns together."""

    head: str
    group: str
    tail: str = ""
    returning: str | tuple[str, ...] | None = None

    @property
    def width(self) -> int:
        return self.group.count("?")

    def text(self, rows: int) -> str:
        return self.head + ", ".join([self.group] * rows) + self.tail


class Returned:
    """The row a write left for the commit returned (``Transaction.later`` with a
    ``returning`` shape): set when the COMMIT's flush ran, read after the body's
    ``async with`` returned."""

    __slots__ = ("row",)

    def __init__(self) -> None:
        self.row: sqlite3.Row | None = None


class _Caller:
    """Who waits for a group's COMMIT: a body, or a lone ``write_later``. ``error``: a
    write it left for the commit was refused (the others of the group stand)."""

    __slots__ = ("waiter", "error")

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.error: BaseException | None = None


# a write left for the commit: its shape, its bound values, where its returned row
# goes, and whose it is
_Later = tuple[Batched, tuple[Any, ...], Returned | None, _Caller]
_Row = tuple[tuple[Any, ...], Returned | None, _Caller]


def _flush(conn: sqlite3.Connection, pending: dict[Hashable, _Later]) -> None:
    """Run the writes left for the commit: one multi-row statement per shape (and per
    ``MULTI_ROW_VARIABLES`` bound values), shapes in the order they were first left.
    A statement a constraint refuses is run again row by row: only the callers whose
    rows are refused fail (``_Caller.error``); their other writes, and everybody else's,
    stand (a user deleted meanwhile does not fail 500 other users' outcomes)."""
    by_shape: dict[Batched, list[_Row]] = {}
    for shape, params, slot, caller in pending.values():
        by_shape.setdefault(shape, []).append((params, slot, caller))
    pending.clear()
    for shape, rows in by_shape.items():
        per = max(1, min(MULTI_ROW_MAX, MULTI_ROW_VARIABLES // max(1, shape.width)))
        for i in range(0, len(rows), per):
            chunk = rows[i : i + per]
            try:
                cur = conn.execute(shape.text(len(chunk)), [v for r, _, _ in chunk for v in r])
            except sqlite3.IntegrityError:
                _one_by_one(conn, shape, chunk)
                continue
            _returned(shape, chunk, cur)


def _one_by_one(conn: sqlite3.Connection, shape: Batched, chunk: list[_Row]) -> None:
    for params, slot, caller in chunk:
        try:
            cur = conn.execute(shape.text(1), params)
        except sqlite3.IntegrityError as err:
            log.warning("a write left for the commit was refused: %s", shape.head[:40])
            if caller.error is None:
                caller.error = err
            continue
        _returned(shape, [(params, slot, caller)], cur)


def _returned(shape: Batched, chunk: list[_Row], cur: sqlite3.Cursor) -> None:
    if shape.returning is None:
        return
    if isinstance(shape.returning, tuple):  # rows matched by several columns together
        cols = shape.returning
        ats = [_column_index(shape, c) for c in cols]
        by_key = {tuple(r[a] for a in ats): s for r, s, _ in chunk}
        for row in cur.fetchall():
            hit = by_key.get(tuple(row[c] for c in cols))
            if hit is not None:
                hit.row = row
        return
    col, at = shape.returning, _column_index(shape, shape.returning)
    slots = {r[at]: s for r, s, _ in chunk}
    for row in cur.fetchall():
        slot = slots.get(row[col])
        if slot is not None:
            slot.row = row


def _column_index(shape: Batched, column: str) -> int:
    """Where ``column`` is among the bound values of an INSERT shape's group."""
    cols = shape.head[shape.head.index("(") + 1 : shape.head.index(")")]
    return [c.strip() for c in cols.split(",")].index(column)


class Transaction:
    """A write transaction body: thin wrapper so repositories never see the raw
    connection outside ``BEGIN IMMEDIATE`` ... ``COMMIT``. In a group (not the first
    body) it takes its savepoint just before its first write."""

    __slots__ = ("_conn", "_guarded", "_single", "saved", "wrote", "later_writes", "caller")

    def __init__(
        self, conn: sqlite3.Connection, guarded: bool = False, single: bool = False
    ) -> None:
        self._conn = conn
        self._guarded = guarded and not single  # needs a savepoint before its first write
        self._single = single  # one write statement at most (no savepoint needed)
        self.saved = False  # the savepoint was taken
        self.wrote = False  # a write statement was started
        self.later_writes: dict[Hashable, _Later] = {}  # left for the group's COMMIT
        self.caller = _Caller()  # waits for the COMMIT once the body ended

    def later(
        self, shape: Batched, key: Hashable, params: Iterable[Any], returned: bool = False
    ) -> Returned | None:
        """Leave this write for the group's COMMIT (module docstring): it runs there
        with the same-shaped writes of the group's other bodies as one statement. A
        write left earlier with the same ``key`` (in this group) is replaced: ``key``
        names the row, the write carries its whole new state. With ``returned`` (the
        shape says ``returning``), the row the write returns, after the COMMIT."""
        slot = Returned() if returned else None
        self.later_writes.pop(key, None)
        self.later_writes[key] = (shape, tuple(params), slot, self.caller)
        return slot

    def _guard(self, sql: str) -> None:
        if _reads_only(sql):
            return
        if self._single and self.wrote:
            raise RuntimeError("a single-write transaction body wrote twice")
        self.wrote = True
        if self._guarded and not self.saved:
            self._conn.execute("SAVEPOINT body")
            self.saved = True

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """Runs at once (no thread hop); ``lastrowid`` and ``rowcount`` as sqlite3's."""
        self._guard(sql)
        return self._conn.execute(sql, tuple(params))

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        self._guard(sql)
        self._conn.executemany(sql, rows)

    async def insert_many(
        self, sql: str, rows: Iterable[Iterable[Any]], max_rows: int = MULTI_ROW_MAX
    ) -> None:
        """``sql`` (an INSERT with one ``VALUES (?, ...)`` group, optionally an upsert
        clause after it) for many rows in few statements: the group repeated, up to
        ``MULTI_ROW_VARIABLES`` bound values per statement (``executemany`` runs one
        statement per row)."""
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        start = sql.index("VALUES (") + len("VALUES ")
        end = sql.index(")", start) + 1
        group, width = sql[start:end], len(rows[0])
        per = max(1, min(max_rows, MULTI_ROW_VARIABLES // width))
        for i in range(0, len(rows), per):
            chunk = rows[i : i + per]
            text = sql[:start] + ", ".join([group] * len(chunk)) + sql[end:]
            await self.execute(text, [v for r in chunk for v in r])

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        """One row; also of a write with ``RETURNING`` (read to the end: it completes)."""
        self._guard(sql)
        return _first(self._conn.execute(sql, tuple(params)).fetchall())

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        self._guard(sql)
        return self._conn.execute(sql, tuple(params)).fetchall()


def _reads_only(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


class _Group:
    """Bodies sharing one BEGIN ... COMMIT. Each caller waits on a future of its own
    (``waiters``), settled with the COMMIT's outcome: a caller cancelled while it waits
    cancels only its own (no shield around a shared future, which cost ~50 us a body)."""

    __slots__ = ("settled", "error", "waiters", "bodies", "commit_queued", "later_writes")

    def __init__(self) -> None:
        self.settled = False  # the COMMIT (or the ROLLBACK) is over
        self.error: BaseException | None = None  # why the group failed (settled)
        self.waiters: list[_Caller] = []
        self.bodies = 0  # bodies that ran in it (committed or rolled back to their savepoint)
        self.commit_queued = False
        self.later_writes: dict[Hashable, _Later] = {}  # the bodies' writes for the COMMIT

    def take(self, tx: Transaction) -> None:
        """A body ended well: its writes left for the commit join the group's."""
        pending = self.later_writes
        for key, write in tx.later_writes.items():
            pending.pop(key, None)
            pending[key] = write
        tx.later_writes = {}

    def settle(self, error: BaseException | None = None) -> None:
        if self.settled:
            return
        self.settled, self.error = True, error
        callers, self.waiters = self.waiters, []
        for caller in callers:
            waiter = caller.waiter
            if waiter is not None and not waiter.done():  # a cancelled caller's is done
                failed = error if error is not None else caller.error
                if failed is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(failed)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()  # held by one body, or a COMMIT, at a time
        self._group: _Group | None = None  # the open write transaction
        self._tasks: set[asyncio.Task] = set()
        self.group_max_bodies = GROUP_MAX_BODIES

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> Database:
        db = cls(path)
        db.path.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            conn = await _connect(db.path)
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()
        db._writer = await asyncio.to_thread(_connect_writer, db.path)
        db._reader = _connect_reader(db.path)
        return db

    async def set_trace(self, callback: Any) -> None:
        """SQLite's trace callback on both connections (benchmarks, tests count the
        statements with it); None removes it."""
        if self._writer is not None:
            self._writer.set_trace_callback(callback)
        if self._reader is not None:
            self._reader.set_trace_callback(callback)

    async def close(self) -> None:
        if self._writer is not None:
            async with self._write_lock:
                await self._commit_open()
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self, *, single: bool = False) -> AsyncIterator[Transaction]:
        """One body of a group write transaction (module docstring): returns after the
        COMMIT that made its writes durable; an exception in the body rolls back only
        this body's writes and propagates.

        ``single``: the body makes one write statement at most (a second one raises
        before it runs), so it needs no savepoint: a statement that fails undoes itself.
        Its write stands if the body fails after it completed (a cancellation while it
        ran, or an error after it): as if the process had died just after the commit,
        so only for writes that are safe then (an order's intent, a status)."""
        assert self._writer is not None, "database is closed"
        writer = self._writer
        await self._write_lock.acquire()
        try:
            group = self._group
            if group is None:
                await _begin(writer)
                group = self._group = _Group()
            tx = Transaction(writer, guarded=group.bodies > 0, single=single)
        except BaseException:
            self._write_lock.release()
            raise
        try:
            yield tx
        except BaseException as err:
            self._end_body(group, tx, err)
            raise
        self._end_body(group, tx, None)
        if not group.settled:  # the shared COMMIT (raises if it failed)
            waiter = tx.caller.waiter = asyncio.get_running_loop().create_future()
            group.waiters.append(tx.caller)
            await waiter
        elif group.error is not None:
            raise group.error

    async def write_later(
        self, shape: Batched, key: Hashable, params: Iterable[Any], returned: bool = False
    ) -> Returned | None:
        """One write left for a COMMIT (``Transaction.later``) without a body of its own:
        it joins the open group when one has a body behind it already (no lock, no body
        to run), else it opens a body; returns after the COMMIT that made it durable
        (raises if that failed). The write stands if the caller is cancelled meanwhile,
        so only for writes that are safe then (an intent, a status, a stop moved)."""
        group = self._group
        if group is None or group.bodies == 0 or group.settled:
            async with self.transaction() as tx:
                slot = tx.later(shape, key, params, returned)
            return slot
        slot = Returned() if returned else None
        caller = _Caller()
        pending = group.later_writes
        pending.pop(key, None)
        pending[key] = (shape, tuple(params), slot, caller)
        waiter = caller.waiter = asyncio.get_running_loop().create_future()
        group.waiters.append(caller)
        await waiter
        return slot

    def _end_body(self, group: _Group, tx: Transaction, err: BaseException | None) -> None:
        """Under the write lock, synchronously (a cancellation cannot cut it short):
        undo a failed body, then leave the group open for the bodies already waiting (a
        commit queued behind them), or hand the lock to a commit when the group is
        full. Releases the write lock (or leaves that to the commit)."""
        writer = self._writer
        assert writer is not None
        release = True
        try:
            if err is not None:
                if group.bodies == 0:  # alone in the group: undo the whole transaction
                    self._group = None
                    _quietly(writer, "ROLLBACK")
                    group.later_writes.clear()
                    group.settle()
                    return
                if tx.saved:
                    writer.execute("ROLLBACK TO body")
                # a single-write body keeps its one write (see ``transaction``)
            else:
                group.take(tx)
            group.bodies += 1
            if not writer.in_transaction:  # SQLite rolled it all back (I/O error, full)
                self._group = None
                group.settle(err or sqlite3.OperationalError("transaction rolled back"))
                return
            if group.bodies >= self.group_max_bodies:
                release = False  # the commit holds the lock on and releases it
                self._spawn(self._commit_then_release(group))
            elif not group.commit_queued:
                group.commit_queued = True  # behind the bodies waiting for the lock now
                self._spawn(self._commit_later(group))
        except BaseException as fault:  # the connection failed: the group is lost
            log.warning("write transaction failed: %s", type(fault).__name__)
            if self._group is group:
                self._group = None
                _quietly(writer, "ROLLBACK")
            group.settle(fault if isinstance(fault, Exception) else RuntimeError("cancelled"))
        finally:
            if release:
                self._write_lock.release()

    def _spawn(self, step: Any) -> None:
        task = asyncio.ensure_future(step)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _commit_then_release(self, group: _Group) -> None:
        try:
            await self._commit(group)
        finally:
            self._write_lock.release()

    async def _commit_later(self, group: _Group) -> None:
        async with self._write_lock:
            if self._group is group:
                await self._commit(group)

    async def _commit(self, group: _Group) -> None:
        """COMMIT the open group (write lock held); its callers learn the outcome."""
        writer = self._writer
        assert writer is not None
        self._group = None
        try:
            if group.later_writes:
                _flush(writer, group.later_writes)
            await _through(writer.execute, "COMMIT")
        except BaseException as err:
            _quietly(writer, "ROLLBACK")
            group.settle(err if isinstance(err, Exception) else RuntimeError("cancelled"))
            if not isinstance(err, Exception):
                raise
        else:
            group.settle()

    async def _commit_open(self) -> None:
        """Commit the open group now (write lock held): before a checkpoint or close."""
        if self._group is not None:
            await self._commit(self._group)

    # Committed reads run on the event loop's thread (module docstring); every fetchone
    # query here selects by key or with LIMIT 1.
    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        assert self._reader is not None, "database is closed"
        return _first(self._reader.execute(sql, tuple(params)).fetchall())

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        assert self._reader is not None, "database is closed"
        return self._reader.execute(sql, tuple(params)).fetchall()

    async def backup(self, target: Path) -> None:
        """Online backup through SQLite's backup API: a consistent copy taken while
        both processes keep writing. The master key is never in the database, so it is
        never in a backup either."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        tmp.unlink(missing_ok=True)
        await asyncio.to_thread(_backup_file, self.path, tmp)
        tmp.chmod(0o600)  # whatever the umask: a backup is for the operator only
        tmp.replace(target)

    async def checkpoint(self) -> tuple[int, int, int]:
        """``PRAGMA wal_checkpoint(TRUNCATE)``: copy the WAL into the database and cut it
        back to zero bytes when no reader still needs it (else as much as possible).
        Returns SQLite's (busy, WAL pages, pages checkpointed)."""
        assert self._writer is not None, "database is closed"
        writer = self._writer
        async with self._write_lock:
            await self._commit_open()
            cur = await _through(writer.execute, "PRAGMA wal_checkpoint(TRUNCATE)")
            row = cur.fetchone()
        return (row[0], row[1], row[2]) if row else (1, -1, -1)

    async def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` (reads the whole file: on a connection of its own,
        in a worker thread)."""
        return await asyncio.to_thread(_integrity_check, self.path)


def _first(rows: Iterable[sqlite3.Row]) -> sqlite3.Row | None:
    return next(iter(rows), None)


def _quietly(conn: sqlite3.Connection, sql: str) -> None:
    """A ROLLBACK that may find no transaction (SQLite ended it already)."""
    try:
        conn.execute(sql)
    except sqlite3.Error:
        pass


async def _through(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a worker thread, run to the end even if our task is cancelled
    meanwhile (the connection must not be left half-way: a COMMIT, a BEGIN)."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


async def _begin(writer: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` in a worker thread (it may wait for the other process's
    write lock); one that completed after our cancellation is rolled back."""
    try:
        await _through(writer.execute, "BEGIN IMMEDIATE")
    except asyncio.CancelledError:
        if writer.in_transaction:
            _quietly(writer, "ROLLBACK")
        raise


# Read helpers accept either: committed reads (Database) or reads inside a transaction.
Reader = Database | Transaction


def _integrity_check(path: Path) -> str:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        row = conn.execute("PRAGMA integrity_check").fetchone()
        return row[0] if row else "no answer"
    finally:
        conn.close()


def _backup_file(source: Path, target: Path) -> None:
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=256)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def schema_versions(path: Path) -> tuple[int | None, int]:
    """(the database's schema version, this release's). The first is None when the file
    holds no schema yet. Read-only: opening it never creates or migrates anything."""
    from nija_tg.storage.migrations import MIGRATIONS

    latest = MIGRATIONS[-1][0]
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if row is None:
            return None, latest
        (version,) = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return version, latest
    finally:
        conn.close()
