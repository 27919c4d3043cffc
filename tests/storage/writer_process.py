"""Run as a child process: ``N`` read-then-write transactions against one database.

Used by the two-process test; prints ``done <n>`` or the error it met."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from nija_tg.storage import audit
from nija_tg.storage.db import Database


async def main(path: Path, name: str, count: int) -> None:
    db = await Database.open(path)
    try:
        for i in range(count):
            async with db.transaction() as tx:
                row = await tx.fetchone("SELECT value FROM app_state WHERE key = 'change_counter'")
                value = int(row["value"]) + 1
                await tx.execute(
                    "UPDATE app_state SET value = ? WHERE key = 'change_counter'", (str(value),)
                )
                await audit.record(tx, None, f"stress.{name}", None, i=i)
    finally:
        await db.close()
    print(f"done {count}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
