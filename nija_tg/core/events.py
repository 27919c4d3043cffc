"""What the engine and the services tell a user, as typed data (pure): never text.

Each event is a frozen dataclass of plain values. ``kind`` is the outbox kind it is
queued under (the user's /notify preference group: ``storage.outbox.KIND_GROUP``), and
``dedupe_key(user_id)`` the key that makes it idempotent where the event happens once
(None: every occurrence is told). The words, numbers and HTML escaping of every event
live in one place, ``nija_tg.messages.render``; ``docs/messages.md`` shows them all.
The outbox stores an event as its type name and data (``core.events_codec``, which
names every type here), rendered by the bot's sender when it sends; a new field needs a
default so that rows queued before it still read back.

A refusal carries its reason as data too: the error's code and params
(``core.errors.ErrorReason``) or the risk check's reason and figures
(``core.risk.RiskFigures``), never a sentence. Amounts are Decimals in the market's
units; prices carry the market's price step (its precision) so the renderer prints them
as the venue does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.errors import ErrorReason
from nija_tg.core.risk import RiskFigures

# --- trading ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fill:
    """One order's new fills, summed. ``opens``: an entry (or an adopted order that
    added to a position); else it reduced or closed one. ``position``: the position's
    side ("long" or "short"): a sell that opens is a short. ``realized``: the P&L the
    fills realised (None when they only opened or added)."""

    symbol: str
    base: str
    quote: str
    buy: bool
    amount: Decimal
    price: Decimal
    fee: Decimal
    mode: str  # "paper" | "live"
    exchange_id: str
    trade_id: str  # the first new fill's trade id (the dedupe key)
    opens: bool
    position: str = "long"
    swap: bool = False
    leverage: int | None = None
    realized: Decimal | None = None
    purpose: str = "entry"  # entry, exit, close (the user's request), adopted, take_profit
    price_step: Decimal | None = None

    @property
    def kind(self) -> str:
        # a close the user asked for is always answered
        return "info" if self.purpose == "close" else "fill"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"fill:{user_id}:{self.exchange_id}:{self.trade_id}"


@dataclass(frozen=True, slots=True)
class StopHit:
    """A position closed by its stop-loss, told as ONE message with its fill: the
    engine's market close of a stop the candle crossed (``on_exchange`` False), or the
    stop order resting on the exchange that fired (True)."""

    fill: Fill
    stop: Decimal | None
    on_exchange: bool = False

    kind = "stop"

    def dedupe_key(self, user_id: int) -> str | None:
        return self.fill.dedupe_key(user_id)


@dataclass(frozen=True, slots=True)
class ClosedOutside:
    """The account holds less than our position: (part of) it was sold or closed by
    hand on the exchange; booked at the last price, never closed again."""

    symbol: str
    side: str  # "long" | "short"
    base: str
    held: Decimal  # what the bot held
    closed: Decimal  # what is gone
    price: Decimal
    trade_id: str
    swap: bool = False
    contracts: bool = False  # swap amounts in contracts (contract size != 1)
    price_step: Decimal | None = None

    kind = "fill"

    @property
    def whole(self) -> bool:
        return self.closed >= self.held

    def dedupe_key(self, user_id: int) -> str | None:
        return f"external:{user_id}:{self.trade_id}"


# --- refusals (told once per run of the same refusal: ``run``) ---------------------------


@dataclass(frozen=True, slots=True)
class StopOrderRefused:
    """The exchange refused the stop-loss order; the engine's candle check goes on."""

    symbol: str
    reason: ErrorReason
    run: int = 0

    kind = "error"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"refused:{user_id}:stop_order:{self.symbol}:{self.run}"


@dataclass(frozen=True, slots=True)
class ExitRefused:
    """The exchange refused an exit or a stop close (``purpose``) the account still
    holds the position for."""

    symbol: str
    purpose: str  # "exit" | "stop" | "take_profit"
    reason: ErrorReason
    run: int = 0

    kind = "error"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"refused:{user_id}:close:{self.symbol}:{self.run}"


@dataclass(frozen=True, slots=True)
class EntryRefused:
    """The exchange refused an entry for a reason of its own (the minimum, or other)."""

    symbol: str
    reason: ErrorReason
    run: int = 0

    kind = "error"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"refused:{user_id}:entry:{self.symbol}:{self.run}"


@dataclass(frozen=True, slots=True)
class EntryNoFunds:
    """Insufficient funds for an entry: what it needed (the order's value at the price
    now, or the margin on a swap) against what the account has free (None: unread)."""

    symbol: str
    base: str
    quote: str
    units: Decimal
    price: Decimal
    needed: Decimal
    free: Decimal | None
    exchange_id: str
    swap: bool = False
    price_step: Decimal | None = None
    run: int = 0

    kind = "error"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"refused:{user_id}:entry:{self.symbol}:{self.run}"


# what ``LoopOrders.tell_refusal`` tells once per run of the same refusal
Refusal = StopOrderRefused | ExitRefused | EntryRefused | EntryNoFunds


@dataclass(frozen=True, slots=True)
class EntryBlocked:
    """An entry the user's own settings make impossible (a swap stop beyond the
    liquidation price at their leverage): told once per symbol, reason and UTC day.
    ``figures``: what the risk check found (core/risk, core/liquidation)."""

    symbol: str
    reason: str  # core.risk.RiskReason value
    figures: RiskFigures
    day: str

    kind = "error"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"risk:{user_id}:{self.reason}:{self.symbol}:{self.day}"


