"""Which exchanges a user may connect and which credentials each one needs, without
importing ccxt (the bot never loads exchange clients).

The table of ccxt exchange ids and their ``requiredCredentials`` is generated from the
installed ccxt into ``exchange_catalogue.json`` by ``python -m
nija_tg.exchange.catalogue_gen`` (a test fails when it drifts from ccxt).

Policy, the same for the bot (what it asks for) and the engine (what it verifies):
- exchanges whose keys include a wallet private key or address are never accepted
  (such a key is full control of the funds);
- only exchanges where a key's withdraw permission can be proven are offered
  (``PROVABLE``); the others only when the operator sets
  ``NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from nija_tg.core.errors import ExchangeNotAllowedError, UnknownExchangeError

CATALOGUE_FILE = Path(__file__).with_name("exchange_catalogue.json")
PROVABLE = ("kraken", "bingx", "coinbase")
WALLET_CREDENTIALS = frozenset({"privateKey", "walletAddress"})
EXCHANGE_ID_RE = re.compile(r"^[a-z0-9_]{2,32}$")

CREDENTIAL_LABELS = {
    "apiKey": "API key",
    "secret": "API secret",
    "password": "passphrase",
    "uid": "user id (UID)",
    "accountId": "account id",
    "login": "login",
    "twofa": "2FA secret",
    "privateKey": "private key",
    "walletAddress": "wallet address",
    "token": "token",
}

# why keys for an exchange are refused (error codes: ``messages.errors`` words them)
WALLET_REFUSAL = "wallet_key_exchange"
UNPROVEN_REFUSAL = "unprovable_exchange"


@cache
def catalogue() -> dict[str, tuple[str, ...]]:
    """ccxt exchange id -> required credential names, in the order to ask for them."""
    data = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return {eid: tuple(names) for eid, names in data["exchanges"].items()}


def credential_label(name: str) -> str:
    """Human label for a ccxt credential name ("secret" -> "API secret")."""
    return CREDENTIAL_LABELS.get(name, name)


def is_exchange_id(raw: str) -> bool:
    """True when ``raw`` (stripped, lower-cased) is exactly a known exchange id."""
    return raw.strip().lower() in catalogue()


def allowed_fields(exchange_id: str, *, allow_unproven: bool) -> list[tuple[str, str]]:
    """``[(name, label)]`` to ask for, or UnknownExchangeError / ExchangeNotAllowedError."""
    if not EXCHANGE_ID_RE.match(exchange_id) or exchange_id not in catalogue():
        raise UnknownExchangeError(f"unknown exchange id {exchange_id!r}")
    names = catalogue()[exchange_id]
    if WALLET_CREDENTIALS & set(names):
        raise ExchangeNotAllowedError("wallet-key exchange", code=WALLET_REFUSAL)
    if exchange_id not in PROVABLE and not allow_unproven:
        raise ExchangeNotAllowedError("unprovable exchange", code=UNPROVEN_REFUSAL)
    return [(n, credential_label(n)) for n in names]
