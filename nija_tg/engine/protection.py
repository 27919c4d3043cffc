"""What each user's loop may do, as the reconciler last read it, and the wake-up of a
loop whose user asked to close a position.

The reconciler reads the desired state (``services.desired_state.read``: one query for
every user) whenever the change counter moved, and every few seconds anyway; every
write that changes a gate (the switch, a pause, the halt) or asks for a close bumps the
counter. The daemon hands each read to the ``GateBoard``; the loops look their user up
in it on every candle close, so reading the gate costs no query at all. A loop whose
user has a close request waiting is woken at once (``poke``), not at the next close.

Protection never depends on the gate: stops, the exchange's resting stops, trailing,
bookkeeping of stop fills and snapshots run in every gate; only entries (ACTIVE) and
strategy exits (ACTIVE, EXITS_ONLY) are gated (``core.trading_gate``).
"""

from __future__ import annotations

import asyncio

from nija_tg.services.desired_state import DesiredState, UserState


class GateBoard:
    def __init__(self) -> None:
        self.state: DesiredState | None = None
        self._pokes: dict[int, asyncio.Event] = {}
        self.updates = 0  # reads applied (tests)

    @property
    def version(self) -> int:
        """The change counter the last read reflects (-1: nothing read yet)."""
        return -1 if self.state is None else self.state.counter

    def update(self, state: DesiredState) -> None:
        self.state = state
        self.updates += 1
        for uid, user in state.users.items():
            if user.asks_close:
                self.poke(uid)

    def view(self, user_id: int) -> UserState | None:
        """The user's switch, pause, halt (their gate) as last read; None when they need
        no loop (the reconciler is about to stop it) or nothing was read yet."""
        return None if self.state is None else self.state.users.get(user_id)

    def poke(self, user_id: int) -> None:
        event = self._pokes.get(user_id)
        if event is not None:
            event.set()

    def attach(self, user_id: int) -> asyncio.Event:
        """The event that wakes ``user_id``'s loop (one loop per user)."""
        event = asyncio.Event()
        self._pokes[user_id] = event
        return event

    def detach(self, user_id: int, event: asyncio.Event) -> None:
        if self._pokes.get(user_id) is event:
            del self._pokes[user_id]
