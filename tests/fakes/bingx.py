"""BingX USDT-M perpetual swap emulator for tests (ccxt ``bingx`` runs unmodified against it).

Covers: everything ``load_markets`` fetches (swap contracts, spot symbols, coin-M contracts,
and the signed currency list ccxt loads when credentials are set), swap klines (v2/v3),
tickers, server time, v2/v3 balance, positions, place/query/cancel orders (by ``orderId`` or
``clientOrderID``), open orders, all orders, cancel-all, fills (``allFillOrders``), leverage,
position mode (one-way ``BOTH`` / hedge ``LONG``+``SHORT``) and API-key permissions
(``/openApi/v1/account/apiPermissions``, reached in ccxt only through the implicit method
``account_v1_private_get_account_apipermissions``; the key's codes, 5 = withdraw; the
``malformed`` fault answers ``{"unexpected": "shape"}`` there, with no ``code``/``data``).

Signing is BingX's: header ``X-BX-APIKEY``; ``signature`` = hex HMAC-SHA256(secret, the query
string of every other parameter in the order sent, ``timestamp`` included); a timestamp
outside ``recvWindow`` (default 5000 ms) from the real wall clock is refused.

Margin model (cross, deliberately simple): wallet balance in USDT; positions keyed by
(account, symbol, positionSide) hold a signed size and an entry price; used margin is
``|size| * entry / leverage``; open orders that would open exposure freeze margin at their
limit price; unrealised PnL is marked at the mark price (the last price unless a test pins
one apart with ``set_mark_price``). The balance answer (``GET /openApi/swap/v3/user/balance``)
has the fields and meaning of ccxt's recorded real answer (balance 194.8212, equity 196.7431,
unrealizedProfit 1.9219, availableMargin 193.7609, usedMargin 1.0602, no
``maxWithdrawAmount``): ``balance`` is the wallet without open P&L, ``equity`` = balance +
unrealizedProfit, ``availableMargin`` = balance - usedMargin - freezedMargin with an open
profit left out (an open loss is taken off: our assumption, the recording shows a profit).
So ccxt's unified ``total`` (free + used) is the wallet, not the equity. Opening needs
``notional / leverage <= available`` (else 101204); closing realises PnL into the wallet;
every fill pays the 0.05 % taker fee.

Orders (``POST /openApi/swap/v2/trade/order``) are answered like ccxt's newest recorded
swap answer: ``data`` holds the order itself (``orderId``/``orderID``, symbol, sides, type,
price, quantity, stopPrice, workingType, clientOrderID/clientOrderId, timeInForce, ...,
``status``, ``avgPrice``, ``executedQty``) and no ``commission``: a market order comes back
``FILLED`` without its fee, which only the order query (``commission``) and the fills
(``allFillOrders``) carry. The order query reports ``time`` (placed) and ``updateTime`` (the
last fill, else placement), so a stop placed at t0 and filled at t1 answers time=t0,
updateTime=t1 (ccxt: timestamp, lastTradeTimestamp).

Position mode (``/openApi/swap/v1/positionSide/dual``): BingX documents that the mode
"can be set when there are no active positions or pending orders"; a switch while either
exists is refused with 109400 (the real code and text are not documented; 109400 is
BingX's generic invalid-request code, ccxt BadRequest) and the mode stays.

Error payloads (HTTP 200, ``{"code", "msg", "timestamp"}``) and the ccxt class each maps to:
100413 bad/revoked key and 100001 bad signature -> AuthenticationError; 100421 stale
timestamp -> BadSymbol (ccxt's real mapping, not InvalidNonce); 101204 -> InsufficientFunds;
109201 duplicate open clientOrderID -> DuplicateOrderId (message text is a best guess);
109421/80016 unknown order -> OrderNotFound; 101205 nothing to close, 101400/110425 too small
-> InvalidOrder; 109425 unknown symbol -> BadSymbol. Rate limiting is HTTP 429 with a plain
body -> RateLimitExceeded (a JSON ``100410`` body would map to OperationFailed instead).
Like the real API, client order ids are stored lower-cased.

Layout: this module holds ``BingXEmulator`` (test API and routes); bingx_markets.py the
contract table and public endpoints, bingx_auth.py the signature check, bingx_ledger.py
the margin model, bingx_orders.py and bingx_account.py the private endpoints.

Stop-market (``STOP_MARKET`` + ``stopPrice``, what ccxt sends for ``create_order(...,
"market", ..., {"stopLossPrice": p})``): only closes, so it needs no margin; in one-way mode
it is reduce-only whatever ``reduceOnly`` says (nothing to close -> 101205), in hedge mode
one without a position on its ``positionSide`` to close is refused with 80017 "position not
exist" (-> OrderNotFound, the real reply reported in ccxt issue #18844). It rests ``NEW``
and triggers (sell <=, buy >=) on the price its ``workingType`` names, as BingX documents:
``MARK_PRICE`` (the default when none is sent) on the mark price, ``CONTRACT_PRICE`` on the
last traded price (``INDEX_PRICE`` is taken as the mark: no index is emulated). The last
price moves with ``set_price`` and the replayed candles (emulator_triggers.py, run before
every signed request); the mark follows it unless pinned by ``set_mark_price``. Once
triggered it fills as a market order (``FILLED``, avgPrice, commission, profit): at the
trigger when the last price passed it, at the last price when the mark triggered it. ccxt
parses it as type ``market`` with ``stopLossPrice`` = the trigger (and ``triggerPrice``
None, ccxt's own choice).

WebSocket: the swap market socket's K-line channel (``/swap-market``, gzip frames,
``Ping``/``Pong``): bingx_ws.py and emulator_ws.py.

Not covered: spot or coin-M trading, TRIGGER_*/TAKE_PROFIT*/STOP (limit)/trailing orders,
attached ``stopLoss``/``takeProfit`` JSON, ``closePosition``, partial fills, isolated
margin, liquidation itself (positions report the cross-margin ``liquidationPrice``,
bingx_ledger.py, but nothing is liquidated), order books, account websockets, fill ids
(the real ``allFillOrders`` has none), income types other than funding. Funding
(``ledger.set_funding``, off by default) and its income rows (``GET
/openApi/swap/v2/user/income``): bingx_ledger.py, bingx_account.py.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from decimal import Decimal

from aiohttp import web

from tests.fakes.bingx_account import DEFAULT_PERMISSIONS, WITHDRAW, BingXAccount
from tests.fakes.bingx_auth import PrivateHandler, auth_error, private, stale_timestamp
from tests.fakes.bingx_ledger import SwapLedger, SwapPosition
from tests.fakes.bingx_markets import CONTRACTS, BingXPublic, native, unified
from tests.fakes.bingx_orders import BingXOrders
from tests.fakes.bingx_ws import BingXKlineFeed
from tests.fakes.emulator_base import EmuAccount, EmulatorServer, EmuOrder, scaled_candles
from tests.fakes.emulator_triggers import StopTriggers


def _new_credential() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(64))


class BingXEmulator(EmulatorServer):
    """BingX perpetual-swap API on 127.0.0.1 (see the module docstring)."""

    exchange_id = "bingx"

    def __init__(self, *, candle_scale: float = 100000.0) -> None:
        super().__init__()
        self.symbols = [f"{base}/USDT:USDT" for base in CONTRACTS]
        # Mark prices a test holds apart from the last price (``set_mark_price``).
        self.mark_prices: dict[str, Decimal] = {}
        self.ledger: SwapLedger = SwapLedger(self.price, self.mark_prices.get)
        self.stops = StopTriggers(self)
        # (order id, how many orders had been placed by then) of every cancel: lets a
        # test tell which orders were resting when one was cancelled
        self.cancel_log: list[tuple[str, int]] = []
        # order types (``STOP_MARKET``, ...) a test makes the venue refuse (109400), like
        # a stop BingX will not take: the engine must fall back to its own check
        self.refused_types: set[str] = set()
        self.ws = BingXKlineFeed(self)  # swap market WebSocket, K-lines (bingx_ws.py)
        for base, (csv_name, factor, btc_quoted, *_rest) in CONTRACTS.items():
            scale = factor * (candle_scale if btc_quoted else 1.0)
            self.candles[f"{base}/USDT:USDT"] = scaled_candles(csv_name, scale)

    # --- public test API ----------------------------------------------------------

    def add_account(
        self,
        balances: dict[str, Decimal] | None = None,
        *,
        can_withdraw: bool = False,
        permissions: Iterable[int] | None = None,
    ) -> EmuAccount:
        """A new key. ``permissions`` are BingX's codes (1 spot trading, 2 read, 3 perpetual
        futures trading, 4 universal transfer, 5 withdraw, 7 sub-account internal transfer;
        the emulator does not enforce them) and default to ``[2, 3]``, what a swap-trading
        key holds; ``can_withdraw=True`` adds 5."""
        bal = dict(balances) if balances is not None else {"USDT": Decimal("10000")}
        perms = list(permissions) if permissions is not None else list(DEFAULT_PERMISSIONS)
        if can_withdraw and WITHDRAW not in perms:
            perms.append(WITHDRAW)
        account = EmuAccount(_new_credential(), _new_credential(), bal)
        account.permissions = tuple(perms)
        account.can_withdraw = WITHDRAW in perms
        return self.ledger.add_account(account)

    def orders_for_client_id(self, account: EmuAccount, client_id: str) -> list[EmuOrder]:
        return super().orders_for_client_id(account, client_id.lower())

    def set_hedge_mode(self, account: EmuAccount, hedged: bool) -> None:
        (self.ledger.hedged.add if hedged else self.ledger.hedged.discard)(account.api_key)

    def mark_price(self, symbol: str) -> Decimal | None:
        """The mark price: pinned by ``set_mark_price``, else the last price."""
        return self.ledger.mark(symbol)

    def set_mark_price(self, symbol: str, price: Decimal | None) -> None:
        """Hold ``symbol``'s mark price at ``price`` apart from the last price (None: the
        mark follows the last price again). ``MARK_PRICE`` stops (BingX's default) it
        reaches trigger and fill as market orders at the last price; positions' open
        P&L and the margin figures are marked at it."""
        if price is None:
            self.mark_prices.pop(symbol, None)
            return
        self.mark_prices[symbol] = Decimal(price)
        now = self.clock_ms()
        for o in list(self.ledger.orders):
            if o.symbol == symbol and o.status == "open" and o.trigger_price is not None:
                if o.triggered_ms is None:
                    self.ledger.check_stop(o, now, self.split_symbol)

    def position_of(self, account: EmuAccount, symbol: str, side: str = "BOTH") -> SwapPosition:
        """Assertion helper: the position (possibly flat) for (account, symbol, positionSide)."""
        return self.ledger.position(account.api_key, symbol, side)

    @staticmethod
    def native(symbol: str) -> str:
        """``BTC/USDT:USDT`` -> ``BTC-USDT``."""
        return native(symbol)

    @staticmethod
    def unified(native_id: str | None) -> str | None:
        """``BTC-USDT`` -> ``BTC/USDT:USDT``; None for an unknown contract."""
        return unified(native_id)

    # --- fault payloads --------------------------------------------------------------

    def rate_limit_response(self) -> web.Response:
        return web.Response(status=429, text="Too Many Requests")

    def auth_error_response(self) -> web.Response:
        return auth_error()

    def stale_nonce_response(self) -> web.Response:
        return stale_timestamp()

    # --- routes ----------------------------------------------------------------------

    def _synced(self, handler: PrivateHandler) -> PrivateHandler:
        """``handler`` after the open stops caught up with the clock (candles closed since
        they were placed, then the current price), as every signed request does."""

        async def run(request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
            self.ledger.settle_funding(self.clock_ms())  # funding due since (bingx_ledger.py)
            self.stops.sync(self.clock_ms())
            return await handler(request, acct, params)

        return run

    def routes(self) -> list[web.RouteDef]:
        pub, o, a = BingXPublic(self), BingXOrders(self), BingXAccount(self)

        def p(handler):
            return private(self.ledger, self._synced(handler))

        s1, s2 = "/openApi/swap/v1", "/openApi/swap/v2"
        return [
            web.get(f"{s2}/server/time", pub.server_time),
            web.get(f"{s2}/quote/contracts", pub.contracts),
            web.get("/openApi/spot/v1/common/symbols", pub.spot_symbols),
            web.get("/openApi/cswap/v1/market/contracts", pub.coin_m_contracts),
            web.get("/openApi/swap/v3/quote/klines", pub.klines),
            web.get(f"{s2}/quote/klines", pub.klines),
            web.get(f"{s2}/quote/ticker", pub.ticker),
            web.get("/openApi/wallets/v1/capital/config/getall", p(a.currencies)),
            web.get("/openApi/swap/v3/user/balance", p(a.balance_v3)),
            web.get(f"{s2}/user/balance", p(a.balance_v2)),
            web.get("/openApi/spot/v1/account/balance", p(a.spot_balance)),
            web.get(f"{s2}/user/positions", p(a.positions)),
            web.get(f"{s2}/user/income", p(a.income)),
            web.post(f"{s2}/trade/order", p(o.place)),
            web.get(f"{s2}/trade/order", p(o.query)),
            web.delete(f"{s2}/trade/order", p(o.cancel)),
            web.get(f"{s2}/trade/openOrders", p(o.open_orders)),
            web.get(f"{s2}/trade/allOrders", p(o.all_orders)),
            web.get(f"{s1}/trade/fullOrder", p(o.all_orders)),
            web.delete(f"{s2}/trade/allOpenOrders", p(o.cancel_all)),
            web.get(f"{s2}/trade/allFillOrders", p(o.fills)),
            web.get(f"{s2}/trade/leverage", p(a.get_leverage)),
            web.post(f"{s2}/trade/leverage", p(a.set_leverage)),
            web.get(f"{s1}/positionSide/dual", p(a.get_mode)),
            web.post(f"{s1}/positionSide/dual", p(a.set_mode)),
            web.get("/openApi/v1/account/apiPermissions", p(a.permissions)),
            *self.ws.routes(),
        ]
