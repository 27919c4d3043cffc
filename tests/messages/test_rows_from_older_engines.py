"""Outbox rows an older engine queued, before events carried only data (reasons as
sentences, an entry blocked's ``why``, settings clamped as lines), are still shown to
the user after an upgrade, with the words that engine wrote, never dropped."""

from __future__ import annotations

import json

import pytest

from nija_tg.core import events as ev
from nija_tg.core.errors import ErrorReason
from nija_tg.core.events_codec import LEGACY_TEXT, EventDecodeError, loads
from nija_tg.messages.stored import stored_text

SENTENCE = "Order size is below the exchange's minimum <5 USD> & rounded."
OLDER_ROWS = [
    ("stop_order_refused", {"symbol": "ETH/USD", "reason": SENTENCE, "run": 2}),
    ("exit_refused", {"symbol": "ETH/USD", "purpose": "stop", "reason": SENTENCE}),
    ("entry_refused", {"symbol": "ETH/USD", "reason": SENTENCE, "run": 0}),
    ("key_refused", {"exchange_id": "kraken", "reason": SENTENCE}),
    ("close_refused", {"request_id": 7, "refused": [["ETH/USD", SENTENCE]]}),
    ("position_mode_refused", {"why": SENTENCE, "hedge_wanted": True, "session_id": 3}),
    (
        "entry_blocked",
        {
            "symbol": "ETH/USDT:USDT",
            "reason": "stop_beyond_liquidation",
            "why": SENTENCE,
            "day": "2026-12-04",
        },
    ),  # fmt: skip
    ("settings_clamped", {"changes": ["max_position_usd: 500 -> 250", SENTENCE]}),
]


@pytest.mark.parametrize(("name", "payload"), OLDER_ROWS, ids=[n for n, _ in OLDER_ROWS])
def test_a_row_an_older_engine_queued_is_shown_with_its_words(name, payload):
    text = stored_text("", name, json.dumps(payload))
    assert "Order size is below the exchange's minimum &lt;5 USD&gt; &amp; rounded." in text
    assert "ETH/USD" in text or name in ("key_refused", "settings_clamped", "position_mode_refused")


def test_older_reasons_read_back_as_data_and_new_rows_are_unchanged():
    older = loads("entry_refused", json.dumps({"symbol": "BTC/USD", "reason": "no"}))
    assert older == ev.EntryRefused("BTC/USD", ErrorReason(LEGACY_TEXT, (("text", "no"),)))
    blocked = loads("entry_blocked", json.dumps(dict(OLDER_ROWS[6][1])))
    assert blocked == ev.StoredWords("entry_blocked", "ETH/USDT:USDT", (SENTENCE,))
    # today's shape still reads strictly: a reason of the wrong type, an unknown field
    with pytest.raises(EventDecodeError):
        loads("entry_refused", json.dumps({"symbol": "BTC/USD", "reason": 5}))
    with pytest.raises(EventDecodeError):
        loads("settings_clamped", json.dumps({"changes": ["a", 5]}))
    with pytest.raises(EventDecodeError):
        loads("position_mode_refused", json.dumps({"why": "x", "reason": "y", "hedge_wanted": 1}))
