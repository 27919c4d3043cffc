"""The ccxt gateway: the package's only door to ccxt (with its ``ccxt_*.py`` helpers).

- ``public(exchange_id)``: one shared keyless client per exchange (market data).
- ``account(user_id, exchange_id, credentials)``: one client per (user, exchange), reused
  while the user trades; ``release`` closes it, ``close_all`` closes everything.
- ``verify(exchange_id, credentials, allow_unproven=...)``: the one-off check of brand-new
  keys: a balance call, then the proof that the key cannot withdraw (key_permissions.py).

Every client gets the same settings: rate limiting on, ccxt retries off, ``timeout_ms``,
the sandbox switch and the base-URL override from ``exchange_urls``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from typing import Any, Protocol

from nija_tg.core.errors import (
    AuthenticationError,
    ErrorReason,
    NijaError,
    RetryableError,
    UnknownExchangeError,
)
from nija_tg.core.models import (
    BalanceLine,
    Candle,
    MarketInfo,
    Ticker,
    Verification,
    WithdrawProof,
)
from nija_tg.exchange.candle_pacing import CandlePacer
from nija_tg.exchange.ccxt_account import CcxtAccount
from nija_tg.exchange.ccxt_client import CcxtClient, CcxtMarketData
from nija_tg.exchange.ccxt_convert import to_balances
from nija_tg.exchange.ccxt_factory import (
    ClientSettings,
    build_client,
    credential_label,
    exchange_class,
    required_credentials,
    supported_exchanges,
)
from nija_tg.exchange.ccxt_stream import CandleStreams
from nija_tg.exchange.key_permissions import (
    Proof,
    is_provable,
    prove_withdraw,
    wallet_key_exchange,
)
from nija_tg.exchange.ticker_cache import TickerCache
from nija_tg.exchange.venue_health import VenueHealth

__all__ = [
    "CcxtAccount",
    "CcxtGateway",
    "CcxtMarketData",
    "required_credentials",
    "supported_exchanges",
    "credential_label",
]

log = logging.getLogger(__name__)

# Why a new key is refused, as data (``messages.errors`` words each code).
BAD_KEY_REASON = ErrorReason("key_not_accepted")
UNKNOWN_EXCHANGE_REASON = ErrorReason("exchange_not_in_list")
# Withdraw proofs (docs/key-permissions.md): a key is kept only when it provably cannot
# withdraw (or, if the operator allows it, on an exchange where nothing can be proven).
CANNOT_CONFIRM_REASON = ErrorReason("withdraw_unconfirmed")
CAN_WITHDRAW_REASON = ErrorReason("key_withdraws")


def unreachable_reason(name: str) -> ErrorReason:
    return ErrorReason("exchange_unreachable_now", (("name", name),))


def missing_reason(label: str) -> ErrorReason:
    return ErrorReason("credential_missing", (("label", label),))


def wallet_key_reason(name: str) -> ErrorReason:
    return ErrorReason("wallet_key_named", (("name", name),))


def unproven_exchange_reason(name: str) -> ErrorReason:
    return ErrorReason("unprovable_named", (("name", name),))


def _fingerprint(credentials: dict[str, str]) -> str:
    h = hashlib.sha256()
    for k in sorted(credentials):
        h.update(f"{k}\0{credentials[k]}\0".encode())
    return h.hexdigest()


class CcxtGateway:
    """Factory and registry of ccxt clients; also a MarketDataSource and a
    CredentialVerifier."""

    def __init__(
        self,
        *,
        exchange_urls: dict[str, str] | None = None,
        sandbox: bool = False,
        timeout_ms: int = 10_000,
        enable_rate_limit: bool = True,
        read_retries: int = 2,
        retry_delay_s: float = 0.5,
        exchange_options: dict[str, dict[str, Any]] | None = None,
        ticker_ttl_s: float = 1.0,
        stream_candles: bool = True,
    ) -> None:
        self.settings = ClientSettings(
            exchange_urls=dict(exchange_urls or {}),
            sandbox=sandbox,
            timeout_ms=timeout_ms,
            enable_rate_limit=enable_rate_limit,
            exchange_options=dict(exchange_options or {}),
        )
        self.read_retries = read_retries
        self.retry_delay_s = retry_delay_s
        self._public: dict[str, CcxtMarketData] = {}
        # candles of different pairs concurrently, paced by the venue's documented
        # limit (candle_pacing.py) on their own client (ccxt's limiter off on it)
        self.candle_pacer = CandlePacer()
        self._candles: dict[str, CcxtMarketData] = {}
        self._accounts: dict[tuple[Any, str], tuple[str, CcxtAccount]] = {}
        self._retired: list[CcxtAccount] = []
        # paper fills of many users at one candle close share one ticker request
        self.tickers = TickerCache(self._fetch_ticker_now, ttl_s=ticker_ttl_s)
        self._closing: set[asyncio.Task[None]] = set()  # verification clients
        self.health = VenueHealth()  # how each venue answers (the engine's heartbeat)
        # candles by WebSocket where ccxt.pro watches them (ccxt_stream.py)
        self.streams = CandleStreams(self.settings, self.public, enabled=stream_candles)

    # --- registry ----------------------------------------------------------------

    def _core(
        self,
        exchange_id: str,
        credentials: dict[str, str] | None,
        cls=CcxtClient,
        settings: ClientSettings | None = None,
    ):
        client = build_client(exchange_id, settings or self.settings, credentials)
        return cls(
            exchange_id,
            client,
            read_retries=self.read_retries,
            retry_delay_s=self.retry_delay_s,
            health=self.health,
            private=credentials is not None,
        )

    def public(self, exchange_id: str) -> CcxtMarketData:
        """The shared keyless client of ``exchange_id`` (UnknownExchangeError if none)."""
        md = self._public.get(exchange_id)
        if md is None:
            md = self._core(exchange_id, None, CcxtMarketData)
            self._public[exchange_id] = md
        return md

    def account(
        self, user_id: int | str, exchange_id: str, credentials: dict[str, str]
    ) -> CcxtAccount:
        """The cached client of (user, exchange); rebuilt when the credentials change."""
        key = (user_id, exchange_id)
        fp = _fingerprint(credentials)
        cached = self._accounts.get(key)
        if cached is not None:
            if cached[0] == fp:
                return cached[1]
            self._retired.append(cached[1])
        acct = CcxtAccount(user_id, self._core(exchange_id, dict(credentials)))
        self._accounts[key] = (fp, acct)
        return acct

    async def release(self, user_id: int | str, exchange_id: str) -> None:
        """Close and forget the client of (user, exchange), e.g. when trading stops."""
        cached = self._accounts.pop((user_id, exchange_id), None)
        if cached is not None:
            await cached[1].close()
        await self._close_retired()

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        await _close_together(retired)

    def _close_later(self, core: CcxtClient) -> None:
        """Close a one-off client without making its caller wait (ccxt sleeps on close)."""
        task = asyncio.create_task(core.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        await asyncio.gather(*self._closing, return_exceptions=True)
        accounts, self._accounts = list(self._accounts.values()), {}
        await _close_together([acct for _, acct in accounts])
        await self._close_retired()
        self.tickers.clear()
        await self.streams.close()
        candles, self._candles = list(self._candles.values()), {}
        public, self._public = list(self._public.values()), {}
        await _close_together([*candles, *public])

    # --- MarketDataSource ----------------------------------------------------------

    async def fetch_ohlcv(
        self,
        exchange_id: str,
        symbol: str,
        timeframe: str,
        since: int | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        if not (self.settings.enable_rate_limit and self.candle_pacer.paces(exchange_id)):
            return await self.public(exchange_id).fetch_ohlcv(symbol, timeframe, since, limit)
        client = await self._candle_client(exchange_id)
        await self.candle_pacer.wait(exchange_id, symbol)
        return await client.fetch_ohlcv(symbol, timeframe, since, limit)

    async def _candle_client(self, exchange_id: str) -> CcxtMarketData:
        """The keyless client of ``exchange_id`` for candles alone: ccxt's limiter off
        (the pacer spaces its calls), the public client's markets."""
        md = self._candles.get(exchange_id)
        if md is None:
            unpaced = dataclasses.replace(self.settings, enable_rate_limit=False)
            md = self._core(exchange_id, None, CcxtMarketData, settings=unpaced)
            self._candles[exchange_id] = md
        if not md.client.markets:
            shared = self.public(exchange_id)
            await shared.load_markets()
            if not md.client.markets:
                md.client.set_markets_from_exchange(shared.client)
        return md

    # --- CandleStream (WebSocket) ------------------------------------------------------

    def streams_candles(self, exchange_id: str) -> bool:
        """Whether candles of ``exchange_id`` can come by WebSocket (ccxt.pro)."""
        return self.streams.supports(exchange_id)

    async def watch_ohlcv(self, exchange_id: str, symbol: str, timeframe: str) -> list[Candle]:
        """The candles the venue pushed since the last call for this market."""
        return await self.streams.watch_ohlcv(exchange_id, symbol, timeframe)

    async def fetch_ticker(self, exchange_id: str, symbol: str) -> Ticker:
        """The ticker, shared between concurrent callers and reused for ``ticker_ttl_s``."""
        return await self.tickers.get(exchange_id, symbol)

    async def _fetch_ticker_now(self, exchange_id: str, symbol: str) -> Ticker:
        return await self.public(exchange_id).fetch_ticker(symbol)

    async def market(self, exchange_id: str, symbol: str) -> MarketInfo:
        return await self.public(exchange_id).market(symbol)

    # --- CredentialVerifier --------------------------------------------------------

    async def verify(
        self, exchange_id: str, credentials: dict[str, str], *, allow_unproven: bool = False
    ) -> Verification:
        """Check brand-new keys: a balance call, then the proof that the key cannot
        withdraw. Kept (``ok``) only when that is proven, or, with ``allow_unproven``, on an
        exchange where nothing can be proven (``can_withdraw=None``). Wallet-key exchanges
        are refused, and so are unprovable exchanges without ``allow_unproven``, before any
        network call. Never raises for a bad key / unknown exchange / outage: ``ok=False``
        with a polite ``reason`` (no secrets) instead."""
        try:
            exchange_class(exchange_id)
            needed = required_credentials(exchange_id)
        except UnknownExchangeError:
            return Verification(ok=False, reason=UNKNOWN_EXCHANGE_REASON)
        name = exchange_id.capitalize()
        if wallet_key_exchange(needed):
            return Verification(
                ok=False,
                reason=wallet_key_reason(name),
                can_withdraw=True,
                withdraw_proof=WithdrawProof.CAN_WITHDRAW,
            )
        provable = is_provable(exchange_id)
        if not provable and not allow_unproven:
            return Verification(
                ok=False,
                reason=unproven_exchange_reason(name),
                withdraw_proof=WithdrawProof.NOT_PROVABLE,
            )
        for field_name in needed:
            if not credentials.get(field_name):
                reason = missing_reason(credential_label(field_name))
                return Verification(ok=False, reason=reason)
        # A new key makes three or four private calls: it shares the markets the public
        # client already loaded, and its calls are not spaced by ccxt's rate limiter (the
        # venues limit private calls per key; the key intake bounds checks in flight).
        core = self._core(
            exchange_id,
            dict(credentials),
            settings=dataclasses.replace(self.settings, enable_rate_limit=False),
        )
        try:
            shared = self.public(exchange_id)
            await shared.load_markets()
            core.client.set_markets_from_exchange(shared.client)
            raw = await core.read("fetch_balance", core.client.fetch_balance)
            balances = tuple(to_balances(raw or {}))
            if provable:
                proof = await prove_withdraw(core)
            else:
                proof = Proof(WithdrawProof.NOT_PROVABLE, why="allowed without a proof")
        except AuthenticationError as err:
            plain = err.code == AuthenticationError.code
            reason = BAD_KEY_REASON if plain else err.reason
            return Verification(ok=False, reason=reason)
        except RetryableError:
            return Verification(ok=False, reason=unreachable_reason(name))
        except NijaError as err:
            return Verification(ok=False, reason=err.reason)
        finally:
            self._close_later(core)
        return _verdict(proof, balances, unproven_allowed=allow_unproven and not provable)


