"""The trading core's decisions, without any I/O (nija_tg/core/trading_core.py)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from nija_tg.core import trading_core as core
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.signals import Action, Signal
from nija_tg.core.trading_gate import Gate

SETTINGS = RiskSettings()


def held(side="long", stop="95", anchor=None, entry="100") -> core.Holding:
    return core.Holding(
        "ETH/USDT", side, D("1"), D(entry), None if stop is None else D(stop), anchor
    )


def sig(action=Action.HOLD, atr=None, stop_distance=0.0) -> Signal:
    indicators = {} if atr is None else {"atr": atr}
    return Signal(action, stop_distance=stop_distance, indicators=indicators)


def test_a_candle_touching_a_long_stop_closes_it():
    intent = core.stop_or_trail(SETTINGS, held(), D("94"), D("101"), sig(atr=2.0))
    assert intent == core.Close("ETH/USDT", "long", "stop")


def test_a_short_stop_is_touched_by_the_high():
    intent = core.stop_or_trail(SETTINGS, held("short", "105"), D("99"), D("105"), sig())
    assert intent == core.Close("ETH/USDT", "short", "stop")


def test_the_stop_trails_the_best_price_and_never_loosens():
    settings = RiskSettings(trailing_stop=True)
    mult = settings.trailing_atr_multiplier
    up = core.stop_or_trail(settings, held(), D("99"), D("120"), sig(atr=2.0))
    assert up == core.MoveStop("ETH/USDT", "long", D("120") - D("2.0") * mult, D("120"))
    # a lower high later: the anchor and the stop stay
    after = held(stop=str(up.stop), anchor=up.anchor)
    assert core.stop_or_trail(settings, after, D("117"), D("119"), sig(atr=2.0)) is None


def test_without_a_distance_nothing_moves():
    assert core.stop_or_trail(SETTINGS, held(), D("99"), D("101"), sig()) is None


def test_without_trailing_a_missing_stop_is_set_once():
    settings = RiskSettings(trailing_stop=False)
    intent = core.stop_or_trail(settings, held(stop=None), D("99"), D("101"), sig(atr=1.0))
    assert isinstance(intent, core.MoveStop)
    assert intent.stop == D("100") - D("1.0") * settings.trailing_atr_multiplier


def test_an_exit_closes_every_position_held_there_when_the_gate_allows():
    both = [held(), held("short", "110")]
    out = core.strategy_intents(
        "ETH/USDT", sig(Action.EXIT), both, Gate.EXITS_ONLY, stopping=False, blocked=False
    )
    assert out == [core.Close("ETH/USDT", "long", "exit"), core.Close("ETH/USDT", "short", "exit")]


@pytest.mark.parametrize(
    ("gate", "stopping", "blocked", "reason"),
    [
        (Gate.EXITS_ONLY, False, False, "gate_exits_only"),
        (Gate.PROTECT, False, False, "gate_protect"),
        (Gate.ACTIVE, True, False, "stopping"),
        (Gate.ACTIVE, False, True, "daily_loss"),
    ],
)
def test_entries_refused_by_gate_stop_or_limits(gate, stopping, blocked, reason):
    out = core.strategy_intents(
        "ETH/USDT",
        sig(Action.ENTER_LONG, stop_distance=2.0),
        [],
        gate,
        stopping=stopping,
        blocked=blocked,
    )
    assert out == core.Refusal("ETH/USDT", reason)


def test_an_entry_while_flat_is_wanted_with_its_stop_distance():
    out = core.strategy_intents(
        "ETH/USDT",
        sig(Action.ENTER_SHORT, stop_distance=2.5),
        [],
        Gate.ACTIVE,
        stopping=False,
        blocked=False,
    )
    assert out == core.EntryWanted("ETH/USDT", "short", D("2.5"))
    first = core.stop_after_entry(out, D("100"))
    assert first == core.MoveStop("ETH/USDT", "short", D("102.5"), D("100"))


def test_no_entry_while_holding_and_hold_does_nothing():
    entry = sig(Action.ENTER_LONG, stop_distance=2.0)
    assert (
        core.strategy_intents(
            "ETH/USDT", entry, [held()], Gate.ACTIVE, stopping=False, blocked=False
        )
        is None
    )
    assert (
        core.strategy_intents("ETH/USDT", sig(), [], Gate.ACTIVE, stopping=False, blocked=False)
        is None
    )


def test_strategy_position_prefers_the_long():
    pos = core.strategy_position({"short": held("short"), "long": held()})
    assert pos is not None and pos.side == "long" and pos.entry_price == 100.0
    assert core.strategy_position({}) is None


@pytest.mark.parametrize("gate", list(Gate))
@pytest.mark.parametrize("holding", ["none", "long", "short", "both"])
@pytest.mark.parametrize("stopping", [False, True])
@pytest.mark.parametrize("blocked", [False, True])
def test_a_hold_wants_nothing_whatever_is_held_or_allowed(gate, holding, stopping, blocked):
    """``wants_action`` False (the shell skips the market) exactly when the intents are
    None for every position held and every gate."""
    rows = {
        "long": [held()],
        "short": [held("short", "110")],
        "both": [held(), held("short", "110")],
    }.get(holding, [])
    for action in Action:
        signal = sig(action, stop_distance=2.0)
        out = core.strategy_intents(
            "ETH/USDT", signal, rows, gate, stopping=stopping, blocked=blocked
        )
        if not core.wants_action(signal):
            assert out is None
    assert not core.wants_action(sig(Action.HOLD))
    assert all(core.wants_action(sig(a)) for a in Action if a is not Action.HOLD)
