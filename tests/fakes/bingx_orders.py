"""BingX emulator, private trading endpoints: place, query and cancel orders (by
``orderId`` or ``clientOrderID``, stored lower-cased like the real API), open orders, all
orders, cancel-all and fills (``allFillOrders``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.bingx_ledger import ORDER_ID_BASE, ZERO, SwapLedger
from tests.fakes.bingx_markets import CONTRACTS, err, native, no_symbol, num, ok, unified
from tests.fakes.emulator_base import EmuAccount, EmuOrder

if TYPE_CHECKING:
    from tests.fakes.bingx import BingXEmulator


# BingX's ``workingType`` (what a stop watches; default MARK_PRICE) <-> the emulator's.
WORKING_TYPES = {"MARK_PRICE": "mark", "CONTRACT_PRICE": "last", "INDEX_PRICE": "mark"}
STATUS_OUT = {"open": "NEW", "closed": "FILLED", "canceled": "CANCELLED"}


def native_type(o: EmuOrder) -> str:
    """BingX's order type: ``MARKET``, ``LIMIT`` or ``STOP_MARKET``."""
    return "STOP_MARKET" if o.trigger_price is not None else o.type.upper()


def working_type(o: EmuOrder) -> str:
    """The ``workingType`` BingX reports: what the stop watches (MARK_PRICE by default)."""
    return "CONTRACT_PRICE" if o.trigger_source == "last" else "MARK_PRICE"


