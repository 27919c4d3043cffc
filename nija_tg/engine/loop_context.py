"""What one user's loop is made of, apart from its parts' code: ``LoopDeps``, what every
loop shares (built once by the daemon or the backtest), and ``LoopContext``, the state of
one user's loop that its parts read and update (the user's settings, mode, markets,
account, executor, held positions, equity, limit marks, refusals, the UTC day...).

The loop's parts (``LoopBook``, ``ExchangeStops``, ``LoopOrders``, ``TradingActions``,
``UserCloses``) each receive the context and the few collaborators they use in their
constructor; ``UserLoop`` composes them. Nothing here imports a part, so no engine module
imports another one back."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from nija_tg.core.cash_flows import LimitMarks, fresh_marks
from nija_tg.core.models import BalanceLine, MarketInfo, PositionInfo, TradingMode
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import Gate, TradingSwitch
from nija_tg.engine.clock import Clock
from nija_tg.engine.execution import Executor
from nija_tg.engine.held_positions import HeldPositions
from nija_tg.engine.market_data import MarketHub, MarketKey
from nija_tg.engine.protection import GateBoard
from nija_tg.engine.settings_watch import SettingsWatch
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.exchange.paper import PaperStore
from nija_tg.exchange.protocol import MarketDataSource, TradingAccount
from nija_tg.services.desired_state import UserState
from nija_tg.storage import cash_flows as cash_flows_repo
from nija_tg.storage import users
from nija_tg.storage.db import Database

AccountFactory = Callable[[int], TradingAccount | Awaitable[TradingAccount]]


@dataclass
class LoopDeps:
    """What every user loop shares (built once by the daemon or the backtest)."""

    db: Database
    hub: MarketHub
    clock: Clock
    market_data: MarketDataSource  # prices and markets for paper accounts
    account_factory: AccountFactory | None = None  # live accounts (vault + gateway)
    paper_store: PaperStore | None = None
    paper_exchange: str = "kraken"  # paper users without a connected exchange
    paper_balance: Decimal = Decimal(10000)
    paper_currency: str | None = None  # default: USD on USD-quoted exchanges, else USDT
    paper_fee_rate: Decimal = Decimal("0.001")
    paper_slippage: Decimal = Decimal("0.0005")
    drain_seconds: float = 20.0
    executor_factory: Callable[..., Executor] = Executor
    # shared write-behind of snapshots (None: each loop writes its own, at once)
    snapshots: SnapshotWriter | None = None
    # settings changed while the loops run (None: settings are read once, at start)
    settings_watch: SettingsWatch | None = None
    # the gates the reconciler last read, and close-request wake-ups (None: a loop reads
    # its gate once, at start, and sees close requests at candle closes only)
    board: GateBoard | None = None

    def __post_init__(self) -> None:
        if self.snapshots is not None:
            self.hub.on_idle(self.snapshots.flush_soon, settle=self.snapshots.flush_logged)


@dataclass(eq=False)
class LoopContext:
    """The state of one user's loop. ``UserLoop.start`` fills in the account, the
    executor, the session and the markets before any part acts on them."""

    user_id: int
    db: Database
    clock: Clock
    hub: MarketHub
    held: HeldPositions  # the user's open positions, read once per close
    settings: RiskSettings = field(default_factory=RiskSettings)
    settings_version: int = 0  # of the settings loaded (users.settings_version)
    mode: TradingMode = TradingMode.PAPER
    exchange_id: str = "kraken"
    account: TradingAccount | None = None
    executor: Executor | None = None
    session_id: int | None = None
    markets: dict[str, MarketInfo] = field(default_factory=dict)
    keys: list[MarketKey] = field(default_factory=list)
    # the user's switch, pause and the halt (their gate), as last known
    view: UserState = field(init=False)
    own_pause: int = -1  # change counter of the loop's own pause (board older: ignored)
    # what the daily loss and the drawdown are measured from (core/cash_flows.py)
    marks: LimitMarks = field(default_factory=lambda: fresh_marks("", Decimal(0)))
    equity: Decimal = Decimal(0)
    blocked_day: str = ""  # UTC day on which the daily loss limit was announced
    seed_prices: dict[str, Decimal] = field(default_factory=dict)  # tickers at start
    refusals: Counter[str] = field(default_factory=Counter)  # risk check reasons
    alerts: list[tuple[int, str]] = field(default_factory=list)  # (clock ms, kind)
    stopping: bool = False  # the loop is cancelled: finish the step, no new entries
    stop_refused: set[str] = field(default_factory=set)  # stop orders refused this close
    account_hedged: bool | None = None  # the swap account's actual position mode
    # the account's balances as read this close (None once an order filled since: the
    # read no longer tells what the account holds)
    account_balances: list[BalanceLine] | None = None
    # the account's swap positions as read this close (None: not read, or stale)
    account_positions: list[PositionInfo] | None = None

    def __post_init__(self) -> None:
        self.view = UserState(self.user_id, TradingSwitch.ON, False, None, False, False, False)

    # --- derived ----------------------------------------------------------------------

    @property
    def gate(self) -> Gate:
        return self.view.gate

    @property
    def day(self) -> str:
        """The UTC day the start-of-day equity belongs to."""
        return self.marks.day

    @property
    def marks_key(self) -> cash_flows_repo.MarksKey:
        return (self.user_id, str(self.mode.value), self.exchange_id)

    @property
    def hedge_mode(self) -> bool:
        """The position mode orders must be sent for: the account's actual mode when the
        loop could read it (a refused switch leaves the account in its old mode), else
        the setting."""
        if self.account_hedged is not None:
            return self.account_hedged
        return self.settings.position_mode == "hedge"

    def is_swap(self, symbol: str) -> bool:
        market = self.markets.get(symbol)
        return market is not None and market.kind == "swap"

    def prices(self) -> dict[str, Decimal]:
        """Last closes of the user's markets (tickers seeded at start until then)."""
        out = dict(self.seed_prices)
        price_of, exchange = self.hub.price, self.exchange_id
        for symbol in self.markets:
            price = price_of(exchange, symbol)
            if price is not None:
                out[symbol] = price
        return out

    def price(self, symbol: str) -> Decimal | None:
        """``prices().get(symbol)`` without the other markets' look-ups."""
        if symbol in self.markets:
            price = self.hub.price(self.exchange_id, symbol)
            if price is not None:
                return price
        return self.seed_prices.get(symbol)

    def require_account(self) -> TradingAccount:
        assert self.account is not None, "the loop has not started"
        return self.account

    def require_executor(self) -> Executor:
        assert self.executor is not None, "the loop has not started"
        return self.executor

    # --- changes ----------------------------------------------------------------------

    def account_moved(self) -> None:
        """An order filled (or its outcome is unknown): the reads of this close no
        longer tell what the account holds."""
        self.account_balances = None
        self.account_positions = None

    async def paused_by_engine(self, reason: str) -> None:
        """Record that this loop paused its user: the gate is PROTECT from now on, until
        a read of the desired state made after the pause says otherwise."""
        self.own_pause = await users.change_counter(self.db)
        self.view = dataclasses.replace(self.view, paused=True, pause_reason=reason)
