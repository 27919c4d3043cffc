"""Kraken emulator, private-request checks: body parsing, ``API-Key`` / ``API-Sign``
verification and the strictly increasing per-key nonce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.emulator_base import EmuAccount, Ledger
from tests.fakes.kraken_markets import KrakenError


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