class BingXOrders:
    """Order handlers ``(request, account, params)`` on ``emu``'s swap ledger."""

    def __init__(self, emu: BingXEmulator) -> None:
        self.emu = emu

    @property
    def ledger(self) -> SwapLedger:
        return self.emu.ledger

    def lookup(self, key: str, params: dict[str, str]) -> EmuOrder | None:
        order_id = params.get("orderId", "")
        cid = params.get("clientOrderId") or params.get("clientOrderID") or ""
        now = self.emu.clock_ms()
        if order_id not in ("", "None", "0"):
            return self.ledger.find(key, order_id, now)
        return self.ledger.find_by_client_id(key, cid.lower(), now) if cid else None

    def order_json(self, o: EmuOrder) -> dict[str, object]:
        last_fill = [f.ts_ms for f in self.ledger.fills if f.order_id == o.order_id]
        empty_tpsl = {"type": "", "quantity": 0, "stopPrice": 0, "price": 0, "workingType": ""}
        lev = self.ledger.lev(o.account, o.symbol, (o.side == "buy") != self.ledger.reducing(o))
        return {
            "symbol": native(o.symbol),
            "orderId": int(o.order_id),
            "side": o.side.upper(),
            "positionSide": o.position_side,
            "type": native_type(o),
            "origQty": num(o.amount),
            "price": num(o.price or ZERO),
            "executedQty": num(o.filled),
            "avgPrice": num(o.avg_price or ZERO),
            "cumQuote": num(o.filled * (o.avg_price or ZERO), 4),
            "stopPrice": num(o.trigger_price) if o.trigger_price is not None else "",
            "profit": num(self.ledger.profit.get(o.order_id, ZERO), 4),
            "commission": num(-o.fee, 6),
            "status": STATUS_OUT[o.status],
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
            "workingType": working_type(o),
            "reduceOnly": o.reduce_only,
            "onlyOnePosition": o.position_side == "BOTH",
        }

    async def place(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        key, symbol = acct.api_key, unified(params.get("symbol"))
        if symbol is None:
            return no_symbol(params.get("symbol"))
        base, quote = self.emu.split_symbol(symbol)
        otype, side = params.get("type", "").upper(), params.get("side", "").upper()
        if otype not in ("MARKET", "LIMIT", "STOP_MARKET") or side not in ("BUY", "SELL"):
            msg = "Invalid parameters, err:only MARKET, LIMIT and STOP_MARKET are emulated"
            return err(109400, msg)
        if otype in self.emu.refused_types:
            return err(109400, f"Invalid parameters, err:{otype} orders are not accepted")
        is_stop = otype == "STOP_MARKET"
        hedged = key in self.ledger.hedged
        pos_side = params.get("positionSide", "LONG" if hedged else "BOTH").upper()
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        if hedged == (pos_side == "BOTH") or (hedged and reduce_only):
            mode = "Hedge" if hedged else "One-way"
            return err(109400, f"In {mode} mode, positionSide {pos_side} is not allowed")
        try:
            qty = Decimal(params["quantity"])
            price = Decimal(params["price"]) if otype == "LIMIT" else None
            trigger = Decimal(params["stopPrice"]) if is_stop else None
        except (KeyError, ArithmeticError):
            return err(109400, "Invalid parameters, err:quantity/price/stopPrice is required")
        if trigger is not None and (not trigger.is_finite() or trigger <= 0):
            return err(109400, "Invalid parameters, err:stopPrice must be greater than 0")
        wtype = params.get("workingType", "MARK_PRICE").upper()
        if wtype not in WORKING_TYPES:
            return err(109400, f"Invalid parameters, err:workingType {wtype} is not supported")
        cid = (params.get("clientOrderID") or params.get("clientOrderId") or "").lower() or None
        if cid and self.ledger.find_open_by_client_id(key, cid):
            return err(109201, "The same clientOrderID already exists in an open order")
        min_qty = Decimal(CONTRACTS[base][5])
        if qty < min_qty:
            return err(101400, f"The minimum order amount is {min_qty} {base}.")
        ref_px = price or trigger or self.emu.price(symbol) or ZERO
        order = EmuOrder(
            order_id=str(ORDER_ID_BASE + int(self.ledger.next_id())),
            client_id=cid,
            account=key,
            symbol=symbol,
            side=side.lower(),
            type="limit" if otype == "LIMIT" else "market",
            amount=qty,
            price=price,
            # a stop-market only closes: in one-way mode it is reduce-only by nature
            reduce_only=reduce_only or (is_stop and pos_side == "BOTH"),
            position_side=pos_side,
            trigger_price=trigger,
            trigger_source=WORKING_TYPES[wtype],
        )
        closing, _ = self.ledger.split_qty(order, qty)
        if is_stop and hedged and not (self.ledger.reducing(order) and closing):
            return err(80017, "position not exist")  # real reply, see ccxt issue #18844
        if self.ledger.reducing(order) and not closing:
            return err(101205, "No position to close")
        if not self.ledger.reducing(order) and qty * ref_px < 2:
            msg = "Please ensure that the minimum nominal value of the order placed must be"
            return err(110425, msg + " greater than 2u")
        needed = self.ledger.margin_needed(order, ref_px)
        if needed > 0 and needed > self.ledger.summary(key)["available"]:
            return err(101204, "Insufficient margin")
        self.ledger.place(order, base, quote, self.emu.clock_ms())
        return ok(self.placed_json(order, params))

    def placed_json(self, o: EmuOrder, params: dict) -> dict[str, object]:
        """The create answer, shaped like ccxt's newest recorded real one: the order's
        terms, its status, average price and executed quantity, and no commission."""
        status = STATUS_OUT[o.status]
        if o.status == "open" and o.trigger_price is None:
            status = "PENDING"  # a resting limit order, as recorded
        return {
            "orderId": o.order_id,
            "orderID": o.order_id,
            "symbol": native(o.symbol),
            "positionSide": o.position_side,
            "side": o.side.upper(),
            "type": native_type(o),
            "price": num(o.price or ZERO),
            "quantity": num(o.amount),
            "quoteOrderQty": "0",
            "stopPrice": num(o.trigger_price or ZERO),
            "workingType": working_type(o) if o.trigger_price is not None else "MARK_PRICE",
            "clientOrderID": o.client_id or "",
            "clientOrderId": o.client_id or "",
            "timeInForce": params.get("timeInForce", "GTC"),
            "priceRate": "0",
            "stopLoss": "",
            "takeProfit": "",
            "reduceOnly": o.reduce_only,
            "activationPrice": "0",
            "closePosition": "",
            "stopGuaranteed": "",
            "status": status,
            "avgPrice": num(o.avg_price or ZERO),
            "executedQty": num(o.filled),
        }

    async def query(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        order = self.lookup(acct.api_key, params)
        if order is None or native(order.symbol) != params.get("symbol"):
            return err(109421, "order not exist")
        return ok({"order": self.order_json(order)})

    async def cancel(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        order = self.lookup(acct.api_key, params)
        if order is None or native(order.symbol) != params.get("symbol"):
            return err(80016, "order not exist")
        if order.status != "open":
            return err(80016, "order not exist, it is already filled or cancelled")
        order.status = "canceled"
        self.emu.cancel_log.append((order.order_id, len(self.ledger.orders)))
        return ok({"order": self.order_json(order)})

    def visible(self, key: str, params: dict, open_only: bool) -> list[EmuOrder]:
        wanted = params.get("symbol")
        return [
            o
            for o in self.ledger.orders_of(key, self.emu.clock_ms())
            if (not wanted or native(o.symbol) == wanted) and (not open_only or o.status == "open")
        ]

    async def open_orders(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        orders = self.visible(acct.api_key, params, True)
        return ok({"orders": [self.order_json(o) for o in orders]})

    async def all_orders(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        orders = self.visible(acct.api_key, params, False)[-int(params.get("limit", 500)) :]
        return ok({"orders": [self.order_json(o) for o in orders]})

    async def cancel_all(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        orders = self.visible(acct.api_key, params, True)
        for o in orders:
            o.status = "canceled"
            self.emu.cancel_log.append((o.order_id, len(self.ledger.orders)))
        return ok({"success": [self.order_json(o) for o in orders], "failed": None})

    async def fills(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        start, end = int(params.get("startTs", 0)), int(params.get("endTs", 2**62))
        rows = []
        for f in self.ledger.fills:
            o = self.ledger.find(acct.api_key, f.order_id, self.emu.clock_ms())
            if o is None or not start <= f.ts_ms <= end:
                continue
            if params.get("symbol") not in (None, native(f.symbol)):
                continue
            if params.get("orderId") not in (None, f.order_id):
                continue
            when = datetime.fromtimestamp(f.ts_ms / 1000, UTC)
            rows.append(
                {
                    "filledTm": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "volume": num(f.amount),
                    "price": num(f.price),
                    "amount": num(f.amount * f.price, 4),
                    "commission": num(-f.fee, 6),
                    "currency": "USDT",
                    "orderId": f.order_id,
                    "liquidatedPrice": "0.00",
                    "liquidatedMarginRatio": "0.00",
                    "filledTime": when.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                    "clientOrderID": o.client_id or "",
                    "symbol": native(f.symbol),
                    "side": f.side.upper(),
                    "positionSide": o.position_side,
                    "type": native_type(o),
                    "workingType": working_type(o),
                    "onlyOnePosition": o.position_side == "BOTH",
                }
            )
        return ok({"fill_orders": rows})
