"""Backtest: the live trading loop replayed over historical candles.

One code path, two clocks: the same UserLoop (strategy, risk check, engine-side stops,
Executor, fills with fees and slippage) runs against a throw-away SQLite database, fed
by a MarketHub in lockstep over a replay of the candles, under a SimulatedClock that
jumps from one candle close to the next.

Spot pairs (``ETH/USDT``) trade on the PaperAccount, as a live paper user does. Swap
pairs (ccxt symbols with a settle currency, ``XRP/USDT:USDT``) trade on a
:class:`SwapReplayAccount` with margin accounting: the paper account is spot only and
would take a position's whole notional out of equity.

The candles must be of the strategy's timeframe (their median spacing is checked), and
the first signal comes after the strategy's warm-up (``params.warmup`` candles), as in
the live engine's candle window.

Fill model (the paper account's, see ``exchange/paper.py``): the engine decides on a
candle's close; its market orders fill at the NEXT candle's open (the replay's "price
now", :meth:`CandleReplay.fetch_ticker`), stops at the stop price or at the open of the
candle that gapped through it; slippage and fee on every fill. The simulated market has
a venue's minimum amount and cost and amount and price steps (:class:`MarketRules`,
defaults from the pair's price: :func:`default_rules`).
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import dataclasses
import math
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from nija_tg.core import pnl
from nija_tg.core.errors import (
    InsufficientFundsError,
    NotFoundError,
    OrderRejectedError,
    ValidationError,
)
from nija_tg.core.models import (
    BalanceLine,
    Candle,
    FillInfo,
    MarketInfo,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    PositionInfo,
    Role,
    Ticker,
)
from nija_tg.core.risk_settings import QUOTE_ASSETS, RiskSettings
from nija_tg.engine import loop_store
from nija_tg.engine.bookkeeping import Holding, apply_fill
from nija_tg.engine.clock import SimulatedClock
from nija_tg.engine.market_data import MarketHub, timeframe_ms
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.engine.user_loop import LoopDeps, UserLoop
from nija_tg.exchange.paper import InMemoryPaperStore, market_fill_price, order_base_price
from nija_tg.exchange.precision import check_minimums, round_step
from nija_tg.exchange.protocol import MarketDataSource, TradingAccount
from nija_tg.storage import settings_repo, users
from nija_tg.storage.db import Database
from nija_tg.strategies import get_strategy
from nija_tg.strategies.base import CANDLE_WINDOW, param_specs

EXCHANGE = "backtest"
USER_ID = 1
WINDOW = CANDLE_WINDOW  # candles the hub keeps per market, as the live MarketHub
ZERO = Decimal(0)


def load_csv(path: Path) -> list[Candle]:
    """Candles from a CSV with a header ``timestamp,open,high,low,close,volume``
    (timestamp in UTC milliseconds; ``ts`` accepted too), sorted, duplicates dropped."""
    out: dict[int, Candle] = {}
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            ts = int(float(rec.get("timestamp") or rec["ts"]))
            values = (float(rec[k]) for k in ("open", "high", "low", "close", "volume"))
            out[ts] = Candle(ts, *values)
    return [out[k] for k in sorted(out)]


def candle_spacing_ms(candles: list[Candle]) -> int | None:
    """The candles' timeframe in ms: the median spacing of consecutive timestamps (gaps
    in the data do not move it); None for fewer than two candles."""
    if len(candles) < 2:
        return None
    return statistics.median_low(b.ts - a.ts for a, b in zip(candles, candles[1:], strict=False))


def timeframe_name(ms: int) -> str:
    """300000 -> "5m", 86400000 -> "1d" (the largest whole unit)."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms > 0 and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


