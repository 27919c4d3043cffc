"""What the report renderers read, as structural types (``typing.Protocol``).

The services hand the handlers typed report data (``services/reports_service.py``
``Dashboard``, ``PositionView``…; ``admin_service.UsersPage``…; storage rows such as
``FillRow``); the renderer may import only the pure core, so it names here the members it
reads and nothing else. ``tests/messages/test_report_data.py`` checks that every service
type still has each member its protocol lists (a renamed field fails there, not in a
user's chat). Members are read-only properties, so frozen dataclasses satisfy them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.core.pnl import PeriodStats
from nija_tg.core.trading_gate import TradingSwitch

# --- people -------------------------------------------------------------------------------


class Person(Protocol):
    """A user as reports name them (``storage.users.UserRow``)."""

    @property
    def user_id(self) -> int: ...
    @property
    def username(self) -> str | None: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def role(self) -> Role: ...
    @property
    def status(self) -> UserStatus: ...
    @property
    def pause_reason(self) -> str | None: ...
    @property
    def trading_on(self) -> bool: ...
    @property
    def mode(self) -> TradingMode: ...
    @property
    def switch(self) -> TradingSwitch: ...


class Viewing(Protocol):
    """Whose report the caller reads (``reports_service.Access``)."""

    @property
    def caller(self) -> Person: ...
    @property
    def target(self) -> Person: ...
    @property
    def own(self) -> bool: ...
    @property
    def may_trade(self) -> bool: ...
    @property
    def sees_key_tail(self) -> bool: ...


# --- the dashboard ----------------------------------------------------------------------


class Dashboard(Protocol):
    @property
    def user(self) -> Person: ...
    @property
    def halted(self) -> bool: ...
    @property
    def equity(self) -> Decimal | None: ...
    @property
    def open_positions(self) -> int: ...
    @property
    def today_change(self) -> Decimal | None: ...
    @property
    def realized_today(self) -> PeriodStats: ...  # the counts (its money: per currency)
    @property
    def realized_by_currency(self) -> Mapping[str, PeriodStats]: ...
    @property
    def last_signal(self) -> Mapping[str, Any] | None: ...
    @property
    def updated_at(self) -> float | None: ...
    @property
    def cash_flow_today(self) -> Decimal: ...
    @property
    def currency(self) -> str | None: ...  # what the money is counted in (USD, USDT)


class Connection(Protocol):
    """The user's exchange key as the dashboard shows it (``connect_service``)."""

    @property
    def exchange_id(self) -> str: ...
    @property
    def key_tail(self) -> str: ...
    @property
    def verified(self) -> bool: ...
    @property
    def reason(self) -> str: ...


# --- balances, positions, trades, sessions ------------------------------------------------


class BalanceLine(Protocol):
    @property
    def currency(self) -> str: ...
    @property
    def free(self) -> Decimal | None: ...
    @property
    def used(self) -> Decimal | None: ...
    @property
    def total(self) -> Decimal | None: ...


class Balances(Protocol):
    @property
    def equity(self) -> Decimal | None: ...
    @property
    def lines(self) -> Sequence[BalanceLine]: ...
    @property
    def updated_at(self) -> float | None: ...
    @property
    def currency(self) -> str | None: ...  # what the money is counted in (USD, USDT)


