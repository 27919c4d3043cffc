"""Refusals reach traders as data worded here: the exchange's refusal by its error code
(``messages/errors.py``), the risk check's by its reason and figures."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import ccxt

from nija_tg.core import events as ev
from nija_tg.core import events_codec as codec
from nija_tg.core import risk
from nija_tg.core.errors import ErrorReason
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.exchange.ccxt_errors import map_error
from nija_tg.messages.render import render, risk_text

RAW = 'kraken {"error":["EOrder:Insufficient margin"],"apiKey":"K3Y"}'


def test_an_exchange_refusal_is_told_in_our_words_never_the_exchanges():
    err = map_error(ccxt.MarketClosed(RAW), exchange_id="kraken", action="a", op="submit")
    event = ev.StopOrderRefused("ETH/USD", err.reason, 2)
    back = codec.loads(*codec.dumps(event))  # as the outbox stores it
    text = render(back)
    assert "The market is closed on the exchange right now." in text
    assert "EOrder" not in text and "K3Y" not in text


def test_a_minimum_refusal_words_its_figures_with_the_number_format():
    reason = ErrorReason(
        "below_min_amount",
        (("amount", "0.00123"), ("base", "ETH"), ("min_amount", "0.002"), ("symbol", "ETH/USD")),
    )
    text = render(ev.EntryRefused("ETH/USD", reason))
    assert "minimum amount is 0.002 ETH, the order was 0.00123." in text


def test_the_risk_checks_liquidation_refusal_is_worded_from_its_figures():
    settings = dataclasses.replace(RiskSettings(), max_position_usd=D(100000), leverage_cap=20)
    ctx = risk.RiskContext(
        settings=settings,
        equity=D(10000),
        start_of_day_equity=D(10000),
        peak_equity=D(10000),
        starting_equity=D(10000),
        realized_pnl_today=D(0),
        symbol="ETH/USDT:USDT",
        base="ETH",
        quote="USDT",
        market_kind="swap",
        price=D(2000),
        stop_distance=D(100),
    )
    decision = risk.check_entry(ctx)
    assert decision.reason is risk.RiskReason.STOP_BEYOND_LIQUIDATION
    event = ev.EntryBlocked("ETH/USDT:USDT", decision.reason.value, decision.figures, "d")
    text = render(codec.loads(*codec.dumps(event)))
    assert "The long stop for ETH/USDT:USDT at 1,900 would lie beyond" in text
    assert "at 20x leverage from 2,000" in text


def test_every_risk_reason_has_its_own_words():
    f = risk.RiskFigures(symbol="X/Y", side="long", loss=D(1), loss_limit=D(1), quote="USD")
    texts = {risk_text(r.value, f) for r in risk.RiskReason if r is not risk.RiskReason.OK}
    assert len(texts) == len(risk.RiskReason) - 1
    assert risk_text("gone_reason", f) == "Your risk settings do not allow this entry now."
