"""Kraken emulator, private side: the ``/0/private/*`` methods (Balance, BalanceEx,
AddOrder, AmendOrder, QueryOrders, OpenOrders, ClosedOrders, CancelOrder, TradesHistory,
QueryTrades) on top of the shared ledger, plus the Kraken-only order state (userref,
close times, taker flags, trade txids).

AmendOrder, as Kraken documents it ("Amend Order" and the "Spot Atomic Amends" guide):
an open order, named by ``txid`` or ``cl_ord_id`` (one is required), is modified in
place; its identifiers, previous fills and status stay. Amendable: ``order_qty`` (in
base), ``limit_price`` (limit orders), ``trigger_price`` (triggered orders: here
``stop-loss``), ``display_qty`` (icebergs: not emulated). An ``order_qty`` below the
filled quantity sets it to the filled quantity and cancels the rest. The answer is
``{"amend_id": ...}``. Errors (the documented model leaves their strings out, these are
the emulator's): no such open order -> ``EOrder:Unknown order`` (CancelOrder's), a
field the order type does not have -> ``EGeneral:Invalid arguments:<field>``, a larger
quantity than the funds free besides the order -> ``EOrder:Insufficient funds``. A
trigger the price is already through is accepted and triggers on the next price check,
as an AddOrder stop-loss placed there would."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from tests.fakes.emulator_base import EmuAccount, EmuOrder, Ledger
from tests.fakes.kraken_markets import (
    ASSETS,
    COST_DECIMALS,
    LOT_DECIMALS,
    PAIRS,
    KrakenError,
    Pair,
    fmt,
    symbol_of,
)

if TYPE_CHECKING:
    from tests.fakes.kraken import KrakenEmulator

DUPLICATE_CL_ORD_ID = "EOrder:Duplicate order"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def kraken_txid(prefix: str) -> str:
    """An id shaped like Kraken's ``OQCLML-BW3P3-BUCMWZ`` (orders O..., trades T...)."""
    alphabet = string.ascii_uppercase + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(16))
    return f"{prefix}{body[:5]}-{body[5:10]}-{body[10:]}"


def valid_cl_ord_id(value: str) -> bool:
    return bool(_UUID.match(value) or _HEX32.match(value)) or 0 < len(value) <= 18


