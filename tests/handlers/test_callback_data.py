"""Typed callback data: pack/unpack round trips, the 64-byte limit, malformed data and
data of another version (taken by no handler's pattern and unpacked as None: the bot
answers "expired", see test_trading's end-to-end test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import pytest

from nija_tg.core.models import TradingMode
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.handlers.callback_data import (
    _PREFIXES,
    MAX_BYTES,
    BroadcastConfirm,
    CallbackData,
    CallbackDataError,
    CloseButton,
    ConnectCancelButton,
    DisconnectConfirm,
    ExchangeButton,
    ForgetButton,
    HaltConfirm,
    JoinButton,
    KeepOpenButton,
    ModeButton,
    NotifyButton,
    Pattern,
    PauseAllConfirm,
    PnlButton,
    PresetButton,
    Range,
    RefreshButton,
    SettingPickButton,
    SettingsPageButton,
    SettingValueButton,
    TradeButton,
    UsersPageButton,
)


@dataclass(frozen=True)
class DemoButton(CallbackData, prefix="demo", version=2):
    """A button at its second version: version 1 data exist in old messages."""

    count: Annotated[int, Range(1, 99)]
    colour: Literal["red", "blue"]
    switch: TradingSwitch
    note: Annotated[str, Pattern(r"[a-z:]{1,60}")]


EVERY_BUTTON = [
    TradeButton(TradingSwitch.ON),
    TradeButton(TradingSwitch.EXITS),
    TradeButton(TradingSwitch.OFF),
    RefreshButton(),
    RefreshButton(999_999_999_999_999),
    CloseButton("ask", "long", "ETH/USD"),
    CloseButton("yes", "short", "1000PEPE/USDT:USDT"),
    KeepOpenButton(),
    ModeButton(TradingMode.LIVE),
    ModeButton(TradingMode.PAPER),
    ForgetButton("yes"),
    ForgetButton("no"),
    JoinButton("approve", 9_223_372_036_854_775_807),
    JoinButton("reject", 1),
    UsersPageButton(1),
    UsersPageButton(999_999),
    ExchangeButton("kraken"),
    ExchangeButton("binance_coinm_futures_x"),
    ConnectCancelButton(),
    PnlButton("day"),
    PnlButton("all", "chart", 999_999_999_999_999),
    SettingsPageButton("strategy"),
    SettingPickButton("strategy.adx_exit_threshold"),
    SettingValueButton("100000", "max_position_usd"),
    SettingValueButton("0.95", "strategy.min_confidence"),
    SettingValueButton("one_way", "position_mode"),
    PresetButton("conservative"),
    NotifyButton("summary", "silent"),
    NotifyButton("all", "off"),
    DisconnectConfirm("yes", 999_999_999),
    PauseAllConfirm("no", 1),
    HaltConfirm("yes", 42),
    BroadcastConfirm("no", 7),
    DemoButton(7, "red", TradingSwitch.EXITS, "a:b:c"),
]


def test_every_button_class_has_a_handler_in_the_application():
    """A button class nobody handles would answer "expired" on its first press."""
    from telegram.ext import CallbackQueryHandler

    from nija_tg.handlers import FEATURES

    patterns = [
        h.pattern
        for feature in FEATURES
        for h in _flatten(feature.handlers())
        if isinstance(h, CallbackQueryHandler)
    ]
    for prefix, cls in _PREFIXES.items():
        if cls is DemoButton or cls.__module__ != "nija_tg.handlers.callback_data":
            continue
        assert cls.pattern() in patterns, f"no handler for {prefix}"


def _flatten(handlers: list) -> list:
    from telegram.ext import ConversationHandler

    out = []
    for h in handlers:
        if isinstance(h, ConversationHandler):
            for group in (h.entry_points, *h.states.values(), h.fallbacks):
                out += _flatten(list(group))
        else:
            out.append(h)
    return out


@pytest.mark.parametrize("button", EVERY_BUTTON, ids=repr)
def test_round_trip_within_64_bytes(button):
    data = button.pack()
    assert len(data.encode()) <= MAX_BYTES
    assert type(button).unpack(data) == button
    assert type(button).pattern().match(data)


def test_the_wire_format_is_prefix_version_fields():
    assert TradeButton(TradingSwitch.ON).pack() == "trade:1:on"
    assert DemoButton(7, "red", TradingSwitch.EXITS, "a:b").pack() == "demo:2:7:red:exits:a:b"
    assert RefreshButton().pack() == "status:1:"
    assert RefreshButton(42).pack() == "status:1:42"


def test_each_button_is_taken_by_its_own_class_only():
    datas = [b.pack() for b in EVERY_BUTTON]
    for button in EVERY_BUTTON:
        others = {type(b) for b in EVERY_BUTTON if type(b) is not type(button)}
        assert not any(cls.unpack(button.pack()) for cls in others)
        assert not any(cls.pattern().match(button.pack()) for cls in others)
    assert len(set(datas)) == len(datas)
    with pytest.raises(TypeError, match="already"):

        @dataclass(frozen=True)
        class Twin(CallbackData, prefix="trade", version=9):
            switch: TradingSwitch


def test_over_64_bytes_is_refused_when_packing_and_unpacking():
    long_note = "x" * 60  # within its own grammar, but the whole exceeds Telegram's limit
    with pytest.raises(CallbackDataError, match="bytes"):
        DemoButton(1, "red", TradingSwitch.ON, long_note).pack()
    assert DemoButton.unpack(f"demo:2:1:red:on:{long_note}") is None


@pytest.mark.parametrize(
    "button",
    [
        DemoButton(0, "red", TradingSwitch.ON, "ok"),  # below its range
        DemoButton(100, "red", TradingSwitch.ON, "ok"),  # above its range
        DemoButton(1, "green", TradingSwitch.ON, "ok"),  # type: ignore[arg-type]
        DemoButton(1, "red", TradingSwitch.ON, "NOT lower"),
        CloseButton("ask", "long", "eth/usd"),  # lower case is not a symbol
        CloseButton("maybe", "long", "ETH/USD"),  # type: ignore[arg-type]
        JoinButton("approve", -5),
        UsersPageButton(0),
        RefreshButton(0),
        ExchangeButton("Kraken"),
    ],
    ids=repr,
)
def test_a_field_outside_its_grammar_is_refused_when_packing(button):
    with pytest.raises(CallbackDataError):
        button.pack()


@pytest.mark.parametrize(
    "data",
    [
        "",
        "demo",
        "demo:2",
        "demo:2:7:red:exits",  # a field missing
        "demo:2:07x:red:exits:ok",
        "demo:2:+7:red:exits:ok",
        "demo:2: 7:red:exits:ok",
        "demo:2:7:RED:exits:ok",
        "demo:2:7:red:maybe:ok",
        "demo:2:7:red:exits:",
        "demo:2:7:red:exits:ok\n",
        "demo:2:7:red:exits:ök",
        "demox:2:7:red:exits:ok",  # another prefix
        "DEMO:2:7:red:exits:ok",
        "trade:1:on",
    ],
)
def test_malformed_data_unpacks_to_none(data):
    assert DemoButton.unpack(data) is None


def test_data_of_an_older_version_is_neither_taken_nor_unpacked():
    old = "demo:1:7:red:exits:ok"  # the wire form of version 1, written out on purpose
    assert DemoButton.unpack(old) is None
    assert DemoButton.pattern().match(old) is None  # its handler never sees it
    assert DemoButton.unpack("demo:2:7:red:exits:ok") == DemoButton(7, "red", "exits", "ok")


def test_the_pattern_takes_the_grammar_and_unpack_also_checks_bounds():
    in_grammar_out_of_bounds = [
        (UsersPageButton, "users:1:0"),
        (DemoButton, "demo:2:0:red:on:ok"),
        (RefreshButton, "status:1:0"),
    ]
    for cls, data in in_grammar_out_of_bounds:
        assert cls.pattern().match(data)
        assert cls.unpack(data) is None  # on_button answers these "expired" itself
    assert not UsersPageButton.pattern().match("users:1:1234567")
    assert not TradeButton.pattern().match("trade:1:on\n")


LEGACY = [  # the unversioned wire forms of buttons sent before versioning, on purpose
    "trade:on",
    "trade:off",
    "status:refresh",
    "status:refresh:2001",
    "close:ask:ETH/USD:long",
    "close:yes:ETH/USDT:USDT:short",
    "close:no",
    "mode:live:yes",
    "mode:no",
    "forget:yes",
    "join:a:5",
    "connect:cancel",
    "connect:ex:kraken",
]


@pytest.mark.parametrize("legacy", LEGACY)
def test_the_unversioned_buttons_sent_before_are_taken_by_no_button(legacy):
    for cls in {type(b) for b in EVERY_BUTTON}:
        assert cls.pattern().match(legacy) is None
        assert cls.unpack(legacy) is None


def test_data_of_unknown_prefixes_is_taken_by_no_button():
    for data in ("adm:users:2", "whatever", "", ":1:", "trade1:on", "keeper:1", "Trade:1:on"):
        assert not [b for b in EVERY_BUTTON if type(b).pattern().match(data)], data


def test_a_plain_str_field_is_refused():
    @dataclass(frozen=True)
    class Loose(CallbackData, prefix="loose", version=1):
        text: str

    with pytest.raises(TypeError, match="Pattern"):
        Loose("x").pack()
