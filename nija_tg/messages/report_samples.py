"""Sample report data for ``docs/messages.md``: small frozen dataclasses shaped like the
services' report types (``report_data`` lists the members; the services' own types live
above this layer), with their computed members computed the same way, and the samples:
an ordinary account, empty ones, long lists, losses, a leveraged short, hostile names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from nija_tg.core.account_currency import exchange_quote, symbol_quote
from nija_tg.core.health import Beat, HealthReport, Problem
from nija_tg.core.models import Role, Side, TradingMode, UserStatus
from nija_tg.core.pnl import PeriodStats
from nija_tg.core.trading_gate import TradingSwitch

NOW = datetime(2026, 12, 5, 7, 30, tzinfo=UTC).timestamp()
HOUR = 3600.0
DAY = 86400.0
EXCHANGE_OF = {1003: "bingx"}  # the sample users' exchanges; the others: kraken (or none)
ODD_NAME = "Zoë <b>\u202e🚀</b> & co"  # markup, an RTL override, an emoji, an ampersand


@dataclass(frozen=True)
class User:
    user_id: int = 1001
    username: str | None = "alice"
    first_name: str | None = "Alice"
    role: Role = Role.TRADER
    status: UserStatus = UserStatus.ACTIVE
    pause_reason: str | None = None
    trading_on: bool = True
    mode: TradingMode = TradingMode.LIVE
    switch: TradingSwitch = TradingSwitch.ON
    trade_only: bool = False
    reachable: bool = True
    created_at: float = NOW - 40 * DAY
    last_seen_at: float = NOW - 2 * HOUR


@dataclass(frozen=True)
class Viewing:
    caller: User
    target: User

    @property
    def own(self) -> bool:
        return self.caller.user_id == self.target.user_id

    @property
    def may_trade(self) -> bool:
        return self.own and self.caller.role is not Role.VIEWER

    @property
    def sees_key_tail(self) -> bool:
        return self.own or self.caller.role is Role.ADMIN


@dataclass(frozen=True)
class Dashboard:
    user: User
    halted: bool = False
    equity: D | None = D("10234.5678")
    open_positions: int = 0
    today_change: D | None = D("123.456")
    realized_today: PeriodStats = PeriodStats()
    last_signal: dict[str, Any] | None = None
    updated_at: float | None = NOW - 40
    cash_flow_today: D = D(0)
    realized_by_currency: dict[str, PeriodStats] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        """As the service derives it: the quote of the user's exchange."""
        return exchange_quote(EXCHANGE_OF.get(self.user.user_id))


@dataclass(frozen=True)
class Connection:
    exchange_id: str = "kraken"
    key_tail: str = "••••Ab3d"
    verified: bool = True
    reason: str = ""


@dataclass(frozen=True)
class BalanceLine:
    currency: str
    free: D | None
    used: D | None
    total: D | None


@dataclass(frozen=True)
class Balances:
    equity: D | None
    lines: list[BalanceLine]
    updated_at: float | None
    currency: str | None = "USD"


@dataclass(frozen=True)
class Position:
    symbol: str
    side: str
    amount: D
    entry_price: D
    mark_price: D | None
    stop_price: D | None
    unrealized_pnl: D | None
    opened_at: float = NOW - 5 * HOUR
    stop_on_exchange: bool = False
    leverage: int | None = None
    price_step: D | None = None
    currency: str | None = "USD"

    @property
    def pnl_pct(self) -> D | None:
        basis = self.entry_price * self.amount
        if self.unrealized_pnl is None or not basis:
            return None
        return self.unrealized_pnl / basis


@dataclass(frozen=True)
class Positions:
    positions: list[Position]
    updated_at: float | None = NOW - 40

    currency: str | None = "USD"

    @property
    def unrealized_by_currency(self) -> dict[str, D]:
        out: dict[str, D] = {}
        for p in self.positions:
            if p.unrealized_pnl is not None:
                key = p.currency or self.currency or ""
                out[key] = out.get(key, D(0)) + p.unrealized_pnl
        return out


