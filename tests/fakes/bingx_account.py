"""BingX emulator, private account endpoints: balances (swap v2/v3, spot), the currency
list, positions, leverage, position mode (one-way ``BOTH`` / hedge ``LONG``+``SHORT``) and
API-key permissions.

``GET /openApi/swap/v2/user/income`` (BingX "Get Account Profit and Loss Fund Flow"):
parameters ``symbol``, ``incomeType`` (TRANSFER, REALIZED_PNL, FUNDING_FEE, TRADING_FEE,
INSURANCE_CLEAR, TRIAL_FUND, ADL, SYSTEM_DEDUCTION, GTD_PRICE), ``startTime`` /
``endTime`` (ms, end >= start) and ``limit`` (1..1000, default 100); ``data`` is the list
of rows, oldest first, the first ``limit`` from ``startTime``. Only funding payments are
emulated (bingx_ledger.py): every other type answers an empty list.

``GET /openApi/v1/account/apiPermissions`` answers ``data`` = ``{"apiKey", "permissions",
"ipAddresses", "note"}`` as BingX documents it ("Query user API Key permissions"): the
permission codes are 1 spot trading, 2 read, 3 perpetual futures trading, 4 universal
transfer, 5 withdraw, 7 sub-account internal transfer. BingX makes a key with withdraw
permission bind to an IP address, so such a key lists one here."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.bingx_ledger import ZERO, SwapLedger
from tests.fakes.bingx_markets import CONTRACTS, err, native, no_symbol, num, ok, unified
from tests.fakes.emulator_base import EmuAccount

if TYPE_CHECKING:
    from tests.fakes.bingx import BingXEmulator


WITHDRAW = 5
INCOME_TYPES = frozenset(
    {"TRANSFER", "REALIZED_PNL", "FUNDING_FEE", "TRADING_FEE", "INSURANCE_CLEAR"}
    | {"TRIAL_FUND", "ADL", "SYSTEM_DEDUCTION", "GTD_PRICE"}
)
DEFAULT_PERMISSIONS = (2, 3)  # read + perpetual futures trading


class BingXAccount:
    """Account handlers ``(request, account, params)`` on ``emu``'s swap ledger."""

    def __init__(self, emu: BingXEmulator) -> None:
        self.emu = emu

    @property
    def ledger(self) -> SwapLedger:
        return self.emu.ledger

    def balance_row(self, acct: EmuAccount) -> dict[str, str]:
        """One USDT row with the fields of ccxt's recorded real answer (no
        ``maxWithdrawAmount``); the meaning of each is in ``SwapLedger.summary``."""
        m = self.ledger.summary(acct.api_key)
        return {
            "userId": str(int(hashlib.sha256(acct.api_key.encode()).hexdigest()[:8], 16)),
            "asset": "USDT",
            "balance": num(m["balance"], 4),
            "equity": num(m["equity"], 4),
            "unrealizedProfit": num(m["upnl"], 4),
            "realisedProfit": num(self.ledger.realised.get(acct.api_key, ZERO), 4),
            "availableMargin": num(m["available"], 4),
            "usedMargin": num(m["used"], 4),
            "freezedMargin": num(m["frozen"], 4),
            "shortUid": str(int(hashlib.sha256(acct.secret.encode()).hexdigest()[:6], 16)),
        }

    async def balance_v3(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        return ok([self.balance_row(acct)])

    async def balance_v2(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        return ok({"balance": self.balance_row(acct)})

    async def spot_balance(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        return ok({"balances": []})

    async def currencies(
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
        return ok(rows)

    async def positions(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        """``GET /openApi/swap/v2/user/positions`` (BingX "Query position data"; what ccxt's
        ``fetch_positions`` calls): every open position of the key, or of ``symbol``
        (``BASE-QUOTE``, optional). Each row has the fields of ccxt's recorded linear-swap
        answer; ``positionSide`` is ``LONG``/``SHORT`` by the position's sign also in
        one-way mode, where ``onlyOnePosition`` is true (as recorded), and ccxt takes the
        side from it. ``positionAmt`` is unsigned, in the base coin (contract size 1).
        ``liquidationPrice`` is the cross-margin one (``SwapLedger.liquidation_price``;
        0 when no price liquidates it, as BingX answers). A flat position is not
        listed."""
        rows, hedged = [], acct.api_key in self.ledger.hedged
        for (key, symbol, side), pos in self.ledger.positions.items():
            if key != acct.api_key or not pos.size:
                continue
            if params.get("symbol") not in (None, native(symbol)):
                continue
            lev = self.ledger.lev(key, symbol, pos.size > 0)
            mark = self.emu.mark_price(symbol) or pos.entry
            margin = abs(pos.size) * pos.entry / lev
            upnl = (mark - pos.entry) * pos.size
            liq = self.ledger.liquidation_price(key, symbol, side)
            price_places = CONTRACTS[self.emu.split_symbol(symbol)[0]][4]
            rows.append(
                {
                    "positionId": pos.position_id,
                    "symbol": native(symbol),
                    "currency": "USDT",
                    "positionAmt": num(abs(pos.size)),
                    "availableAmt": num(abs(pos.size)),
                    "positionSide": "LONG" if pos.size > 0 else "SHORT",
                    "isolated": False,
                    "avgPrice": num(pos.entry),
                    "initialMargin": num(margin, 4),
                    "margin": num(margin, 4),
                    "leverage": lev,
                    "unrealizedProfit": num(upnl, 4),
                    "realisedProfit": num(pos.realised, 4),
                    "liquidationPrice": num(liq, price_places) if liq else "0",
                    "pnlRatio": num(upnl / margin if margin else ZERO, 4),
                    "maxMarginReduction": "0.0000",
                    "riskRate": "0.0000",
                    "markPrice": num(mark),
                    "positionValue": num(abs(pos.size) * mark, 4),
                    "onlyOnePosition": not hedged,
                    "updateTime": pos.updated_ms,
                }
            )
        return ok(rows)

    async def income(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        """The account's fund flow (see the module docstring)."""
        kind, native_id = params.get("incomeType"), params.get("symbol")
        if kind is not None and kind not in INCOME_TYPES:
            return err(109400, f"Invalid parameters, err:incomeType {kind} is invalid")
        if native_id is not None and unified(native_id) is None:
            return no_symbol(native_id)
        try:
            limit = int(params.get("limit", 100))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return err(109400, "Invalid parameters, err:limit, startTime and endTime are numbers")
        if not 1 <= limit <= 1000:
            return err(109400, f"Invalid parameters, err:limit {limit} out of range")
        if start is not None and end is not None and end < start:
            return err(109400, "Invalid parameters, err:endTime must not be before startTime")
        rows = [
            {k: v for k, v in row.items() if k != "key"}
            for row in self.ledger.incomes
            if row["key"] == acct.api_key
            and kind in (None, row["incomeType"])
            and native_id in (None, row["symbol"])
            and (start is None or int(row["time"]) >= start)
            and (end is None or int(row["time"]) <= end)
        ]
        rows.sort(key=lambda r: int(r["time"]))
        return ok(rows[:limit])

    def leverage_data(self, key: str, symbol: str) -> dict[str, object]:
        max_lev = CONTRACTS[self.emu.split_symbol(symbol)[0]][6]
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

    async def get_leverage(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        symbol = unified(params.get("symbol"))
        if symbol is None:
            return no_symbol(params.get("symbol"))
        return ok({"symbol": params["symbol"], **self.leverage_data(acct.api_key, symbol)})

    async def set_leverage(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        symbol, side = unified(params.get("symbol")), params.get("side", "").upper()
        if symbol is None:
            return no_symbol(params.get("symbol"))
        hedged = acct.api_key in self.ledger.hedged
        try:
            lev = int(params.get("leverage", ""))
        except ValueError:
            return err(109400, "Invalid parameters, err:leverage is required")
        if side not in (("LONG", "SHORT") if hedged else ("BOTH",)):
            return err(109400, f"Invalid parameters, err:side {side} not allowed in this mode")
        if not 1 <= lev <= CONTRACTS[self.emu.split_symbol(symbol)[0]][6]:
            return err(109400, f"Invalid parameters, err:leverage {lev} out of range")
        levs = self.ledger.leverage.setdefault((acct.api_key, symbol), {})
        for s in ("LONG", "SHORT") if side == "BOTH" else (side,):
            levs[s] = lev
        data = self.leverage_data(acct.api_key, symbol)
        return ok({"leverage": lev, "symbol": params["symbol"], **data})

    async def get_mode(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        hedged = acct.api_key in self.ledger.hedged
        return ok({"dualSidePosition": "true" if hedged else "false"})

    async def set_mode(self, request: web.Request, acct: EmuAccount, params: dict) -> web.Response:
        want = params.get("dualSidePosition", "").lower()
        if want not in ("true", "false"):
            return err(109400, "Invalid parameters, err:dualSidePosition is required")
        key = acct.api_key
        busy = any(k == key and p.size for (k, _, _), p in self.ledger.positions.items())
        if busy or any(o.status == "open" for o in self.ledger.orders_of(key)):
            # BingX: the mode "can be set when there are no active positions or pending
            # orders"; the refusal's real code and text are undocumented (see bingx.py)
            return err(109400, "There are positions or open orders, cannot switch mode")
        (self.ledger.hedged.add if want == "true" else self.ledger.hedged.discard)(key)
        return ok({"dualSidePosition": want})

    async def permissions(
        self, request: web.Request, acct: EmuAccount, params: dict
    ) -> web.Response:
        perms = list(acct.permissions)
        ips = ["127.0.0.1"] if WITHDRAW in perms else []
        return ok({"apiKey": acct.api_key, "permissions": perms, "ipAddresses": ips, "note": ""})
