"""Which currency an account's money is counted in, a market's price precision as far
as the stored prices show it, and a stored figure read back (``stored_decimal``); pure:
the reports' services derive these from data already stored, no schema of their own.

Currency: the engine counts a user's equity in the quote currency of the exchange it
trades on (``engine/loop_support.quote_for``: USD on Kraken and Coinbase, USDT on the
others; USD-like cash at par); a paper account without a connected exchange runs on
``engine/loop_context.LoopDeps.paper_exchange`` (Kraken). A trade's P&L is in its
symbol's quote (a swap's settle currency). ``tests/core/test_account_currency.py``
checks these tables agree with the engine's.

Precision: no market info is stored, so the step is read off the prices themselves: the
most decimal places among a market's stored prices. A float from the exchange drops
trailing zeros (2,500.10 arrives as 2500.1; a paper fill rounded to the step is
normalised the same way), so the engine writes a fill's price with the places of the
market's step when it knows it (``at_step``: 2500.1 at a 0.01 step is stored as
``2500.10``, the same value): one fill is then enough to show the market's precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation, localcontext

USD_QUOTED = frozenset({"kraken", "coinbase"})
PAPER_EXCHANGE = "kraken"
CASH = ("USD", "USDT", "USDC")
MAX_PLACES = 12  # more places than any market's step: a computed price, not a quote


def exchange_quote(exchange_id: str | None) -> str:
    """The currency the engine counts equity in on ``exchange_id`` (None: no exchange
    connected, a paper account on the default exchange)."""
    return "USD" if (exchange_id or PAPER_EXCHANGE) in USD_QUOTED else "USDT"


def symbol_quote(symbol: str) -> str | None:
    """``BTC/USD`` -> ``USD``; a swap ``ETH/USDT:USDT`` -> its settle ``USDT``."""
    _base, slash, rest = symbol.partition("/")
    if not slash:
        return None
    quote, _colon, settle = rest.partition(":")
    code = (settle or quote).split("-")[0].strip().upper()
    return code if code.isalnum() and len(code) <= 10 else None


def cash_currency(lines: Iterable[tuple[str, Decimal | None]]) -> str | None:
    """The cash currency (USD, USDT, USDC) holding the most among ``(currency, total)``
    balance lines; None without one."""
    best: tuple[Decimal, str] | None = None
    for currency, total in lines:
        if currency not in CASH or total is None or not total.is_finite():
            continue
        if best is None or total > best[0]:
            best = (total, currency)
    return None if best is None else best[1]


def account_currency(exchange_id: str | None, balances: object) -> str:
    """What a user's equity and P&L are counted in (/status, /users and every report):
    the quote of their key's exchange (the engine trades live and paper on it); without
    a key, the cash currency holding the most among ``balances`` (a snapshot's balance
    lines, dicts with ``currency`` and ``total``: a paper account's starting cash), else
    the default paper exchange's quote."""
    if exchange_id is not None:
        return exchange_quote(exchange_id)
    rows = balances if isinstance(balances, list) else []
    lines = [
        (str(row.get("currency")), stored_decimal(row.get("total")))
        for row in rows
        if isinstance(row, dict)
    ]
    return cash_currency(lines) or exchange_quote(None)


def stored_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a stored value (a snapshot's JSON: text or a number), else
    None (missing, empty, not a number, infinite or NaN)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def at_step(price: Decimal, step: Decimal | None) -> Decimal:
    """``price`` written with as many decimal places as ``step`` has when it has fewer
    (``2500.1`` at a ``0.01`` step -> ``2500.10``, ``65000`` at ``0.1`` -> ``65000.0``): the
    same value, so its text keeps the market's precision. Unchanged when the step is
    unknown or the price already has as many places or more (it is not on the step)."""
    if step is None or not step.is_finite() or step <= 0 or not price.is_finite():
        return price
    want = step.normalize().as_tuple().exponent
    have = price.as_tuple().exponent
    assert isinstance(want, int) and isinstance(have, int)
    if want >= 0 or have <= want or -want > MAX_PLACES:
        return price
    with localcontext(prec=60):
        return price.quantize(Decimal(1).scaleb(want))


def price_step(prices: Iterable[Decimal | None]) -> Decimal | None:
    """``10**-places`` for the most decimal places among ``prices`` (``65000.1`` and
    ``64999.25`` -> ``0.01``; whole numbers only -> ``1``); None when there is no price or
    none has at most ``MAX_PLACES`` (more is a computed price, an average or a stop, not
    one the exchange quoted: such prices are skipped)."""
    places: int | None = None
    for value in prices:
        if value is None or not value.is_finite():
            continue
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        here = max(0, -exponent)
        if here > MAX_PLACES:
            continue
        places = here if places is None else max(places, here)
    return None if places is None else Decimal(1).scaleb(-places)
