"""The free quote balance a close's spot entries are sized against, read once per close.

An entry used to read the account's balances before each order, and every filled order
made the next entry read them again: a user entering on 50 pairs at one close made ~50
balance calls, which a Kraken key's call counter (15 on the Starter tier, decaying
0.33/s) cannot take. Now the close's own read sizes its first entry, and each later
entry of the same close is sized against that read less what the close's filled buys
spent, with a margin for fees the order's answer does not carry (what the account
received from exits this close is not counted: the estimate stays below the truth).
An order whose outcome is not known forgets the read: the next entry reads again.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from nija_tg.core.models import BalanceLine

# Added to each filled buy's cost for the fee it paid: above every taker fee of the
# venues the service offers (Coinbase's lowest tier charges 1.2 %).
FEE_MARGIN = Decimal("0.02")


class FreeQuote:
    """One loop's view of its free quote currencies within one close."""

    def __init__(self) -> None:
        self._lines: list[BalanceLine] | None = None
        self._spent: dict[str, Decimal] = defaultdict(Decimal)

    def read(self, lines: list[BalanceLine]) -> None:
        """The account as just read: spending counts from here."""
        self._lines = lines
        self._spent.clear()

    def forget(self) -> None:
        """The account may hold something the view does not know: read it again."""
        self._lines = None
        self._spent.clear()

    def free(self, currency: str) -> Decimal | None:
        """What is free of ``currency`` as far as this close knows; None: read again."""
        if self._lines is None:
            return None
        line = next((b for b in self._lines if b.currency == currency), None)
        free = Decimal(0) if line is None else line.free
        return max(free - self._spent[currency], Decimal(0))

    def bought(self, currency: str, cost: Decimal) -> None:
        """A buy of this close filled for ``cost`` of ``currency`` (before fees)."""
        if self._lines is not None:
            self._spent[currency] += cost * (1 + FEE_MARGIN)
