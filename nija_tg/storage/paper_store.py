"""SQLite ``PaperStore``: each user's paper exchange state as JSON in ``paper_accounts``.

Saves run in their own short transaction: the paper exchange is "the exchange", kept
apart from the engine's own bookkeeping exactly as a real exchange would be. A save is
durable when it returns (its caller waits for the COMMIT), the upsert left for the
group's COMMIT: every paper account saved in one group is one statement.
"""

from __future__ import annotations

import json
import time

from nija_tg.core.models import OrderStatus
from nija_tg.exchange.paper import PaperOrder, PaperState
from nija_tg.storage.db import Batched, Database, Transaction

_SAVE = Batched(
    "INSERT INTO paper_accounts(user_id, state, updated_at) VALUES ",
    "(?, ?, ?)",
    " ON CONFLICT(user_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
)
_OPEN = OrderStatus.OPEN.value


# ``json.dumps(value, separators=(",", ":"))`` with its encoder made once (``json.dumps``
# builds one per call when given options)
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class SqlitePaperStore:
    """Implements ``nija_tg.exchange.paper.PaperStore`` over the ``paper_accounts`` table.

    The state is stored whole (one JSON text per user, as ``PaperState.to_dict``), but
    a finished order never changes: its JSON is made once and kept (per user, while the
    order is in the state), so a save encodes the balances and the open orders only."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # user id -> id(order) -> (the order, its status and filled then, its JSON)
        self._finished: dict[int, dict[int, tuple[PaperOrder, str, str, str]]] = {}

    def state_text(self, user_id: int, state: PaperState) -> str:
        """``state`` as the JSON text stored (``json.dumps(state.to_dict())``, compact),
        reusing the JSON of orders already finished at an earlier save."""
        kept = self._finished.get(user_id, {})
        now: dict[int, tuple[PaperOrder, str, str, str]] = {}
        parts: list[str] = []
        for o in state.orders:
            hit = kept.get(id(o))
            if hit is not None and hit[0] is o and hit[1] == o.status and hit[2] == o.filled:
                text = hit[3]
            else:
                text = _dumps(o.to_dict())
            if o.status != _OPEN:
                now[id(o)] = (
                    hit if hit is not None and hit[3] is text else (o, o.status, o.filled, text)
                )
            parts.append(text)
        self._finished[user_id] = now
        balances = _dumps(state.balances)  # what ``to_dict``'s copy holds, same order
        seq = state.seq
        seq_text = int.__repr__(seq) if type(seq) is int else _dumps(seq)  # as JSON writes it
        return f'{{"balances":{balances},"orders":[{",".join(parts)}],"seq":{seq_text}}}'

    async def load_paper_state(self, user_id: int | str) -> PaperState | None:
        row = await self.db.fetchone(
            "SELECT state FROM paper_accounts WHERE user_id = ?", (int(user_id),)
        )
        self._finished.pop(int(user_id), None)
        return None if row is None else PaperState.from_dict(json.loads(row["state"]))

    async def save_paper_state(self, user_id: int | str, state: PaperState) -> None:
        text = self.state_text(int(user_id), state)
        # one upsert at a group's COMMIT, no transaction body of its own
        await self.db.write_later(_SAVE, ("paper", int(user_id)), (int(user_id), text, time.time()))


async def reset(tx: Transaction, user_id: int) -> bool:
    """Forget a user's paper account (the next use starts from the starting balance)."""
    cur = await tx.execute("DELETE FROM paper_accounts WHERE user_id = ?", (user_id,))
    return bool(cur.rowcount)
