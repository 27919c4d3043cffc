"""Coinbase emulator, order endpoints: ``POST /orders`` (``market_market_ioc`` base_size
or quote_size, ``limit_limit_gtc``), ``GET /orders/historical/{order_id}`` (also by the
deprecated ``client_order_id`` query parameter), ``GET /orders/historical/batch``,
``POST /orders/batch_cancel`` and ``GET /orders/historical/fills``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.coinbase_markets import PRODUCTS, QUOTE_MIN_SIZE, error_body, iso, native, s
from tests.fakes.emulator_base import EmuAccount, EmuOrder

if TYPE_CHECKING:
    from tests.fakes.coinbase import CoinbaseEmulator

NO_PREVIEW = "UNKNOWN_PREVIEW_FAILURE_REASON"
STATUS_OUT = {"open": "OPEN", "closed": "FILLED", "canceled": "CANCELLED"}


def quantize_down(value: Decimal, step: str) -> Decimal:
    q = Decimal(step)
    return (value / q).to_integral_value(rounding=ROUND_DOWN) * q


def body_json(raw: str) -> dict[str, Any]:
    data = json.loads(raw or "{}")
    if not isinstance(data, dict):
        raise ValueError("body is not an object")
    return data


def dec(value: Any) -> Decimal:
    """A request number as Decimal; ValueError when it is not one."""
    try:
        d = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return d


def on_step(value: Decimal, step: str) -> bool:
    return value % Decimal(step) == 0


def order_failure(error: str, message: str, preview: str, config: Any) -> web.Response:
    """Coinbase's rejected-order answer: HTTP 200, ``success: false``."""
    return web.json_response(
        {
            "success": False,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": "",
            "error_response": {
                "error": error,
                "message": message,
                "error_details": "",
                "preview_failure_reason": preview,
                "new_order_failure_reason": error,
            },
            "order_configuration": config,
        }
    )


