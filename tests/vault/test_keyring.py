"""The engine's key file and key ring: private, re-read on rotation, forgets retired."""

from __future__ import annotations

import os

import pytest

from nija_tg.core.errors import MasterKeyError
from nija_tg.vault.keyring import (
    KeyRing,
    generate_private_key,
    parse_private_keys,
    read_key_file,
    write_key_file,
)

CREDS = {"apiKey": "AK-1234567890", "secret": "SEC-0987654321"}


def new_keys(n: int = 1):
    return [parse_private_keys(generate_private_key(), "test")[0] for _ in range(n)]


def test_key_file_must_be_private(tmp_path):
    path = tmp_path / "engine.key"
    write_key_file(path, new_keys())
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    read_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        read_key_file(path)


def test_key_file_garbage_and_missing(tmp_path):
    path = tmp_path / "engine.key"
    with pytest.raises(MasterKeyError, match="does not exist"):
        read_key_file(path)
    path.write_text("not a key\n")
    os.chmod(path, 0o600)
    with pytest.raises(MasterKeyError, match="not an engine key"):
        read_key_file(path)


def test_env_form_parses_and_reports_without_the_value():
    with pytest.raises(MasterKeyError) as err:
        KeyRing.from_env_or_file("SENTINEL-not-a-key", None)
    assert "SENTINEL" not in str(err.value) and "NIJA_ENGINE_KEY" in str(err.value)
    ring = KeyRing.from_env_or_file(",".join([generate_private_key()] * 2), None)
    assert len(ring.key_ids) == 1


def test_ring_rereads_its_file_for_a_key_added_while_running(tmp_path):
    path = tmp_path / "engine.key"
    old, new = new_keys(2)
    write_key_file(path, [old])
    running = KeyRing.from_env_or_file(None, path)  # an engine started before rotation
    write_key_file(path, [new, old])
    blob = KeyRing([new]).seal(5, "kraken", CREDS)
    assert running.open(blob, 5, "kraken") == CREDS


def test_forgotten_key_never_opens_again_even_after_reload(tmp_path):
    path = tmp_path / "engine.key"
    old, new = new_keys(2)
    write_key_file(path, [new, old])
    ring = KeyRing.from_env_or_file(None, path)
    blob = KeyRing([old]).seal(5, "kraken", CREDS)
    assert ring.open(blob, 5, "kraken") == CREDS
    ring.forget({KeyRing([old]).primary.key_id})
    with pytest.raises(MasterKeyError):
        ring.open(blob, 5, "kraken")  # the file still has it: a reload must not revive it
    assert KeyRing([old]).primary.key_id not in ring.key_ids
