"""The snapshot's view of a close's signals (``loop_store.signals_view``): made once
per distinct set of signal objects, shared by the users whose loops got them."""

from __future__ import annotations

from nija_tg.core.signals import Action, Signal
from nija_tg.engine import loop_store


def test_the_same_signal_objects_give_one_shared_view():
    eth = Signal(Action.HOLD, reason="flat")
    btc = Signal(Action.ENTER_LONG, confidence=0.5, stop_distance=10.0, reason="up")
    first = loop_store.signals_view({"ETH/USD": eth, "BTC/USD": btc})
    again = loop_store.signals_view({"ETH/USD": eth, "BTC/USD": btc})
    assert again is first
    assert first == {
        "ETH/USD": {"action": "hold", "confidence": 0.0, "reason": "flat"},
        "BTC/USD": {"action": "enter_long", "confidence": 0.5, "reason": "up"},
    }


def test_other_signal_objects_get_their_own_view():
    eth = Signal(Action.HOLD, reason="flat")
    view = loop_store.signals_view({"ETH/USD": eth})
    later = Signal(Action.EXIT, confidence=1.0, reason="down")
    other = loop_store.signals_view({"ETH/USD": later})
    assert other is not view and other == {
        "ETH/USD": {"action": "exit", "confidence": 1.0, "reason": "down"}
    }
    assert loop_store.signals_view({}) is None


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(loop_store, "SIGNAL_VIEWS_KEPT", 3)
    kept = [Signal(Action.HOLD, reason=str(i)) for i in range(10)]
    for g in kept:
        assert loop_store.signals_view({"X/Y": g}) == {
            "X/Y": {"action": "hold", "confidence": 0.0, "reason": g.reason}
        }
    assert len(loop_store._SIGNAL_VIEWS) <= 3
