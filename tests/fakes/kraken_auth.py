"""Kraken emulator, private-request checks: body parsing, ``API-Key`` / ``API-Sign``
verification, the strictly increasing per-key nonce and the key's permissions.

Permissions are the ones Kraken's API-key settings offer, by short names here. Which a
private method needs is from Kraken's REST reference ("API Key Permissions Required") and
its API-keys guide: Query Funds for Balance/BalanceEx; Query Open (or Closed) Orders &
Trades for OpenOrders (ClosedOrders), either for QueryOrders/TradesHistory/QueryTrades;
Create & Modify Orders for AddOrder; Cancel/Close Orders for CancelOrder; Query Funds *and*
Withdraw Funds for WithdrawMethods and WithdrawAddresses. A key without them is answered
``{"error":["EGeneral:Permission denied"]}`` (HTTP 200): that body, without a ``result``,
is what Kraken sends as quoted verbatim in ccxt issue #4273 and freqtrade issue #4885
(ccxt maps the string to PermissionDenied); Kraken's error guide shows ``"result": {}``
next to errors in its generic example, and ccxt treats both alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.emulator_base import EmuAccount, Ledger
from tests.fakes.kraken_markets import KrakenError

PERMISSION_DENIED = "EGeneral:Permission denied"

QUERY_FUNDS = "query_funds"
DEPOSIT_FUNDS = "deposit_funds"
WITHDRAW_FUNDS = "withdraw_funds"
QUERY_OPEN = "query_open_orders_and_trades"
QUERY_CLOSED = "query_closed_orders_and_trades"
CREATE_ORDERS = "create_and_modify_orders"
CANCEL_ORDERS = "cancel_and_close_orders"
QUERY_LEDGER = "query_ledger_entries"
EXPORT_DATA = "export_data"
WEBSOCKETS = "access_websockets_api"
PERMISSIONS = frozenset(
    {
        QUERY_FUNDS,
        DEPOSIT_FUNDS,
        WITHDRAW_FUNDS,
        QUERY_OPEN,
        QUERY_CLOSED,
        CREATE_ORDERS,
        CANCEL_ORDERS,
        QUERY_LEDGER,
        EXPORT_DATA,
        WEBSOCKETS,
    }
)
# What a trading bot's key needs, and nothing that moves funds out.
TRADE_ONLY = (QUERY_FUNDS, QUERY_OPEN, QUERY_CLOSED, CREATE_ORDERS, CANCEL_ORDERS)

# Private method -> the alternative permission sets that allow it (any one set suffices).
REQUIRED: dict[str, tuple[frozenset[str], ...]] = {
    "Balance": (frozenset({QUERY_FUNDS}),),
    "BalanceEx": (frozenset({QUERY_FUNDS}),),
    "AddOrder": (frozenset({CREATE_ORDERS}),),
    "CancelOrder": (frozenset({CANCEL_ORDERS}),),
    "AmendOrder": (frozenset({CREATE_ORDERS}), frozenset({CANCEL_ORDERS})),
    "OpenOrders": (frozenset({QUERY_OPEN}),),
    "ClosedOrders": (frozenset({QUERY_CLOSED}),),
    "QueryOrders": (frozenset({QUERY_OPEN}), frozenset({QUERY_CLOSED})),
    "TradesHistory": (frozenset({QUERY_OPEN}), frozenset({QUERY_CLOSED})),
    "QueryTrades": (frozenset({QUERY_OPEN}), frozenset({QUERY_CLOSED})),
    "WithdrawMethods": (frozenset({QUERY_FUNDS, WITHDRAW_FUNDS}),),
    "WithdrawAddresses": (frozenset({QUERY_FUNDS, WITHDRAW_FUNDS}),),
}


def permitted(account: EmuAccount, method: str) -> bool:
    """True when ``account``'s key may call the private ``method``."""
    held = set(account.permissions)
    return any(need <= held for need in REQUIRED.get(method, (frozenset(),)))


def sign(secret: str, path: str, nonce: str, body: str) -> str:
    """Kraken's API-Sign for ``path`` and the raw POST ``body`` (which contains the nonce)."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def parse_params(request: web.Request, body: str) -> dict[str, str]:
    """The parameters of a private POST, sent as a form or as JSON."""
    try:
        if request.content_type == "application/json":
            return {k: str(v) for k, v in json.loads(body or "{}").items()}
        return dict(parse_qsl(body, keep_blank_values=True))
    except ValueError:
        raise KrakenError("EGeneral:Invalid arguments") from None


def authenticate(ledger: Ledger, request: web.Request, body: str, params: dict) -> EmuAccount:
    """The account that signed this request; KrakenError with Kraken's message if none.
    A valid request consumes its nonce."""
    account = ledger.accounts.get(request.headers.get("API-Key", ""))
    if account is None or account.revoked:
        raise KrakenError("EAPI:Invalid key")
    nonce = params.get("nonce", "")
    try:
        expected = sign(account.secret, request.path, nonce, body)
    except (ValueError, TypeError):
        raise KrakenError("EAPI:Invalid signature") from None
    if not hmac.compare_digest(expected, request.headers.get("API-Sign", "")):
        raise KrakenError("EAPI:Invalid signature")
    if not nonce.isdigit() or int(nonce) <= account.last_nonce:
        raise KrakenError("EAPI:Invalid nonce")
    account.last_nonce = int(nonce)
    return account
