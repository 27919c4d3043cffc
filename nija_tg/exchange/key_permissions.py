"""Proof that a brand-new key cannot withdraw (docs/key-permissions.md).

A key is kept only when the exchange's own answer proves it cannot move funds out:

- **Kraken** has no endpoint that lists a key's permissions. ``WithdrawMethods`` needs the
  key permissions "Funds permissions - Query" *and* "Funds permissions - Withdraw"
  (Kraken's REST reference). The caller has already read the balance (which needs Query),
  so an answer ``EGeneral:Permission denied`` (exactly that, alone) proves the key lacks
  Withdraw; a successful list proves it has it.
- **BingX** ``GET /openApi/v1/account/apiPermissions`` lists the key's permission codes
  (1 spot trading, 2 read, 3 perpetual futures trading, 4 universal transfer,
  5 withdraw, 7 sub-account internal transfer). 5 present: can withdraw; a well-formed
  list of known codes without 5: cannot.
- **Coinbase** ``GET /api/v3/brokerage/key_permissions`` answers ``can_transfer``;
  ``false`` proves the key cannot send funds away, ``true`` that it can.

Anything else (an error, a timeout, an unexpected shape, a code we do not know) is
``UNKNOWN``, and an unknown key is never kept. Every other exchange is ``NOT_PROVABLE``;
the gateway refuses those unless the operator allows unproven exchanges. Exchanges that
sign with a wallet private key or address are refused whatever the setting: such a key is
full control of the funds.

Nothing here logs or returns exchange text: ``Proof.why`` is our own short wording.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import ccxt

from nija_tg.core.exchange_catalogue import PROVABLE, WALLET_CREDENTIALS
from nija_tg.core.models import WithdrawProof
from nija_tg.exchange.ccxt_client import CcxtClient

log = logging.getLogger(__name__)

# One policy for the bot (what it asks for) and the engine (what it verifies).
PROVABLE_EXCHANGES = PROVABLE

# Kraken's answer to a key without the permission a private method needs.
KRAKEN_PERMISSION_DENIED = "EGeneral:Permission denied"
# BingX API-key permission codes, as documented for apiPermissions.
BINGX_PERMISSIONS = {
    1: "spot_trading",
    2: "read",
    3: "perpetual_futures_trading",
    4: "universal_transfer",
    5: "withdraw",
    7: "sub_account_transfer",
}
BINGX_WITHDRAW = 5
COINBASE_FLAGS = ("can_view", "can_trade", "can_transfer")


@dataclass(frozen=True, slots=True)
class Proof:
    """What one probe established; ``permissions`` as the exchange reported them."""

    state: WithdrawProof
    permissions: tuple[str, ...] = ()
    why: str = ""  # our own words, for logs; never exchange text

    @property
    def can_withdraw(self) -> bool | None:
        if self.state is WithdrawProof.CAN_WITHDRAW:
            return True
        if self.state is WithdrawProof.PROVEN_NO_WITHDRAW:
            return False
        return None


def wallet_key_exchange(required: list[str]) -> bool:
    """True when the exchange's credentials include a wallet private key or address."""
    return any(name in WALLET_CREDENTIALS for name in required)


def is_provable(exchange_id: str) -> bool:
    """True when a key's withdraw permission can be proven on ``exchange_id``."""
    return exchange_id in PROVABLE_EXCHANGES


def _unknown(why: str) -> Proof:
    return Proof(WithdrawProof.UNKNOWN, why=why)


# --- Kraken ------------------------------------------------------------------------------


def kraken_permission_denied(exc: BaseException) -> bool:
    """True when ``exc`` is ccxt's error for Kraken's exact ``{"error":
    ["EGeneral:Permission denied"], ...}`` answer (ccxt puts the body after the id)."""
    if not isinstance(exc, ccxt.PermissionDenied):
        return False
    text = str(exc)
    start = text.find("{")
    if start < 0:
        return False
    try:
        body = json.loads(text[start:])
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == [KRAKEN_PERMISSION_DENIED]


