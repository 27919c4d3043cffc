"""Sealing credentials to the engine's public key (HPKE, RFC 9180) and opening them.

Anyone holding the public key can seal; only the engine's private key opens. Each
credential (API key, secret, passphrase...) is sealed on its own the moment it arrives,
with HPKE base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305. The
HPKE ``info`` binds every part to its owner, exchange, key id and credential name, so a
blob copied to another user's row, another exchange or another field does not open.

A *container* (what the database stores) is JSON naming the key id and holding the
sealed parts in base64; it is not secret::

    {"v": 2, "kid": "3f2a...", "parts": {"apiKey": "<b64>", "secret": "<b64>"}}

Pure functions over bytes: no files, no database (the key ring and the storage adapter
do that).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nija_tg.core.errors import CiphertextMismatchError, MasterKeyError

CONTAINER_VERSION = 2
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_INFO_LABEL = b"nija-tg/credential/v2"


def public_bytes(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(public_raw: bytes) -> str:
    """A short public name for a key pair: 16 hex characters of SHA-256(public key)."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _info(user_id: int, exchange_id: str, key_id: str, name: str) -> bytes:
    fields = (str(int(user_id)), exchange_id, key_id, name)
    return b"\x00".join([_INFO_LABEL, *(f.encode() for f in fields)])


@dataclass(frozen=True, slots=True)
class PublicSealKey:
    """The engine's current public key, as published in the database."""

    key_id: str
    raw: bytes

    @classmethod
    def from_raw(cls, raw: bytes) -> PublicSealKey:
        if len(raw) != 32:
            raise MasterKeyError("a published public key is not 32 bytes of X25519")
        return cls(key_id_of(raw), bytes(raw))

    def seal_part(self, user_id: int, exchange_id: str, name: str, value: str) -> bytes:
        public = X25519PublicKey.from_public_bytes(self.raw)
        return _SUITE.encrypt(
            value.encode(), public, info=_info(user_id, exchange_id, self.key_id, name)
        )


@dataclass(frozen=True, slots=True)
class SealedCredentials:
    """Sealed parts under one key id; never holds plain text."""

    key_id: str
    parts: tuple[tuple[str, bytes], ...] = ()

    def with_part(self, name: str, sealed: bytes) -> SealedCredentials:
        kept = tuple((n, b) for n, b in self.parts if n != name)
        return SealedCredentials(self.key_id, (*kept, (name, sealed)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.parts)

    def to_bytes(self) -> bytes:
        parts = {n: base64.b64encode(b).decode() for n, b in self.parts}
        doc = {"v": CONTAINER_VERSION, "kid": self.key_id, "parts": parts}
        return json.dumps(doc, separators=(",", ":")).encode()

    def __repr__(self) -> str:
        return f"SealedCredentials(key_id={self.key_id!r}, names={self.names!r})"


def parse_container(blob: bytes) -> SealedCredentials | None:
    """The container in ``blob``, or None when it is not one (e.g. a legacy Fernet
    token). Raises CiphertextMismatchError for a malformed container."""
    if not blob.startswith(b"{"):
        return None
    try:
        doc = json.loads(blob)
        if doc.get("v") != CONTAINER_VERSION:
            raise ValueError("version")
        parts = tuple((str(n), base64.b64decode(v)) for n, v in doc["parts"].items())
        return SealedCredentials(str(doc["kid"]), parts)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CiphertextMismatchError("credential container is malformed") from None


def container_key_id(blob: bytes) -> str | None:
    """The key id a stored blob is sealed to; None for a legacy (Fernet) blob."""
    sealed = parse_container(blob)
    return None if sealed is None else sealed.key_id


def open_parts(
    private_key: X25519PrivateKey, sealed: SealedCredentials, user_id: int, exchange_id: str
) -> dict[str, str]:
    """Open every part; CiphertextMismatchError when any part was sealed for another
    owner, exchange, key or field."""
    opened = {}
    for name, blob in sealed.parts:
        try:
            raw = _SUITE.decrypt(
                blob, private_key, info=_info(user_id, exchange_id, sealed.key_id, name)
            )
        except (InvalidTag, ValueError):
            raise CiphertextMismatchError(
                f"credential part does not open for this row (user {user_id})"
            ) from None
        opened[name] = raw.decode()
    return opened
