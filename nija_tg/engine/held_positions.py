"""The user's open positions as the trading loop knows them: read once per candle close
(one query for all markets) instead of once per market and step.

Positions change only through this user's executor (fills it records) and the loop's
own stop updates, so the view stays exact as long as the loop marks it stale after
every order it submits, withdraws or refreshes (``invalidate``) and applies its own stop
updates (``stop_moved``). A stale view is read again on first use.
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

from nija_tg.storage import positions
from nija_tg.storage.db import Reader
from nija_tg.storage.positions import PositionRow


class HeldPositions:
    def __init__(self, db: Reader, user_id: int) -> None:
        self.db = db
        self.user_id = user_id
        self.mode: str | None = None  # only positions opened in this mode (None: all)
        self._rows: list[PositionRow] | None = None
        self._by_symbol: dict[str, dict[str, PositionRow]] = {}
        self.reads = 0  # queries made (tests, benchmarks)

    def invalidate(self) -> None:
        """Read again on next use (an order may have changed the positions)."""
        self._rows = None

    def _set(self, rows: list[PositionRow]) -> None:
        self._rows = rows
        self._by_symbol = {}
        for p in rows:
            self._by_symbol.setdefault(p.symbol, {})[p.side] = p

    async def all(self) -> list[PositionRow]:
        """Every open position, oldest first (as ``positions.list_for_user``). Do not
        mutate the list: it is the view itself (replaced, never changed, on updates)."""
        if self._rows is None:
            self._set(await positions.list_for_user(self.db, self.user_id, self.mode))
            self.reads += 1
        assert self._rows is not None
        return self._rows

    async def for_symbol(self, symbol: str) -> dict[str, PositionRow]:
        """{"long": row, "short": row} of ``symbol`` (either may lack); a copy."""
        if self._rows is None:
            await self.all()
        return dict(self._by_symbol.get(symbol, ()))

    async def get(self, symbol: str, side: str) -> PositionRow | None:
        return (await self.for_symbol(symbol)).get(side)

    def stop_moved(
        self, symbol: str, side: str, stop: Decimal | None, anchor: Decimal | None
    ) -> None:
        """Apply a committed ``positions.set_stop`` to the view."""
        if self._rows is None:
            return
        self._set(
            [
                dataclasses.replace(p, stop_price=stop, trail_anchor=anchor, updated_at=time.time())
                if p.symbol == symbol and p.side == side
                else p
                for p in self._rows
            ]
        )
