"""The fills a user's executor committed since a known fill id, kept in memory so the
loop's cash-flow check (``LoopBook.note_balances``: which fills explain a change of the
balances) need not read them back.

It is trusted only while every fill this process wrote for the user since it started
was the executor's own (``fills.written``; the engine runs one loop, so one writer of
fills, per user): a fill booked any other way (a stop filled on the exchange, a look-up
after an unknown outcome) makes ``after`` answer None and the caller reads the table,
then starts the ledger again from what it read."""

from __future__ import annotations

from typing import Any

from nija_tg.storage import fills as fills_repo

# fills kept at most before the ledger gives up (the next check reads the table)
MAX_ROWS = 200


class FillsLedger:
    """One user's committed fills after ``base`` (rows shaped as
    ``cash_flows.fills_after``'s: fill_id, symbol, side, amount, price, fee,
    fee_currency)."""

    __slots__ = ("user_id", "base", "mark", "rows")

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.base: int | None = None  # None: nothing known (read the table)
        self.mark = 0  # fills.written(user) when the ledger last knew every fill
        self.rows: list[dict[str, Any]] = []

    def start(self, newest_id: int, mark: int) -> None:
        """Every fill up to ``newest_id`` was read; ``mark`` is ``fills.written`` as it
        was before that read (a write during the read makes the ledger unsure)."""
        self.base, self.mark, self.rows = newest_id, mark, []

    def add(self, rows: list[dict[str, Any]], writes: int) -> None:
        """Fills the executor committed (with their ids), ``writes`` of them counted by
        ``fills.written``."""
        if self.base is not None:
            self.rows.extend(rows)
            self.mark += writes
            if len(self.rows) > MAX_ROWS:  # balances that never moved: bounded memory
                self.drop()

    def drop(self) -> None:
        self.base, self.rows = None, []

    def after(self, fill_id: int) -> list[dict[str, Any]] | None:
        """The fills after ``fill_id``, oldest first, or None when the ledger cannot
        be sure it knows them all. Forgets those up to ``fill_id``."""
        if (
            self.base is None
            or fill_id < self.base
            or fills_repo.written(self.user_id) != self.mark
        ):
            return None
        self.rows = sorted((r for r in self.rows if r["fill_id"] > fill_id),
                           key=lambda r: r["fill_id"])  # fmt: skip
        self.base = fill_id
        return list(self.rows)
