"""A close the engine did not send because nothing at the market's step could be sold is
told as that, not as the exchange's refusal (the exchange was never asked)."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core import events as ev
from nija_tg.core.models import OrderStatus
from nija_tg.engine.execution import ExecutionResult
from nija_tg.engine.trading import NOTHING_SELLABLE
from nija_tg.engine.user_closes import _reason
from nija_tg.messages.render import render


def test_a_close_never_sent_says_nothing_could_be_sold():
    result = ExecutionResult(
        0, "", OrderStatus.REJECTED, Decimal(0), None, 0, NOTHING_SELLABLE.encode()
    )
    reason = _reason(result)
    assert reason == NOTHING_SELLABLE
    text = render(ev.CloseRefused(1, (("ETH/USD", reason),)))
    assert "smallest order" in text and "no order was sent" in text
    assert "The exchange returned an error" not in text