class Position(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def entry_price(self) -> Decimal: ...
    @property
    def mark_price(self) -> Decimal | None: ...
    @property
    def stop_price(self) -> Decimal | None: ...
    @property
    def unrealized_pnl(self) -> Decimal | None: ...
    @property
    def opened_at(self) -> float: ...
    @property
    def stop_on_exchange(self) -> bool: ...
    @property
    def leverage(self) -> int | None: ...
    @property
    def pnl_pct(self) -> Decimal | None: ...
    @property
    def price_step(self) -> Decimal | None: ...  # the market's, as stored prices show it
    @property
    def currency(self) -> str | None: ...  # what the money is counted in (USD, USDT)


class Positions(Protocol):
    @property
    def positions(self) -> Sequence[Position]: ...
    @property
    def updated_at(self) -> float | None: ...
    @property
    def unrealized_by_currency(self) -> Mapping[str, Decimal]: ...  # never one sum
    @property
    def currency(self) -> str | None: ...  # what the money is counted in (USD, USDT)


class CloseTarget(Protocol):
    """A position the Close buttons offer (``trading_service``)."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...


class Trade(Protocol):
    """A fill (``reports_service.TradeView``: the stored row with its market's step)."""

    @property
    def ts(self) -> float: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Any: ...  # core.models.Side (its .value is "buy" or "sell")
    @property
    def amount(self) -> Decimal: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def fee(self) -> Decimal: ...
    @property
    def fee_currency(self) -> str | None: ...
    @property
    def realized_pnl(self) -> Decimal | None: ...
    @property
    def price_step(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...  # what the money is counted in (USD, USDT)


class Session(Protocol):
    """A trading session (``reports_service.SessionView``)."""

    @property
    def session_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def exchange_id(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def ended_at(self) -> float | None: ...
    @property
    def trades(self) -> int: ...
    @property
    def wins(self) -> int: ...
    @property
    def losses(self) -> int: ...
    @property
    def pnl_by_currency(self) -> Mapping[str, Decimal]: ...  # never one sum
    @property
    def win_rate(self) -> Decimal | None: ...


# --- /pnl, /daily, /performance -------------------------------------------------------------


class Pnl(Protocol):
    @property
    def period(self) -> str: ...
    @property
    def start(self) -> datetime | None: ...
    @property
    def stats(self) -> PeriodStats: ...
    @property
    def points(self) -> Sequence[tuple[float, Decimal]]: ...
    @property
    def any_history(self) -> bool: ...
    @property
    def cash_flow(self) -> Decimal: ...
    @property
    def cash_flows(self) -> int: ...
    @property
    def equity_change(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...  # of the equity and the deposits (USD, USDT)
    @property
    def by_currency(self) -> Mapping[str, PeriodStats]: ...  # the realised P&L, per quote


class Day(Protocol):
    @property
    def day(self) -> str: ...
    @property
    def pnl(self) -> Decimal: ...  # across currencies: shown alone when there is one
    @property
    def trades(self) -> int: ...
    @property
    def equity(self) -> Decimal | None: ...
    @property
    def pnl_by_currency(self) -> Mapping[str, Decimal]: ...


class Daily(Protocol):
    @property
    def days(self) -> Sequence[Day]: ...
    @property
    def total_by_currency(self) -> Mapping[str, Decimal]: ...  # the realised P&L, per quote
    @property
    def trades(self) -> int: ...
    @property
    def currency(self) -> str | None: ...  # the account's: of the equity (USD, USDT)


class Pair(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def trades(self) -> int: ...
    @property
    def pnl(self) -> Decimal: ...
    @property
    def funding(self) -> Decimal: ...
    @property
    def currency(self) -> str | None: ...  # of the P&L: the symbol's quote
    @property
    def win_rate(self) -> Decimal | None: ...


class Performance(Protocol):
    @property
    def period(self) -> str: ...
    @property
    def start(self) -> datetime | None: ...
    @property
    def pairs(self) -> Sequence[Pair]: ...
    @property
    def total_by_currency(self) -> Mapping[str, Decimal]: ...  # never one sum
    @property
    def trades(self) -> int: ...
    @property
    def win_rate(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...  # what the money is counted in (USD, USDT)


# --- admin reports ---------------------------------------------------------------------------


class UserLine(Protocol):
    """One user on /users (``storage.admin_queries.UserOverview``)."""

    @property
    def user_id(self) -> int: ...
    @property
    def username(self) -> str | None: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def role(self) -> Role: ...
    @property
    def status(self) -> UserStatus: ...
    @property
    def trading_on(self) -> bool: ...
    @property
    def mode(self) -> TradingMode: ...
    @property
    def exchange_id(self) -> str | None: ...
    @property
    def equity(self) -> Decimal | None: ...
    @property
    def pnl_today(self) -> Decimal | None: ...
    @property
    def currency(self) -> str: ...  # of the equity and P&L (USD, USDT)


class UserTotals(Protocol):
    """``storage.admin_queries.Totals``."""

    @property
    def users(self) -> int: ...
    @property
    def active(self) -> int: ...
    @property
    def paused(self) -> int: ...
    @property
    def balance(self) -> Mapping[str, Decimal]: ...  # per currency code
    @property
    def pnl_today(self) -> Mapping[str, Decimal]: ...  # per currency code


class UsersPage(Protocol):
    """``admin_service.UsersPage``."""

    @property
    def page(self) -> int: ...
    @property
    def pages(self) -> int: ...
    @property
    def rows(self) -> Sequence[UserLine]: ...
    @property
    def totals(self) -> UserTotals: ...


class Member(Person, Protocol):
    """A user as /user shows them (``storage.users.UserRow``)."""

    @property
    def trade_only(self) -> bool: ...
    @property
    def reachable(self) -> bool: ...
    @property
    def created_at(self) -> float: ...
    @property
    def last_seen_at(self) -> float: ...


class Credential(Protocol):
    """What may be shown of a user's key (``storage.admin_queries.CredentialInfo``)."""

    @property
    def exchange_id(self) -> str: ...
    @property
    def key_tail(self) -> str: ...
    @property
    def verified(self) -> bool: ...
    @property
    def verify_reason(self) -> str: ...
    @property
    def permissions(self) -> Sequence[str]: ...
    @property
    def can_withdraw(self) -> bool | None: ...


class UserDetail(Protocol):
    """``admin_service.UserDetail``."""

    @property
    def user(self) -> Member: ...
    @property
    def overview(self) -> UserLine: ...
    @property
    def credential(self) -> Credential | None: ...
    @property
    def can_view(self) -> Sequence[int]: ...
    @property
    def viewed_by(self) -> Sequence[int]: ...


class AuditEntry(Protocol):
    """``storage.audit.AuditRow``."""

    @property
    def ts(self) -> float: ...
    @property
    def actor_id(self) -> int | str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def target_id(self) -> int | str | None: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


class HealthChange(Protocol):
    """A health problem that appeared or cleared (``health_service.AlertChange``)."""

    @property
    def text(self) -> str: ...
    @property
    def cleared(self) -> bool: ...


# --- settings --------------------------------------------------------------------------------


class SettingAllowed(Protocol):
    """What a setting accepts (``settings_service.Allowed``)."""

    @property
    def kind(self) -> str: ...  # "range" | "on_off" | "either" | "one_of" | "pairs"
    @property
    def lo(self) -> Decimal | None: ...
    @property
    def hi(self) -> Decimal | None: ...
    @property
    def whole(self) -> bool: ...
    @property
    def choices(self) -> Sequence[str] | None: ...


class SettingLine(Protocol):
    """One setting (``settings_service.SettingLine``): data, worded by the renderer."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> Any: ...  # as stored: Decimal, int, bool, str, tuple of assets
    @property
    def unit(self) -> str: ...  # "usd" (money: in ``currency``) | "%" | "x" | ""
    @property
    def currency(self) -> str: ...  # the account's (USD, USDT): a money setting's unit
    @property
    def allowed(self) -> SettingAllowed: ...
    @property
    def section(self) -> str: ...
    @property
    def locked(self) -> bool: ...


class SettingsView(Protocol):
    @property
    def lines(self) -> Sequence[SettingLine]: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def trade_only(self) -> bool: ...


class SettingChange(Protocol):
    """``settings_service.Change``: the values as stored, with their unit."""

    @property
    def name(self) -> str: ...
    @property
    def old(self) -> Any: ...
    @property
    def new(self) -> Any: ...
    @property
    def unit(self) -> str: ...
    @property
    def currency(self) -> str: ...  # the account's: a money setting's unit


class SettingOption(Protocol):
    """``settings_service.Option``: a value the editor offers."""

    @property
    def value(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "step" | "preset" | "choice"
    @property
    def delta(self) -> Decimal | None: ...
    @property
    def preset(self) -> str | None: ...
    @property
    def current(self) -> bool: ...


class SettingEditor(Protocol):
    @property
    def line(self) -> SettingLine: ...
    @property
    def steps(self) -> Sequence[SettingOption]: ...
    @property
    def values(self) -> Sequence[SettingOption]: ...


class PairsView(Protocol):
    @property
    def pairs(self) -> Sequence[str]: ...
    @property
    def permitted(self) -> Sequence[str] | None: ...
    @property
    def quote(self) -> str: ...  # the one quote every base trades against (USD, USDT)
    @property
    def exchange_id(self) -> str: ...  # where (the default paper exchange without a key)
    @property
    def connected(self) -> bool: ...  # False: no key, paper on the default exchange
    @property
    def read_only(self) -> bool: ...


class PairsEdit(Protocol):
    @property
    def pairs(self) -> Sequence[str]: ...
    @property
    def changed(self) -> Sequence[str]: ...
    @property
    def unchanged(self) -> Sequence[str]: ...
