"""Every event and every report rendered with sample data, and every fixed text, as one
Markdown file to review wording in diffs.

Regenerate ``docs/messages.md`` (tests/messages/test_catalogue.py fails while it differs):

    .venv/bin/python -m nija_tg.messages.catalogue > docs/messages.md
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

from nija_tg.core import events as ev
from nija_tg.core.errors import ErrorReason
from nija_tg.core.risk import RiskFigures, RiskReason
from nija_tg.messages import errors
from nija_tg.messages.render import render
from nija_tg.messages.report_catalogue import REPORT_SAMPLES, fixed_texts

_ETH = {"symbol": "ETH/USD", "base": "ETH", "quote": "USD", "price_step": D("0.01")}
_SWAP = {
    "symbol": "ETH/USDT:USDT",
    "base": "ETH",
    "quote": "USDT",
    "swap": True,
    "leverage": 3,
    "price_step": D("0.01"),
}
_LONG_IN = ev.Fill(
    **_ETH, buy=True, amount=D("0.5"), price=D("2345.674"), fee=D("0.5864185"),
    mode="paper", exchange_id="kraken", trade_id="T1", opens=True,
)  # fmt: skip
_LONG_OUT = dataclasses.replace(
    _LONG_IN, buy=False, price=D("2401.2"), opens=False, purpose="exit",
    realized=D("26.5737"), fee=D("0.6003"),
)  # fmt: skip
_SHORT_IN = ev.Fill(
    **_SWAP, buy=False, amount=D("0.09"), price=D("2345.6712"), fee=D("0.1055552"),
    mode="live", exchange_id="bingx", trade_id="T2", opens=True, position="short",
)  # fmt: skip
_SHORT_STOPPED = dataclasses.replace(
    _SHORT_IN, buy=True, price=D("2391.15"), opens=False, purpose="exit",
    realized=D("-4.2111"), fee=D("0.1076"),
)  # fmt: skip
_LONG_STOPPED = dataclasses.replace(
    _LONG_OUT, price=D("2288.1"), realized=D("-29.1241"), mode="live",
)  # fmt: skip

SAMPLES: list[tuple[str, object]] = [
    ("Fill: opened a long (spot)", _LONG_IN),
    ("Fill: closed a long with a profit (strategy exit)", _LONG_OUT),
    (
        "Fill: closed at the user's request, at a loss",
        dataclasses.replace(_LONG_OUT, purpose="close", realized=D("-1234567.891")),
    ),
    ("Fill: opened a short on a swap at 3x", _SHORT_IN),
    (
        "Fill: adopted order, nothing realised",
        dataclasses.replace(_LONG_OUT, purpose="adopted", realized=None),
    ),
    (
        "Fill: a cheap coin at its market's precision",
        ev.Fill(
            symbol="PEPE/USDT",
            base="PEPE",
            quote="USDT",
            buy=True,
            amount=D("12345678.9"),
            price=D("0.000012345678901234567"),
            fee=D("0.000123"),
            mode="paper",
            exchange_id="bingx",
            trade_id="T3",
            opens=True,
            price_step=D("1e-9"),
        ),
    ),  # fmt: skip
    (
        "Stop hit: the engine closed a long whose stop the candle crossed",
        ev.StopHit(_LONG_STOPPED, stop=D("2290.123456789012345678")),
    ),
    (
        "Stop hit: the stop resting on the exchange fired (short)",
        ev.StopHit(_SHORT_STOPPED, stop=D("2390"), on_exchange=True),
    ),
    (
        "Closed outside the bot (spot, reduced)",
        ev.ClosedOutside(
            symbol="ETH/USD",
            side="long",
            base="ETH",
            held=D("0.5"),
            closed=D("0.2"),
            price=D("2345.678"),
            trade_id="external:x",
            price_step=D("0.01"),
        ),
    ),  # fmt: skip
    (
        "Closed outside the bot (swap, contracts)",
        ev.ClosedOutside(
            symbol="ETH/USDT:USDT",
            side="short",
            base="ETH",
            held=D("9"),
            closed=D("9"),
            price=D("2345.678"),
            trade_id="external:y",
            swap=True,
            contracts=True,
            price_step=D("0.01"),
        ),
    ),  # fmt: skip
    ("Stop order refused", ev.StopOrderRefused("ETH/USD", ErrorReason("market_closed"))),
    ("Exit refused", ev.ExitRefused("ETH/USD", "exit", ErrorReason("order_rejected"))),
    ("Stop close refused", ev.ExitRefused("ETH/USD", "stop", ErrorReason("account_suspended"))),
    (
        "Entry refused (minimum)",
        ev.EntryRefused(
            "ETH/USD",
            ErrorReason(
                "below_min_cost",
                (("cost", "4.2051"), ("min_cost", "5"), ("quote", "USD"), ("symbol", "ETH/USD")),
            ),
        ),
    ),
    (
        "Entry refused: insufficient funds (spot)",
        ev.EntryNoFunds(
            symbol="ETH/USD",
            base="ETH",
            quote="USD",
            units=D("0.5"),
            price=D("2345.678"),
            needed=D("1173.4567"),
            free=D("812.005"),
            exchange_id="kraken",
            price_step=D("0.01"),
        ),
    ),  # fmt: skip
    (
        "Entry refused: insufficient margin (swap, balance unread)",
        ev.EntryNoFunds(
            symbol="ETH/USDT:USDT",
            base="ETH",
            quote="USDT",
            units=D("0.09"),
            price=D("2345.678"),
            needed=D("70.37"),
            free=None,
            exchange_id="bingx",
            swap=True,
            price_step=D("0.01"),
        ),
    ),  # fmt: skip
    (
        "Entry blocked by the user's settings (liquidation)",
        ev.EntryBlocked(
            "ETH/USDT:USDT",
            "stop_beyond_liquidation",
            RiskFigures(
                symbol="ETH/USDT:USDT",
                side="long",
                stop=D("2100"),
                liquidation=D("2150.123456"),
                entry=D("2345.67"),
                leverage=10,
            ),
            "2026-12-05",
        ),
    ),
    (
        "Position mode refused",
        ev.PositionModeRefused(ErrorReason("position_mode_refused"), hedge_wanted=True),
    ),
    ("Close: nothing open", ev.CloseNothing(1, None)),
    ("Close: closed outside meanwhile", ev.CloseNothing(2, "ETH/USD", "long", outside=True)),
    ("Close: stopped meanwhile", ev.CloseNothing(3, "ETH/USD", None, stopped=True)),
    ("Close: expired", ev.CloseExpired(4, "ETH/USD", 900.0)),
    (
        "Close: refused",
        ev.CloseRefused(5, (("ETH/USD", ErrorReason("exchange_maintenance")),)),
    ),
    ("Daily loss limit", ev.DailyLossLimit(D("512.345"), D("500"), "2026-12-05", "USD")),
    ("Drawdown pause", ev.DrawdownPaused(D("21.456"), D("20"), held=2)),
    ("Paused by an admin", ev.PausedByAdmin("risk review <urgent> & more")),
    ("Paused by an admin, no reason given", ev.PausedByAdmin(None)),
    ("Resumed by an admin", ev.ResumedByAdmin()),
    ("Global halt", ev.Halted(True)),
    ("Global halt lifted", ev.Halted(False)),
    (
        "Key dead, with positions",
        ev.KeyDead(
            "kraken",
            (
                ev.Unprotected("ETH/USD", "long", D("0.5"), D("2290.1234567"), D("0.01")),
                ev.Unprotected("BTC/USD", "long", D("0.01")),
            ),
        ),
    ),
    ("Key dead, nothing held", ev.KeyDead("bingx")),
    (
        "Key verified",
        ev.KeyVerified(
            "kraken",
            "Ab3d",
            (ev.BalanceFound("USD", D("10234.5")), ev.BalanceFound("ETH", D("0.123456789"))),
            cannot_withdraw=True,
            live=False,
        ),
    ),  # fmt: skip
    ("Key refused", ev.KeyRefused("kraken", ErrorReason("key_not_accepted"))),
    (
        "Key refused: an exchange whose keys cannot be checked",
        ev.KeyRefused("binance", ErrorReason("unprovable_named", (("name", "Binance"),))),
    ),
    ("Trading loop crashed", ev.LoopCrashed(3)),
    (
        "Daily summary, a profit",
        ev.DailySummary(
            "2026-12-04", D("123.456"), D("10123.456"), (D("80"), D("-12"), D("55")), "USD"
        ),
    ),
    (
        "Daily summary, a loss, no trades",
        ev.DailySummary("2026-12-04", D("-45.5"), D("9954.5"), (), "USDT"),
    ),
    ("Role changed", ev.RoleChanged("viewer")),
    ("View granted", ev.ViewGranted(222, True)),
    ("View ended", ev.ViewGranted(222, False)),
    ("Broadcast", ev.Broadcast("Maintenance at 02:00 UTC <b>not bold</b> & done")),
    (
        "Settings clamped by an admin's bounds",
        ev.SettingsClamped(
            (
                ev.SettingChange("max_position_usd", ("500",), ("250",)),
                ev.SettingChange("leverage_cap", ("10",), ("5",)),
                ev.SettingChange("allowed_pairs", ("BTC", "ETH", "DOGE"), ("BTC", "ETH")),
            )
        ),
    ),
    ("Admin demoted by the configuration", ev.AdminDemoted()),
    (
        "Queued by an older engine: an entry blocked, words stored",
        ev.StoredWords(
            "entry_blocked",
            "ETH/USDT:USDT",
            ("the stop (2,400) is beyond the liquidation price (2,450) at 20x.",),
        ),
    ),
    (
        "Queued by an older engine: settings clamped, words stored",
        ev.StoredWords("settings_clamped", "", ("max_position_usd: 500 -> 250",)),
    ),
]

# The figures of each risk reason (``core.risk.check_entry``), as an entry blocked by it
RISK_SAMPLES: dict[RiskReason, RiskFigures] = {
    RiskReason.GLOBAL_HALT: RiskFigures(),
    RiskReason.PAUSED: RiskFigures(),
    RiskReason.PAIR_NOT_ALLOWED: RiskFigures(symbol="DOGE/USD"),
    RiskReason.SHORT_NOT_ALLOWED: RiskFigures(symbol="ETH/USD"),
    RiskReason.ALREADY_OPEN: RiskFigures(symbol="ETH/USD", side="long"),
    RiskReason.MAX_OPEN_POSITIONS: RiskFigures(open_positions=3, max_open_positions=3),
    RiskReason.DAILY_LOSS: RiskFigures(
        loss=D("152.456"), loss_limit=D("150"), quote="USDT"
    ),
    RiskReason.MAX_DRAWDOWN: RiskFigures(drawdown_pct=D("20.04"), drawdown_limit_pct=D("20")),
    RiskReason.INVALID_INPUT: RiskFigures(),
    RiskReason.BELOW_MINIMUM: RiskFigures(
        symbol="BTC/USD", amount=D("0.00004"), notional=D("3.9"), quote="USD"
    ),
    RiskReason.STOP_BEYOND_LIQUIDATION: RiskFigures(
        symbol="ETH/USDT:USDT", side="short", stop=D("2600"), liquidation=D("2565.4321"),
        entry=D("2345.67"), leverage=10,
    ),
}  # fmt: skip

# Sample params of the error codes whose words take some (``messages.errors.WORDS``)
ERROR_PARAMS: dict[str, dict[str, str]] = {
    "legacy_text": {"text": "(a sentence an older engine stored with the row, shown as stored)"},
    "below_precision": {"symbol": "ETH/USD", "what": "amount"},
    "below_min_amount": {
        "symbol": "ETH/USD", "min_amount": "0.002", "base": "ETH", "amount": "0.00123",
    },
    "below_min_cost": {"symbol": "ETH/USD", "min_cost": "5", "quote": "USD", "cost": "4.2051"},
    "price_not_positive": {"symbol": "ETH/USD"},
    "exchange_unreachable_now": {"name": "Kraken"},
    "credential_missing": {"label": "API secret"},
    "wallet_key_named": {"name": "Hyperliquid"},
    "unprovable_named": {"name": "Binance"},
    "unknown_bound": {"sent": "max_<everything>"},
    "no_user_with_id": {"user_id": "999"},
    "no_position_to_reduce": {"symbol": "ETH/USDT:USDT"},
    "backtest_timeframe": {"found": "1d", "strategy": "ema_cross", "timeframe": "5m"},
    "backtest_timeframe_or_setting": {"found": "1h", "strategy": "ema_cross", "timeframe": "5m"},
    "backtest_pair": {"quotes": "USD, USDC, USDT"},
    "no_such_page": {"page": "9", "pages": "3"},
    "audit_count": {"max": "100"},
    "reason_too_long": {"max": "200"},
    "grant_needs_viewer": {"user_id": "42", "role": "trader"},
    "grant_of_viewer": {"user_id": "43"},
    "broadcast_too_long": {"length": "3600", "max": "3500"},
    "bound_range_syntax": {"name": "max_position_usd", "sent": "500"},
    "bound_not_number": {"name": "max_position_usd", "sent": "abc"},
    "bound_not_whole_number": {"name": "leverage_cap", "sent": "1.5"},
    "bound_range_empty": {"name": "max_position_usd"},
    "bound_outside_hard": {"name": "max_position_usd", "lo": "10", "hi": "100000"},
    "bound_choices": {"name": "position_mode", "allowed": "one_way, hedge", "sent": "sideways"},
    "bound_assets": {"name": "allowed_pairs", "sent": "BTC,<b>"},
    "unknown_bound_listed": {"sent": "everything", "names": "max_position_usd, leverage_cap"},
    "setting_range": {"name": "max_position_usd", "lo": "10", "hi": "100000", "sent": "abc"},
    "setting_range_whole": {"name": "max_open_positions", "lo": "1", "hi": "20", "sent": "2.5"},
    "setting_out_of_range": {"name": "leverage_cap", "lo": "1", "hi": "50"},
    "setting_other_currency": {"name": "max_position_usd", "currency": "USD", "sent": "250 USDC"},
    "setting_choice": {"name": "position_mode", "choices": "one_way, hedge", "sent": "both"},
    "setting_on_off": {"name": "trailing_stop", "sent": "maybe"},
    "pairs_symbols": {"name": "allowed_pairs", "quotes": "USD, USDC, USDT", "sent": "BTC/EUR"},
    "pair_not_permitted": {"name": "allowed_pairs", "asset": "XRP", "sent": "+XRP"},
    "pairs_count": {"name": "allowed_pairs", "max": "50", "sent": "-BTC"},
    "unknown_preset": {"presets": "conservative, moderate, aggressive", "sent": "yolo"},
    "unknown_setting_listed": {"sent": "max_everything", "names": "max_position_usd, strategy"},
    "strategy_param_rule": {"rule": "ema_fast (60) must be below ema_slow (50)", "sent": "60"},
}  # fmt: skip


def error_samples() -> list[tuple[str, str]]:
    """(code, words) of every error code, with sample params where it takes some."""
    return [
        (code, errors.words(ErrorReason(code, tuple(sorted(ERROR_PARAMS.get(code, {}).items())))))
        for code in errors.WORDS
    ]


def catalogue() -> str:
    out = [
        "# Messages",
        "",
        "Generated by `.venv/bin/python -m nija_tg.messages.catalogue > docs/messages.md`",
        "from `nija_tg/messages/catalogue.py` (sample events), `report_catalogue.py` and",
        "`report_samples.py` (sample reports) and the renderer modules of `nija_tg/messages/`",
        "(every word): do not edit by hand.",
        "",
        "# Events",
        "",
        "Each entry: the event, its outbox kind (the user's /notify group), then the",
        "Telegram HTML text exactly as queued.",
        "",
    ]
    for title, event in SAMPLES:
        kind = getattr(event, "kind", "")
        out += [f"## {title}", "", f"`{type(event).__name__}`, kind `{kind}`", ""]
        out += ["```html", render(event), "```", ""]
    out += [
        "# Why an entry was refused",
        "",
        "Each risk check reason (`core.risk.RiskReason`) as an `EntryBlocked` event tells",
        "it (the engine tells only `stop_beyond_liquidation`; the others are the same",
        "words for logs and reviews).",
        "",
    ]
    for reason, figures in RISK_SAMPLES.items():
        event = ev.EntryBlocked(figures.symbol or "ETH/USD", reason.value, figures, "2026-12-05")
        out += [f"## `{reason.value}`", "", "```html", render(event), "```", ""]
    out += [
        "# Error words",
        "",
        "What a user is told of each error code (`core.errors`, `exchange.ccxt_errors`,",
        "the exchange adapters): `nija_tg/messages/errors.py`, plain text, with sample",
        "params. Refusal events and error replies use these words.",
        "",
    ]
    for code, words in error_samples():
        out += [f"## `{code}`", "", "```", words, "```", ""]
    out += [
        "# Reports, replies and buttons",
        "",
        "Each entry: the renderer function, then its text for the sample data (Telegram",
        "HTML for messages; plain text for buttons, toasts and the chart's title).",
        "",
    ]
    section = ""
    for sample in REPORT_SAMPLES:
        if sample.section != section:
            section = sample.section
            out += [f"## {section}", ""]
        out += [f"### {sample.title}", "", f"`{sample.name}`", ""]
        out += ["```html", sample.text(), "```", ""]
    out += [
        "# Fixed texts",
        "",
        "Every constant text of the renderer modules, by module (dictionaries entry by",
        "entry).",
        "",
    ]
    for module, name, text in fixed_texts():
        out += [f"### `{module}.{name}`", "", "```html", text, "```", ""]
    return "\n".join(out)


def main() -> None:
    print(catalogue(), end="")


if __name__ == "__main__":
    main()
