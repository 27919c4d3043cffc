"""The exchange catalogue the bot uses without ccxt matches the installed ccxt, and its
policy refuses wallet keys and (by default) exchanges without a withdraw proof."""

from __future__ import annotations

import pytest

from nija_tg.core.errors import ExchangeNotAllowedError, UnknownExchangeError
from nija_tg.core.exchange_catalogue import PROVABLE, allowed_fields, catalogue
from nija_tg.exchange.catalogue_gen import build
from nija_tg.messages.errors import text as error_text


def test_catalogue_matches_the_installed_ccxt():
    fresh = build()["exchanges"]
    shipped = {eid: list(names) for eid, names in catalogue().items()}
    assert shipped == fresh, "run `python -m nija_tg.exchange.catalogue_gen` after a ccxt upgrade"


def test_first_class_exchanges_are_offered_with_their_fields():
    assert set(PROVABLE) <= set(catalogue())
    assert allowed_fields("kraken", allow_unproven=False) == [
        ("apiKey", "API key"),
        ("secret", "API secret"),
    ]


def test_wallet_key_exchanges_are_refused_even_when_unproven_ones_are_allowed():
    wallet = [e for e, names in catalogue().items() if {"privateKey", "walletAddress"} & set(names)]
    assert wallet, "ccxt lists wallet-key exchanges"
    for exchange_id in wallet:
        with pytest.raises(ExchangeNotAllowedError) as err:
            allowed_fields(exchange_id, allow_unproven=True)
        assert "wallet private key" in error_text(err.value)


def test_unproven_exchanges_only_when_the_operator_allows_them():
    with pytest.raises(ExchangeNotAllowedError):
        allowed_fields("binance", allow_unproven=False)
    assert allowed_fields("binance", allow_unproven=True)[0][0] == "apiKey"
    for raw in ("not-an-exchange", "KRAKEN ", "", "x" * 40):
        with pytest.raises(UnknownExchangeError):
            allowed_fields(raw, allow_unproven=True)
