"""The reports' currency and price-step rules, and that the currency rule is the engine's."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core import account_currency as ac
from nija_tg.core.exchange_catalogue import PROVABLE
from nija_tg.engine.loop_context import LoopDeps
from nija_tg.engine.loop_support import quote_for
from nija_tg.exchange import paper


def test_the_exchange_quote_is_the_engines():
    assert ac.USD_QUOTED == paper.USD_QUOTED
    for exchange in (*PROVABLE, "okx", "binance"):
        assert ac.exchange_quote(exchange) == quote_for(exchange)
    assert ac.exchange_quote("kraken") == "USD" and ac.exchange_quote("bingx") == "USDT"
    # no key: a paper account on the engine's default exchange
    assert LoopDeps.__dataclass_fields__["paper_exchange"].default == ac.PAPER_EXCHANGE
    assert ac.exchange_quote(None) == quote_for(ac.PAPER_EXCHANGE)


def test_symbol_quote_and_cash_currency():
    assert ac.symbol_quote("BTC/USD") == "USD"
    assert ac.symbol_quote("ETH/USDT:USDT") == "USDT"
    assert ac.symbol_quote("nonsense") is None
    lines = [("BTC", Decimal(5)), ("USD", Decimal(10)), ("USDT", Decimal(900)), ("USDC", None)]
    assert ac.cash_currency(lines) == "USDT"
    assert ac.cash_currency([("BTC", Decimal(1))]) is None


def test_account_currency_is_the_key_exchange_else_the_snapshots_cash():
    usdt_cash = [{"currency": "USDT", "total": "10000"}, {"currency": "BTC", "total": 2}]
    assert ac.account_currency("bingx", None) == "USDT"
    assert ac.account_currency("kraken", usdt_cash) == "USD"  # the key's exchange decides
    assert ac.account_currency(None, usdt_cash) == "USDT"  # keyless: its starting cash
    odd = [{"currency": "USD", "total": "NaN"}, {"currency": "USDT", "total": True}, "x", None]
    assert ac.account_currency(None, odd) == ac.exchange_quote(None)
    assert ac.account_currency(None, {"not": "a list"}) == ac.exchange_quote(None)
    assert ac.account_currency(None, None) == ac.exchange_quote(None)


def test_price_step_is_the_most_places_the_prices_show():
    assert ac.price_step([Decimal("65000.1"), Decimal("64999.25")]) == Decimal("0.01")
    assert ac.price_step([Decimal("61000"), Decimal("60000")]) == Decimal(1)
    assert ac.price_step([Decimal("3000.50")]) == Decimal("0.01")  # a stored trailing zero
    # a computed price (an average, a stop) is skipped; none left: no step
    assert ac.price_step([Decimal("2290.123456789012345678"), Decimal("2401.2")]) == Decimal("0.1")
    assert ac.price_step([Decimal("1") / Decimal("3")]) is None
    assert ac.price_step([None]) is None and ac.price_step([]) is None
    assert ac.price_step([Decimal("1e-05")]) == Decimal("0.00001")


def test_at_step_writes_the_markets_places_without_changing_the_value():
    two = Decimal("0.01")
    assert str(ac.at_step(Decimal(str(2500.10)), two)) == "2500.10"  # a float's lost zero
    assert str(ac.at_step(Decimal("65000"), Decimal("0.1"))) == "65000.0"
    assert ac.price_step([ac.at_step(Decimal("2500.1"), two)]) == two  # one fill is enough
    # more places than the step (not on it), no step, a whole-number step: unchanged
    assert str(ac.at_step(Decimal("2500.123"), two)) == "2500.123"
    assert str(ac.at_step(Decimal("2500.1"), None)) == "2500.1"
    assert str(ac.at_step(Decimal("2510"), Decimal("10"))) == "2510"
    assert str(ac.at_step(Decimal("1.2"), Decimal("0.05"))) == "1.20"
    for price in ("2500.1", "65000", "2500.123", "1e3"):
        assert ac.at_step(Decimal(price), two) == Decimal(price)