@dataclass(frozen=True)
class Trade:
    ts: float
    symbol: str
    side: Side
    amount: D
    price: D
    fee: D
    fee_currency: str | None
    realized_pnl: D | None
    price_step: D | None = None
    currency: str | None = "USD"


@dataclass(frozen=True)
class Session:
    session_id: int
    status: str
    mode: str
    exchange_id: str
    started_at: float
    ended_at: float | None
    trades: int
    wins: int
    losses: int
    pnl: D
    pnl_by_currency: dict[str, D] = field(default_factory=dict)

    @property
    def win_rate(self) -> D | None:
        return None if self.trades == 0 else D(self.wins) / D(self.trades)


@dataclass(frozen=True)
class Pnl:
    period: str
    start: datetime | None
    stats: PeriodStats
    points: list[tuple[float, D]] = field(default_factory=list)
    any_history: bool = False
    cash_flow: D = D(0)
    cash_flows: int = 0
    currency: str | None = "USD"
    by_currency: dict[str, PeriodStats] = field(default_factory=dict)

    @property
    def equity_change(self) -> D | None:
        if len(self.points) < 2:
            return None
        return self.points[-1][1] - self.points[0][1]


@dataclass(frozen=True)
class Day:
    day: str
    pnl: D
    trades: int
    equity: D | None
    pnl_by_currency: dict[str, D] = field(default_factory=dict)


@dataclass(frozen=True)
class Daily:
    days: list[Day]
    currency: str | None = "USD"

    @property
    def total_by_currency(self) -> dict[str, D]:
        out: dict[str, D] = {}
        for d in self.days:
            for cur, amount in (d.pnl_by_currency or {self.currency or "": d.pnl}).items():
                out[cur] = out.get(cur, D(0)) + amount
        return out

    @property
    def trades(self) -> int:
        return sum(d.trades for d in self.days)


@dataclass(frozen=True)
class Pair:
    symbol: str
    trades: int
    wins: int
    pnl: D
    funding: D = D(0)

    @property
    def currency(self) -> str | None:
        return symbol_quote(self.symbol)

    @property
    def win_rate(self) -> D | None:
        return None if not self.trades else D(self.wins) / D(self.trades)


@dataclass(frozen=True)
class Performance:
    period: str
    start: datetime | None
    pairs: list[Pair]
    currency: str | None = "USD"

    @property
    def total_by_currency(self) -> dict[str, D]:
        out: dict[str, D] = {}
        for p in self.pairs:
            key = p.currency or self.currency or ""
            out[key] = out.get(key, D(0)) + p.pnl
        return out

    @property
    def trades(self) -> int:
        return sum(p.trades for p in self.pairs)

    @property
    def win_rate(self) -> D | None:
        n = self.trades
        return None if not n else D(sum(p.wins for p in self.pairs)) / D(n)


@dataclass(frozen=True)
class CloseTarget:
    symbol: str
    side: str
    amount: D


# --- admin ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserLine:
    user_id: int
    username: str | None
    first_name: str | None
    role: Role
    status: UserStatus
    trading_on: bool
    mode: TradingMode
    exchange_id: str | None
    equity: D | None
    pnl_today: D | None
    pause_reason: str | None = None
    currency: str = "USD"


@dataclass(frozen=True)
class UserTotals:
    users: int
    active: int
    paused: int
    balance: dict[str, D]
    pnl_today: dict[str, D]


@dataclass(frozen=True)
class UsersPage:
    page: int
    pages: int
    rows: list[UserLine]
    totals: UserTotals


@dataclass(frozen=True)
class Credential:
    exchange_id: str
    key_tail: str
    verified: bool
    verify_reason: str
    permissions: list[str]
    can_withdraw: bool | None


@dataclass(frozen=True)
class UserDetail:
    user: User
    overview: UserLine
    credential: Credential | None
    can_view: list[int] = field(default_factory=list)
    viewed_by: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    ts: float
    actor_id: int | str | None
    action: str
    target_id: int | str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class HealthChange:
    text: str
    cleared: bool


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingAllowed:
    kind: str
    lo: D | None = None
    hi: D | None = None
    whole: bool = False
    choices: tuple[str, ...] | None = ()


