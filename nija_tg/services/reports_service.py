"""Reports: dashboard, balances, positions, trades, P&L, sessions, equity history.

Access: ``authorize`` decides whose data a caller may read (their own; a trader an
admin granted them; anyone for an admin, audited as ``admin.view``). Every other
method takes the already authorised target user id and reads only that user's rows.

Refresh: the dashboard's refresh button only re-reads the database. The engine
writes a fresh snapshot on every loop tick anyway, and reports never write engine
state (a report that could nudge the engine would be a write path for viewers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from nija_tg.config import Settings
from nija_tg.core import pnl as pnl_math
from nija_tg.core.account_currency import (
    account_currency,
    exchange_quote,
    price_step,
    stored_decimal,
    symbol_quote,
)
from nija_tg.core.errors import PermissionDeniedError
from nija_tg.core.models import OrderStatus, Role, Side
from nija_tg.storage import (
    audit,
    cash_flows,
    fills,
    orders,
    positions,
    report_queries,
    reports_daily,
    sessions,
    settings_repo,
    snapshots,
    users,
)
from nija_tg.storage.db import Database
from nija_tg.storage.fills import FillRow
from nija_tg.storage.sessions import SessionRow
from nija_tg.storage.users import UserRow

NOT_VISIBLE = "No such user, or you may not see them."
MAX_USER_ID = 10**15
TRADES_MAX = 100
SESSIONS_MAX = 50
DAILY_MAX = 90
DAILY_DEFAULT = 7


class NotVisibleError(PermissionDeniedError):
    """The target does not exist or the caller may not see it (one answer for both)."""

    user_message = NOT_VISIBLE


@dataclass(frozen=True)
class Access:
    caller: UserRow
    target: UserRow

    @property
    def own(self) -> bool:
        return self.caller.user_id == self.target.user_id

    @property
    def may_trade(self) -> bool:
        """Trading buttons: only on one's own dashboard, never for viewers."""
        return self.own and self.caller.role is not Role.VIEWER

    @property
    def sees_key_tail(self) -> bool:
        return self.own or self.caller.role is Role.ADMIN


@dataclass(frozen=True)
class Dashboard:
    user: UserRow
    halted: bool
    equity: Decimal | None
    open_positions: int
    today_change: Decimal | None  # equity minus the UTC day's start equity
    realized_today: pnl_math.PeriodStats
    last_signal: dict[str, Any] | None
    updated_at: float | None
    # net deposits (+) and withdrawals (-) today: left out of today_change
    cash_flow_today: Decimal = Decimal(0)
    currency: str | None = None  # what equity and P&L are counted in (USD, USDT)
    # today's realised P&L per currency (each trade's and payment's symbol's quote)
    realized_by_currency: dict[str, pnl_math.PeriodStats] = field(default_factory=dict)


@dataclass(frozen=True)
class BalanceLineView:
    currency: str
    free: Decimal | None
    used: Decimal | None
    total: Decimal | None


@dataclass(frozen=True)
class BalanceReport:
    equity: Decimal | None
    lines: list[BalanceLineView]
    updated_at: float | None
    currency: str | None = None  # of the equity


@dataclass(frozen=True)
class PositionView:
    symbol: str
    side: str
    amount: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    stop_price: Decimal | None
    unrealized_pnl: Decimal | None
    opened_at: float
    stop_on_exchange: bool = False  # a stop-loss order rests on the exchange for it
    leverage: int | None = None  # swaps: the leverage the engine sets (leverage_cap)
    price_step: Decimal | None = None  # the market's, as its stored prices show it
    currency: str | None = None  # of the unrealised P&L (the symbol's quote)

    @property
    def pnl_pct(self) -> Decimal | None:
        """Unrealised P&L as a share (0.0167 = +1.67 %) of the entry value; times the
        leverage it is the return on the margin."""
        basis = self.entry_price * self.amount
        if self.unrealized_pnl is None or not basis:
            return None
        return self.unrealized_pnl / basis


@dataclass(frozen=True)
class PositionsReport:
    positions: list[PositionView]
    updated_at: float | None  # of the snapshot the marks come from
    currency: str | None = None  # the account's (a position's P&L without a quote of its own)

    @property
    def unrealized_by_currency(self) -> dict[str, Decimal]:
        """The unrealised P&L summed per currency (a position's quote: USD and USDT are
        never added together); positions without a P&L are left out."""
        out: dict[str, Decimal] = {}
        for p in self.positions:
            if p.unrealized_pnl is not None:
                key = p.currency or self.currency or ""
                out[key] = out.get(key, Decimal(0)) + p.unrealized_pnl
        return out


