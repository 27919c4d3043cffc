"""The trading service answers with data (``core.trading_outcome``); the renderer has
words for every answer, and the facts an answer carries reach its text."""

from __future__ import annotations

import pytest

from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.core.trading_outcome import Answer, Outcome
from nija_tg.messages.trading import outcome_text


@pytest.mark.parametrize("answer", list(Answer))
def test_every_answer_has_words(answer):
    text = outcome_text(Outcome(False, answer, switch=TradingSwitch.OFF, mode="paper"))
    assert text.strip() and "None" not in text


def test_the_facts_reach_the_words():
    closing = Outcome(True, Answer.CLOSING, closing=(("ETH/USD", "long"), ("BTC/USD", "long")))
    assert outcome_text(closing).startswith("Closing ETH/USD long, BTC/USD long at market")
    left = Outcome(True, Answer.MODE_SET, mode="live", other_mode="paper", held=1)
    assert "Your 1 open position opened in paper mode" in outcome_text(left)
    kept = Outcome(True, Answer.SWITCHED, switch=TradingSwitch.EXITS, mode="live", held=2)
    assert "keep running for your 2 open positions." in outcome_text(kept)
    assert outcome_text(Outcome(False, Answer.ADMIN_PAUSED, reason="audit")) == (
        "Your trading is paused (audit). An admin must /resume it first."
    )
