"""Venues for the exchange contract suite: the paper exchange and the ccxt gateway
against each exchange emulator (tests/fakes). An emulator module that does not exist
(yet) skips its parameter."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.paper import InMemoryPaperStore, PaperAccount
from nija_tg.exchange.precision import round_step

EMULATORS = {
    "kraken": ("tests.fakes.kraken", "KrakenEmulator"),
    "bingx": ("tests.fakes.bingx", "BingXEmulator"),
    "coinbase": ("tests.fakes.coinbase", "CoinbaseEmulator"),
}
# The path of the order-placing request, per exchange (POST).
ORDER_PATHS = {
    "kraken": "/0/private/AddOrder",
    "bingx": "/openApi/swap/v2/trade/order",
    "coinbase": "/api/v3/brokerage/orders",
}
VENUES = ["paper", "kraken", "bingx", "coinbase"]
TIMEOUT_MS = 2500


def emulator_class(exchange_id: str) -> type:
    module_name, class_name = EMULATORS[exchange_id]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            pytest.skip(f"{module_name} does not exist yet")
        raise
    klass = getattr(module, class_name, None)
    if klass is None:
        pytest.skip(f"{module_name}.{class_name} does not exist yet")
    return klass


def make_gateway(emulator: Any, **kw: Any) -> CcxtGateway:
    opts = {"enable_rate_limit": False, "timeout_ms": TIMEOUT_MS, "read_retries": 0}
    opts.update(kw)
    return CcxtGateway(exchange_urls={emulator.exchange_id: emulator.base_url}, **opts)


@dataclass
class Venue:
    """One thing that trades: ``account`` plus how a test moves its prices."""

    name: str
    account: Any  # TradingAccount
    gateway: CcxtGateway
    exchange_id: str  # whose public prices are used
    symbol: str
    emulator: Any = None  # None for paper
    emu_account: Any = None
    paper: PaperAccount | None = None

    @property
    def is_paper(self) -> bool:
        return self.paper is not None

    async def price(self) -> Decimal:
        return (await self.gateway.fetch_ticker(self.exchange_id, self.symbol)).last

    async def set_price(self, price: Decimal) -> None:
        self.emulator_for_prices.set_price(self.symbol, price)
        if self.paper is not None:
            await self.paper.on_price(self.symbol, price)

    async def amount_for(self, usd: Decimal) -> Decimal:
        market = await self.account.market(self.symbol)
        amount = round_step(usd / await self.price(), market.amount_step)
        return max(amount, market.min_amount or Decimal(0))

    def freeze_clock(self, ms: int) -> None:
        """Hold the venue's clock (the emulator's, or the paper account's) at ``ms``."""
        if self.paper is not None:
            self.paper.clock = lambda: ms
        else:
            self.emulator.clock_ms = lambda: ms

    async def quote_line(self) -> Any:
        """The balance line of the venue's quote currency."""
        quote = "USDT" if self.exchange_id == "bingx" else "USD"
        return next(b for b in await self.account.fetch_balance() if b.currency == quote)

    def order_posts(self) -> int:
        path = ORDER_PATHS[self.exchange_id]
        return sum(1 for m, p in self.emulator.requests if m == "POST" and p == path)

    emulator_for_prices: Any = None


@pytest.fixture
async def emulators() -> AsyncIterator[dict[str, Any]]:
    started: dict[str, Any] = {}

    async def get(exchange_id: str) -> Any:
        if exchange_id not in started:
            emu = emulator_class(exchange_id)()
            await emu.start()
            started[exchange_id] = emu
        return started[exchange_id]

    yield get  # type: ignore[misc]
    for emu in started.values():
        await emu.stop()


@pytest.fixture(params=VENUES)
async def venue(request, emulators) -> AsyncIterator[Venue]:
    name = request.param
    if name == "paper":
        emu = await emulators("kraken")
        gw = make_gateway(emu)
        paper = PaperAccount(
            42, "kraken", gw, InMemoryPaperStore(), fee_rate=Decimal("0.001"), slippage=Decimal(0)
        )
        v = Venue("paper", paper, gw, "kraken", "BTC/USD", paper=paper, emulator_for_prices=emu)
    else:
        emu = await emulators(name)
        gw = make_gateway(emu)
        acct = emu.add_account()
        account = gw.account(7, name, emu.credentials(acct))
        symbol = "BTC/USDT:USDT" if name == "bingx" else "BTC/USD"
        v = Venue(name, account, gw, name, symbol, emu, acct, emulator_for_prices=emu)
    try:
        yield v
    finally:
        await gw.close_all()