@dataclass(frozen=True)
class TradeView:
    """A fill as /trades shows it: the stored row, the market's price step as the
    stored prices show it, and the currency its P&L is in (the symbol's quote)."""

    fill_id: int
    trade_id: str
    ts: float
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    realized_pnl: Decimal | None
    price_step: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class SessionView:
    """A trading session as /sessions shows it: the stored row's counters, and its
    realised P&L per currency (each closed trade's symbol's quote: USD and USDT never
    added together)."""

    session_id: int
    status: str
    mode: str
    exchange_id: str
    started_at: float
    ended_at: float | None
    trades: int
    wins: int
    losses: int
    pnl: Decimal  # as the engine sums it, across currencies (not shown)
    pnl_by_currency: dict[str, Decimal] = field(default_factory=dict)

    @property
    def win_rate(self) -> Decimal | None:
        return None if self.trades == 0 else Decimal(self.wins) / Decimal(self.trades)

    @classmethod
    def of(cls, row: SessionRow, pnl_by_currency: dict[str, Decimal]) -> SessionView:
        return cls(
            session_id=row.session_id,
            status=row.status,
            mode=row.mode,
            exchange_id=row.exchange_id,
            started_at=row.started_at,
            ended_at=row.ended_at,
            trades=row.trades,
            wins=row.wins,
            losses=row.losses,
            pnl=row.pnl,
            pnl_by_currency=pnl_by_currency,
        )


@dataclass(frozen=True)
class PnlReport:
    period: str
    start: datetime | None
    stats: pnl_math.PeriodStats
    points: list[tuple[float, Decimal]] = field(default_factory=list)
    any_history: bool = False
    # deposits (+) and withdrawals (-) in the period: in the equity series, not in P&L
    cash_flow: Decimal = Decimal(0)
    cash_flows: int = 0
    currency: str | None = None  # of the equity and the deposits
    # the realised P&L per currency (each trade's and payment's symbol's quote): ``stats``
    # counts trades across them, its money figures add them up and are not shown
    by_currency: dict[str, pnl_math.PeriodStats] = field(default_factory=dict)

    @property
    def equity_change(self) -> Decimal | None:
        if len(self.points) < 2:
            return None
        return self.points[-1][1] - self.points[0][1]


@dataclass(frozen=True)
class DayRow:
    day: str  # YYYY-MM-DD (UTC)
    pnl: Decimal  # realised: closed trades and swap funding
    trades: int  # closed trades (fills that reduced a position)
    fills: int  # every fill, entries included
    equity: Decimal | None  # the day's last recorded equity
    # the realised P&L per currency (each symbol's quote); ``pnl`` adds them up (counts)
    pnl_by_currency: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class DailyReport:
    days: list[DayRow]  # newest first, every day of the range (empty days too)
    currency: str | None = None  # the account's: of the equity

    @property
    def total_by_currency(self) -> dict[str, Decimal]:
        """The realised P&L of the range per currency: never USD + USDT."""
        out: dict[str, Decimal] = {}
        for d in self.days:
            for cur, amount in d.pnl_by_currency.items():
                out[cur] = out.get(cur, Decimal(0)) + amount
        return out

    @property
    def trades(self) -> int:
        return sum(d.trades for d in self.days)


@dataclass(frozen=True)
class PairRow:
    symbol: str
    trades: int
    wins: int
    pnl: Decimal  # realised: closed trades and funding
    funding: Decimal = Decimal(0)
    currency: str | None = None  # of the P&L: the symbol's quote

    @property
    def win_rate(self) -> Decimal | None:
        return None if not self.trades else Decimal(self.wins) / Decimal(self.trades)


@dataclass(frozen=True)
class PerformanceReport:
    period: str
    start: datetime | None
    pairs: list[PairRow]  # best P&L first
    currency: str | None = None  # the account's (a pair's P&L without a quote of its own)

    @property
    def total_by_currency(self) -> dict[str, Decimal]:
        """The pairs' P&L summed per currency (each pair's quote): never USD + USDT."""
        out: dict[str, Decimal] = {}
        for p in self.pairs:
            key = p.currency or self.currency or ""
            out[key] = out.get(key, Decimal(0)) + p.pnl
        return out

    @property
    def trades(self) -> int:
        return sum(p.trades for p in self.pairs)

    @property
    def win_rate(self) -> Decimal | None:
        n = self.trades
        return None if not n else Decimal(sum(p.wins for p in self.pairs)) / Decimal(n)


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


