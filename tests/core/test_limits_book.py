"""LimitsBook: the live loop's limit decisions, pure (core/limits_book.py)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from nija_tg.core.limits_book import LimitEvent, LimitsBook
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate

SETTINGS = dataclasses.replace(
    RiskSettings(),
    max_drawdown_pct=Decimal(10),
    daily_loss_usd=Decimal(50),
    daily_loss_pct=Decimal(5),
)


def test_the_daily_loss_blocks_entries_until_the_next_day_and_is_told_once():
    book = LimitsBook.start(SETTINGS, "2024-01-01", Decimal(1000))
    book.rollover("2024-01-01", Decimal(980))
    assert book.check(Gate.ACTIVE, Decimal(980)).blocked is False
    book.rollover("2024-01-01", Decimal(950))  # 50 lost: min(50, 5 % of 1000)
    first = book.check(Gate.ACTIVE, Decimal(950))
    assert first.blocked and first.event is LimitEvent.DAILY_LOSS
    book.rollover("2024-01-01", Decimal(990))  # won back: still blocked today, not told again
    again = book.check(Gate.ACTIVE, Decimal(990))
    assert again.blocked and again.event is LimitEvent.NONE
    assert book.rollover("2024-01-02", Decimal(990)) is True  # a new day starts from here
    assert book.marks.start_of_day_equity == Decimal(990)
    assert book.check(Gate.ACTIVE, Decimal(990)).blocked is False


def test_the_drawdown_pauses_once_and_the_gate_protects_from_then():
    book = LimitsBook.start(SETTINGS, "2024-01-01", Decimal(1000))
    book.rollover("2024-01-01", Decimal(1200))  # the peak follows the equity
    assert book.marks.peak_equity_flow_adjusted == Decimal(1200)
    book.rollover("2024-01-01", Decimal(1080))  # 10 % below the peak
    verdict = book.check(Gate.ACTIVE, Decimal(1080))
    assert verdict.blocked and verdict.event is LimitEvent.DRAWDOWN and book.paused
    assert book.marks.peak_equity_flow_adjusted == 0  # starts again from the next read
    assert book.gate(Gate.ACTIVE) is Gate.PROTECT
    # judged only while the gate allows entries: no second pause
    assert book.check(book.gate(Gate.ACTIVE), Decimal(900)).event is not LimitEvent.DRAWDOWN


def test_exits_only_is_not_paused_for_the_drawdown():
    book = LimitsBook.start(SETTINGS, "2024-01-01", Decimal(1000))
    book.rollover("2024-01-01", Decimal(800))
    assert book.check(Gate.EXITS_ONLY, Decimal(800)).event is not LimitEvent.DRAWDOWN
    assert not book.paused
