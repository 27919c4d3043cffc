"""SQLite ``PaperStore``: each user's paper exchange state as JSON in ``paper_accounts``.

Saves run in their own short transaction: the paper exchange is "the exchange", kept
apart from the engine's own bookkeeping exactly as a real exchange would be. A save is
durable when it returns (its caller waits for the COMMIT), the upsert left for the
group's COMMIT: every paper account saved in one group is one statement.
"""

from __future__ import annotations

import json
import time

from nija_tg.exchange.paper import PaperState
from nija_tg.storage.db import Batched, Database, Transaction

_SAVE = Batched(
    "INSERT INTO paper_accounts(user_id, state, updated_at) VALUES ",
    "(?, ?, ?)",
    " ON CONFLICT(user_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
)


class SqlitePaperStore:
    """Implements ``nija_tg.exchange.paper.PaperStore`` over the ``paper_accounts`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load_paper_state(self, user_id: int | str) -> PaperState | None:
        row = await self.db.fetchone(
            "SELECT state FROM paper_accounts WHERE user_id = ?", (int(user_id),)
        )
        return None if row is None else PaperState.from_dict(json.loads(row["state"]))

    async def save_paper_state(self, user_id: int | str, state: PaperState) -> None:
        text = json.dumps(state.to_dict(), separators=(",", ":"))
        # one upsert at a group's COMMIT, no transaction body of its own
        await self.db.write_later(_SAVE, ("paper", int(user_id)), (int(user_id), text, time.time()))


async def reset(tx: Transaction, user_id: int) -> bool:
    """Forget a user's paper account (the next use starts from the starting balance)."""
    cur = await tx.execute("DELETE FROM paper_accounts WHERE user_id = ?", (user_id,))
    return bool(cur.rowcount)
