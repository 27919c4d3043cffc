"""BingX USDT-M perpetual swap emulator for tests (ccxt ``bingx`` runs unmodified against it).

Covers: everything ``load_markets`` fetches (swap contracts, spot symbols, coin-M contracts,
and the signed currency list ccxt loads when credentials are set), swap klines (v2/v3),
tickers, server time, v2/v3 balance, positions, place/query/cancel orders (by ``orderId`` or
``clientOrderID``), open orders, all orders, cancel-all, fills (``allFillOrders``), leverage,
position mode (one-way ``BOTH`` / hedge ``LONG``+``SHORT``) and API-key permissions
(``/openApi/v1/account/apiPermissions``, reached in ccxt only through the implicit method
``account_v1_private_get_account_apipermissions``; permission 5 = withdraw).

Signing is BingX's: header ``X-BX-APIKEY``; ``signature`` = hex HMAC-SHA256(secret, the query
string of every other parameter in the order sent, ``timestamp`` included); a timestamp
outside ``recvWindow`` (default 5000 ms) from the real wall clock is refused.

Margin model (cross, deliberately simple): wallet balance in USDT; positions keyed by
(account, symbol, positionSide) hold a signed size and an entry price; used margin is
``|size| * entry / leverage``; open orders that would open exposure freeze margin at their
limit price; unrealised PnL is marked at the current price; available = equity - used -
frozen. Opening needs ``notional / leverage <= available`` (else 101204); closing realises
PnL into the wallet; every fill pays the 0.05 % taker fee.

Error payloads (HTTP 200, ``{"code", "msg", "timestamp"}``) and the ccxt class each maps to:
100413 bad/revoked key and 100001 bad signature -> AuthenticationError; 100421 stale
timestamp -> BadSymbol (ccxt's real mapping, not InvalidNonce); 101204 -> InsufficientFunds;
109201 duplicate open clientOrderID -> DuplicateOrderId (message text is a best guess);
109421/80016 unknown order -> OrderNotFound; 101205 nothing to close, 101400/110425 too small
-> InvalidOrder; 109425 unknown symbol -> BadSymbol. Rate limiting is HTTP 429 with a plain
body -> RateLimitExceeded (a JSON ``100410`` body would map to OperationFailed instead).
Like the real API, client order ids are stored lower-cased.

Not covered: spot or coin-M trading, trigger/TP/SL/trailing orders, partial fills, isolated
margin, liquidation, funding, order books, websockets, fill ids (the real ``allFillOrders``
has none).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import web

from tests.fakes.emulator_base import (
    EmuAccount,
    EmuFill,
    EmulatorServer,
    EmuOrder,
    Ledger,
    load_candles,
)

ZERO = Decimal(0)
TAKER_FEE = Decimal("0.0005")
DEFAULT_LEVERAGE = 10
RECV_WINDOW_MS = 5000
ORDER_ID_BASE = 1_809_000_000_000_000_000
INTERVAL_MINUTES = {"5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "1d": 1440}

# base -> (csv, factor, scaled by candle_scale?, qty decimals, price decimals, min qty, max lev)
CONTRACTS: dict[str, tuple[str, float, bool, int, int, str, int]] = {
    "BTC": ("ETH-BTC-5m.csv", 6.0, True, 4, 1, "0.0001", 125),
    "ETH": ("LTC-BTC-5m.csv", 2.0, True, 2, 2, "0.01", 100),
    "SOL": ("ADA-BTC-5m.csv", 30.0, True, 2, 3, "0.01", 50),
    "AVAX": ("XRP-USDT-5m-futures.csv", 30.0, False, 1, 3, "0.1", 50),
    "POL": ("XRP-USDT-5m-futures.csv", 0.5, False, 0, 5, "1", 50),
    "DOT": ("LTC-BTC-5m.csv", 0.004, True, 1, 3, "0.1", 50),
    "LINK": ("ADA-BTC-5m.csv", 3.0, True, 1, 3, "0.1", 50),
    "ADA": ("ADA-BTC-5m.csv", 0.1, True, 0, 4, "1", 50),
}
CONTRACT_IDS = {base: 100 + i for i, base in enumerate(CONTRACTS)}


def _s(value: Decimal | None, places: int | None = None) -> str:
    """Decimal as BingX prints numbers: a plain string."""
    if value is None:
        return "0"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text and places is None else text


def _new_credential() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(64))


@dataclass
class SwapPosition:
    position_id: str
    size: Decimal = ZERO  # signed: > 0 long, < 0 short
    entry: Decimal = ZERO
    realised: Decimal = ZERO
    opened_ms: int = 0
    updated_ms: int = 0


class SwapLedger(Ledger):
    """Ledger whose fills move perpetual positions and USDT margin instead of spot balances."""

    def __init__(self, price_of: Callable[[str], Decimal | None]) -> None:
        super().__init__(fee_rate=TAKER_FEE)
        self.price_of = price_of
        self.positions: dict[tuple[str, str, str], SwapPosition] = {}
        self.leverage: dict[tuple[str, str], dict[str, int]] = {}
        self.hedged: set[str] = set()
        self.profit: dict[str, Decimal] = {}  # order id -> realised PnL
        self.realised: dict[str, Decimal] = {}  # api key -> realised PnL

    def position(self, key: str, symbol: str, side: str) -> SwapPosition:
        pos = self.positions.get((key, symbol, side))
        if pos is None:
            pos = SwapPosition(position_id=str(ORDER_ID_BASE + int(self.next_id())))
            self.positions[(key, symbol, side)] = pos
        return pos

    def lev(self, key: str, symbol: str, long: bool) -> int:
        levs = self.leverage.get((key, symbol), {})
        return levs.get("LONG" if long else "SHORT", DEFAULT_LEVERAGE)

    def _signed(self, order: EmuOrder, qty: Decimal) -> Decimal:
        return qty if order.side == "buy" else -qty

    def reducing(self, order: EmuOrder) -> bool:
        side = order.position_side or "BOTH"
        if side == "BOTH":
            return order.reduce_only
        return (side == "LONG") == (order.side == "sell")

    def split_qty(self, order: EmuOrder, qty: Decimal) -> tuple[Decimal, Decimal]:
        """(closing, opening) parts of ``qty`` for ``order`` against its current position."""
        pos = self.position(order.account, order.symbol, order.position_side or "BOTH")
        delta = self._signed(order, qty)
        closeable = abs(pos.size) if pos.size * delta < 0 else ZERO
        closing = min(qty, closeable)
        opening = ZERO if self.reducing(order) else qty - closing
        return closing, opening

    def margin_needed(self, order: EmuOrder, price: Decimal) -> Decimal:
        _, opening = self.split_qty(order, order.amount - order.filled)
        return opening * price / self.lev(order.account, order.symbol, order.side == "buy")

    def summary(self, key: str) -> dict[str, Decimal]:
        """Wallet balance, unrealised PnL, used and frozen margin, equity and available."""
        balance = self.accounts[key].balances.get("USDT", ZERO)
        used = upnl = frozen = ZERO
        for (acct, symbol, _), pos in self.positions.items():
            if acct != key or not pos.size:
                continue
            used += abs(pos.size) * pos.entry / self.lev(key, symbol, pos.size > 0)
            mark = self.price_of(symbol) or pos.entry
            upnl += (mark - pos.entry) * pos.size
        for o in self.orders:
            if o.account == key and o.status == "open" and o.type == "limit":
                frozen += self.margin_needed(o, o.price or ZERO)
        equity = balance + upnl
        return {
            "balance": balance,
            "upnl": upnl,
            "used": used,
            "frozen": frozen,
            "equity": equity,
            "available": equity - used - frozen,
        }

    def try_fill(self, order: EmuOrder, base: str, quote: str, now_ms: int) -> None:
        if order.status != "open":
            return
        px = self.price_of(order.symbol)
        if px is None:
            return
        if order.type == "limit":
            assert order.price is not None
            if not (px <= order.price if order.side == "buy" else px >= order.price):
                return
            px = order.price
        closing, opening = self.split_qty(order, order.amount - order.filled)
        qty = closing + opening
        if qty <= 0:  # reduce-only order with nothing left to reduce
            order.status = "canceled"
            return
        pos = self.position(order.account, order.symbol, order.position_side or "BOTH")
        direction = Decimal(1) if pos.size > 0 else Decimal(-1)
        realised = (px - pos.entry) * closing * direction if closing else ZERO
        if closing:
            pos.size -= closing * direction
        if opening:
            add = self._signed(order, opening)
            pos.entry = (pos.entry * pos.size + px * add) / (pos.size + add) if pos.size else px
            pos.opened_ms = pos.opened_ms if pos.size else now_ms
            pos.size += add
        if not pos.size:
            pos.entry = ZERO
        pos.realised += realised
        pos.updated_ms = now_ms
        fee = qty * px * self.fee_rate
        bal = self.accounts[order.account].balances
        bal[quote] = bal.get(quote, ZERO) + realised - fee
        key = order.account
        self.realised[key] = self.realised.get(key, ZERO) + realised
        self.profit[order.order_id] = self.profit.get(order.order_id, ZERO) + realised
        order.filled += qty
        order.avg_price = px
        order.fee += fee
        order.status = "closed"
        self.fills.append(
            EmuFill(
                self.next_id("T"),
                order.order_id,
                key,
                order.symbol,
                order.side,
                qty,
                px,
                fee,
                now_ms,
            )
        )


class BingXEmulator(EmulatorServer):
    """BingX perpetual-swap API on 127.0.0.1 (see the module docstring)."""

    exchange_id = "bingx"

    def __init__(self, *, candle_scale: float = 100000.0) -> None:
        super().__init__()
        self.symbols = [f"{base}/USDT:USDT" for base in CONTRACTS]
        self.ledger: SwapLedger = SwapLedger(self.price)
        for base, (csv_name, factor, btc_quoted, *_rest) in CONTRACTS.items():
            scale = factor * (candle_scale if btc_quoted else 1.0)
            self.candles[f"{base}/USDT:USDT"] = load_candles(csv_name, scale)

    async def start(self) -> str:
        """As the base, but with a 1 s shutdown grace: a handler hung by the
        ``timeout_after_accept`` fault would otherwise hold ``stop()`` for aiohttp's 60 s."""
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # aiohttp exposes no getter
        return self.base_url

    # --- public test API ----------------------------------------------------------

    def add_account(
        self, balances: dict[str, Decimal] | None = None, *, can_withdraw: bool = False
    ) -> EmuAccount:
        bal = dict(balances) if balances is not None else {"USDT": Decimal("10000")}
        account = EmuAccount(_new_credential(), _new_credential(), bal, can_withdraw=can_withdraw)
        return self.ledger.add_account(account)

    def credentials(self, account: EmuAccount) -> dict[str, str]:
        return {"apiKey": account.api_key, "secret": account.secret}

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.ledger.set_price(symbol, price, self.split_symbol, self.clock_ms())

    def revoke(self, account: EmuAccount) -> None:
        account.revoked = True

    def orders_for_client_id(self, account: EmuAccount, client_id: str) -> list[EmuOrder]:
        cid = client_id.lower()
        return [
            o for o in self.ledger.orders if o.account == account.api_key and o.client_id == cid
        ]

    def set_hedge_mode(self, account: EmuAccount, hedged: bool) -> None:
        (self.ledger.hedged.add if hedged else self.ledger.hedged.discard)(account.api_key)

    def position_of(self, account: EmuAccount, symbol: str, side: str = "BOTH") -> SwapPosition:
        """Assertion helper: the position (possibly flat) for (account, symbol, positionSide)."""
        return self.ledger.position(account.api_key, symbol, side)

    def price(self, symbol: str) -> Decimal | None:
        return self.ledger.prices.get(symbol) or self.last_price(symbol)

    @staticmethod
    def split_symbol(symbol: str) -> tuple[str, str]:
        base, rest = symbol.split("/")
        return base, rest.split(":")[0]

    @staticmethod
    def native(symbol: str) -> str:
        base, quote = BingXEmulator.split_symbol(symbol)
        return f"{base}-{quote}"

    def unified(self, native_id: str | None) -> str | None:
        base = (native_id or "").removesuffix("-USDT")
        return f"{base}/USDT:USDT" if base in CONTRACTS else None

    # --- fault payloads --------------------------------------------------------------

    def rate_limit_response(self) -> web.Response:
        return web.Response(status=429, text="Too Many Requests")

    def auth_error_response(self) -> web.Response:
        return self._err(100413, "Incorrect apiKey, please check your valid api key")

    def stale_nonce_response(self) -> web.Response:
        return self._err(100421, "Null timestamp or timestamp mismatch")

    # --- plumbing --------------------------------------------------------------------

    def _ok(self, data: object) -> web.Response:
        body = {"code": 0, "msg": "", "timestamp": int(time.time() * 1000), "data": data}
        return web.json_response(body)

    def _err(self, code: int, msg: str) -> web.Response:
        body = {"code": code, "msg": msg, "timestamp": int(time.time() * 1000)}
        return web.json_response(body)

    def _private(self, handler):
        """Wrap ``handler(request, account, params)`` with BingX's key/signature/time checks."""

        async def wrapped(request: web.Request) -> web.Response:
            params = dict(request.query)
            if request.can_read_body and request.content_type.endswith("x-www-form-urlencoded"):
                params.update(dict(await request.post()))
            account = self.ledger.accounts.get(request.headers.get("X-BX-APIKEY", ""))
            if account is None or account.revoked:
                return self.auth_error_response()
            pairs = [(k, v) for k, v in request.query.items() if k != "signature"]
            payload = "&".join(f"{k}={v}" for k, v in pairs)
            raw = "&".join(
                p
                for p in request.rel_url.raw_query_string.split("&")
                if not p.startswith("signature=")
            )
            given = params.get("signature", "")
            ok = any(
                hmac.compare_digest(
                    hmac.new(account.secret.encode(), text.encode(), hashlib.sha256).hexdigest(),
                    given,
                )
                for text in {payload, raw}
            )
            if not ok:
                return self._err(100001, "Signature verification failed")
            try:
                stamp = int(params.get("timestamp", ""))
                window = int(params.get("recvWindow", RECV_WINDOW_MS))
            except ValueError:
                return self.stale_nonce_response()
            if abs(time.time() * 1000 - stamp) > window:
                return self.stale_nonce_response()
            return await handler(request, account, params)

        return wrapped

    def routes(self) -> list[web.RouteDef]:
        p, s1, s2 = self._private, "/openApi/swap/v1", "/openApi/swap/v2"
        return [
            web.get(f"{s2}/server/time", self._server_time),
            web.get(f"{s2}/quote/contracts", self._contracts),
            web.get("/openApi/spot/v1/common/symbols", self._spot_symbols),
            web.get("/openApi/cswap/v1/market/contracts", self._coin_m_contracts),
            web.get("/openApi/swap/v3/quote/klines", self._klines),
            web.get(f"{s2}/quote/klines", self._klines),
            web.get(f"{s2}/quote/ticker", self._ticker),
            web.get("/openApi/wallets/v1/capital/config/getall", p(self._currencies)),
            web.get("/openApi/swap/v3/user/balance", p(self._balance_v3)),
            web.get(f"{s2}/user/balance", p(self._balance_v2)),
            web.get("/openApi/spot/v1/account/balance", p(self._spot_balance)),
            web.get(f"{s2}/user/positions", p(self._positions)),
            web.post(f"{s2}/trade/order", p(self._place)),
            web.get(f"{s2}/trade/order", p(self._query)),
            web.delete(f"{s2}/trade/order", p(self._cancel)),
            web.get(f"{s2}/trade/openOrders", p(self._open_orders)),
            web.get(f"{s2}/trade/allOrders", p(self._all_orders)),
            web.get(f"{s1}/trade/fullOrder", p(self._all_orders)),
            web.delete(f"{s2}/trade/allOpenOrders", p(self._cancel_all)),
            web.get(f"{s2}/trade/allFillOrders", p(self._fills)),
            web.get(f"{s2}/trade/leverage", p(self._get_leverage)),
            web.post(f"{s2}/trade/leverage", p(self._set_leverage)),
            web.get(f"{s1}/positionSide/dual", p(self._get_mode)),
            web.post(f"{s1}/positionSide/dual", p(self._set_mode)),
            web.get("/openApi/v1/account/apiPermissions", p(self._permissions)),
        ]

    # --- public endpoints ------------------------------------------------------------

    async def _server_time(self, request: web.Request) -> web.Response:
        return self._ok({"serverTime": int(time.time() * 1000)})

    async def _contracts(self, request: web.Request) -> web.Response:
        rows = []
        for base, (_, _, _, qty_dp, px_dp, min_qty, max_lev) in CONTRACTS.items():
            rows.append(
                {
                    "contractId": str(CONTRACT_IDS[base]),
                    "symbol": f"{base}-USDT",
                    "size": min_qty,
                    "quantityPrecision": qty_dp,
                    "pricePrecision": px_dp,
                    "feeRate": "0.0005",
                    "makerFeeRate": "0.0002",
                    "takerFeeRate": "0.0005",
                    "tradeMinLimit": 0,
                    "tradeMinQuantity": float(min_qty),
                    "tradeMinUSDT": 2,
                    "maxLongLeverage": max_lev,
                    "maxShortLeverage": max_lev,
                    "currency": "USDT",
                    "asset": base,
                    "status": 1,
                    "apiStateOpen": "true",
                    "apiStateClose": "true",
                    "ensureTrigger": True,
                    "triggerFeeRate": "0.00050000",
                    "brokerState": True,
                    "launchTime": 1586275200000,
                    "maintainTime": 0,
                    "offTime": 0,
                    "displayName": f"{base}-USDT",
                }
            )
        return self._ok(rows)

    async def _spot_symbols(self, request: web.Request) -> web.Response:
        rows = [
            {
                "symbol": f"{base}-USDT",
                "minQty": 0.0001,
                "maxQty": 100,
                "minNotional": 5,
                "maxNotional": 2000000,
                "status": 1,
                "tickSize": tick,
                "stepSize": step,
                "apiStateSell": True,
                "apiStateBuy": True,
                "timeOnline": 0,
                "offTime": 0,
                "maintainTime": 0,
                "displayName": f"{base}-USDT",
            }
            for base, tick, step in (("BTC", 0.01, 0.000001), ("ETH", 0.01, 0.0001))
        ]
        return self._ok({"symbols": rows})

    async def _coin_m_contracts(self, request: web.Request) -> web.Response:
        return self._ok([])

    async def _klines(self, request: web.Request) -> web.Response:
        q = request.query
        symbol = self.unified(q.get("symbol"))
        minutes = INTERVAL_MINUTES.get(q.get("interval", ""))
        if symbol is None:
            return self._err(109425, f"{q.get('symbol')} not exist, please verify it")
        if minutes is None:
            return self._err(109400, "Invalid parameters, err:interval is not supported")
        rows = _aggregate(self.ohlcv(symbol, None, None), minutes)
        start, end = q.get("startTime"), q.get("endTime")
        rows = [
            r for r in rows if (not start or r[0] >= int(start)) and (not end or r[0] <= int(end))
        ]
        limit = min(int(q.get("limit", 500)), 1440)
        rows = rows[:limit] if start else rows[-limit:]
        data = [
            {"open": f"{r[1]:.8g}", "close": f"{r[4]:.8g}", "high": f"{r[2]:.8g}",
             "low": f"{r[3]:.8g}", "volume": f"{r[5]:.2f}", "time": r[0]}
            for r in rows
        ]  # fmt: skip
        return self._ok(data)

    def _ticker_row(self, symbol: str) -> dict[str, object]:
        rows = self.ohlcv(symbol, None, 288)
        last = self.price(symbol) or Decimal(0)
        open_ = Decimal(str(rows[0][1])) if rows else last
        high = max([Decimal(str(r[2])) for r in rows] + [last])
        low = min([Decimal(str(r[3])) for r in rows] + [last])
        volume = sum(Decimal(str(r[5])) for r in rows)
        change = last - open_
        pct = (change / open_ * 100) if open_ else ZERO
        tick = Decimal(1).scaleb(-CONTRACTS[self.split_symbol(symbol)[0]][4])
        now = self.clock_ms()
        return {
            "symbol": self.native(symbol),
            "priceChange": _s(change),
            "priceChangePercent": _s(pct, 2),
            "lastPrice": _s(last),
            "lastQty": "1",
            "highPrice": _s(high),
            "lowPrice": _s(low),
            "volume": _s(volume, 2),
            "quoteVolume": _s(volume * last, 2),
            "openPrice": _s(open_),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "bidPrice": _s(last - tick),
            "bidQty": "10",
            "askPrice": _s(last + tick),
            "askQty": "10",
        }

    async def _ticker(self, request: web.Request) -> web.Response:
        native = request.query.get("symbol")
        if native is None:
            return self._ok([self._ticker_row(s) for s in self.symbols])
        symbol = self.unified(native)
        if symbol is None:
            return self._err(109425, f"{native} not exist, please verify it")
        return self._ok(self._ticker_row(symbol))

    # --- private endpoints -----------------------------------------------------------

    def _lookup(self, key: str, params: dict[str, str]) -> EmuOrder | None:
        order_id = params.get("orderId", "")
        cid = params.get("clientOrderId") or params.get("clientOrderID") or ""
        now = self.clock_ms()
        if order_id not in ("", "None", "0"):
            return self.ledger.find(key, order_id, now)
        return self.ledger.find_by_client_id(key, cid.lower(), now) if cid else None

    def _order_json(self, o: EmuOrder) -> dict[str, object]:
        last_fill = [f.ts_ms for f in self.ledger.fills if f.order_id == o.order_id]
        empty_tpsl = {"type": "", "quantity": 0, "stopPrice": 0, "price": 0, "workingType": ""}
        lev = self.ledger.lev(o.account, o.symbol, (o.side == "buy") != self.ledger.reducing(o))
        return {
            "symbol": self.native(o.symbol),
            "orderId": int(o.order_id),
            "side": o.side.upper(),
            "positionSide": o.position_side,
            "type": o.type.upper(),
            "origQty": _s(o.amount),
            "price": _s(o.price or ZERO),
            "executedQty": _s(o.filled),
            "avgPrice": _s(o.avg_price or ZERO),
            "cumQuote": _s(o.filled * (o.avg_price or ZERO), 4),
            "stopPrice": "",
            "profit": _s(self.ledger.profit.get(o.order_id, ZERO), 4),
            "commission": _s(-o.fee, 6),
            "status": {"open": "NEW", "closed": "FILLED", "canceled": "CANCELLED"}[o.status],
            "time": o.created_ms,
            "updateTime": max(last_fill, default=o.created_ms),
            "clientOrderId": o.client_id or "",
            "leverage": f"{lev}X",
            "takeProfit": dict(empty_tpsl),
            "stopLoss": dict(empty_tpsl),
            "advanceAttr": 0,
            "positionID": 0,
            "takeProfitEntrustPrice": 0,
            "stopLossEntrustPrice": 0,
            "orderType": "",
            "workingType": "MARK_PRICE",
            "reduceOnly": o.reduce_only,
            "onlyOnePosition": o.position_side == "BOTH",
        }

    async def _place(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        key, symbol = acct.api_key, self.unified(params.get("symbol"))
        if symbol is None:
            return self._err(109425, f"{params.get('symbol')} not exist, please verify it")
        base, quote = self.split_symbol(symbol)
        otype, side = params.get("type", "").upper(), params.get("side", "").upper()
        if otype not in ("MARKET", "LIMIT") or side not in ("BUY", "SELL"):
            return self._err(109400, "Invalid parameters, err:only MARKET and LIMIT are emulated")
        hedged = key in self.ledger.hedged
        pos_side = params.get("positionSide", "LONG" if hedged else "BOTH").upper()
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        if hedged == (pos_side == "BOTH") or (hedged and reduce_only):
            mode = "Hedge" if hedged else "One-way"
            return self._err(109400, f"In {mode} mode, positionSide {pos_side} is not allowed")
        try:
            qty = Decimal(params["quantity"])
            price = Decimal(params["price"]) if otype == "LIMIT" else None
        except (KeyError, ArithmeticError):
            return self._err(109400, "Invalid parameters, err:quantity/price is required")
        cid = (params.get("clientOrderID") or params.get("clientOrderId") or "").lower() or None
        if cid and self.ledger.find_open_by_client_id(key, cid):
            return self._err(109201, "The same clientOrderID already exists in an open order")
        min_qty = Decimal(CONTRACTS[base][5])
        if qty < min_qty:
            return self._err(101400, f"The minimum order amount is {min_qty} {base}.")
        ref_px = price or self.price(symbol) or ZERO
        order = EmuOrder(
            order_id=str(ORDER_ID_BASE + int(self.ledger.next_id())),
            client_id=cid,
            account=key,
            symbol=symbol,
            side=side.lower(),
            type=otype.lower(),
            amount=qty,
            price=price,
            reduce_only=reduce_only,
            position_side=pos_side,
        )
        closing, _ = self.ledger.split_qty(order, qty)
        if self.ledger.reducing(order) and not closing:
            return self._err(101205, "No position to close")
        if not self.ledger.reducing(order) and qty * ref_px < 2:
            msg = "Please ensure that the minimum nominal value of the order placed must be"
            return self._err(110425, msg + " greater than 2u")
        if self.ledger.margin_needed(order, ref_px) > self.ledger.summary(key)["available"]:
            return self._err(101204, "Insufficient margin")
        self.ledger.place(order, base, quote, self.clock_ms())
        data = {
            "orderId": int(order.order_id),
            "symbol": self.native(symbol),
            "positionSide": pos_side,
            "side": side,
            "type": otype,
            "price": float(price or 0),
            "quantity": float(qty),
            "stopPrice": 0,
            "workingType": "MARK_PRICE",
            "clientOrderID": cid or "",
            "timeInForce": params.get("timeInForce", "GTC"),
            "priceRate": 0,
            "stopLoss": "",
            "takeProfit": "",
            "reduceOnly": reduce_only,
        }
        return self._ok({"order": data})

    async def _query(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        order = self._lookup(acct.api_key, params)
        if order is None or self.native(order.symbol) != params.get("symbol"):
            return self._err(109421, "order not exist")
        return self._ok({"order": self._order_json(order)})

    async def _cancel(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        order = self._lookup(acct.api_key, params)
        if order is None or self.native(order.symbol) != params.get("symbol"):
            return self._err(80016, "order not exist")
        if order.status != "open":
            return self._err(80016, "order not exist, it is already filled or cancelled")
        order.status = "canceled"
        return self._ok({"order": self._order_json(order)})

    def _visible(self, key: str, params: dict, open_only: bool) -> list[EmuOrder]:
        native = params.get("symbol")
        return [
            o
            for o in self.ledger.orders_of(key, self.clock_ms())
            if (not native or self.native(o.symbol) == native)
            and (not open_only or o.status == "open")
        ]

    async def _open_orders(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        orders = self._visible(acct.api_key, params, True)
        return self._ok({"orders": [self._order_json(o) for o in orders]})

    async def _all_orders(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        orders = self._visible(acct.api_key, params, False)[-int(params.get("limit", 500)) :]
        return self._ok({"orders": [self._order_json(o) for o in orders]})

    async def _cancel_all(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        orders = self._visible(acct.api_key, params, True)
        for o in orders:
            o.status = "canceled"
        return self._ok({"success": [self._order_json(o) for o in orders], "failed": None})

    async def _fills(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        start, end = int(params.get("startTs", 0)), int(params.get("endTs", 2**62))
        rows = []
        for f in self.ledger.fills:
            o = self.ledger.find(acct.api_key, f.order_id, self.clock_ms())
            if o is None or not start <= f.ts_ms <= end:
                continue
            if params.get("symbol") not in (None, self.native(f.symbol)):
                continue
            if params.get("orderId") not in (None, f.order_id):
                continue
            when = datetime.fromtimestamp(f.ts_ms / 1000, UTC)
            rows.append(
                {
                    "filledTm": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "volume": _s(f.amount),
                    "price": _s(f.price),
                    "amount": _s(f.amount * f.price, 4),
                    "commission": _s(-f.fee, 6),
                    "currency": "USDT",
                    "orderId": f.order_id,
                    "liquidatedPrice": "0.00",
                    "liquidatedMarginRatio": "0.00",
                    "filledTime": when.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                    "clientOrderID": o.client_id or "",
                    "symbol": self.native(f.symbol),
                    "side": f.side.upper(),
                    "positionSide": o.position_side,
                    "type": o.type.upper(),
                    "workingType": "MARK_PRICE",
                    "onlyOnePosition": o.position_side == "BOTH",
                }
            )
        return self._ok({"fill_orders": rows})

    def _balance_row(self, acct: EmuAccount) -> dict[str, str]:
        m = self.ledger.summary(acct.api_key)
        return {
            "userId": str(int(hashlib.sha256(acct.api_key.encode()).hexdigest()[:8], 16)),
            "asset": "USDT",
            "balance": _s(m["balance"], 4),
            "equity": _s(m["equity"], 4),
            "unrealizedProfit": _s(m["upnl"], 4),
            "realisedProfit": _s(self.ledger.realised.get(acct.api_key, ZERO), 4),
            "availableMargin": _s(m["available"], 4),
            "usedMargin": _s(m["used"], 4),
            "freezedMargin": _s(m["frozen"], 4),
            "shortUid": str(int(hashlib.sha256(acct.secret.encode()).hexdigest()[:6], 16)),
        }

    async def _balance_v3(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        return self._ok([self._balance_row(acct)])

    async def _balance_v2(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        return self._ok({"balance": self._balance_row(acct)})

    async def _spot_balance(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        return self._ok({"balances": []})

    async def _currencies(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        coins = ["USDT", *CONTRACTS]
        network = {
            **{"isDefault": True, "withdrawEnable": True, "depositEnable": True},
            **{"minConfirm": "12", "withdrawFee": "1", "withdrawMax": "1000000"},
            **{"withdrawMin": "10", "depositMin": "0.01", "withdrawPrecision": "6"},
            **{"depositPrecision": "6", "contractAddress": "", "needTagOrMemo": "false"},
        }
        rows = [
            {"coin": c, "name": c, "networkList": [{**network, "name": c, "network": "BEP20",
                                                     "displayName": f"{c}BEP20"}]}
            for c in coins
        ]  # fmt: skip
        return self._ok(rows)

    async def _positions(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        rows, hedged = [], acct.api_key in self.ledger.hedged
        for (key, symbol, _), pos in self.ledger.positions.items():
            if key != acct.api_key or not pos.size:
                continue
            if params.get("symbol") not in (None, self.native(symbol)):
                continue
            lev = self.ledger.lev(key, symbol, pos.size > 0)
            mark = self.price(symbol) or pos.entry
            margin = abs(pos.size) * pos.entry / lev
            upnl = (mark - pos.entry) * pos.size
            rows.append(
                {
                    "positionId": pos.position_id,
                    "symbol": self.native(symbol),
                    "currency": "USDT",
                    "positionAmt": _s(abs(pos.size)),
                    "availableAmt": _s(abs(pos.size)),
                    "positionSide": "LONG" if pos.size > 0 else "SHORT",
                    "isolated": False,
                    "avgPrice": _s(pos.entry),
                    "initialMargin": _s(margin, 4),
                    "margin": _s(margin, 4),
                    "leverage": lev,
                    "unrealizedProfit": _s(upnl, 4),
                    "realisedProfit": _s(pos.realised, 4),
                    "liquidationPrice": 0,
                    "pnlRatio": _s(upnl / margin if margin else ZERO, 4),
                    "maxMarginReduction": "0.0000",
                    "riskRate": "0.0000",
                    "markPrice": _s(mark),
                    "positionValue": _s(abs(pos.size) * mark, 4),
                    "onlyOnePosition": not hedged,
                    "updateTime": pos.updated_ms,
                }
            )
        return self._ok(rows)

    def _leverage_data(self, key: str, symbol: str) -> dict[str, object]:
        max_lev = CONTRACTS[self.split_symbol(symbol)[0]][6]
        return {
            "longLeverage": self.ledger.lev(key, symbol, True),
            "shortLeverage": self.ledger.lev(key, symbol, False),
            "maxLongLeverage": max_lev,
            "maxShortLeverage": max_lev,
            "availableLongVol": "1000000",
            "availableShortVol": "1000000",
            "availableLongVal": "1000000",
            "availableShortVal": "1000000",
            "maxPositionLongVal": "10000000",
            "maxPositionShortVal": "10000000",
        }

    async def _get_leverage(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        symbol = self.unified(params.get("symbol"))
        if symbol is None:
            return self._err(109425, f"{params.get('symbol')} not exist, please verify it")
        return self._ok({"symbol": params["symbol"], **self._leverage_data(acct.api_key, symbol)})

    async def _set_leverage(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        symbol, side = self.unified(params.get("symbol")), params.get("side", "").upper()
        if symbol is None:
            return self._err(109425, f"{params.get('symbol')} not exist, please verify it")
        hedged = acct.api_key in self.ledger.hedged
        try:
            lev = int(params.get("leverage", ""))
        except ValueError:
            return self._err(109400, "Invalid parameters, err:leverage is required")
        if side not in (("LONG", "SHORT") if hedged else ("BOTH",)):
            return self._err(
                109400, f"Invalid parameters, err:side {side} not allowed in this mode"
            )
        if not 1 <= lev <= CONTRACTS[self.split_symbol(symbol)[0]][6]:
            return self._err(109400, f"Invalid parameters, err:leverage {lev} out of range")
        levs = self.ledger.leverage.setdefault((acct.api_key, symbol), {})
        for s in ("LONG", "SHORT") if side == "BOTH" else (side,):
            levs[s] = lev
        data = self._leverage_data(acct.api_key, symbol)
        return self._ok({"leverage": lev, "symbol": params["symbol"], **data})

    async def _get_mode(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        hedged = acct.api_key in self.ledger.hedged
        return self._ok({"dualSidePosition": "true" if hedged else "false"})

    async def _set_mode(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        want = params.get("dualSidePosition", "").lower()
        if want not in ("true", "false"):
            return self._err(109400, "Invalid parameters, err:dualSidePosition is required")
        key = acct.api_key
        busy = any(k == key and p.size for (k, _, _), p in self.ledger.positions.items())
        if busy or any(o.status == "open" for o in self.ledger.orders_of(key)):
            return self._err(109400, "There are positions or open orders, cannot switch mode")
        (self.ledger.hedged.add if want == "true" else self.ledger.hedged.discard)(key)
        return self._ok({"dualSidePosition": want})

    async def _permissions(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        perms = [2, 3] + ([5] if acct.can_withdraw else [])
        return self._ok(
            {"apiKey": acct.api_key, "permissions": perms, "ipAddresses": [], "note": ""}
        )


def _aggregate(rows: list[list[float]], minutes: int) -> list[list[float]]:
    """Fold 5m candles into ``minutes``-wide buckets aligned to UTC."""
    if minutes == 5:
        return rows
    width = minutes * 60_000
    out: list[list[float]] = []
    for ts, o, h, low, c, v in rows:
        start = ts - ts % width
        if out and out[-1][0] == start:
            bar = out[-1]
            bar[2], bar[3], bar[4], bar[5] = max(bar[2], h), min(bar[3], low), c, bar[5] + v
        else:
            out.append([start, o, h, low, c, v])
    return out
