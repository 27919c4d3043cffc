"""The live engine replayed over historical candles: the "live paper" side of the
backtest's parity test (and what the backtest was before it ran in memory).

The same UserLoop a paper user runs in the daemon (strategy on the MarketHub's shared
frame, risk check, engine-side stops, Executor, fills with fees and slippage) runs
against a throw-away SQLite database, fed by a MarketHub in lockstep over a replay of
the candles (:class:`CandleReplay`), under a SimulatedClock that jumps from one candle
close to the next. Spot pairs trade on the PaperAccount the loop builds, swap pairs on
a :class:`SwapReplayAccount` (margin accounting: ``sim_venue.SwapVenue``).

``engine/backtest.py`` runs the same decisions in memory (``run_backtest``);
``run_backtest(..., live=True)`` runs this replay instead, and
``tests/engine/test_backtest_parity.py`` holds the two to the same fills."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from nija_tg.core.errors import NotFoundError, OrderRejectedError
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
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine import loop_store
from nija_tg.engine.clock import SimulatedClock
from nija_tg.engine.market_data import MarketHub, timeframe_ms
from nija_tg.engine.sim_venue import MarketRules, SwapVenue, replay_market
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.engine.user_loop import LoopDeps, UserLoop
from nija_tg.exchange.paper import InMemoryPaperStore
from nija_tg.exchange.protocol import MarketDataSource, TradingAccount
from nija_tg.storage import fills as fills_repo
from nija_tg.storage import settings_repo, users
from nija_tg.storage.db import Database

EXCHANGE = "backtest"
USER_ID = 1
ZERO = Decimal(0)


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
    """A simulated USD(T)-margined perpetual swap account for the live loop: the
    ``TradingAccount`` face of :class:`~nija_tg.engine.sim_venue.SwapVenue` (margin
    accounting, the paper account's fill model), with the market data's prices: market
    orders fill at the price now (the next candle's open in a replay), a close at a
    stop at the stop or the open of the candle that gapped through it
    (``closed_candle``); open positions are valued at the market data's ``mark_price``
    (the last close) where it has one, else at its ticker.

    The paper account is spot only: a contract bought there would cost its whole
    notional in cash while the "coins" it bought are not valued on a swap market, so
    equity would lose the notional of every open position. Not simulated: funding
    payments, maintenance margin and liquidation."""

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
        self.exchange_id = exchange_id
        self.market_data = market_data
        self.venue = SwapVenue(
            balance=balance,
            currency=currency,
            leverage=leverage,
            fee_rate=fee_rate,
            slippage=slippage,
        )
        self.currency = currency
        self.clock = clock
        self.closed_candle = closed_candle  # the candle the engine acted on (stop gaps)
        self.orders: dict[str, OrderState] = {}  # by client order id
        self._seq = 0

    @property
    def wallet(self) -> Decimal:
        return self.venue.wallet

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

    async def _marks(self) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """(marks, contract sizes) of the symbols with an open position."""
        marks, sizes = {}, {}
        for symbol in self.venue.positions:
            marks[symbol] = await self._mark(symbol)
            sizes[symbol] = (await self.market(symbol)).contract_size
        return marks, sizes

    async def fetch_balance(self) -> list[BalanceLine]:
        return self.venue.balances(*await self._marks())

    async def fetch_positions(self, symbols: list[str] | None = None) -> list[PositionInfo]:
        marks, sizes = await self._marks()
        return self.venue.position_list(marks, sizes, symbols)

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
        self.venue.set_leverage(symbol, leverage)

    async def fetch_position_mode(self, symbol: str | None = None) -> bool:
        return self.venue.hedged

    async def set_position_mode(self, hedged: bool, symbol: str | None = None) -> bool:
        self.venue.hedged = hedged
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
                code="backtest_market_orders_only",
            )
        market = await self.market(request.symbol)
        last = await self._last(request.symbol)
        candle = None
        if request.stop_price is not None and self.closed_candle is not None:
            candle = self.closed_candle(request.symbol)
        marks, sizes = await self._marks()
        fill = self.venue.market_order(request, market, last, candle, marks, sizes)
        self._seq += 1
        order_id = f"bt-{self._seq}"
        now = self.clock()
        info = FillInfo(
            trade_id=f"{order_id}-t1",
            symbol=request.symbol,
            side=request.side,
            amount=fill.amount,
            price=fill.price,
            fee=fill.fee,
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
            amount=fill.amount,
            filled=fill.amount,
            average=fill.price,
            fee=fill.fee,
            fee_currency=self.currency,
            ts=now,
            fills=(info,),
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


@dataclass
class Replayed:
    """What a replay leaves: the fills as the database holds them (with the order's
    purpose and stop price), the equity points, whether the drawdown paused the user,
    and the entries the risk check refused, by reason."""

    fills: list[dict]
    equity: list[tuple[float, Decimal]]
    paused: bool
    refusals: dict[str, int]


async def replay(
    candles: list[Candle],
    *,
    pair: str,
    quote: str,
    settings: RiskSettings,
    balance: Decimal,
    window: int,
    rules: MarketRules,
    db_dir: Path | None = None,
) -> Replayed:
    """Replay ``candles`` of ``pair`` through a UserLoop on a throw-away database (the
    caller checked the pair, the timeframe and the settings: ``run_backtest``)."""
    import tempfile

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
) -> Replayed:
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
    account = None
    if replay_market(pair).kind == "swap":
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
    fills = await fills_repo.with_order_terms(db, USER_ID)
    equity = await loop_store.equity_series(db, USER_ID)
    user = await users.get_user(db, USER_ID)
    return Replayed(
        fills=fills,
        equity=equity,
        paused=user is not None and user.status.value == "paused",
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