@dataclass(frozen=True, slots=True)
class PositionModeRefused:
    """The exchange refused the position mode switch; orders follow the actual mode."""

    reason: ErrorReason
    hedge_wanted: bool
    session_id: int | None = None

    kind = "error"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"position-mode:{user_id}:{self.session_id}:{self.hedge_wanted}"


# --- the user's close requests (kind info, one answer per request) ------------------------


@dataclass(frozen=True, slots=True)
class CloseNothing:
    """A close request for a position that is not open (any more). ``why``: closed
    outside the bot, by its stop, or both (``outside``, ``stopped``)."""

    request_id: int
    symbol: str | None  # None: "all" and nothing is open
    side: str | None = None
    outside: bool = False
    stopped: bool = False

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"close:{user_id}:{self.request_id}"


@dataclass(frozen=True, slots=True)
class CloseExpired:
    request_id: int
    symbol: str | None
    age_s: float

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"close:{user_id}:{self.request_id}"


@dataclass(frozen=True, slots=True)
class CloseRefused:
    request_id: int
    refused: tuple[tuple[str, ErrorReason], ...]  # (symbol, the exchange's reason) each

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"close:{user_id}:{self.request_id}"


CloseAnswer = CloseNothing | CloseExpired | CloseRefused


# --- limits, pauses, halts -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyLossLimit:
    loss: Decimal
    limit: Decimal
    day: str
    currency: str = ""

    kind = "daily_loss"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"daily_loss:{user_id}:{self.day}"


@dataclass(frozen=True, slots=True)
class DrawdownPaused:
    pct: Decimal
    limit: Decimal
    held: int = 0  # open positions the stops keep protecting

    kind = "drawdown"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class PausedByAdmin:
    reason: str | None = None  # the admin's own words (None: none given)

    kind = "pause"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class ResumedByAdmin:
    kind = "pause"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class Halted:
    """The global kill switch: on (``halted``) or lifted."""

    halted: bool

    kind = "halt"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


# --- the account -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unprotected:
    """One open position while the engine cannot reach the account: its stop resting on
    the exchange (``stop``), or nothing (None)."""

    symbol: str
    side: str
    amount: Decimal
    stop: Decimal | None = None
    price_step: Decimal | None = None


@dataclass(frozen=True, slots=True)
class KeyDead:
    """The key stopped working: the user is paused (reason ``connection``)."""

    exchange_id: str
    unprotected: tuple[Unprotected, ...] = ()

    kind = "connection"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class BalanceFound:
    currency: str
    total: Decimal


@dataclass(frozen=True, slots=True)
class KeyVerified:
    exchange_id: str
    key_tail: str
    balances: tuple[BalanceFound, ...]
    cannot_withdraw: bool  # proven; False: unknown
    live: bool

    kind = "account"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class KeyRefused:
    exchange_id: str
    reason: ErrorReason

    kind = "account"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class LoopCrashed:
    failures: int

    kind = "error"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


# --- reports ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailySummary:
    day: str  # YYYY-MM-DD (UTC)
    pnl: Decimal
    equity: Decimal
    closed: tuple[Decimal, ...]  # the realised P&L of each trade closed that day
    currency: str = ""

    kind = "summary"

    def dedupe_key(self, user_id: int) -> str | None:
        return f"summary:{user_id}:{self.day}"


# --- service notices -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleChanged:
    role: str

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class ViewGranted:
    trader_id: int
    granted: bool  # False: the grant ended

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An admin's message to everyone (``body``: cleaned plain text, escaped when
    rendered)."""

    body: str

    kind = "broadcast"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One stored setting moved: its name (``strategy.<param>`` for a strategy
    parameter) and its values before and after, as stored (a list's items each; empty:
    none was stored)."""

    name: str
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SettingsClamped:
    """An admin's new bounds changed the user's settings: one entry per change."""

    changes: tuple[SettingChange, ...]

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class AdminDemoted:
    """NIJA_ADMIN_IDS no longer lists this admin: a trader now."""

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class StoredWords:
    """An alert an older engine queued with its words already written: an entry blocked
    with the risk check's sentence (``lines``: that one sentence) or the settings an
    admin's bounds changed as lines (``name: old -> new`` each). Outbox rows stored before
    events carried only data read back as this (``events_codec``), so none is dropped
    at an upgrade; nothing new is stored as it."""

    event: str  # the stored type name: "entry_blocked" | "settings_clamped"
    symbol: str
    lines: tuple[str, ...]

    kind = "info"

    def dedupe_key(self, user_id: int) -> str | None:
        return None


Event = (
    Fill
    | StopHit
    | ClosedOutside
    | StopOrderRefused
    | ExitRefused
    | EntryRefused
    | EntryNoFunds
    | EntryBlocked
    | PositionModeRefused
    | CloseNothing
    | CloseExpired
    | CloseRefused
    | DailyLossLimit
    | DrawdownPaused
    | PausedByAdmin
    | ResumedByAdmin
    | Halted
    | KeyDead
    | KeyVerified
    | KeyRefused
    | LoopCrashed
    | DailySummary
    | RoleChanged
    | ViewGranted
    | Broadcast
    | SettingsClamped
    | AdminDemoted
    | StoredWords
)
