"""Client order ids: valid on each first-class exchange, recognisable as ours."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nija_tg.core.errors import OrderRejectedError
from nija_tg.exchange.client_ids import (
    LENGTH,
    PREFIX,
    is_ours,
    new_client_order_id,
    user_tag,
    validate_client_order_id,
)

EXCHANGES = ["kraken", "bingx", "coinbase", "okx", "binance"]


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_ids_fit_every_exchange(exchange_id):
    ids = {new_client_order_id(exchange_id, 12345) for _ in range(500)}
    assert len(ids) == 500
    for cid in ids:
        assert cid.startswith(PREFIX) and len(cid) == LENGTH
        assert re.fullmatch(r"[0-9a-z]{1,18}", cid)  # Kraken free text <= 18, lowercase
        validate_client_order_id(exchange_id, cid)
        assert is_ours(cid) and is_ours(cid, 12345)


@given(st.integers(min_value=1, max_value=2**62))
def test_ids_carry_their_users_tag(user_id):
    cid = new_client_order_id("kraken", user_id)
    assert is_ours(cid, user_id)
    assert is_ours(cid, str(user_id))  # ids from the database may come back as text


def test_other_users_ids_are_not_theirs():
    tags = {user_tag(u) for u in range(1, 200)}
    assert len(tags) > 190
    assert not is_ours(new_client_order_id("bingx", 1), 2)


@pytest.mark.parametrize(
    "cid", ["", "ccxt-123", "NJabcdefabcdefabcd", "nj123", "nj" + "a" * 30, None, "x" * 18]
)
def test_foreign_ids_are_not_ours(cid):
    assert not is_ours(cid)


@pytest.mark.parametrize(
    "exchange_id, cid",
    [
        ("kraken", "a" * 19),
        ("bingx", "a" * 41),
        ("bingx", "has space"),
        ("okx", "with-dash"),
        ("coinbase", ""),
    ],
)
def test_invalid_ids_are_rejected_before_sending(exchange_id, cid):
    with pytest.raises(OrderRejectedError):
        validate_client_order_id(exchange_id, cid)
