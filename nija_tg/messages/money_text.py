"""Money as the reports show it: ``core.number_format.money_in`` with the account's
currency code (``1,234.57 USD``), escaped; ``—`` alone when the amount is unknown."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.number_format import money, money_in
from nija_tg.messages.text import esc


def cash(value: Decimal | None, currency: str | None, *, signed: bool = False) -> str:
    """Money with its currency code (``1,234.57 USD``, ``-3.20 USDT``); ``—`` alone when
    unknown; without a code when the currency is not known."""
    if value is None or not value.is_finite() or not currency:
        return money(value, signed=signed)
    return esc(money_in(value, currency, signed=signed))
