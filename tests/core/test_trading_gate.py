import itertools

import pytest

from nija_tg.core.trading_gate import Gate, TradingSwitch, gate_for, needs_loop


@pytest.mark.parametrize(
    ("switch", "paused", "halted", "gate"),
    [
        (TradingSwitch.ON, False, False, Gate.ACTIVE),
        (TradingSwitch.EXITS, False, False, Gate.EXITS_ONLY),
        (TradingSwitch.OFF, False, False, Gate.PROTECT),
        (TradingSwitch.ON, False, True, Gate.EXITS_ONLY),  # /halt: exits only for everyone
        (TradingSwitch.OFF, False, True, Gate.PROTECT),
        (TradingSwitch.ON, True, False, Gate.PROTECT),  # any pause: stops only
        (TradingSwitch.EXITS, True, True, Gate.PROTECT),
    ],
)
def test_gate_is_the_most_restrictive_of_switch_pause_and_halt(switch, paused, halted, gate):
    assert gate_for(switch, paused=paused, halted=halted) is gate


def test_only_active_enters_and_only_protect_skips_strategy_exits():
    assert [g.entries for g in Gate] == [True, False, False]
    assert [g.strategy_exits for g in Gate] == [True, True, False]


def test_a_held_position_always_gets_a_loop():
    for switch, paused in itertools.product(TradingSwitch, (False, True)):
        assert needs_loop(switch, paused=paused, holds_positions=True)
    assert not needs_loop(TradingSwitch.OFF, paused=False, holds_positions=False)
    assert not needs_loop(TradingSwitch.ON, paused=True, holds_positions=False)
    assert needs_loop(TradingSwitch.EXITS, paused=False, holds_positions=False)
