"""The SQLite database: connections, pragmas, transactions, online backup.

One writer connection guarded by an asyncio lock (a connection has one transaction at a
time) and one reader connection that sees committed data only (WAL snapshots). Every
write transaction starts with ``BEGIN IMMEDIATE``: a deferred read-then-write would fail
at once with SQLITE_BUSY when the other process holds the write lock, whereas IMMEDIATE
waits ``busy_timeout`` for it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from nija_tg.storage.migrations import apply_migrations

BUSY_TIMEOUT_MS = 30_000
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
    "PRAGMA wal_autocheckpoint=1000",
    "PRAGMA journal_size_limit=67108864",
    "PRAGMA secure_delete=ON",  # erased rows (/forget) are overwritten, not left on disk
)


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    return conn


class Transaction:
    """A write transaction: thin wrapper so repositories never see the raw connection
    outside ``BEGIN IMMEDIATE`` ... ``COMMIT``."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Cursor:
        return await self._conn.execute(sql, tuple(params))

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        return _first(await self._conn.execute_fetchall(sql, tuple(params)))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return list(await self._conn.execute_fetchall(sql, tuple(params)))


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> Database:
        db = cls(path)
        db.path.parent.mkdir(parents=True, exist_ok=True)
        db._writer = await _connect(db.path)
        if migrate:
            async with db._write_lock:
                await apply_migrations(db._writer)
        db._reader = await _connect(db.path)
        return db

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception)."""
        assert self._writer is not None, "database is closed"
        writer = self._writer
        async with self._write_lock:
            await _completed(writer.execute("BEGIN IMMEDIATE"), undo=writer)
            try:
                yield Transaction(writer)
            except BaseException:
                await _completed(writer.execute("ROLLBACK"))
                raise
            else:
                await _completed(writer.execute("COMMIT"))

    # Reads take one round trip to aiosqlite's thread (execute + fetch + close there);
    # every fetchone query here selects by key or with LIMIT 1.
    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        assert self._reader is not None, "database is closed"
        return _first(await self._reader.execute_fetchall(sql, tuple(params)))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        assert self._reader is not None, "database is closed"
        return list(await self._reader.execute_fetchall(sql, tuple(params)))

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
        async with self._write_lock:
            async with self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                row = await cur.fetchone()
        return (row[0], row[1], row[2]) if row else (1, -1, -1)

    async def integrity_check(self) -> str:
        row = await self.fetchone("PRAGMA integrity_check")
        return row[0] if row else "no answer"


def _first(rows: Iterable[sqlite3.Row]) -> sqlite3.Row | None:
    return next(iter(rows), None)


async def _completed(statement, undo: aiosqlite.Connection | None = None):
    """Run ``statement`` to the end even if our task is cancelled meanwhile: the thread
    behind aiosqlite would finish it anyway, and a BEGIN whose caller vanished would leave
    the connection inside a transaction for good. With ``undo``, a BEGIN that completed
    after a cancellation is rolled back before the cancellation goes on."""
    task = asyncio.ensure_future(statement)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if undo is not None and not task.cancelled() and task.exception() is None:
            await asyncio.wait([asyncio.ensure_future(undo.execute("ROLLBACK"))])
        raise


# Read helpers accept either: committed reads (Database) or reads inside a transaction.
Reader = Database | Transaction


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
