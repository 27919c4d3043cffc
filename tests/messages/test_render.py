"""The renderer's promises (issue 14 item 2), on every sample and on chosen cases."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal as D

import pytest

from nija_tg.core import events as ev
from nija_tg.core.errors import ErrorReason
from nija_tg.core.number_format import money_in, pct, price
from nija_tg.messages.catalogue import SAMPLES
from nija_tg.messages.render import fee_text, render

FILL = ev.Fill(
    symbol="ETH/USDT:USDT", base="ETH", quote="USDT", buy=False, amount=D("0.09"),
    price=D("2345.6712"), fee=D("0.1"), mode="live", exchange_id="bingx", trade_id="t",
    opens=True, position="short", swap=True, leverage=3, price_step=D("0.01"),
)  # fmt: skip


@pytest.mark.parametrize("title,event", SAMPLES, ids=[t for t, _ in SAMPLES])
def test_every_sample_is_valid_telegram_html_with_p_and_l_escaped(title, event):
    text = render(event)
    assert "P&L" not in text
    # only Telegram's tags; every other < > & escaped
    assert re.sub(r"</?(b|code)>", "", text).count("<") == 0
    assert not re.search(r"&(?!amp;|lt;|gt;)", text)
    assert not re.search(r"\d\.\d{10,}", text), "no runaway decimals"
    assert "−" not in text, "the ASCII minus"


def test_a_short_opens_as_a_short_with_its_leverage():
    text = render(FILL)
    assert text.startswith("📉 Opened short 3x <b>ETH/USDT:USDT</b>: sold 0.09 ETH at 2,345.67")
    assert "Sold" not in text


def test_a_losing_close_is_red_and_never_a_check_mark():
    loss = dataclasses.replace(FILL, buy=True, opens=False, realized=D("-4.2"), purpose="exit")
    text = render(loss)
    assert text.startswith("🔴 Closed short 3x")
    assert "P&amp;L -4.20 USDT" in text
    assert "✅" not in text
    win = dataclasses.replace(loss, realized=D("4.2"))
    assert render(win).startswith("🟢 Closed short") and "P&amp;L +4.20 USDT" in render(win)


def test_a_stop_exit_is_one_message_at_the_markets_precision():
    out = dataclasses.replace(FILL, buy=True, opens=False, realized=D("-4.2"), purpose="exit")
    text = render(ev.StopHit(out, stop=D("2390.123456789012345678")))
    assert text.startswith("🛑 <b>Stop hit</b>: short 3x <b>ETH/USDT:USDT</b> (stop 2,390.12)")
    assert "bought 0.09 ETH at 2,345.67" in text
    assert ev.StopHit(out, None).kind == "stop"
    assert ev.StopHit(out, None).dedupe_key(7) == "fill:7:bingx:t"


def test_dynamic_values_are_escaped():
    assert "&lt;b&gt;" in render(ev.Broadcast("<b>"))
    assert "X&amp;Y" in render(ev.ExitRefused("X&Y", "exit", ErrorReason("order_rejected")))


def test_number_format_extensions():
    assert price(D("2290.123456789012345678"), D("0.01")) == "2,290.12"
    assert price(D("2290.125"), D("0.01")) == "2,290.12"  # half-even
    assert price(D("0.0000123456789"), None) == "0.000012345679"
    assert price(D("61234.5"), D("0.5")) == "61,234.5"
    assert price(D("61234"), D("10")) == "61,234"
    assert money_in(D("-1234.565"), "USD", signed=True) == "-1,234.56 USD"
    assert money_in(D("3"), "USDT", signed=True) == "+3.00 USDT"
    assert pct(D("21.456")) == "21.5%"
    assert pct(D("-0.04"), signed=True) == "+0.0%"
    assert pct(2.5, signed=True) == "+2.5%"
    assert pct(None) == "—"


def test_a_fee_reads_the_same_in_the_alert_and_in_trades():
    """Money's 2 decimals in a cash currency, its own digits when under a cent (never a
    fee of 0.00), a coin's up to 8 significant digits; /trades and the fill alert share it."""
    assert fee_text(D("0.6003"), "USD") == "0.60 USD"
    assert fee_text(D("0.000123"), "USDT") == "0.000123 USDT"
    assert fee_text(D("0"), "USDT") == "0.00 USDT"
    assert fee_text(D("0.00012345"), "BNB") == "0.00012345 BNB"
    assert fee_text(D("0.5864"), None) == "0.5864"
    fill = dataclasses.replace(FILL, fee=D("0.000123"), quote="USDT")
    assert "fee 0.000123 USDT" in render(fill)


def test_key_verified_shows_cash_as_money_and_coins_with_their_digits():
    """The balances found read as /balance shows them: '10,234.50', not '10,234.5'."""
    text = render(
        ev.KeyVerified(
            "kraken", "Ab3d",
            (ev.BalanceFound("USD", D("10234.5")), ev.BalanceFound("ETH", D("0.123456789"))),
            cannot_withdraw=True, live=False,
        )
    )  # fmt: skip
    assert "• USD: 10,234.50\n" in text and "• ETH: 0.12345679\n" in text


def test_the_daily_summary_win_rate_has_the_one_precision_of_the_reports():
    """2 of 3 won reads 66.7%, as /pnl and /performance show it (not 67%)."""
    text = render(ev.DailySummary("2026-12-04", D(5), D(100), (D(1), D(2), D(-1)), "USD"))
    assert "2 won, win rate 66.7%." in text