def check_timeframe(candles: list[Candle], settings: RiskSettings) -> None:
    """ValidationError (one line for the user) when the candles' spacing is not the
    strategy's timeframe: daily candles replayed as 5m ones would fill a day early."""
    spacing = candle_spacing_ms(candles)
    tf = settings.strategy_params.timeframe
    if spacing is None or spacing == timeframe_ms(tf):
        return
    found = timeframe_name(spacing)
    message = (
        f"The data file holds {found} candles (median spacing) but {settings.strategy} "
        f"runs on {tf} candles: give {tf} candles"
    )
    spec = param_specs(type(settings.strategy_params)).get("timeframe")
    if spec is not None and found in spec.choices:
        message += (
            f", or run it on {found} with --settings holding "
            f'{{"strategy": "{settings.strategy}", '
            f'"strategy_params": {{"timeframe": "{found}"}}}}'
        )
    raise ValidationError(f"timeframe: {found} candles, {tf} strategy", user_message=message + ".")


def replay_market(symbol: str) -> MarketInfo:
    """A market with fine steps and no exchange minimums (for tests of other parts)."""
    base, quote = symbol.split(":")[0].split("/")
    kind = "swap" if ":" in symbol else "spot"
    return MarketInfo(symbol, base, quote, kind, Decimal("0.00000001"), None, None, None)


@dataclass(frozen=True)
class MarketRules:
    """A simulated venue's limits for one market: orders are rounded to the steps
    (amounts down; fill prices against the trader) and refused below the minimums.
    None: no such limit."""

    amount_step: Decimal | None
    price_step: Decimal | None
    min_amount: Decimal | None
    min_cost: Decimal | None

    def market(self, symbol: str) -> MarketInfo:
        base, quote = symbol.split(":")[0].split("/")
        kind = "swap" if ":" in symbol else "spot"
        return MarketInfo(
            symbol, base, quote, kind, self.amount_step, self.price_step, self.min_amount,
            self.min_cost,
        )  # fmt: skip


MIN_COST = Decimal(5)  # quote units: as Binance's USDT-M futures minimum notional (5 USDT)


def default_rules(price: float) -> MarketRules:
    """A venue's usual limits for a pair trading at ``price`` (the first candle's
    close): a price step of 6 significant digits (ETH at 2,000: 0.01), an amount step
    worth at most 1 quote unit (ETH at 2,000: 0.0001; XRP at 1.1: 0.1), a minimum amount
    of one step and a minimum cost of 5 quote units, as Binance's USDT-M futures
    minimum notional."""
    if not price > 0:
        return MarketRules(Decimal("0.00000001"), None, None, MIN_COST)
    digits = math.floor(math.log10(price))
    price_step = Decimal(1).scaleb(digits - 5)
    amount_step = Decimal(1).scaleb(math.floor(math.log10(1 / price)))
    return MarketRules(amount_step, price_step, amount_step, MIN_COST)


class CandleReplay:
    """A MarketDataSource answering from recorded candles as of ``clock``: the candles
    opened so far (the last one still forming); the ticker ("the price now") is the
    open of the forming candle, what a market order sent just after a close pays (the
    last closed close when no candle is forming: a gap or the end of the data); the
    markets are ``rules`` (fine steps and no minimums without)."""

    def __init__(
        self,
        clock: SimulatedClock,
        series: dict[tuple[str, str, str], list[Candle]],
        rules: dict[str, MarketRules] | None = None,
    ):
        self.clock = clock
        self.series = series
        self.rules = rules or {}
        self._ts = {k: [c.ts for c in v] for k, v in series.items()}

    async def fetch_ohlcv(self, exchange_id, symbol, timeframe, since=None, limit=None):
        key = (exchange_id, symbol, timeframe)
        if key not in self.series:
            raise NotFoundError(f"no candles for {symbol} {timeframe}")
        ts = self._ts[key]
        end = bisect.bisect_right(ts, self.clock.now_ms())
        if since is None:
            return self.series[key][max(0, end - (limit or 500)) : end]
        start = bisect.bisect_left(ts, since)
        return self.series[key][start : end if limit is None else min(end, start + limit)]

    def _series(self, exchange_id: str, symbol: str) -> tuple[str, list[Candle], list[int]]:
        for (ex, sym, tf), candles in self.series.items():
            if ex == exchange_id and sym == symbol:
                return tf, candles, self._ts[(ex, sym, tf)]
        raise NotFoundError(f"no prices for {symbol}")

    def last_closed(self, exchange_id: str, symbol: str) -> Candle:
        """The last candle closed by now (the first one before any closed)."""
        tf, candles, ts = self._series(exchange_id, symbol)
        i = bisect.bisect_right(ts, self.clock.now_ms() - timeframe_ms(tf)) - 1
        return candles[max(i, 0)]

    def price_now(self, exchange_id: str, symbol: str) -> Decimal:
        """The open of the candle forming now, else the last closed close."""
        tf, candles, ts = self._series(exchange_id, symbol)
        now = self.clock.now_ms()
        i = bisect.bisect_right(ts, now) - 1
        if i >= 0 and now < candles[i].ts + timeframe_ms(tf):
            return Decimal(str(candles[i].open))
        return Decimal(str(self.last_closed(exchange_id, symbol).close))

    async def fetch_ticker(self, exchange_id, symbol):
        return Ticker(symbol, self.price_now(exchange_id, symbol))

    async def mark_price(self, exchange_id: str, symbol: str) -> Decimal:
        """Positions are valued at the last closed close, as the engine values them."""
        return Decimal(str(self.last_closed(exchange_id, symbol).close))

    async def market(self, exchange_id, symbol):
        rules = self.rules.get(symbol)
        return replay_market(symbol) if rules is None else rules.market(symbol)


