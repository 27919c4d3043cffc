"""What the engine and services need from an exchange, whatever is behind it.

Implemented by the ccxt gateway (real exchanges and their emulators) and by the paper
exchange. Every method raises only classes from ``nija_tg.core.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from nija_tg.core.errors import OrderRejectedError
from nija_tg.core.models import (
    BalanceLine,
    Candle,
    MarketInfo,
    OrderRequest,
    OrderState,
    PositionInfo,
    Ticker,
    Verification,
)


class PositionModeRefusedError(OrderRejectedError):
    """The venue refused to switch the position mode (BingX: while the account holds a
    position or an open order in any contract). ``hedged`` is the mode the account is
    actually in, read back from the venue: orders must be sent for that mode
    (``OrderRequest.position_side`` only when it is True, ``reduce_only`` otherwise)."""

    code = "position_mode_refused"

    def __init__(self, message: str = "", *, hedged: bool, code: str | None = None):
        super().__init__(message, code=code)
        self.hedged = hedged


class MarketDataSource(Protocol):
    """Public market data, shared by every user of one exchange (no keys)."""

    async def fetch_ohlcv(
        self,
        exchange_id: str,
        symbol: str,
        timeframe: str,
        since: int | None = None,
        limit: int | None = None,
    ) -> list[Candle]: ...

    async def fetch_ticker(self, exchange_id: str, symbol: str) -> Ticker: ...

    async def market(self, exchange_id: str, symbol: str) -> MarketInfo: ...


class CandleStream(Protocol):
    """Optional capability of a ``MarketDataSource`` (the hub looks for it with
    ``getattr``): candles pushed by WebSocket."""

    def streams_candles(self, exchange_id: str) -> bool: ...

    async def watch_ohlcv(self, exchange_id: str, symbol: str, timeframe: str) -> list[Candle]:
        """The candles pushed since the previous call for this market (the forming one
        included); waits for the next push. A lost socket raises ``RetryableError``."""
        ...


class TradingAccount(Protocol):
    """One user's account on one exchange."""

    exchange_id: str

    @property
    def native_stops(self) -> bool:
        """True when ``create_order`` takes stop-market orders (``trigger_price``) that
        rest on the exchange; otherwise the engine enforces stops on every candle."""
        ...

    async def fetch_balance(self) -> list[BalanceLine]: ...

    async def market(self, symbol: str) -> MarketInfo: ...

    async def create_order(self, request: OrderRequest) -> OrderState: ...

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> OrderState | None: ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState: ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]: ...

    async def fetch_positions(self, symbols: list[str] | None = None) -> list[PositionInfo]: ...

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None: ...

    async def fetch_position_mode(self, symbol: str | None = None) -> bool:
        """Whether the account is in hedge mode (LONG/SHORT sides), as the venue says;
        False where there are no swaps."""
        ...

    async def set_position_mode(self, hedged: bool, symbol: str | None = None) -> bool:
        """Put the account in ``hedged`` mode (nothing is sent when it already is) and
        return the mode it is in. A refused switch raises ``PositionModeRefusedError``
        carrying the actual mode."""
        ...

    async def close(self) -> None: ...


class StopAmender(Protocol):
    """Optional capability of a ``TradingAccount`` (the engine looks for it with
    ``getattr``): a resting stop moved in place, without a moment unprotected (Kraken
    ``AmendOrder``). Where ``amends_stops`` is False or absent, a stop is replaced by a
    new order."""

    @property
    def amends_stops(self) -> bool: ...

    async def amend_stop(
        self, symbol: str, client_order_id: str, amount: Decimal, trigger: Decimal
    ) -> None:
        """Sent once. ``OrderRejectedError``/``NotFoundError``: nothing changed (e.g. the
        order is no longer open); other errors: unknown whether it changed."""
        ...


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding payment on a swap position, as the venue booked it."""

    payment_id: str  # the venue's id (BingX ``tranId``), unique per account
    symbol: str  # unified, e.g. "ETH/USDT:USDT"
    currency: str  # what it was paid in (the settle currency)
    amount: Decimal  # signed: > 0 received, < 0 paid
    ts_ms: int  # when the venue settled it


class FundingSource(Protocol):
    """A swap account that reports its funding payments (ccxt ``fetch_funding_history``;
    BingX: ``GET /openApi/swap/v2/user/income`` with ``incomeType=FUNDING_FEE``). Paper
    accounts and spot venues do not have it: the engine checks with ``getattr``."""

    async def fetch_funding(
        self, since_ms: int, symbols: list[str] | None = None
    ) -> list[FundingPayment]:
        """Every payment at or after ``since_ms`` (of ``symbols``, None: all), oldest
        first."""
        ...


class CredentialVerifier(Protocol):
    """Checks brand-new credentials (the engine's key intake): a balance call and the
    proof that the key cannot withdraw. Never raises for a bad key; ``ok=False`` with a
    polite reason instead."""

    async def verify(
        self, exchange_id: str, credentials: dict[str, str], *, allow_unproven: bool = False
    ) -> Verification: ...
