"""Money as the reports show it: ``core.number_format.money_in`` with the account's
currency code (``1,234.57 USD``), escaped; ``—`` alone when the amount is unknown; sums
in several currencies side by side, never added together (``cash_each``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from nija_tg.core.number_format import DASH, money, money_in
from nija_tg.messages.text import esc, mark


def cash(value: Decimal | None, currency: str | None, *, signed: bool = False) -> str:
    """Money with its currency code (``1,234.57 USD``, ``-3.20 USDT``); ``—`` alone when
    unknown; without a code when the currency is not known."""
    if value is None or not value.is_finite() or not currency:
        return money(value, signed=signed)
    return esc(money_in(value, currency, signed=signed))


def cash_each(
    sums: Mapping[str, Decimal],
    *,
    signed: bool = False,
    bold: bool = False,
    marks: bool | None = None,
) -> str:
    """Sums in several currencies, each with its code and never added together:
    ``+27.76 USD 🟢, -4.09 USDT 🔴`` (``marks``: a marker after each, by default when
    ``signed``; ``bold``: each amount in bold); ``—`` when there is none."""
    if not sums:
        return f"<b>{DASH}</b>" if bold else DASH
    marked = signed if marks is None else marks
    parts = []
    for currency, value in sorted(sums.items()):
        shown = cash(value, currency, signed=signed)
        parts.append((f"<b>{shown}</b>" if bold else shown) + (mark(value) if marked else ""))
    return ", ".join(parts)
