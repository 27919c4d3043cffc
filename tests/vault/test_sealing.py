"""Sealing to the engine's public key: what opens where, and what never does."""

from __future__ import annotations

import pytest

from nija_tg.core.errors import CiphertextMismatchError, MasterKeyError
from nija_tg.vault.keyring import KeyRing
from nija_tg.vault.sealing import PublicSealKey, SealedCredentials, container_key_id

CREDS = {"apiKey": "AKsentinel-key-1234", "secret": "SECRETsentinel-5678"}


def test_round_trip_and_binding_to_owner_exchange_and_field():
    ring = KeyRing.generate()
    blob = ring.seal(1, "kraken", CREDS)
    assert b"sentinel" not in blob
    assert container_key_id(blob) == ring.primary.key_id
    assert ring.open(blob, 1, "kraken") == CREDS
    with pytest.raises(CiphertextMismatchError):
        ring.open(blob, 2, "kraken")  # copied into another user's row
    with pytest.raises(CiphertextMismatchError):
        ring.open(blob, 1, "bingx")  # copied under another exchange


def test_a_part_moved_to_another_field_does_not_open():
    ring = KeyRing.generate()
    key = ring.primary
    sealed = SealedCredentials(key.key_id).with_part(
        "secret", key.seal_part(1, "kraken", "apiKey", "the-api-key-value")
    )
    with pytest.raises(CiphertextMismatchError):
        ring.open(sealed.to_bytes(), 1, "kraken")


def test_public_key_alone_seals_but_cannot_open():
    ring = KeyRing.generate()
    public = PublicSealKey.from_raw(ring.primary.raw)  # what the bot reads from the db
    part = public.seal_part(7, "kraken", "apiKey", "only-the-engine-opens-this")
    blob = SealedCredentials(public.key_id).with_part("apiKey", part).to_bytes()
    assert ring.open(blob, 7, "kraken") == {"apiKey": "only-the-engine-opens-this"}
    assert not hasattr(public, "open")


def test_another_engine_key_cannot_open():
    blob = KeyRing.generate().seal(1, "kraken", CREDS)
    with pytest.raises(MasterKeyError) as err:
        KeyRing.generate().open(blob, 1, "kraken")
    assert "sentinel" not in str(err.value)


def test_malformed_and_legacy_blobs():
    ring = KeyRing.generate()
    assert container_key_id(b"gAAAAAlegacy-fernet-token") is None
    with pytest.raises(MasterKeyError, match="legacy"):
        ring.open(b"gAAAAAlegacy-fernet-token", 1, "kraken")
    with pytest.raises(CiphertextMismatchError):
        ring.open(b'{"v": 2, "kid": 1}', 1, "kraken")
    empty = SealedCredentials(ring.primary.key_id).to_bytes()
    with pytest.raises(CiphertextMismatchError):
        ring.open(empty, 1, "kraken")
