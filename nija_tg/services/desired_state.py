"""What the engine should be doing, read from the database the bot writes.

A loop runs for every user who trades (switch on or exits only, not paused, not a
viewer) and for every user who holds a position we opened in their current mode, or who
asked to close one, whatever their switch, a pause or the global halt
(``core.trading_gate.needs_loop``): protection of open positions never depends on
trading. Each of them gets the gate its loop obeys (``gate_for``: switch, pause, halt).

One exception: a live user whose key stopped working (paused for ``connection``, the
credentials no longer verified) gets no loop: every call would be refused again. They
were told that the engine cannot protect their positions on the exchange any more; a
new verified key (/connect) brings the loop back (it protects, paused, until they
/trade on again).

One query reads it all for every user (indexed look-ups of positions and close
requests), made by the reconciler when the change counter moved (and every few seconds
anyway): the loops read their gate from it, not from the database on every close.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nija_tg.core.trading_gate import Gate, TradingSwitch, gate_for, needs_loop
from nija_tg.storage import users
from nija_tg.storage.db import Database
from nija_tg.storage.users import switch_of


@dataclass(frozen=True, slots=True)
class UserState:
    """One user's part of the desired state."""

    user_id: int
    switch: TradingSwitch  # OFF for viewers: they cannot trade
    paused: bool
    pause_reason: str | None
    halted: bool
    holds: bool  # a position we opened in the user's current mode is open
    asks_close: bool  # a close request waits

    @property
    def gate(self) -> Gate:
        return gate_for(self.switch, paused=self.paused, halted=self.halted)


@dataclass(frozen=True, slots=True)
class DesiredState:
    counter: int  # the change counter, read before everything else
    halted: bool
    users: dict[int, UserState] = field(default_factory=dict)  # those that need a loop

    @property
    def loops(self) -> set[int]:
        return set(self.users)


async def read(db: Database) -> DesiredState:
    """The desired state now: the change counter first (so a loop that saw the counter
    at N knows this read reflects every change up to N), then the halt and the users."""
    counter = await users.change_counter(db)
    halted = await users.is_halted(db)
    out: dict[int, UserState] = {}
    for r in await users.loop_candidates(db):
        paused = r["status"] == "paused"
        dead_key = (
            paused and r["pause_reason"] == "connection" and r["mode"] == "live" and not r["key_ok"]
        )
        if dead_key:
            continue
        viewer = r["role"] == "viewer"
        switch = TradingSwitch.OFF if viewer else switch_of(r["trading_on"], r["exits_only"])
        state = UserState(
            user_id=r["user_id"],
            switch=switch,
            paused=paused,
            pause_reason=r["pause_reason"],
            halted=halted,
            holds=bool(r["holds"]),
            asks_close=bool(r["asks"]),
        )
        if needs_loop(switch, paused=paused, holds_positions=state.holds) or state.asks_close:
            out[state.user_id] = state
    return DesiredState(counter=counter, halted=halted, users=out)


async def trading_users(db: Database) -> set[int]:
    """Users whose loop should run now (see the module's docstring)."""
    return (await read(db)).loops


async def change_counter(db: Database) -> int:
    return await users.change_counter(db)