class ReportsService:
    def __init__(
        self, db: Database, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    # --- access -------------------------------------------------------------------

    async def authorize(self, caller: UserRow, target_id: int | None, *, action: str) -> Access:
        """Whose data ``caller`` reads; NotVisibleError (the same for a missing user and
        a forbidden one). An admin looking at someone else is audited."""
        if target_id is None or target_id == caller.user_id:
            return Access(caller, caller)
        if not 0 < target_id < MAX_USER_ID:
            raise NotVisibleError(f"target out of range for {caller.user_id}")
        if caller.role is Role.ADMIN:
            target = await users.get_user(self._db, target_id)
            if target is None:
                raise NotVisibleError(f"{caller.user_id} asked for a missing user")
            async with self._db.transaction() as tx:
                await audit.record(tx, caller.user_id, "admin.view", target_id, report=action)
            return Access(caller, target)
        if target_id not in await users.granted_traders(self._db, caller.user_id):
            raise NotVisibleError(f"{caller.user_id} may not see another user")
        target = await users.get_user(self._db, target_id)
        if target is None:
            raise NotVisibleError(f"{caller.user_id}: granted user is gone")
        return Access(caller, target)

    async def granted_traders(self, viewer_id: int) -> list[int]:
        return await users.granted_traders(self._db, viewer_id)

    async def currency(self, user_id: int, snap: snapshots.Snapshot | None = None) -> str:
        """What the user's equity and P&L are counted in (``account_currency``: the
        quote of their key's exchange, else their snapshot's cash currency)."""
        exchange = await report_queries.exchange_of(self._db, user_id)
        return account_currency(exchange, None if snap is None else snap.balances)

    async def _realized(
        self, user_id: int, period: str, account: str
    ) -> tuple[pnl_math.PeriodStats, dict[str, pnl_math.PeriodStats]]:
        """The realised P&L (closed trades and swap funding) of the UTC period holding
        now: across currencies (for the counts) and per currency (a symbol's quote, the
        account's when it has none): USD and USDT are never added for people."""
        now = self.now()
        start = pnl_math.period_start(now, period)
        since = None if start is None else start.timestamp()
        trades = await reports_daily.closed_trades(self._db, user_id, since)
        paid = await reports_daily.funding_by_symbol(self._db, user_id, since)
        at = datetime.fromtimestamp
        groups: dict[str, tuple[list, list]] = {}
        for ts, symbol, amount in trades:
            groups.setdefault(symbol_quote(symbol) or account, ([], []))[0].append(
                (at(ts, tz=UTC), amount)
            )
        for ts, symbol, amount in paid:
            groups.setdefault(symbol_quote(symbol) or account, ([], []))[1].append(
                (at(ts, tz=UTC), amount)
            )
        each = {
            cur: pnl_math.current_period(items, period, now, funding=funding)
            for cur, (items, funding) in sorted(groups.items())
        }
        every = pnl_math.current_period(
            [(at(ts, tz=UTC), a) for ts, _s, a in trades],
            period,
            now,
            funding=[(at(ts, tz=UTC), a) for ts, _s, a in paid],
        )
        return every, {cur: s for cur, s in each.items() if s.trades or s.funding_payments}

    async def _steps(
        self, user_id: int, symbols: list[str], also: dict[str, list[Decimal | None]]
    ) -> dict[str, Decimal | None]:
        """Per symbol, the price step its stored prices show (fills, plus ``also``)."""
        prices = await report_queries.fill_prices(self._db, user_id, symbols)
        return {s: price_step([*prices.get(s, []), *also.get(s, [])]) for s in symbols}

    # --- reports ------------------------------------------------------------------

    async def dashboard(self, user_id: int) -> Dashboard:
        user = await users.get_user(self._db, user_id)
        if user is None:
            raise NotVisibleError(f"dashboard of a missing user {user_id}")
        snap = await snapshots.get(self._db, user_id)
        now = self.now()
        start = pnl_math.period_start(now, "day")
        assert start is not None
        currency = await self.currency(user_id, snap)
        stats, each = await self._realized(user_id, "day", currency)
        change = None
        if (
            snap is not None
            and snap.equity is not None
            and snap.start_of_day_equity is not None
            and snap.day == now.strftime("%Y-%m-%d")
        ):
            change = snap.equity - snap.start_of_day_equity
        return Dashboard(
            user=user,
            halted=await users.is_halted(self._db),
            equity=None if snap is None else snap.equity,
            open_positions=await report_queries.open_position_count(self._db, user_id),
            today_change=change,
            realized_today=stats,
            last_signal=None if snap is None else snap.last_signal,
            updated_at=None if snap is None else snap.updated_at,
            currency=currency,
            realized_by_currency=each,
            cash_flow_today=sum(
                (
                    f.amount
                    for f in await cash_flows.recent(self._db, user_id, since=start.timestamp())
                ),
                Decimal(0),
            ),
        )

    async def balances(self, user_id: int) -> BalanceReport:
        snap = await snapshots.get(self._db, user_id)
        if snap is None:
            return BalanceReport(None, [], None, await self.currency(user_id))
        lines = []
        for raw in snap.balances:
            if not isinstance(raw, dict) or not raw.get("currency"):
                continue
            line = BalanceLineView(
                str(raw["currency"])[:16],
                stored_decimal(raw.get("free")),
                stored_decimal(raw.get("used")),
                stored_decimal(raw.get("total")),
            )
            if line.total is None or line.total != 0:
                lines.append(line)
        lines.sort(key=lambda b: b.currency)
        return BalanceReport(
            snap.equity, lines, snap.updated_at, await self.currency(user_id, snap)
        )

    async def positions(self, user_id: int) -> PositionsReport:
        """Open positions as booked, with marks and unrealised P&L from the snapshot."""
        rows = await positions.list_for_user(self._db, user_id)
        snap = await snapshots.get(self._db, user_id)
        leverage = (await settings_repo.load(self._db, user_id)).leverage_cap if rows else None
        marks: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [] if snap is None else snap.positions:
            if isinstance(raw, dict):
                marks[(str(raw.get("symbol")), str(raw.get("side")))] = raw
        currency = await self.currency(user_id, snap)
        also: dict[str, list[Decimal | None]] = {}
        for (symbol, _side), raw in marks.items():
            also.setdefault(symbol, []).append(stored_decimal(raw.get("mark_price")))
        steps = await self._steps(user_id, [r.symbol for r in rows], also)
        out = []
        for row in rows:
            mark = marks.get((row.symbol, row.side), {})
            price = stored_decimal(mark.get("mark_price"))
            upnl = stored_decimal(mark.get("unrealized_pnl"))
            if upnl is None and price is not None:
                upnl = pnl_math.unrealized_pnl(row.side, row.entry_price, price, row.amount)
            resting = await orders.open_stops(self._db, user_id, row.symbol)
            out.append(
                PositionView(
                    symbol=row.symbol,
                    side=row.side,
                    amount=row.amount,
                    entry_price=row.entry_price,
                    mark_price=price,
                    stop_price=row.stop_price,
                    unrealized_pnl=upnl,
                    opened_at=row.opened_at,
                    stop_on_exchange=any(o.status is OrderStatus.OPEN for o in resting),
                    leverage=leverage if ":" in row.symbol else None,
                    price_step=steps.get(row.symbol),
                    currency=symbol_quote(row.symbol) or currency,
                )
            )
        return PositionsReport(out, None if snap is None else snap.updated_at, currency)

    async def trades(self, user_id: int, n: int = 10) -> list[TradeView]:
        """The newest ``n`` fills (1..100), newest first, each with its market's price
        step (as the stored prices of the symbol show it) and its P&L's currency."""
        rows: list[FillRow] = await fills.list_for_user(
            self._db, user_id, limit=max(1, min(n, TRADES_MAX))
        )
        symbols = sorted({f.symbol for f in rows})
        steps = await self._steps(user_id, symbols, {}) if rows else {}
        fallback = await self.currency(user_id) if rows else None
        return [
            TradeView(
                fill_id=f.fill_id,
                trade_id=f.trade_id,
                ts=f.ts,
                symbol=f.symbol,
                side=f.side,
                amount=f.amount,
                price=f.price,
                fee=f.fee,
                fee_currency=f.fee_currency,
                realized_pnl=f.realized_pnl,
                price_step=steps.get(f.symbol),
                currency=symbol_quote(f.symbol) or fallback,
            )
            for f in rows
        ]

    async def sessions(self, user_id: int, n: int = 10) -> list[SessionView]:
        """The newest ``n`` sessions (1..50), newest first, each with its realised P&L per
        currency: its orders' fills that reduced a position, by the symbol's quote (as
        /pnl counts them). A session none of whose fills is linked to it (older rows)
        keeps its stored sum, in the quote of its exchange."""
        rows = await sessions.list_for_user(self._db, user_id, max(1, min(n, SESSIONS_MAX)))
        venue = {r.session_id: r.exchange_id for r in rows}
        each: dict[int, dict[str, Decimal]] = {}
        for sid, symbol, amount in await reports_daily.session_closed_trades(
            self._db, user_id, list(venue)
        ):
            got = each.setdefault(sid, {})
            cur = symbol_quote(symbol) or exchange_quote(venue[sid])
            got[cur] = got.get(cur, Decimal(0)) + amount
        return [
            SessionView.of(r, each.get(r.session_id) or {exchange_quote(r.exchange_id): r.pnl})
            for r in rows
        ]

    async def pnl(self, user_id: int, period: str) -> PnlReport:
        """Realised P&L (closed trades and swap funding) and the equity series for the
        UTC period holding now."""
        if period not in pnl_math.PERIODS:
            raise ValueError(f"period must be one of {pnl_math.PERIODS}")
        start = pnl_math.period_start(self.now(), period)
        since = None if start is None else start.timestamp()
        currency = await self.currency(user_id, await snapshots.get(self._db, user_id))
        stats, each = await self._realized(user_id, period, currency)
        points = await report_queries.equity_points(self._db, user_id, since=since)
        if since is not None:
            before = await report_queries.equity_at_or_before(self._db, user_id, since)
            if before is not None and (not points or points[0][0] > since):
                points.insert(0, (since, before))
        any_history = bool(points) or await report_queries.has_equity_history(self._db, user_id)
        moved = await cash_flows.recent(self._db, user_id, since=since, limit=1000)
        net = sum((f.amount for f in moved), Decimal(0))
        return PnlReport(period, start, stats, points, any_history, net, len(moved), currency, each)

    async def daily(self, user_id: int, days: int = DAILY_DEFAULT) -> DailyReport:
        """One row per UTC day of the last ``days`` (1..90, today included), newest
        first: realised P&L (closed trades and funding, as /pnl counts it), closed
        trades, fills and the day's last equity."""
        days = max(1, min(days, DAILY_MAX))
        today = pnl_math.period_start(self.now(), "day")
        assert today is not None
        first = today - timedelta(days=days - 1)
        since = first.timestamp()
        keys = [(today - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
        account = await self.currency(user_id, await snapshots.get(self._db, user_id))
        pnl: dict[str, Decimal] = dict.fromkeys(keys, Decimal(0))
        each: dict[str, dict[str, Decimal]] = {k: {} for k in keys}
        trades = dict.fromkeys(keys, 0)
        counted = dict.fromkeys(keys, 0)
        closed = await reports_daily.closed_trades(self._db, user_id, since)
        paid = await reports_daily.funding_by_symbol(self._db, user_id, since)
        for n, (ts, symbol, amount) in enumerate([*closed, *paid]):
            key = _day(ts)
            if key in pnl:
                pnl[key] += amount
                cur = symbol_quote(symbol) or account
                each[key][cur] = each[key].get(cur, Decimal(0)) + amount
                trades[key] += 1 if n < len(closed) else 0
        for ts in await reports_daily.fills_since(self._db, user_id, since):
            key = _day(ts)
            if key in counted:
                counted[key] += 1
        equity = await reports_daily.day_end_equity(self._db, user_id, since)
        rows = [
            DayRow(k, pnl[k], trades[k], counted[k], equity.get(k), dict(sorted(each[k].items())))
            for k in keys
        ]
        return DailyReport(rows, account)

    async def performance(self, user_id: int, period: str = "all") -> PerformanceReport:
        """Closed trades per pair in the UTC period holding now: trades, wins, realised
        P&L (funding of a swap counted with its pair), best first."""
        if period not in pnl_math.PERIODS:
            raise ValueError(f"period must be one of {pnl_math.PERIODS}")
        start = pnl_math.period_start(self.now(), period)
        since = None if start is None else start.timestamp()
        stats: dict[str, list] = {}  # symbol -> [trades, wins, pnl, funding]
        for _ts, symbol, amount in await reports_daily.closed_trades(self._db, user_id, since):
            row = stats.setdefault(symbol, [0, 0, Decimal(0), Decimal(0)])
            row[0] += 1
            row[1] += 1 if amount > 0 else 0
            row[2] += amount
        for _ts, symbol, amount in await reports_daily.funding_by_symbol(self._db, user_id, since):
            row = stats.setdefault(symbol, [0, 0, Decimal(0), Decimal(0)])
            row[2] += amount
            row[3] += amount
        currency = await self.currency(user_id, await snapshots.get(self._db, user_id))
        pairs = [
            PairRow(sym, t, w, p, f, symbol_quote(sym) or currency)
            for sym, (t, w, p, f) in stats.items()
        ]
        pairs.sort(key=lambda p: (-p.pnl, p.symbol))
        return PerformanceReport(period, start, pairs, currency)
