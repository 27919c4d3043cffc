"""Coinbase emulator, account endpoints: balances (``GET /v2/accounts`` with
``starting_after`` paging, ``GET /api/v3/brokerage/accounts`` with ``cursor`` paging and
``hold``), the fee tier (``transaction_summary``) and ``key_permissions``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.coinbase_markets import s
from tests.fakes.emulator_base import EmuAccount

if TYPE_CHECKING:
    from tests.fakes.coinbase import CoinbaseEmulator


@dataclass
class CbAccountMeta:
    """Coinbase-side ids of one emulated key's user."""

    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    portfolio_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    wallets: dict[str, str] = field(default_factory=dict)  # currency -> account uuid

    def wallet(self, currency: str) -> str:
        return self.wallets.setdefault(currency, str(uuid.uuid4()))


class CoinbaseAccounts:
    """Signed account handlers ``(request, account)``."""

    def __init__(self, emu: CoinbaseEmulator) -> None:
        self.emu = emu

    async def v2_accounts(self, request: web.Request, account: EmuAccount) -> web.Response:
        meta = self.emu.meta[account.api_key]
        limit = max(1, min(int(request.query.get("limit", 25)), 300))
        after = request.query.get("starting_after")
        rows = []
        for code in self.emu.currencies_of(account):
            wid = meta.wallet(code)
            rows.append(
                {
                    "id": wid,
                    "name": f"{code} Wallet",
                    "primary": code == "BTC",
                    "type": "fiat" if code == "USD" else "wallet",
                    "currency": {"code": code, "name": code, "exponent": 8, "type": "crypto"},
                    "balance": {"amount": s(account.balances.get(code, 0)), "currency": code},
                    "created_at": "2023-01-04T06:20:06Z",
                    "updated_at": "2023-01-04T06:20:06Z",
                    "resource": "account",
                    "resource_path": f"/v2/accounts/{wid}",
                    "allow_deposits": True,
                    "allow_withdrawals": True,
                }
            )
        ids = [r["id"] for r in rows]
        start = ids.index(after) + 1 if after in ids else 0
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        nxt = page[-1]["id"] if more and page else None
        return web.json_response(
            {
                "pagination": {
                    "ending_before": None,
                    "starting_after": after,
                    "previous_ending_before": None,
                    "next_starting_after": nxt,
                    "limit": limit,
                    "order": "desc",
                    "previous_uri": None,
                    "next_uri": f"/v2/accounts?limit={limit}&starting_after={nxt}" if nxt else None,
                },
                "data": page,
            }
        )

    async def v3_accounts(self, request: web.Request, account: EmuAccount) -> web.Response:
        meta = self.emu.meta[account.api_key]
        held = self.emu.holds(account.api_key)
        limit = max(1, min(int(request.query.get("limit", 49)), 250, self.emu.accounts_page_size))
        offset = int(request.query.get("cursor") or 0)
        rows = []
        for code in self.emu.currencies_of(account):
            hold = held.get(code, Decimal(0))
            rows.append(
                {
                    "uuid": meta.wallet(code),
                    "name": f"{code} Wallet",
                    "currency": code,
                    "available_balance": {
                        "value": s(account.balances.get(code, Decimal(0)) - hold),
                        "currency": code,
                    },
                    "default": code == "USD",
                    "active": True,
                    "created_at": "2023-01-04T06:20:06.456Z",
                    "updated_at": "2023-01-04T06:20:07.181Z",
                    "deleted_at": None,
                    "type": "ACCOUNT_TYPE_FIAT" if code == "USD" else "ACCOUNT_TYPE_CRYPTO",
                    "ready": True,
                    "hold": {"value": s(hold), "currency": code},
                    "retail_portfolio_id": meta.portfolio_uuid,
                    "platform": "ACCOUNT_PLATFORM_CONSUMER",
                }
            )
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return web.json_response(
            {
                "accounts": page,
                "has_next": more,
                "cursor": str(offset + limit) if more else "",
                "size": len(page),
            }
        )

    async def transaction_summary(self, request: web.Request, _: EmuAccount) -> web.Response:
        rate = s(self.emu.ledger.fee_rate)
        return web.json_response(
            {
                "total_volume": 0,
                "total_fees": 0,
                "fee_tier": {
                    "pricing_tier": "Advanced 1",
                    "usd_from": "0",
                    "usd_to": "1000",
                    "taker_fee_rate": rate,
                    "maker_fee_rate": rate,
                    "aop_from": "",
                    "aop_to": "",
                },
                "margin_rate": None,
                "goods_and_services_tax": None,
                "advanced_trade_only_volume": 0,
                "advanced_trade_only_fees": 0,
                "coinbase_pro_volume": 0,
                "coinbase_pro_fees": 0,
                "total_balance": "",
                "has_promo_fee": False,
            }
        )

    async def key_permissions(self, request: web.Request, account: EmuAccount) -> web.Response:
        return web.json_response(
            {
                "can_view": "view" in account.permissions,
                "can_trade": "trade" in account.permissions,
                "can_transfer": "transfer" in account.permissions,
                "portfolio_uuid": self.emu.meta[account.api_key].portfolio_uuid,
                "portfolio_type": "DEFAULT",
            }
        )