@dataclass(frozen=True)
class SettingLine:
    name: str
    value: Any
    unit: str
    allowed: SettingAllowed
    section: str = "risk"
    locked: bool = False
    currency: str = "USD"


@dataclass(frozen=True)
class SettingsView:
    lines: tuple[SettingLine, ...]
    read_only: bool = False
    trade_only: bool = False


@dataclass(frozen=True)
class SettingChange:
    name: str
    old: Any
    new: Any
    unit: str = ""
    currency: str = "USD"


@dataclass(frozen=True)
class SettingOption:
    value: str
    kind: str = "choice"
    delta: D | None = None
    preset: str | None = None
    current: bool = False


@dataclass(frozen=True)
class SettingEditor:
    line: SettingLine
    steps: tuple[SettingOption, ...] = ()
    values: tuple[SettingOption, ...] = ()


@dataclass(frozen=True)
class PairsView:
    pairs: tuple[str, ...]
    permitted: tuple[str, ...] | None
    quote: str = "USD"
    exchange_id: str = "kraken"
    connected: bool = True
    read_only: bool = False


@dataclass(frozen=True)
class PairsEdit:
    pairs: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]


# --- the samples ----------------------------------------------------------------------------

ALICE = User()
PAPER_NEWCOMER = User(
    user_id=1002, username=None, first_name="Bob", mode=TradingMode.PAPER, trading_on=False,
    switch=TradingSwitch.OFF, created_at=NOW - HOUR, last_seen_at=NOW - 60,
)  # fmt: skip
ODD = User(
    user_id=1003, username=None, first_name=ODD_NAME, status=UserStatus.PAUSED,
    pause_reason="drawdown <b>20%</b> & more", switch=TradingSwitch.EXITS,
)  # fmt: skip
VIEWER = User(
    user_id=2001,
    username="vera",
    first_name="Vera",
    role=Role.VIEWER,
    trading_on=False,
    mode=TradingMode.PAPER,
    switch=TradingSwitch.OFF,
)
ADMIN = User(user_id=9001, username="root", first_name="Ops", role=Role.ADMIN)

OWN = Viewing(ALICE, ALICE)
OWN_PAPER = Viewing(PAPER_NEWCOMER, PAPER_NEWCOMER)
ADMIN_ON_ODD = Viewing(ADMIN, ODD)
VIEWER_OWN = Viewing(VIEWER, VIEWER)

LONG_ETH = Position(
    "ETH/USD", "long", D("0.5"), D("2345.67"), D("2401.2"), D("2290.123456789012345678"),
    D("27.765"), stop_on_exchange=True, price_step=D("0.01"),
)  # fmt: skip
SHORT_SWAP = Position(
    "ETH/USDT:USDT", "short", D("0.09"), D("2345.6712"), D("2391.15"), D("2390"),
    D("-4.093108"), leverage=5, price_step=D("0.01"), currency="USDT",
)  # fmt: skip
PEPE = Position(
    "PEPE/USDT",
    "long",
    D("12345678.9"),
    D("0.0000123456789"),
    D("0.0000119"),
    None,
    None,
    currency="USDT",
)  # fmt: skip  (no price step known: one precision for the line, 8 significant digits)
SEVEN = [
    LONG_ETH,
    SHORT_SWAP,
    PEPE,
    Position(
        "BTC/USD",
        "long",
        D("0.01"),
        D("65000"),
        D("64000"),
        D("63000"),
        D("-10"),
        price_step=D("0.1"),
    ),  # fmt: skip
    Position("SOL/USD", "long", D("3"), D("150"), D("151"), None, D("3")),
    Position("ADA/USD", "long", D("1000"), D("0.5"), D("0.5"), None, D("0")),
    Position("DOT/USD", "long", D("20"), D("7"), D("7.7"), None, D("14")),
]

