"""What a trading control did or why it refused, as data: the trading service decides
(``TradingService`` returns an ``Outcome``), the renderer (``messages/trading.py``,
``outcome_text``) words it. Each ``Answer`` names one reply; the fields it reads are
listed beside it, the others keep their defaults."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nija_tg.core.trading_gate import TradingSwitch


class Answer(enum.StrEnum):
    START_FIRST = "start_first"  # no such user
    VIEWER_CANNOT_TRADE = "viewer_cannot_trade"
    ADMIN_PAUSED = "admin_paused"  # reason
    LIVE_NEEDS_VERIFIED_KEYS = "live_needs_verified_keys"
    HALTED = "halted"
    KEY_STOPPED = "key_stopped"  # exits only after a connection pause, key still bad
    SWITCHED = "switched"  # switch, mode, held, admin_pause, halted
    VIEWER_CANNOT_CLOSE = "viewer_cannot_close"
    KEY_CANNOT_CLOSE = "key_cannot_close"
    NOTHING_OPEN = "nothing_open"
    NONE_IN = "none_in"  # target
    OTHER_MODE = "other_mode"  # symbol, other_mode (the position's), mode (the user's)
    GONE = "gone"  # symbol, side
    ALREADY_CLOSING = "already_closing"  # closing
    CLOSING = "closing"  # closing
    LIVE_NEEDS_KEYS = "live_needs_keys"
    KEYS_UNVERIFIED = "keys_unverified"
    LIVE_ALLOWED = "live_allowed"  # exchange_id, key_tail
    VIEWER_READ_ONLY = "viewer_read_only"
    LIVE_UNCONFIRMED = "live_unconfirmed"
    MODE_SET = "mode_set"  # mode (the new one), held (left in other_mode), other_mode


@dataclass(frozen=True)
class Outcome:
    ok: bool
    answer: Answer
    switch: TradingSwitch | None = None
    mode: str = ""  # paper or live
    other_mode: str = ""
    held: int = 0  # open positions the reply counts
    admin_pause: bool = False
    halted: bool = False
    reason: str | None = None  # an admin pause's reason
    target: str = ""  # what /close was given (upper case)
    symbol: str = ""
    side: str = ""
    closing: tuple[tuple[str, str], ...] = ()  # (symbol, side) of each position closing
    exchange_id: str = ""
    key_tail: str = ""
