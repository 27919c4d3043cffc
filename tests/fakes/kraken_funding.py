"""Kraken emulator, funding side: ``WithdrawMethods`` and ``WithdrawAddresses``, the two
read-only funding methods that Kraken's REST reference says need "Funds permissions -
Query" *and* "Funds permissions - Withdraw" (the permission check is kraken_auth.py's).

``WithdrawMethods`` (optional ``asset``, ``aclass``, ``network`` filters) answers a list of
``{"asset", "method", "method_id", "network", "network_id", "minimum"}`` rows, the fields of
Kraken's documented answer; the rows, ids and minimums here are illustrative.
``WithdrawAddresses`` (optional ``asset``, ``method``, ``key``, ``verified``) answers the
account's saved addresses as ``{"address", "asset", "method", "key", "verified"}``; none
unless a test adds them with ``KrakenEmulator.add_withdraw_address``. An ``asset`` filter
that names no known asset answers an empty list (Kraken's exact answer there is not
documented). Deposits, ``WithdrawInfo``, ``Withdraw`` and its status/cancel are not covered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.fakes.emulator_base import EmuAccount
from tests.fakes.kraken_markets import ALTNAMES, ASSETS

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fakes.kraken import KrakenEmulator


@dataclass(frozen=True)
class Method:
    asset: str  # Kraken asset id (XXBT, XETH, SOL...)
    method: str
    network: str
    minimum: str

    def row(self) -> dict[str, str]:
        ns = uuid.NAMESPACE_URL
        return {
            "asset": self.asset,
            "method_id": str(uuid.uuid5(ns, f"kraken-method/{self.asset}/{self.method}")),
            "method": self.method,
            "network_id": str(uuid.uuid5(ns, f"kraken-network/{self.network}")),
            "network": self.network,
            "minimum": self.minimum,
        }


METHODS = (
    Method("XXBT", "Bitcoin", "Bitcoin", "0.0004"),
    Method("XXBT", "Bitcoin Lightning", "Lightning", "0.00001"),
    Method("XETH", "Ether", "Ethereum", "0.004"),
    Method("SOL", "Solana", "Solana", "0.02"),
    Method("ADA", "ADA", "Cardano", "10"),
    Method("DOT", "Polkadot", "Polkadot", "1.5"),
)


def asset_ids(raw: str) -> set[str]:
    """The Kraken asset ids a funding ``asset`` filter names (id, altname or code)."""
    wanted = {a.strip().upper() for a in raw.split(",") if a.strip()}
    ids = set()
    for code, (asset_id, _, _) in ASSETS.items():
        names = {code, asset_id, ALTNAMES.get(asset_id, asset_id)}
        if names & wanted:
            ids.add(asset_id)
    return ids


class KrakenFunding:
    """Funding method handlers ``(account, params, now_ms) -> result``."""

    def __init__(self, emu: KrakenEmulator) -> None:
        self.emu = emu
        self.addresses: dict[str, list[dict]] = {}  # api key -> saved withdraw addresses

    def handlers(self) -> dict[str, Callable[[EmuAccount, dict, int], list]]:
        return {
            "WithdrawMethods": self.withdraw_methods,
            "WithdrawAddresses": self.withdraw_addresses,
        }

    def withdraw_methods(self, account: EmuAccount, params: dict, now: int) -> list:
        rows = list(METHODS)
        if params.get("asset"):
            ids = asset_ids(params["asset"])
            rows = [m for m in rows if m.asset in ids]
        if params.get("network"):
            rows = [m for m in rows if m.network == params["network"]]
        if params.get("aclass", "currency") != "currency":
            rows = []
        return [m.row() for m in rows]

    def withdraw_addresses(self, account: EmuAccount, params: dict, now: int) -> list:
        rows = list(self.addresses.get(account.api_key, []))
        if params.get("asset"):
            ids = asset_ids(params["asset"])
            rows = [r for r in rows if r["asset"] in ids]
        for name in ("method", "key"):
            if params.get(name):
                rows = [r for r in rows if r[name] == params[name]]
        if params.get("verified"):
            want = params["verified"].lower() == "true"
            rows = [r for r in rows if r["verified"] is want]
        return rows