SIGNAL = {
    "ETH/USD": {"action": "buy", "confidence": 0.734, "reason": "ADX 31.2 <trend> & rising"},
    "BTC/USD": {"action": "hold", "confidence": 0.2},
    "SOL/USD": {"action": "sell", "confidence": 61},
    "ADA/USD": {"action": "hold"},
}

TRADES = [
    Trade(
        NOW - HOUR,
        "ETH/USD",
        Side.SELL,
        D("0.5"),
        D("2401.2"),
        D("0.6003"),
        "USD",
        D("26.57"),
        price_step=D("0.01"),
    ),  # fmt: skip
    Trade(
        NOW - 2 * HOUR,
        "ETH/USDT:USDT",
        Side.BUY,
        D("0.09"),
        D("2391.15"),
        D("0.1076"),
        "USDT",
        D("-4.2111"),
        price_step=D("0.01"),
        currency="USDT",
    ),  # fmt: skip
    Trade(
        NOW - 5 * HOUR,
        "ETH/USD",
        Side.BUY,
        D("0.5"),
        D("2345.67"),
        D("0.5864"),
        None,
        None,
        price_step=D("0.01"),
    ),  # fmt: skip
]

SESSIONS = [
    Session(12, "running", "live", "kraken", NOW - 3 * DAY - 5 * HOUR, None, 9, 5, 4, D("88.5"),
            {"USD": D("88.5")}),
    Session(11, "stopped", "paper", "bingx", NOW - 9 * DAY, NOW - 8 * DAY, 3, 0, 3, D("-41.2"),
            {"USDT": D("-41.2")}),
]  # fmt: skip
# a Kraken session that traded BTC/USD and ETH/USDT: each quote on its own, never summed
SESSIONS_MIXED = [
    Session(13, "stopped", "live", "kraken", NOW - 2 * DAY, NOW - DAY, 4, 3, 1, D("17.5"),
            {"USD": D("-7.5"), "USDT": D("25")}),
]  # fmt: skip


def _stats(*pnls: str, funding: tuple[str, ...] = ()) -> PeriodStats:
    stats = PeriodStats()
    for p in pnls:
        stats = stats.add(D(p))
    for f in funding:
        stats = stats.add_funding(D(f))
    return stats


WEEK_START = datetime(2026, 11, 30, tzinfo=UTC)
PNL_WEEK = Pnl(
    "week", WEEK_START, _stats("80", "-12.5", "55", "-3.25", funding=("-1.2", "0.35")),
    points=[(NOW - 5 * DAY, D("10000")), (NOW - DAY, D("10050")), (NOW, D("10268.4"))],
    any_history=True, cash_flow=D("250"), cash_flows=1,
)  # fmt: skip
PNL_LOSS = Pnl(
    "day", datetime(2026, 12, 5, tzinfo=UTC), _stats("-1234567.891"),
    points=[(NOW - HOUR, D("1300000")), (NOW, D("65432.109"))], any_history=True,
)  # fmt: skip
PNL_TWO_QUOTES = Pnl(
    "week", WEEK_START, _stats("80", "-12.5", "55", "-3.25", funding=("-1.2", "0.35")),
    any_history=True,
    by_currency={
        "USD": _stats("80", "-12.5"),
        "USDT": _stats("55", "-3.25", funding=("-1.2", "0.35")),
    },
)  # fmt: skip
PNL_EMPTY_PERIOD = Pnl("month", datetime(2026, 12, 1, tzinfo=UTC), PeriodStats(), any_history=True)
PNL_NOTHING = Pnl("all", None, PeriodStats())