class CoinbaseOrders:
    """Signed order handlers ``(request, account)``; keeps each order's configuration."""

    def __init__(self, emu: CoinbaseEmulator) -> None:
        self.emu = emu
        self.configs: dict[str, dict[str, Any]] = {}  # order_id -> order_configuration

    def order_json(self, o: EmuOrder) -> dict[str, Any]:
        base, quote = self.emu.split_symbol(o.symbol)
        config = self.configs.get(o.order_id, {})
        in_quote = "quote_size" in config.get("market_market_ioc", {})
        value = o.filled * (o.avg_price or Decimal(0))
        after_fees = value + o.fee if o.side == "buy" else value - o.fee
        hold = self.emu.holds(o.account) if o.status == "open" else {}
        fill_times = [f.ts_ms for f in self.emu.ledger.fills if f.order_id == o.order_id]
        return {
            "order_id": o.order_id,
            "product_id": native(o.symbol),
            "user_id": self.emu.meta[o.account].user_id,
            "order_configuration": config,
            "side": o.side.upper(),
            "client_order_id": o.client_id or "",
            "status": STATUS_OUT[o.status],
            "time_in_force": "IMMEDIATE_OR_CANCEL"
            if o.type == "market"
            else "GOOD_UNTIL_CANCELLED",
            "created_time": iso(o.created_ms),
            "completion_percentage": s(o.filled / o.amount * 100) if o.amount else "0",
            "filled_size": s(o.filled),
            "average_filled_price": s(o.avg_price or 0),
            "fee": "",
            "number_of_fills": str(len(fill_times)),
            "filled_value": s(value),
            "pending_cancel": False,
            "size_in_quote": in_quote,
            "total_fees": s(o.fee),
            "size_inclusive_of_fees": in_quote,
            "total_value_after_fees": s(after_fees),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": o.type.upper(),
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": o.status != "open",
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "User requested cancel" if o.status == "canceled" else "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": s(hold.get(quote if o.side == "buy" else base, 0)),
            "is_liquidation": False,
            # the time of the last fill (a limit order rests first): created_time is the
            # placement; ccxt reads neither into lastTradeTimestamp
            "last_fill_time": iso(max(fill_times)) if fill_times else None,
            "edit_history": [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
            "retail_portfolio_id": self.emu.meta[o.account].portfolio_uuid,
        }

    async def create_order(self, request: web.Request, account: EmuAccount) -> web.Response:
        emu, ledger = self.emu, self.emu.ledger
        try:
            body = body_json(await request.text())
            cid = str(body.get("client_order_id") or "")
            symbol = str(body.get("product_id") or "").replace("-", "/")
            side = str(body.get("side") or "").lower()
            config = body.get("order_configuration")
            if not cid or not isinstance(config, dict) or len(config) != 1:
                raise ValueError("client_order_id and one order_configuration are required")
        except ValueError as exc:
            return error_body("INVALID_ARGUMENT", str(exc), 400)
        for o in ledger.orders:  # Coinbase: a known client_order_id returns that order
            if o.account == account.api_key and o.client_id == cid:
                return web.json_response(self.accepted(o))
        if symbol not in PRODUCTS:
            return order_failure("INVALID_PRODUCT_ID", "", "PREVIEW_INVALID_PRODUCT_ID", config)
        if side not in ("buy", "sell"):
            return order_failure("INVALID_SIDE", "", NO_PREVIEW, config)
        kind, conf = next(iter(config.items()))
        if kind not in ("market_market_ioc", "limit_limit_gtc") or not isinstance(conf, dict):
            return order_failure(
                "UNSUPPORTED_ORDER_CONFIGURATION",
                "order configuration not supported by the emulator",
                NO_PREVIEW,
                config,
            )
        spec, (base, quote) = PRODUCTS[symbol], emu.split_symbol(symbol)
        fee, px = ledger.fee_rate, emu.price(symbol)
        try:
            limit_px = dec(conf["limit_price"]) if kind == "limit_limit_gtc" else None
            if kind == "market_market_ioc" and px is None:
                return order_failure("INVALID_NO_LIQUIDITY", "", "PREVIEW_NO_LIQUIDITY", config)
            if "quote_size" in conf and kind == "market_market_ioc" and side == "buy":
                quote_size = dec(conf["quote_size"])
                if quote_size < QUOTE_MIN_SIZE:
                    return order_failure(
                        "UNKNOWN_FAILURE_REASON",
                        "",
                        "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
                        config,
                    )
                amount = quantize_down(quote_size / (px * (1 + fee)), spec.base_increment)
                need = quote_size
            else:
                amount = dec(conf["base_size"])
                unit = limit_px if limit_px is not None else px
                need = amount * unit * (1 + fee) if side == "buy" else amount
        except (KeyError, ValueError) as exc:
            return error_body("INVALID_ARGUMENT", f"invalid order configuration: {exc}", 400)
        if not on_step(amount, spec.base_increment):
            return order_failure("INVALID_SIZE_PRECISION", "", NO_PREVIEW, config)
        if limit_px is not None and (limit_px <= 0 or not on_step(limit_px, spec.quote_increment)):
            return order_failure("INVALID_PRICE_PRECISION", "", NO_PREVIEW, config)
        notional = amount * (limit_px if limit_px is not None else px)
        if amount < Decimal(spec.base_increment) or notional < QUOTE_MIN_SIZE:
            return order_failure(
                "UNKNOWN_FAILURE_REASON", "", "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL", config
            )
        if limit_px is not None and conf.get("post_only") and px is not None:
            if (side == "buy" and limit_px >= px) or (side == "sell" and limit_px <= px):
                return order_failure("INVALID_LIMIT_PRICE_POST_ONLY", "", NO_PREVIEW, config)
        spend = quote if side == "buy" else base
        available = account.balances.get(spend, Decimal(0)) - emu.holds(account.api_key).get(
            spend, Decimal(0)
        )
        if need > available:
            return order_failure(
                "INSUFFICIENT_FUND",
                "Insufficient balance in source account",
                "PREVIEW_INSUFFICIENT_FUND",
                config,
            )
        order = EmuOrder(
            order_id=str(uuid.uuid4()),
            client_id=cid,
            account=account.api_key,
            symbol=symbol,
            side=side,
            type="limit" if limit_px is not None else "market",
            amount=amount,
            price=limit_px,
        )
        self.configs[order.order_id] = config
        now = emu.clock_ms()
        emu.with_price(symbol, lambda: ledger.place(order, base, quote, now))
        if order not in ledger.orders:  # no price at all: still record the order
            ledger.place(order, base, quote, now)
        return web.json_response(self.accepted(order))

    def accepted(self, o: EmuOrder) -> dict[str, Any]:
        return {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": o.order_id,
            "success_response": {
                "order_id": o.order_id,
                "product_id": native(o.symbol),
                "side": o.side.upper(),
                "client_order_id": o.client_id,
            },
            "order_configuration": self.configs.get(o.order_id),
        }

    async def get_order(self, request: web.Request, account: EmuAccount) -> web.Response:
        now, ledger = self.emu.clock_ms(), self.emu.ledger
        order = ledger.find(account.api_key, request.match_info["order_id"], now)
        cid = request.query.get("client_order_id")
        if order is None and cid:
            order = ledger.find_by_client_id(account.api_key, cid, now)
        if order is None:
            return error_body("unknown", "order with this orderID was not found", 404)
        return web.json_response({"order": self.order_json(order)})

    async def list_orders(self, request: web.Request, account: EmuAccount) -> web.Response:
        q = request.query
        statuses = set(q.getall("order_status", []))
        pids = set(q.getall("product_id", [])) | set(q.getall("product_ids", []))
        oids = set(q.getall("order_ids", []))
        since = q.get("start_date")
        since_ms = int(datetime.fromisoformat(since).timestamp() * 1000) if since else None
        rows = [
            o
            for o in reversed(self.emu.ledger.orders_of(account.api_key, self.emu.clock_ms()))
            if (not statuses or STATUS_OUT[o.status] in statuses)
            and (not pids or native(o.symbol) in pids)
            and (not oids or o.order_id in oids)
            and (since_ms is None or o.created_ms >= since_ms)
        ]
        limit = max(1, min(int(q.get("limit", 100)), 1000))
        offset = int(q.get("cursor") or 0)
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return web.json_response(
            {
                "orders": [self.order_json(o) for o in page],
                "sequence": "0",
                "has_next": more,
                "cursor": str(offset + limit) if more else "",
            }
        )

    async def list_fills(self, request: web.Request, account: EmuAccount) -> web.Response:
        q, emu = request.query, self.emu
        oids = set(q.getall("order_id", [])) | set(q.getall("order_ids", []))
        pids = set(q.getall("product_id", [])) | set(q.getall("product_ids", []))
        orders = {o.order_id: o for o in emu.ledger.orders_of(account.api_key, emu.clock_ms())}
        fills = [
            f
            for f in reversed(emu.ledger.fills)
            if f.order_id in orders
            and (not oids or f.order_id in oids)
            and (not pids or native(f.symbol) in pids)
        ]
        limit = max(1, min(int(q.get("limit", 100)), 1000))
        offset = int(q.get("cursor") or 0)
        page = fills[offset : offset + limit]
        more = offset + limit < len(fills)
        meta = emu.meta[account.api_key]
        rows = [
            {
                "entry_id": uuid.uuid5(uuid.NAMESPACE_OID, f.trade_id).hex * 2,
                "trade_id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"trade-{f.trade_id}")),
                "order_id": f.order_id,
                "trade_time": iso(f.ts_ms),
                "trade_type": "FILL",
                "price": s(f.price),
                "size": s(f.amount),
                "commission": s(f.fee),
                "product_id": native(f.symbol),
                "sequence_timestamp": iso(f.ts_ms),
                "liquidity_indicator": "TAKER" if orders[f.order_id].type == "market" else "MAKER",
                "size_in_quote": False,
                "user_id": meta.user_id,
                "side": f.side.upper(),
                "retail_portfolio_id": meta.portfolio_uuid,
            }
            for f in page
        ]
        return web.json_response({"fills": rows, "cursor": str(offset + limit) if more else ""})

    async def cancel_orders(self, request: web.Request, account: EmuAccount) -> web.Response:
        try:
            ids = body_json(await request.text()).get("order_ids")
            if not isinstance(ids, list) or not ids:
                raise ValueError("order_ids is required")
        except ValueError as exc:
            return error_body("INVALID_ARGUMENT", str(exc), 400)
        results = []
        for oid in ids:
            order = next(
                (
                    o
                    for o in self.emu.ledger.orders
                    if o.account == account.api_key and o.order_id == oid
                ),
                None,
            )
            reason = "UNKNOWN_CANCEL_FAILURE_REASON"
            if order is None:
                reason = "UNKNOWN_CANCEL_ORDER"
            elif order.status == "canceled":
                reason = "DUPLICATE_CANCEL_REQUEST"
            elif order.status != "open":
                reason = "INVALID_CANCEL_REQUEST"
            else:
                order.status = "canceled"
            ok = reason == "UNKNOWN_CANCEL_FAILURE_REASON"
            results.append({"success": ok, "failure_reason": reason, "order_id": str(oid)})
        return web.json_response({"results": results})
