"""The user's open positions as the trading loop knows them: read once (one query for
all markets), then kept in step with what the loop itself writes.

Positions change only through this user's loop: the fills its executor records (the
executor applies each committed fill's new sides here, ``apply``) and its own stop
moves (``stop_moved``). So the view is trusted from one close to the next and no order
needs a read of the positions again. Every write to a user's positions counts
(``positions.written``), the view knows how many were its own (``apply`` and
``stop_moved`` say): a count that moved by more was written around the view (a stop on
the exchange found filled, a position closed outside the bot, an order's outcome found
by a look-up, another view of the same user), and the rows are read again on first use.
``drop`` forces that (a write of the view's own failed). As the executor's, this relies
on one loop per user: two loops booking the same user's fills at the same moment would
each book on their own view.

The view holds every mode's rows of the user (bookkeeping books a fill onto whatever
row the symbol has, as the table is keyed by user, symbol and side); ``all``,
``for_symbol`` and ``get`` show only the rows of ``mode``.
"""

from __future__ import annotations

import time
from decimal import Decimal

from nija_tg.storage import positions
from nija_tg.storage.db import Reader
from nija_tg.storage.positions import PositionRow


def _order(p: PositionRow) -> tuple[float, str, str]:
    return (p.opened_at, p.symbol, p.side)  # as positions.list_for_user sorts


class HeldPositions:
    def __init__(self, db: Reader, user_id: int) -> None:
        self.db = db
        self.user_id = user_id
        self.mode: str | None = None  # only positions opened in this mode (None: all)
        self._every: dict[tuple[str, str], PositionRow] | None = None  # every mode's
        self._rows: list[PositionRow] | None = None  # this mode's, oldest first
        self._by_symbol: dict[str, dict[str, PositionRow]] = {}
        self._epoch = 0  # ``positions.written`` when the rows were read
        self.reads = 0  # queries made (tests, benchmarks)

    def invalidate(self) -> None:
        """The positions may have changed: the view is read again on next use if
        anything wrote them around it (``positions.written``), else kept."""
        if self._every is not None and positions.written(self.user_id) != self._epoch:
            self.drop()

    def drop(self) -> None:
        """Read again on next use, whatever happened."""
        self._every = None
        self._rows = None

    def _mine(self, p: PositionRow) -> bool:
        return self.mode is None or p.mode is None or p.mode == self.mode

    def _index(self) -> None:
        assert self._every is not None
        rows = sorted((p for p in self._every.values() if self._mine(p)), key=_order)
        self._rows = rows
        self._by_symbol = {}
        for p in rows:
            self._by_symbol.setdefault(p.symbol, {})[p.side] = p

    async def _load(self) -> dict[tuple[str, str], PositionRow]:
        epoch = positions.written(self.user_id)
        if self._every is None or epoch != self._epoch:
            self._epoch = epoch
            rows = await positions.list_for_user(self.db, self.user_id)
            self.reads += 1
            self._every = {(p.symbol, p.side): p for p in rows}
            self._rows = None
        if self._rows is None:
            self._index()
        return self._every

    async def all(self) -> list[PositionRow]:
        """Every open position of ``mode``, oldest first (as ``positions.list_for_user``).
        Do not mutate the list: it is the view itself (replaced, never changed)."""
        await self._load()
        assert self._rows is not None
        return self._rows

    async def for_symbol(self, symbol: str) -> dict[str, PositionRow]:
        """{"long": row, "short": row} of ``symbol`` (either may lack); a copy."""
        await self._load()
        return dict(self._by_symbol.get(symbol, ()))

    async def get(self, symbol: str, side: str) -> PositionRow | None:
        return (await self.for_symbol(symbol)).get(side)

    async def booked(self, symbol: str) -> dict[str, PositionRow]:
        """Every row of ``symbol`` whatever its mode (what a fill is booked onto); a copy
        the caller may change and hand back to ``apply`` once its writes committed."""
        every = await self._load()
        return {side: p for (sym, side), p in every.items() if sym == symbol}

    def _own(self, writes: int) -> bool:
        """The view made ``writes`` writes of its own since it was exact: still exact
        (True), or written around meanwhile (dropped, False)."""
        if self._every is None:
            return False
        self._epoch += writes
        if positions.written(self.user_id) != self._epoch:
            self.drop()
            return False
        return True

    def apply(self, symbol: str, sides: dict[str, PositionRow], writes: int) -> None:
        """The rows of ``symbol`` as a committed transaction left them (``booked``'s
        copy, changed by ``writes`` position writes); a side missing from ``sides`` is
        closed."""
        if not self._own(writes):
            return
        for key in [k for k in self._every if k[0] == symbol]:
            del self._every[key]
        for side, p in sides.items():
            self._every[(symbol, side)] = p
        self._index()

    def has(self, symbol: str, side: str) -> bool | None:
        """Whether the view holds that row (None: the view is not loaded)."""
        if self._every is None:
            return None
        return (symbol, side) in self._every

    def stop_moved(
        self,
        symbol: str,
        side: str,
        stop: Decimal | None,
        anchor: Decimal | None,
        writes: int = 1,
    ) -> None:
        """Apply a committed ``positions.set_stop`` (``writes``: made by the view's own
        loop, 1, or 0 for one already counted) to the view."""
        if not self._own(writes):
            return
        p = self._every.get((symbol, side))
        if p is None:
            return
        moved = PositionRow(  # dataclasses.replace written out (once per moved stop)
            p.user_id,
            p.symbol,
            p.side,
            p.amount,
            p.entry_price,
            stop,
            anchor,
            p.realized_pnl,
            p.entry_fees,
            p.opened_at,
            time.time(),
            p.mode,
        )
        self._every[(symbol, side)] = moved
        mine = self._by_symbol.get(symbol)
        if self._rows is not None and mine is not None and mine.get(side) is p:
            # same place in the order (opened_at, symbol, side): swap it in
            self._rows = [moved if r is p else r for r in self._rows]
            mine[side] = moved
        else:
            self._index()