DAILY = Daily(
    [
        Day("2026-12-05", D("55"), 1, D("10268.4")),
        Day("2026-12-04", D("-15.75"), 2, D("10213.4")),
        Day("2026-12-03", D("0"), 0, D("10229.15")),
        Day("2026-12-02", D("80"), 1, None),
        Day("2026-12-01", D("-1234.5"), 3, D("10149.15")),
    ]
)
DAILY_EMPTY = Daily([Day(f"2026-12-0{d}", D(0), 0, None) for d in (5, 4, 3)])
DAILY_TWO_QUOTES = Daily(
    [
        Day("2026-12-05", D("17.5"), 4, D("10268.4"), {"USD": D("-7.5"), "USDT": D("25")}),
        Day("2026-12-04", D("-15.75"), 2, D("10213.4"), {"USDT": D("-15.75")}),
        Day("2026-12-03", D(0), 0, D("10229.15"), {"USD": D(0)}),
    ]
)
DAILY_USDT_ON_USD = Daily([Day("2026-12-05", D("25"), 3, D("12345.68"), {"USDT": D("25")})])

PAIRS = [
    Pair("ETH/USD", 6, 4, D("140.25")),
    Pair("ETH/USDT:USDT", 3, 1, D("-12.85"), funding=D("-0.85")),
    Pair("PEPE/USDT", 2, 0, D("-31.4")),
]
MANY_PAIRS = [
    Pair(f"C{i:02d}/USDT", 1 + i % 4, i % (2 + i % 4), D(50 - 2 * i) + D("0.5")) for i in range(43)
]

USERS_PAGE = UsersPage(
    1, 3,
    [
        UserLine(1001, "alice", "Alice", Role.TRADER, UserStatus.ACTIVE, True, TradingMode.LIVE,
                 "kraken", D("10234.5678"), D("123.456")),
        UserLine(1003, None, ODD_NAME, Role.TRADER, UserStatus.PAUSED, True, TradingMode.LIVE,
                 "bingx", D("812.005"), D("-45.5"), currency="USDT"),
        UserLine(1002, None, "Bob", Role.TRADER, UserStatus.ACTIVE, False, TradingMode.PAPER,
                 None, None, None),
        UserLine(2001, "vera", "Vera", Role.VIEWER, UserStatus.ACTIVE, False, TradingMode.PAPER,
                 None, None, None),
    ],
    UserTotals(
        54, 31, 2, {"USD": D("1234567.891"), "USDT": D("812.005")},
        {"USD": D("-2345.678"), "USDT": D("-45.5")},
    ),
)  # fmt: skip
USERS_EMPTY = UsersPage(1, 1, [], UserTotals(0, 0, 0, {}, {}))

ODD_DETAIL = UserDetail(
    ODD,
    USERS_PAGE.rows[1],
    Credential("bingx", "xY9z", False, "EAPI:Invalid <key>", ["read", "spot", "swap"], None),
    viewed_by=[2001, *range(3000, 3034)],
)  # fmt: skip
VIEWER_DETAIL = UserDetail(
    VIEWER,
    USERS_PAGE.rows[3],
    None,
    can_view=[1001],
)

AUDIT = [
    AuditEntry(NOW - 60, 9001, "admin.pause", 1003, {"reason": "risk <review> & more"}),
    AuditEntry(NOW - 3600, None, "engine.key_dead", 1003, {"exchange": "bingx"}),
    AuditEntry(NOW - 7200, "forgotten:3f2a", "settings.set", None, {}),
]

HEALTH_OK = HealthReport(
    now=NOW,
    engine=Beat(NOW - 4, {"version": "1.4.2", "pid": 4242, "started_at": NOW - 2 * DAY,
                          "loops": 37, "backlog": 0}),
    markets={"kraken:5m": Beat(NOW - 4, {"markets": 12, "last_close": (NOW - 90) * 1000})},
    venues={"kraken": Beat(NOW - 4, {"last_ok": NOW - 3, "last_private_ok": NOW - 20,
                                     "failures": 1, "calls": 980})},
)  # fmt: skip
HEALTH_BAD = HealthReport(
    now=NOW,
    engine=Beat(NOW - 400, {"version": "1.4.2", "pid": 4242, "started_at": NOW - 2 * DAY,
                            "loops": 37, "backlog": 1532}),
    markets={"bingx:1h": Beat(NOW - 400, {"markets": 3, "last_close": None})},
    venues={"bingx": Beat(NOW - 400, {"last_ok": NOW - 900, "last_private_ok": None,
                                      "failures": 57, "calls": 60, "failing_since": NOW - 900})},
    problems=(
        Problem("engine", "the engine last reported 6 min ago"),
        Problem("venue:bingx", "bingx has failed for 15 min <503>"),
    ),
)  # fmt: skip
HEALTH_LATE = HealthReport(
    now=NOW,
    engine=Beat(NOW - 5, {}),
    problems=(Problem("market:kraken:5m", "trading on kraken:5m is late"),),
)
HEALTH_NEVER = HealthReport(now=NOW, engine=None, problems=(Problem("engine", "never reported"),))