def _verdict(
    proof: Proof, balances: tuple[BalanceLine, ...], *, unproven_allowed: bool
) -> Verification:
    """Keep the key only when it provably cannot withdraw, or when nothing can be proven
    on its exchange and the caller allowed that. Anything else is refused."""
    if proof.state is WithdrawProof.NOT_PROVABLE and not unproven_allowed:
        proof = Proof(WithdrawProof.UNKNOWN, proof.permissions, "no proof where one is needed")
    ok = proof.state in (WithdrawProof.PROVEN_NO_WITHDRAW, WithdrawProof.NOT_PROVABLE)
    if proof.state is WithdrawProof.CAN_WITHDRAW:
        reason = CAN_WITHDRAW_REASON
    elif proof.state is WithdrawProof.UNKNOWN:
        reason = CANNOT_CONFIRM_REASON
    else:
        reason = None
    return Verification(
        ok=ok,
        reason=reason,
        permissions=proof.permissions,
        can_withdraw=proof.can_withdraw,
        balances=balances,
        withdraw_proof=proof.state,
    )


class _Closable(Protocol):
    async def close(self) -> None: ...


async def _close_together(clients: list[_Closable]) -> None:
    """Close clients at the same time: ccxt sleeps 250 ms in each close (its
    ``timeout_on_exit``), so closing 1,000 users' clients one by one would take minutes
    of a shutdown; each ``close`` already swallows its own errors."""
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
