"""Our client order ids: generated here, valid on every first-class exchange, and
recognisable by their fixed prefix so the engine can adopt orders it finds.

Format: ``nj`` + 4-char user tag + 12 random chars, lowercase base36: 18 characters,
``[0-9a-z]`` only. That fits the strictest rule we know:

- Kraken ``cl_ord_id`` free-text form: ASCII, at most 18 characters.
- BingX ``clientOrderID``: 1-40 characters (letters, digits, ``_`` and ``-``).
- Coinbase ``client_order_id``: any unique string (ccxt sends a UUID); we keep ours.
- Others (OKX ``clOrdId`` alphanumeric <= 32, Binance <= 36, Bybit <= 36): fine too.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from nija_tg.core.errors import OrderRejectedError

PREFIX = "nj"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_TAG_LEN = 4
_RANDOM_LEN = 12
LENGTH = len(PREFIX) + _TAG_LEN + _RANDOM_LEN
_OURS = re.compile(rf"^{PREFIX}[0-9a-z]{{{_TAG_LEN + _RANDOM_LEN}}}$")

# exchange id -> (max length, allowed pattern); "*" is the default for other exchanges.
RULES: dict[str, tuple[int, re.Pattern[str]]] = {
    "kraken": (18, re.compile(r"^[\x21-\x7e]+$")),
    "bingx": (40, re.compile(r"^[A-Za-z0-9_-]+$")),
    "coinbase": (128, re.compile(r"^[A-Za-z0-9_-]+$")),
    "*": (32, re.compile(r"^[A-Za-z0-9]+$")),
}


def _base36(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
    return "".join(out)


def user_tag(user_id: int | str) -> str:
    """Four stable characters derived from the user id (not reversible)."""
    digest = hashlib.sha256(f"nija-user:{user_id}".encode()).digest()
    return _base36(digest[:8], _TAG_LEN)


def new_client_order_id(exchange_id: str, user_id: int | str) -> str:
    """A fresh id, valid on ``exchange_id``."""
    cid = PREFIX + user_tag(user_id) + _base36(secrets.token_bytes(10), _RANDOM_LEN)
    validate_client_order_id(exchange_id, cid)
    return cid


def is_ours(client_id: str | None, user_id: int | str | None = None) -> bool:
    """True for ids we generated (for ``user_id``'s orders when it is given)."""
    if not client_id or not _OURS.match(client_id):
        return False
    return user_id is None or client_id[len(PREFIX) : len(PREFIX) + _TAG_LEN] == user_tag(user_id)


def validate_client_order_id(exchange_id: str, client_id: str) -> None:
    """Raise OrderRejectedError when ``client_id`` breaks ``exchange_id``'s rules."""
    max_len, pattern = RULES.get(exchange_id, RULES["*"])
    if not client_id or len(client_id) > max_len or not pattern.match(client_id):
        raise OrderRejectedError(
            f"{exchange_id}: client order id does not fit the exchange's rules",
            code="invalid_client_order_id",
        )