def kraken_proof(answer: Any) -> Proof:
    """The proof from a successful ``WithdrawMethods`` answer: a list means the key may
    call it, so it has the Withdraw permission; any other shape proves nothing."""
    if not isinstance(answer, dict) or answer.get("error") != []:
        return _unknown("WithdrawMethods: unexpected answer")
    result = answer.get("result")
    if not isinstance(result, list) or not all(isinstance(m, dict) for m in result):
        return _unknown("WithdrawMethods: unexpected result")
    return Proof(WithdrawProof.CAN_WITHDRAW, why="WithdrawMethods answered")


_DENIED = object()


async def _kraken(core: CcxtClient) -> Proof:
    client = core.client

    async def withdraw_methods() -> Any:
        try:
            return await client.privatePostWithdrawMethods()
        except ccxt.PermissionDenied as exc:
            if kraken_permission_denied(exc):
                return _DENIED
            raise

    answer = await core.read("withdraw_methods", withdraw_methods)
    if answer is _DENIED:
        return Proof(WithdrawProof.PROVEN_NO_WITHDRAW, why="WithdrawMethods: permission denied")
    return kraken_proof(answer)


# --- BingX -------------------------------------------------------------------------------


def _bingx_code(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    return None


def bingx_proof(answer: Any) -> Proof:
    """The proof from an ``apiPermissions`` answer ``{"code": 0, "data": {"permissions":
    [...]}}``: code 5 can withdraw; known codes without 5 cannot; anything else proves
    nothing (an unknown code might be a new way to move funds)."""
    if not isinstance(answer, dict) or str(answer.get("code")) != "0":
        return _unknown("apiPermissions: unexpected answer")
    data = answer.get("data")
    raw = data.get("permissions") if isinstance(data, dict) else None
    if not isinstance(raw, list) or not raw:
        return _unknown("apiPermissions: no permission list")
    codes = [_bingx_code(p) for p in raw]
    names = tuple(BINGX_PERMISSIONS.get(c, str(c)) for c in codes if c is not None)
    if BINGX_WITHDRAW in codes:
        return Proof(WithdrawProof.CAN_WITHDRAW, names, "apiPermissions: withdraw listed")
    if any(c not in BINGX_PERMISSIONS for c in codes):
        return Proof(WithdrawProof.UNKNOWN, names, "apiPermissions: unknown permission code")
    return Proof(WithdrawProof.PROVEN_NO_WITHDRAW, names, "apiPermissions: no withdraw")


async def _bingx(core: CcxtClient) -> Proof:
    call = core.client.accountV1PrivateGetAccountApiPermissions
    return bingx_proof(await core.read("api_permissions", call))


# --- Coinbase ----------------------------------------------------------------------------


def coinbase_proof(answer: Any) -> Proof:
    """The proof from a ``key_permissions`` answer: ``can_transfer`` must be a boolean."""
    if not isinstance(answer, dict):
        return _unknown("key_permissions: unexpected answer")
    names = tuple(k for k in COINBASE_FLAGS if answer.get(k) is True)
    transfer = answer.get("can_transfer")
    if transfer is True:
        return Proof(WithdrawProof.CAN_WITHDRAW, names, "key_permissions: can_transfer")
    if transfer is not False:
        return Proof(WithdrawProof.UNKNOWN, names, "key_permissions: no can_transfer flag")
    return Proof(WithdrawProof.PROVEN_NO_WITHDRAW, names, "key_permissions: no transfer")


async def _coinbase(core: CcxtClient) -> Proof:
    call = core.client.v3PrivateGetBrokerageKeyPermissions
    return coinbase_proof(await core.read("key_permissions", call))


# --- entry point -------------------------------------------------------------------------

PROBES: dict[str, Callable[[CcxtClient], Awaitable[Proof]]] = {
    "kraken": _kraken,
    "bingx": _bingx,
    "coinbase": _coinbase,
}


async def prove_withdraw(core: CcxtClient) -> Proof:
    """Ask the exchange behind ``core`` (a client holding the new key) whether the key can
    withdraw. Never raises (except cancellation): a failed probe is ``UNKNOWN``."""
    probe = PROBES.get(core.exchange_id)
    if probe is None:
        return Proof(WithdrawProof.NOT_PROVABLE, why="no withdraw proof for this exchange")
    try:
        proof = await probe(core)
    except Exception as err:  # an error answer, a timeout, a bug: nothing is proven
        proof = _unknown(f"probe failed ({type(err).__name__})")
    log.info("%s: withdraw proof %s (%s)", core.exchange_id, proof.state, proof.why)
    return proof