RISK_LINES = (  # a BingX account's: money in USDT
    SettingLine("max_position_usd", D(250), "usd", SettingAllowed("range", D(10), D(5000)),
                currency="USDT"),
    SettingLine("daily_loss_usd", D(100), "usd", SettingAllowed("range", D(10), D(1000)),
                currency="USDT"),
    SettingLine("max_drawdown_pct", D(20), "%", SettingAllowed("range", D(5), D(30)), locked=True),
    SettingLine("leverage_cap", 3, "x", SettingAllowed("range", D(1), D(5), whole=True)),
    SettingLine("allowed_pairs", ("ETH", "BTC", "SOL"), "", SettingAllowed("pairs", choices=None)),
    SettingLine("strategy", "adx_trend", "", SettingAllowed("one_of", choices=("adx_trend",)),
                section="strategy"),
    SettingLine("strategy.adx_min", 25, "", SettingAllowed("range", D(10), D(50), whole=True),
                section="strategy"),
    SettingLine("strategy.<odd>", "x<y", "", SettingAllowed("one_of", choices=("x<y", "a&b")),
                section="strategy"),
)  # fmt: skip
SETTINGS = SettingsView(RISK_LINES)
SETTINGS_TRADE_ONLY = SettingsView(RISK_LINES, trade_only=True)
SETTINGS_READ_ONLY = SettingsView(RISK_LINES, read_only=True)
EDITOR = SettingEditor(
    RISK_LINES[0],
    steps=(
        SettingOption("200", "step", delta=D(-50)),
        SettingOption("300", "step", delta=D(50)),
        SettingOption("500", "step", delta=D(250)),
    ),
    values=(
        SettingOption("100", "preset", preset="conservative"),
        SettingOption("250", "preset", preset="moderate", current=True),
        SettingOption("500", "preset", preset="aggressive"),
    ),
)
EDITOR_LOCKED = SettingEditor(RISK_LINES[2])
EDITOR_PAIRS = SettingEditor(RISK_LINES[4])
CHANGE = SettingChange("max_position_usd", D(250), D(300), "usd", "USDT")
EDITOR_SAVED = SettingEditor(
    SettingLine(
        "max_position_usd", D(300), "usd", SettingAllowed("range", D(10), D(5000)), currency="USDT"
    ),
    steps=EDITOR.steps,
    values=(
        SettingOption("100", "preset", preset="conservative"),
        SettingOption("250", "preset", preset="moderate"),
        SettingOption("500", "preset", preset="aggressive"),
    ),
)
NO_CHANGE = SettingChange("max_position_usd", D(250), D(250), "usd", "USDT")
PRESET_CHANGES = [  # a Kraken account's: money in USD
    SettingChange("max_position_usd", D(1250), D(100), "usd"),
    SettingChange("leverage_cap", 3, 2, "x"),
]
PAIRS_VIEW = PairsView(("ETH", "BTC", "SOL"), None, "USDT", "bingx")
PAIRS_PERMITTED = PairsView(("ETH",), ("ETH", "BTC", "<SOL>"))
PAIRS_READ_ONLY = PairsView(("ETH", "BTC"), None, read_only=True)
PAIRS_PAPER = PairsView(("ETH", "BTC"), None, connected=False)
PAIRS_EDIT = PairsEdit(("ETH", "BTC", "SOL", "ADA"), ("ADA",), ("SOL",))
NOTIFY = {"fills": "on", "stops": "on", "halts": "silent", "errors": "on", "summary": "off"}
