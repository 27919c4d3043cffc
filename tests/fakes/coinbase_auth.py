"""Coinbase emulator, CDP key auth: key names ``organizations/{org}/apiKeys/{key}`` with an
EC P-256 PEM secret; every signed request carries ``Authorization: Bearer <ES256 JWT>``
whose ``kid``/``sub`` is the key name, ``iss`` cdp|coinbase-cloud, live ``nbf``/``exp`` (at
most 120 s apart) and ``uri`` ``"<METHOD> <host><path>"``; method and path must match the
request, the host is not checked (ccxt puts the overridden base URL there)."""

from __future__ import annotations

import uuid

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.emulator_base import EmuAccount, Ledger


def new_cdp_key() -> tuple[str, str, ec.EllipticCurvePublicKey]:
    """A fresh (key name, PEM private key, public key) triple."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
    return name, pem, key.public_key()


def authenticate(
    request: web.Request, ledger: Ledger, public_keys: dict[str, ec.EllipticCurvePublicKey]
) -> EmuAccount | None:
    """The account whose valid JWT signs this request, else None."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer ") :]
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        account = ledger.accounts.get(kid)
        if account is None or account.revoked:
            return None
        claims = jwt.decode(
            token,
            public_keys[kid],
            algorithms=["ES256"],
            options={"verify_aud": False, "require": ["exp", "nbf", "sub", "iss"]},
        )
    except (jwt.PyJWTError, KeyError, ValueError):
        return None
    if claims["sub"] != kid or claims["iss"] not in ("cdp", "coinbase-cloud"):
        return None
    if int(claims["exp"]) - int(claims["nbf"]) > 120:
        return None
    uri = claims.get("uri") or (claims.get("uris") or [""])[0]
    method, _, target = str(uri).partition(" ")
    target = target.split("://", 1)[-1].split("?", 1)[0]
    path = "/" + target.split("/", 1)[1] if "/" in target else ""
    if method != request.method or path != request.path:
        return None
    return account