class SwapReplayAccount:
    """A simulated USD(T)-margined perpetual swap account: margin accounting for the
    backtest of swap pairs, with the paper account's fill model.

    The paper account is spot only: a contract bought there costs its whole notional in
    cash while the "coins" it bought are not valued on a swap market, so equity lost
    the notional of every open position (a $300 entry read as a 30 % drawdown of
    $1,000). Here, as on a swap venue:

    - the wallet (``currency``) changes only by realised P&L and fees (``fee_rate`` of
      the notional on every fill: entries and exits);
    - an open position (long or short) ties up margin = entry notional / leverage, the
      leverage the loop sets from the user's ``leverage_cap`` (``set_leverage``), freed
      as the position is reduced;
    - the balance is marked to market at the last close: total = wallet + unrealised
      P&L of the open positions, used = margin, free = total - used. The engine counts
      a swap account's total as equity: equity = wallet + open P&L, the notional is
      never subtracted;
    - the paper account's fill model: market orders fill at once at the price now (the
      next candle's open in the backtest), a close at a stop at the stop price or the
      open of the candle that gapped through it (``closed_candle``), moved against the
      trader by ``slippage`` and rounded to the price step; open positions are valued
      at the last close (the market data's ``mark_price`` when it has one); an entry
      needs free >= its margin + fee (InsufficientFundsError); the market's minimums
      and amount step hold;
    - one-way mode (a fill reduces the opposite side first; reduce-only never opens)
      or hedge mode (``position_side``), as the engine books them.

    Not simulated: funding payments, maintenance margin and liquidation (a stop far
    beyond the liquidation price is not refused here).
    """

    native_stops = False  # the engine enforces stops on every candle, as on paper

    def __init__(
        self,
        exchange_id: str,
        market_data: MarketDataSource,
        *,
        balance: Decimal,
        currency: str,
        leverage: Decimal,
        fee_rate: Decimal = Decimal("0.001"),
        slippage: Decimal = Decimal("0.0005"),
        clock: Callable[[], int],
        closed_candle: Callable[[str], Candle | None] | None = None,
    ) -> None:
        if leverage <= 0:
            raise ValueError("leverage must be positive")
        self.exchange_id = exchange_id
        self.market_data = market_data
        self.currency = currency
        self.fee_rate = fee_rate
        self.slippage = slippage
        self.clock = clock
        self.closed_candle = closed_candle  # the candle the engine acted on (stop gaps)
        self.wallet = balance  # start + realised P&L - fees
        self.default_leverage = leverage
        self.leverage: dict[str, Decimal] = {}
        self.positions: dict[str, dict[str, Holding]] = {}  # symbol -> side -> holding
        self.margin: dict[tuple[str, str], Decimal] = {}  # (symbol, side) -> margin
        self.orders: dict[str, OrderState] = {}  # by client order id
        self.hedged = False
        self._seq = 0

    # --- reads -----------------------------------------------------------------------

    async def market(self, symbol: str) -> MarketInfo:
        return await self.market_data.market(self.exchange_id, symbol)

    async def _last(self, symbol: str) -> Decimal:
        """The price a market order fills at now (before slippage)."""
        return (await self.market_data.fetch_ticker(self.exchange_id, symbol)).last

    async def _mark(self, symbol: str) -> Decimal:
        """The price open positions are valued at."""
        mark = getattr(self.market_data, "mark_price", None)
        return await mark(self.exchange_id, symbol) if mark else await self._last(symbol)

    async def _unrealised(self, symbol: str, h: Holding) -> Decimal:
        market = await self.market(symbol)
        move = await self._mark(symbol) - h.entry_price
        return (move if h.side == "long" else -move) * h.amount * market.contract_size

    async def fetch_balance(self) -> list[BalanceLine]:
        total = self.wallet
        for symbol, sides in self.positions.items():
            for h in sides.values():
                total += await self._unrealised(symbol, h)
        used = sum(self.margin.values(), start=ZERO)
        return [BalanceLine(self.currency, total - used, used, total)]

    async def fetch_positions(self, symbols: list[str] | None = None) -> list[PositionInfo]:
        out = []
        for symbol, sides in sorted(self.positions.items()):
            if symbols is not None and symbol not in symbols:
                continue
            for h in sides.values():
                lev = self.leverage.get(symbol, self.default_leverage)
                upnl = await self._unrealised(symbol, h)
                out.append(PositionInfo(symbol, h.side, h.amount, h.entry_price, upnl, lev))
        return out

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> OrderState | None:
        return self.orders.get(client_order_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return []  # market orders only: every order is filled or refused at once

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        found = self.orders.get(client_order_id)
        if found is None:
            raise NotFoundError("backtest: no order with that client id")
        return found

    # --- settings --------------------------------------------------------------------

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        if Decimal(leverage) <= 0:
            raise OrderRejectedError("backtest: leverage must be positive")
        self.leverage[symbol] = Decimal(leverage)

    async def fetch_position_mode(self, symbol: str | None = None) -> bool:
        return self.hedged

    async def set_position_mode(self, hedged: bool, symbol: str | None = None) -> bool:
        self.hedged = hedged
        return hedged

    async def close(self) -> None:
        return None

    # --- orders ----------------------------------------------------------------------

    async def create_order(self, request: OrderRequest) -> OrderState:
        if not request.client_order_id:
            raise OrderRejectedError("backtest: missing client order id")
        if request.client_order_id in self.orders:
            raise OrderRejectedError("backtest: duplicate client order id")
        if request.trigger_price is not None or request.type is not OrderType.MARKET:
            raise OrderRejectedError(
                "backtest: market orders only",
                user_message="The backtest's swap account takes market orders only.",
            )
        market = await self.market(request.symbol)
        amount = round_step(request.amount, market.amount_step)
        last = await self._last(request.symbol)
        check_minimums(market, amount, last, self.exchange_id)
        candle = None
        if request.stop_price is not None and self.closed_candle is not None:
            candle = self.closed_candle(request.symbol)
        base = order_base_price(request, last, candle)
        price = market_fill_price(request.side, base, self.slippage, market.price_step)
        size = market.contract_size
        fee = amount * price * size * self.fee_rate
        current = self.positions.get(request.symbol, {})
        effect = apply_fill(  # gross P&L: fees are taken from the wallet below
            current,
            side=request.side,
            amount=amount,
            price=price,
            fee=ZERO,
            spot=False,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
            contract_size=size,
        )
        if effect.opened <= 0 and effect.reduced <= 0:
            raise OrderRejectedError(
                "backtest: reduce-only order without a position",
                user_message=f"There is no {request.symbol} position to reduce.",
            )
        leverage = self.leverage.get(request.symbol, self.default_leverage)
        new_margin = effect.opened * price * size / leverage
        if effect.opened > 0:
            free = (await self.fetch_balance())[0].free
            if free < new_margin + fee:
                raise InsufficientFundsError(f"backtest: not enough {self.currency} margin")
        self.wallet += (effect.realized or ZERO) - fee
        sides = dict(current)
        for side, holding in effect.sides.items():
            key = (request.symbol, side)
            old = current.get(side)
            if holding is None:
                sides.pop(side, None)
                self.margin.pop(key, None)
            elif old is not None and holding.amount < old.amount:  # reduced
                sides[side] = holding
                self.margin[key] = self.margin.get(key, ZERO) * holding.amount / old.amount
            else:  # opened or added
                sides[side] = holding
                self.margin[key] = self.margin.get(key, ZERO) + new_margin
        if sides:
            self.positions[request.symbol] = sides
        else:
            self.positions.pop(request.symbol, None)
        self._seq += 1
        order_id = f"bt-{self._seq}"
        now = self.clock()
        fill = FillInfo(
            trade_id=f"{order_id}-t1",
            symbol=request.symbol,
            side=request.side,
            amount=amount,
            price=price,
            fee=fee,
            fee_currency=self.currency,
            ts=now,
            exchange_order_id=order_id,
            client_order_id=request.client_order_id,
        )
        state = OrderState(
            exchange_order_id=order_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            status=OrderStatus.FILLED,
            amount=amount,
            filled=amount,
            average=price,
            fee=fee,
            fee_currency=self.currency,
            ts=now,
            fills=(fill,),
        )
        self.orders[request.client_order_id] = state
        return state


class ReplayLoop(UserLoop):
    """The live UserLoop, given the account it trades on (the swap account); without
    one it builds its paper account as a live paper user's loop does."""

    def __init__(
        self,
        deps: LoopDeps,
        user_id: int,
        symbols: list[str],
        account: TradingAccount | None = None,
    ) -> None:
        super().__init__(deps, user_id, symbols=symbols)
        self.replay_account = account

    async def _build_account(self) -> TradingAccount:
        if self.replay_account is not None:
            return self.replay_account
        return await super()._build_account()


@dataclass(frozen=True)
class Trade:
    symbol: str
    side: str  # of the position
    opened_ts: float  # seconds
    closed_ts: float
    amount: Decimal
    entry: Decimal
    exit: Decimal
    pnl: Decimal


@dataclass
class BacktestResult:
    pair: str
    candles: int
    start_balance: Decimal
    final_equity: Decimal
    fills: list[dict] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    equity: list[tuple[float, Decimal]] = field(default_factory=list)
    paused: bool = False
    timeframe: str = ""
    kind: str = "spot"  # "spot" (paper account) or "swap" (margin accounting)
    leverage: int | None = None  # swaps: the leverage the margin is computed with
    warmup: int = 0  # candles before the first signal
    rules: MarketRules | None = None  # the simulated venue's steps and minimums
    refusals: dict[str, int] = field(default_factory=dict)  # entries refused, by reason

    @property
    def pnl(self) -> Decimal:
        return self.final_equity - self.start_balance

    @property
    def win_rate(self) -> Decimal | None:
        return pnl.win_rate(t.pnl for t in self.trades)

    @property
    def max_drawdown(self) -> pnl.Drawdown:
        return pnl.max_drawdown(e for _, e in self.equity)


def _trades(fills: list[dict]) -> list[Trade]:
    """Pair each position-closing fill (it carries realised P&L) with its opening."""
    opened: dict[str, dict] = {}
    out = []
    for f in fills:
        if f["realized_pnl"] is None:
            opened.setdefault(f["symbol"], f)
            continue
        start = opened.pop(f["symbol"], None)
        out.append(
            Trade(
                symbol=f["symbol"],
                side="long" if f["side"] == "sell" else "short",
                opened_ts=start["ts"] if start else f["ts"],
                closed_ts=f["ts"],
                amount=Decimal(f["amount"]),
                entry=Decimal(start["price"]) if start else Decimal(0),
                exit=Decimal(f["price"]),
                pnl=Decimal(f["realized_pnl"]),
            )
        )
    return out


def backtest_settings(settings: RiskSettings | None, strategy: str, base: str) -> RiskSettings:
    """The settings to replay: ``settings`` (defaults) with ``strategy`` and the pair."""
    settings = settings or RiskSettings()
    if settings.strategy != strategy:
        params = get_strategy(strategy).default_params()
        settings = dataclasses.replace(settings, strategy=strategy, strategy_params=params)
    return dataclasses.replace(settings, allowed_pairs=(base,))


async def run_backtest(
    candles: list[Candle],
    *,
    strategy: str = "adx_trend",
    pair: str = "BTC/USDT",
    settings: RiskSettings | None = None,
    balance: Decimal = Decimal(10000),
    window: int = WINDOW,
    db_dir: Path | None = None,
    rules: MarketRules | None = None,
) -> BacktestResult:
    """Replay ``candles`` of ``pair``: a spot pair on the paper account, a swap pair
    (``BASE/QUOTE:SETTLE``) on a :class:`SwapReplayAccount` with the settings'
    ``leverage_cap``, on a simulated market with ``rules`` (default:
    :func:`default_rules` at the first candle's close). The hub keeps ``window``
    candles, or the strategy's warm-up if longer. ValidationError (with a one-line
    ``user_message``) for a pair that is not USD-like, no candles, or candles of
    another timeframe than the strategy's."""
    pair_part, _, settle = pair.partition(":")
    base, _, quote = pair_part.partition("/")
    if not base or quote not in QUOTE_ASSETS or (settle and settle != quote):
        raise ValidationError(
            f"bad pair {pair!r}",
            user_message=(
                f"--pair must be BASE/QUOTE (spot) or BASE/QUOTE:QUOTE (swap) with QUOTE "
                f"one of {sorted(QUOTE_ASSETS)}."
            ),
        )
    if not candles:
        raise ValidationError("no candles", user_message="The data file holds no candles.")
    settings = backtest_settings(settings, strategy, base)
    check_timeframe(candles, settings)
    window = max(window, settings.strategy_params.warmup)
    rules = rules or default_rules(candles[0].close)
    with tempfile.TemporaryDirectory(dir=db_dir) as tmp:
        db = await Database.open(Path(tmp) / "backtest.db")
        try:
            return await _replay(db, candles, pair, quote, settings, balance, window, rules)
        finally:
            await db.close()


async def _replay(
    db: Database,
    candles: list[Candle],
    pair: str,
    quote: str,
    settings: RiskSettings,
    balance: Decimal,
    window: int,
    rules: MarketRules,
) -> BacktestResult:
    tf = settings.strategy_params.timeframe
    async with db.transaction() as tx:
        await users.upsert_user(tx, USER_ID, USER_ID, "backtest", None, Role.TRADER)
        await settings_repo.save(tx, USER_ID, settings)
        await users.set_trading(tx, USER_ID, True)
    clock = SimulatedClock(candles[0].ts)
    source = CandleReplay(clock, {(EXCHANGE, pair, tf): candles}, {pair: rules})
    hub = MarketHub(source, clock, window=window, lockstep=True, late_retries=0)
    deps = LoopDeps(
        db,
        hub,
        clock,
        source,
        paper_store=InMemoryPaperStore(),
        paper_exchange=EXCHANGE,
        paper_balance=balance,
        paper_currency=quote,
        snapshots=SnapshotWriter(db),  # as the daemon runs it
    )
    swap = replay_market(pair).kind == "swap"
    account = None
    if swap:
        account = SwapReplayAccount(
            EXCHANGE,
            source,
            balance=balance,
            currency=quote,
            leverage=Decimal(settings.leverage_cap),
            fee_rate=deps.paper_fee_rate,
            slippage=deps.paper_slippage,
            clock=clock.now_ms,
        )
    loop = ReplayLoop(deps, USER_ID, [pair], account)
    if account is not None:
        account.closed_candle = loop._closed_candle  # the paper account's, as live
    try:
        await run_lockstep(hub, [loop], until_ms=candles[-1].ts + timeframe_ms(tf))
    finally:
        await deps.snapshots.close()
    fills = [
        dict(r)
        for r in await db.fetchall(
            "SELECT f.symbol, f.side, f.amount, f.price, f.fee, f.realized_pnl, f.ts, "
            "o.purpose, o.stop_price FROM fills f LEFT JOIN orders o ON o.order_id = f.order_id "
            "WHERE f.user_id = ? ORDER BY f.fill_id",
            (USER_ID,),
        )
    ]
    equity = await loop_store.equity_series(db, USER_ID)
    user = await users.get_user(db, USER_ID)
    return BacktestResult(
        pair=pair,
        candles=len(candles),
        start_balance=balance,
        final_equity=equity[-1][1] if equity else balance,
        fills=fills,
        trades=_trades(fills),
        equity=equity,
        paused=user is not None and user.status.value == "paused",
        timeframe=tf,
        kind="swap" if swap else "spot",
        leverage=settings.leverage_cap if swap else None,
        warmup=settings.strategy_params.warmup,
        rules=rules,
        refusals=dict(loop.refusals),
    )


async def run_lockstep(hub: MarketHub, loops: list[UserLoop], until_ms: int) -> None:
    """Run ``loops`` and the hub (lockstep) until ``until_ms``, then stop the loops.
    Loops that end by themselves (a pause) leave; when none is left the replay ends."""
    tasks = [asyncio.create_task(loop.run(), name=f"loop-{loop.user_id}") for loop in loops]
    stop = asyncio.Event()
    ready = asyncio.ensure_future(hub.wait_for_subscribers(len(loops)))
    await asyncio.wait([ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    hub_task = asyncio.create_task(hub.run(stop, until_ms=until_ms))
    pending = {hub_task, *tasks}
    while hub_task in pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not hub_task and not t.cancelled() and t.exception() is not None:
                stop.set()
                for other in pending:
                    other.cancel()
                raise t.exception()  # type: ignore[misc]
        if not any(t in pending for t in tasks):
            stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for writer in {id(w): w for w in (loop.deps.snapshots for loop in loops) if w}.values():
        await writer.close()  # the last snapshots and equity points


def rules_text(rules: MarketRules) -> str:
    """``amount step 0.1, price step 0.00001, min amount 0.1, min cost 5``."""

    def fmt(x: Decimal | None) -> str:
        return "none" if x is None else f"{x.normalize():f}"

    return (
        f"amount step {fmt(rules.amount_step)}, price step {fmt(rules.price_step)}, "
        f"min amount {fmt(rules.min_amount)}, min cost {fmt(rules.min_cost)}"
    )


def summary(result: BacktestResult) -> str:
    """The printed report: trades, P&L, win rate, max drawdown."""
    lines = [f"Backtest {result.pair}: {result.candles} candles"]
    if result.timeframe:
        accounting = (
            f"swap, margin accounting at {result.leverage}x"
            if result.kind == "swap"
            else "spot, paper account"
        )
        lines[0] += f" of {result.timeframe} ({accounting}; warm-up {result.warmup} candles)"
    if result.rules is not None:
        lines.append(f"Market: {rules_text(result.rules)}; market orders fill at the next open")
    for t in result.trades:
        lines.append(
            f"  {t.side:5} {t.amount.normalize():f} {t.symbol} "
            f"{t.entry:.6g} -> {t.exit:.6g}  P&L {t.pnl:+.2f}"
        )
    rate = result.win_rate
    dd = result.max_drawdown
    lines += [
        f"Trades: {len(result.trades)}",
        f"P&L: {result.pnl:+.2f} ({pnl.return_pct(result.pnl, result.start_balance):+.2f}%)",
        f"Final equity: {result.final_equity:.2f} (start {result.start_balance:.2f})",
        "Win rate: " + ("n/a" if rate is None else f"{rate * 100:.1f}%"),
        f"Max drawdown: {dd.pct:.2f}% ({dd.amount:.2f})",
    ]
    if result.paused:
        lines.append("Stopped early: the drawdown limit paused trading.")
    return "\n".join(lines)


def write_chart(result: BacktestResult, path: Path) -> None:
    """An equity curve PNG (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.pyplot as plt

    xs = [datetime.fromtimestamp(ts, tz=UTC) for ts, _ in result.equity]
    ys = [float(e) for _, e in result.equity]
    fig, ax = plt.subplots(figsize=(10, 4))
    try:
        ax.plot(xs, ys, linewidth=1.2)
        ax.set_title(f"Equity — {result.pair} backtest")
        ax.set_ylabel("equity")
        ax.grid(True, alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