class KrakenTrading:
    """Private method handlers ``(account, params, now_ms) -> result``; they raise
    KrakenError for an API error."""

    def __init__(self, emu: KrakenEmulator) -> None:
        self.emu = emu
        self._userref: dict[str, int] = {}
        self._closed_ms: dict[str, int] = {}
        self._taker: set[str] = set()
        self._trade_ids: dict[str, str] = {}
        self.amends: list[tuple[str, int]] = []  # (order txid, clock ms) of each amend

    @property
    def ledger(self) -> Ledger:
        return self.emu.ledger

    def handlers(self) -> dict[str, Callable[[EmuAccount, dict, int], dict]]:
        """Private method name -> handler."""
        return {
            "Balance": self.balance,
            "BalanceEx": self.balance_ex,
            "AddOrder": self.add_order,
            "AmendOrder": self.amend_order,
            "QueryOrders": self.query_orders,
            "OpenOrders": self.open_orders,
            "ClosedOrders": self.closed_orders,
            "CancelOrder": self.cancel_order,
            "TradesHistory": self.trades_history,
            "QueryTrades": self.query_trades,
        }

    # --- private: balances ----------------------------------------------------------

    @staticmethod
    def _asset(code: str) -> tuple[str, int]:
        asset_id, decimals, _ = ASSETS.get(code, (code, 8, 8))
        return asset_id, decimals

    def balance(self, account: EmuAccount, params: dict, now: int) -> dict:
        out = {}
        for code, amount in account.balances.items():
            asset_id, decimals = self._asset(code)
            out[asset_id] = fmt(amount, decimals)
        return out

    def balance_ex(self, account: EmuAccount, params: dict, now: int) -> dict:
        holds = self.ledger.holds(account.api_key, self.emu.split_symbol)
        out = {}
        for code, amount in account.balances.items():
            asset_id, decimals = self._asset(code)
            hold = holds.get(code, Decimal(0))
            out[asset_id] = {"balance": fmt(amount, decimals), "hold_trade": fmt(hold, decimals)}
        return out

    # --- private: orders ------------------------------------------------------------

    @staticmethod
    def _dec(raw: str | None, error: str) -> Decimal:
        try:
            value = Decimal(raw or "")
        except InvalidOperation:
            raise KrakenError(error) from None
        if not value.is_finite() or value <= 0:
            raise KrakenError(error)
        return value

    @staticmethod
    def _userref_param(raw: str | None) -> int | None:
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments:userref") from None
        if not -(2**31) <= value < 2**31:
            raise KrakenError("EGeneral:Invalid arguments:userref")
        return value

    @staticmethod
    def _descr_text(side: str, volume: Decimal, pair: Pair, otype: str, price: Decimal | None):
        where = "market" if price is None else f"limit {fmt(price, pair.pair_decimals)}"
        if otype == "stop-loss":
            assert price is not None
            where = f"stop loss {fmt(price, pair.pair_decimals)}"
        return f"{side} {fmt(volume, LOT_DECIMALS)} {pair.altname} @ {where}"

    def add_order(self, account: EmuAccount, params: dict, now: int) -> dict:
        symbol = symbol_of(params.get("pair", ""))
        pair = PAIRS[symbol]
        side, otype = params.get("type"), params.get("ordertype")
        if side not in ("buy", "sell"):
            raise KrakenError("EGeneral:Invalid arguments:type")
        if otype not in ("market", "limit", "stop-loss") or otype in self.emu.refused_ordertypes:
            raise KrakenError("EGeneral:Invalid arguments:ordertype")
        volume = self._dec(params.get("volume"), "EGeneral:Invalid arguments:volume")
        price = None  # the limit price, or the stop-loss trigger
        if otype in ("limit", "stop-loss"):
            price = self._dec(params.get("price"), "EGeneral:Invalid arguments:price")
            if -price.as_tuple().exponent > pair.pair_decimals:
                raise KrakenError(
                    f"EOrder:Invalid price:{pair.altname} price can only be specified up to "
                    f"{pair.pair_decimals} decimals."
                )
        market_px = self.emu.current_price(symbol)
        if otype == "market" and market_px is None:
            raise KrakenError("EService:Unavailable")
        if otype == "market" and "viqc" in params.get("oflags", "").split(","):
            assert market_px is not None
            volume = (volume / market_px).quantize(Decimal(1).scaleb(-LOT_DECIMALS))
        elif -volume.as_tuple().exponent > LOT_DECIMALS:
            raise KrakenError("EGeneral:Invalid arguments:volume")
        if volume < Decimal(pair.ordermin):
            raise KrakenError("EOrder:Order minimum not met")
        cl_ord_id = params.get("cl_ord_id")
        userref = self._userref_param(params.get("userref"))
        if cl_ord_id is not None and (userref is not None or not valid_cl_ord_id(cl_ord_id)):
            raise KrakenError("EGeneral:Invalid arguments:cl_ord_id")
        if cl_ord_id and self.ledger.find_open_by_client_id(account.api_key, cl_ord_id):
            raise KrakenError(DUPLICATE_CL_ORD_ID)
        base, quote = self.emu.split_symbol(symbol)
        holds = self.ledger.holds(account.api_key, self.emu.split_symbol)
        if side == "buy":
            px = price if price is not None else market_px
            assert px is not None
            need, code = volume * px * (1 + self.ledger.fee_rate), quote
        else:
            need, code = volume, base
        if need > account.balances.get(code, Decimal(0)) - holds.get(code, Decimal(0)):
            raise KrakenError("EOrder:Insufficient funds")
        descr = {"order": self._descr_text(side, volume, pair, otype, price)}
        if params.get("validate", "").lower() == "true":
            return {"descr": descr}
        stop = otype == "stop-loss"
        order = EmuOrder(
            order_id=kraken_txid("O"),
            client_id=cl_ord_id,
            account=account.api_key,
            symbol=symbol,
            side=side,
            type="market" if stop else otype,
            amount=volume,
            price=None if stop else price,
            trigger_price=price if stop else None,
        )
        self.ledger.place(order, base, quote, now)
        if order.status == "closed":
            self._taker.add(order.order_id)
        if userref is not None:
            self._userref[order.order_id] = userref
        return {"descr": descr, "txid": [order.order_id]}

    def amend_order(self, account: EmuAccount, params: dict, now: int) -> dict:
        cl_ord_id, txid = params.get("cl_ord_id"), params.get("txid")
        if not cl_ord_id and not txid:
            raise KrakenError("EGeneral:Invalid arguments")
        found = [
            o
            for o in self.ledger.orders
            if o.account == account.api_key
            and o.status == "open"
            and (o.client_id == cl_ord_id if cl_ord_id else o.order_id == txid)
        ]
        if not found:
            raise KrakenError("EOrder:Unknown order")
        order = found[0]
        pair = PAIRS[order.symbol]
        qty = trigger = limit = None
        if params.get("order_qty") not in (None, ""):
            qty = self._dec(params["order_qty"], "EGeneral:Invalid arguments:order_qty")
            if -qty.as_tuple().exponent > LOT_DECIMALS:
                raise KrakenError("EGeneral:Invalid arguments:order_qty")
        for name in ("trigger_price", "limit_price"):
            raw = params.get(name)
            if raw in (None, ""):
                continue
            value = self._dec(raw, f"EGeneral:Invalid arguments:{name}")
            if -value.as_tuple().exponent > pair.pair_decimals:
                raise KrakenError(
                    f"EOrder:Invalid price:{pair.altname} price can only be specified up to "
                    f"{pair.pair_decimals} decimals."
                )
            if name == "trigger_price":
                if order.trigger_price is None:
                    raise KrakenError("EGeneral:Invalid arguments:trigger_price")
                trigger = value
            else:
                if order.type != "limit" or order.trigger_price is not None:
                    raise KrakenError("EGeneral:Invalid arguments:limit_price")
                limit = value
        if qty is not None and qty > order.amount:
            base, quote = self.emu.split_symbol(order.symbol)
            holds = self.ledger.holds(account.api_key, self.emu.split_symbol)
            px = limit or trigger or order.price or order.trigger_price or Decimal(0)
            if order.side == "buy":
                need, code = (qty - order.amount) * px * (1 + self.ledger.fee_rate), quote
            else:
                need, code = qty - order.amount, base
            if need > account.balances.get(code, Decimal(0)) - holds.get(code, Decimal(0)):
                raise KrakenError("EOrder:Insufficient funds")
        if trigger is not None:
            order.trigger_price = trigger
        if limit is not None:
            order.price = limit
        if qty is not None:
            if qty <= order.filled:  # below what filled: the rest is cancelled
                order.amount = order.filled
                order.status = "closed" if order.filled > 0 else "canceled"
                self._closed_ms[order.order_id] = now
            else:
                order.amount = qty
        self.amends.append((order.order_id, now))
        return {"amend_id": kraken_txid("T")}

    def _fills_of(self, order_id: str) -> list:
        return [f for f in self.ledger.fills if f.order_id == order_id]

    def _order_info(self, o: EmuOrder, with_trades: bool) -> dict:
        pair = PAIRS[o.symbol]
        d = pair.pair_decimals
        avg = o.avg_price or Decimal(0)
        otype, shown = o.type, o.price
        if o.trigger_price is not None:
            otype, shown = "stop-loss", o.trigger_price
        info: dict = {
            "refid": None,
            "userref": self._userref.get(o.order_id),
            "status": o.status,
            "opentm": o.created_ms / 1000,
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": pair.altname,
                "type": o.side,
                "ordertype": otype,
                "price": fmt(shown, d) if shown is not None else "0",
                "price2": "0",
                "leverage": "none",
                "order": self._descr_text(o.side, o.amount, pair, otype, shown),
                "close": "",
            },
            "vol": fmt(o.amount, LOT_DECIMALS),
            "vol_exec": fmt(o.filled, LOT_DECIMALS),
            "cost": fmt(o.filled * avg, COST_DECIMALS),
            "fee": fmt(o.fee, COST_DECIMALS),
            "price": fmt(avg, d),
            "stopprice": "0.00000",
            "limitprice": "0.00000",
            "misc": "",
            "oflags": "fciq",
        }
        if o.trigger_price is not None:
            info["stopprice"] = fmt(o.trigger_price, d)
            info["trigger"] = "last"
            info["misc"] = "stopped" if o.triggered_ms is not None else ""
        if o.client_id is not None:
            info["cl_ord_id"] = o.client_id
        fills = self._fills_of(o.order_id)
        if o.status != "open":
            info["reason"] = "User requested" if o.status == "canceled" else None
            closed = self._closed_ms.get(o.order_id, fills[-1].ts_ms if fills else o.created_ms)
            info["closetm"] = closed / 1000
        if with_trades and fills:
            info["trades"] = [self._trade_ids_of(f)[0] for f in fills]
        return info

    def _select(self, account: EmuAccount, params: dict, now: int, is_open: bool) -> list:
        userref = self._userref_param(params.get("userref"))
        cl_ord_id = params.get("cl_ord_id")
        out = []
        for o in reversed(self.ledger.orders_of(account.api_key, now)):
            if (o.status == "open") != is_open:
                continue
            if userref is not None and self._userref.get(o.order_id) != userref:
                continue
            if cl_ord_id is not None and o.client_id != cl_ord_id:
                continue
            out.append(o)
        return out

    def open_orders(self, account: EmuAccount, params: dict, now: int) -> dict:
        trades = params.get("trades", "").lower() == "true"
        orders = self._select(account, params, now, is_open=True)
        return {"open": {o.order_id: self._order_info(o, trades) for o in orders}}

    def closed_orders(self, account: EmuAccount, params: dict, now: int) -> dict:
        trades = params.get("trades", "").lower() == "true"
        orders = self._select(account, params, now, is_open=False)
        orders = self._time_window(orders, params, lambda o: o.created_ms)
        page = orders[int(params.get("ofs") or 0) :][:50]
        closed = {o.order_id: self._order_info(o, trades) for o in page}
        return {"closed": closed, "count": len(orders)}

    @staticmethod
    def _time_window(items: list, params: dict, ts_of) -> list:
        start, end = params.get("start"), params.get("end")
        try:
            if start:
                items = [i for i in items if ts_of(i) / 1000 > float(start)]
            if end:
                items = [i for i in items if ts_of(i) / 1000 <= float(end)]
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments") from None
        return items

    def query_orders(self, account: EmuAccount, params: dict, now: int) -> dict:
        userref = self._userref_param(params.get("userref"))
        txids = [t for t in params.get("txid", "").split(",") if t]
        if not txids:
            raise KrakenError("EGeneral:Invalid arguments")
        trades = params.get("trades", "").lower() == "true"
        result = {}
        for txid in txids:
            o = self.ledger.find(account.api_key, txid, now)
            if o is None:
                raise KrakenError("EOrder:Invalid order")
            if userref is None or self._userref.get(txid) == userref:
                result[txid] = self._order_info(o, trades)
        return result

    def cancel_order(self, account: EmuAccount, params: dict, now: int) -> dict:
        cl_ord_id, txid = params.get("cl_ord_id"), params.get("txid")
        open_orders = [
            o for o in self.ledger.orders if o.account == account.api_key and o.status == "open"
        ]
        if cl_ord_id:
            targets = [o for o in open_orders if o.client_id == cl_ord_id]
        elif txid and txid.lstrip("-").isdigit():
            targets = [o for o in open_orders if self._userref.get(o.order_id) == int(txid)]
        elif txid:
            targets = [o for o in open_orders if o.order_id == txid]
        else:
            raise KrakenError("EGeneral:Invalid arguments")
        if not targets:
            raise KrakenError("EOrder:Unknown order")
        for o in targets:
            o.status = "canceled"
            self._closed_ms[o.order_id] = now
        return {"count": len(targets), "pending": False}

    # --- private: trades ------------------------------------------------------------

    def _trade_ids_of(self, fill) -> tuple[str, str]:
        """(trade txid, postxid) for a ledger fill, stable once handed out."""
        if fill.trade_id not in self._trade_ids:
            self._trade_ids[fill.trade_id] = kraken_txid("T")
            self._trade_ids[fill.trade_id + "/pos"] = kraken_txid("T")
        return self._trade_ids[fill.trade_id], self._trade_ids[fill.trade_id + "/pos"]

    def _visible_fills(self, account: EmuAccount, now: int) -> list:
        visible = {o.order_id: o for o in self.ledger.orders_of(account.api_key, now)}
        return [f for f in self.ledger.fills if f.order_id in visible]

    def _trade_info(self, fill) -> dict:
        order = next(o for o in self.ledger.orders if o.order_id == fill.order_id)
        pair = PAIRS[fill.symbol]
        return {
            "ordertxid": fill.order_id,
            "postxid": self._trade_ids_of(fill)[1],
            "pair": pair.pair_id,
            "time": fill.ts_ms / 1000,
            "type": fill.side,
            "ordertype": order.type,
            "price": fmt(fill.price, pair.pair_decimals),
            "cost": fmt(fill.amount * fill.price, COST_DECIMALS),
            "fee": fmt(fill.fee, COST_DECIMALS),
            "vol": fmt(fill.amount, LOT_DECIMALS),
            "margin": "0.00000",
            "leverage": "0",
            "misc": "",
            "trade_id": int(fill.trade_id.lstrip("T")),
            "maker": order.type == "limit" and fill.order_id not in self._taker,
        }

    def trades_history(self, account: EmuAccount, params: dict, now: int) -> dict:
        fills = list(reversed(self._visible_fills(account, now)))
        fills = self._time_window(fills, params, lambda f: f.ts_ms)
        page = fills[int(params.get("ofs") or 0) :][:50]
        trades = {self._trade_ids_of(f)[0]: self._trade_info(f) for f in page}
        return {"trades": trades, "count": len(fills)}

    def query_trades(self, account: EmuAccount, params: dict, now: int) -> dict:
        by_id = {self._trade_ids_of(f)[0]: f for f in self._visible_fills(account, now)}
        txids = [t for t in params.get("txid", "").split(",") if t]
        if not txids or any(t not in by_id for t in txids):
            raise KrakenError("EGeneral:Invalid arguments")
        return {t: self._trade_info(by_id[t]) for t in txids}
