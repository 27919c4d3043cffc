"""Key rotation and legacy migration: every row opens afterwards, no process seals to a
retired key, the running engine forgets the retired private key at once."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import signal

import pytest

from nija_tg.core.errors import ConfigError, MasterKeyError, SealKeyRotatedError
from nija_tg.core.models import Role
from nija_tg.engine.key_intake import KeyIntake
from nija_tg.engine_main import prepare_keys
from nija_tg.runtime import Runtime
from nija_tg.services import key_rotation
from nija_tg.services.connect_service import ConnectService
from nija_tg.storage import credentials, seal_keys, users
from nija_tg.vault.fernet_legacy import Vault as LegacyVault
from nija_tg.vault.fernet_legacy import generate_key as legacy_key
from nija_tg.vault.keyring import (
    KeyRing,
    generate_private_key,
    parse_private_keys,
    read_key_file,
    write_key_file,
)
from nija_tg.vault.sealing import container_key_id
from tests.conftest import PYTHON, REPO, make_env


async def _users(db, n):
    async with db.transaction() as tx:
        for uid in range(1, n + 1):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)


async def _seed(db, ring, n):
    await _users(db, n)
    async with db.transaction() as tx:
        for uid in range(1, n + 1):
            blob = ring.seal(uid, "kraken", {"apiKey": f"key-{uid}", "secret": f"sec-{uid}"})
            await credentials.store(tx, uid, "kraken", blob, f"{uid:04d}"[-4:], verified=True)


async def _all_rows(db):
    return await credentials.rotation_batch(db, "credentials", 0, 100_000)


def _engine_ring(key_file):
    return KeyRing.from_env_or_file(None, key_file)


def _new_key_file(path):
    write_key_file(path, parse_private_keys(generate_private_key(), "test"))
    return KeyRing(read_key_file(path))


async def test_rotation_reseals_retires_and_the_running_engine_forgets_the_old_key(db, settings):
    key_file = settings.effective_engine_key_file
    old_ring = _new_key_file(key_file)
    await key_rotation.publish_primary(db, old_ring)
    await _seed(db, old_ring, 30)
    engine_ring = _engine_ring(key_file)  # the engine, running through the rotation
    intake = KeyIntake(db, engine_ring, verifier=None)
    report = await key_rotation.rotate_file_keys(db, key_file)
    assert (report.rotated, report.total) == (30, 30)
    keys = read_key_file(key_file)
    assert len(keys) == 1
    new_id = KeyRing(keys).primary.key_id
    assert new_id != old_ring.primary.key_id
    assert await seal_keys.states(db) == {old_ring.primary.key_id: "retired", new_id: "current"}
    for uid, exchange_id, blob in await _all_rows(db):
        assert container_key_id(blob) == new_id
        assert engine_ring.open(blob, uid, exchange_id)["secret"] == f"sec-{uid}"
    # a copy of an old row (e.g. from a backup) no longer opens in the running engine
    old_blob = old_ring.seal(1, "kraken", {"apiKey": "from-a-backup"})
    await intake.sync_keys()
    with pytest.raises(MasterKeyError):
        engine_ring.open(old_blob, 1, "kraken")
    assert (await seal_keys.engine_keys(db))[0] == [new_id]


async def test_bot_seals_to_the_new_key_at_once_and_a_draft_under_the_old_one_is_refused(
    db, settings
):
    key_file = settings.effective_engine_key_file
    old_ring = _new_key_file(key_file)
    await key_rotation.publish_primary(db, old_ring)
    await _users(db, 2)
    bot = ConnectService(db)  # the running bot: public key only
    draft = await bot.seal(1, "kraken", None, "apiKey", "AK-typed-before-rotation")
    await key_rotation.rotate_file_keys(db, key_file)
    with pytest.raises(SealKeyRotatedError):  # second part after the rotation
        await bot.seal(1, "kraken", draft, "secret", "SEC-after")
    with pytest.raises(SealKeyRotatedError):  # or the whole draft submitted after it
        await bot.submit(1, draft)
    assert await credentials.pending(db) == []
    fresh = await bot.seal(2, "kraken", None, "apiKey", "AK-after-rotation")
    fresh = await bot.seal(2, "kraken", fresh, "secret", "SEC-after-rotation")
    await bot.submit(2, fresh)
    (row,) = await credentials.pending(db)
    new_ring = KeyRing(read_key_file(key_file))
    assert container_key_id(row.ciphertext) == new_ring.primary.key_id
    assert new_ring.open(row.ciphertext, 2, "kraken") == {
        "apiKey": "AK-after-rotation",
        "secret": "SEC-after-rotation",
    }


async def test_env_rotation_refused_while_the_running_engine_lacks_the_new_key(db, settings):
    old = generate_private_key()
    ring = KeyRing(parse_private_keys(old, "t"))
    await key_rotation.publish_primary(db, ring)
    await _seed(db, ring, 3)
    await KeyIntake(db, ring, verifier=None).sync_keys()  # engine running with the old key
    new = generate_private_key()
    with pytest.raises(ConfigError, match="restart the engine"):
        await key_rotation.rotate_env_keys(db, f"{new},{old}")
    restarted = KeyRing(parse_private_keys(f"{new},{old}", "t"))
    await KeyIntake(db, restarted, verifier=None).sync_keys()  # restarted with both
    report = await key_rotation.rotate_env_keys(db, f"{new},{old}")
    assert report.rotated == 3 and not report.old_keys_removed
    await KeyIntake(db, restarted, verifier=None).sync_keys()
    assert restarted.key_ids == (restarted.primary.key_id,)
    for uid, exchange_id, blob in await _all_rows(db):
        assert restarted.open(blob, uid, exchange_id)["apiKey"] == f"key-{uid}"


async def test_legacy_fernet_rows_are_migrated_on_engine_start(db, settings):
    legacy_secret = legacy_key()
    legacy = LegacyVault([legacy_secret.encode()])
    await _users(db, 5)
    async with db.transaction() as tx:
        for uid in range(1, 6):
            blob = legacy.encrypt(uid, "kraken", {"apiKey": f"key-{uid}", "secret": f"s{uid}"})
            await credentials.store(tx, uid, "kraken", blob, "tail", verified=True)
    ring = KeyRing.generate()
    engine_settings = dataclasses.replace(settings, master_key=legacy_secret)
    await prepare_keys(Runtime(engine_settings, db, ring))
    assert (await seal_keys.current(db)).key_id == ring.primary.key_id
    for uid, exchange_id, blob in await _all_rows(db):
        assert container_key_id(blob) == ring.primary.key_id
        assert ring.open(blob, uid, exchange_id) == {"apiKey": f"key-{uid}", "secret": f"s{uid}"}
    await prepare_keys(Runtime(engine_settings, db, ring))  # a second start changes nothing


async def test_rotation_killed_half_way_then_rerun(db, settings):
    key_file = settings.effective_engine_key_file
    old_ring = _new_key_file(key_file)
    await key_rotation.publish_primary(db, old_ring)
    await _seed(db, old_ring, 3000)
    env = make_env(settings.data_dir)
    rng = random.Random(7)

    async def rotate(kill_after: float | None) -> tuple[int, bytes]:
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "nija_tg",
            "rotate-key",
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        if kill_after is None:
            _out, err = await proc.communicate()
            return proc.returncode, err
        await asyncio.sleep(kill_after)
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        return proc.returncode, b""

    for _attempt in range(3):
        await rotate(rng.uniform(0.5, 1.5))
        # Whatever the moment of the kill: every row opens with the key file alone.
        ring = KeyRing(read_key_file(key_file))
        rows = await _all_rows(db)
        assert len(rows) == 3000
        for uid, exchange_id, blob in rows[::37]:
            assert ring.open(blob, uid, exchange_id)["apiKey"] == f"key-{uid}"
    code, err = await rotate(None)
    assert code == 0, err.decode()
    keys = read_key_file(key_file)
    assert len(keys) == 1
    final = KeyRing(keys)
    assert final.primary.key_id != old_ring.primary.key_id
    assert not key_file.with_name(key_file.name + ".rotating").exists()
    retired = {k for k, s in (await seal_keys.states(db)).items() if s == "retired"}
    assert old_ring.primary.key_id in retired
    for uid, exchange_id, blob in await _all_rows(db):
        assert container_key_id(blob) == final.primary.key_id
        assert final.open(blob, uid, exchange_id)["apiKey"] == f"key-{uid}"


async def test_engine_start_sizes_redaction_for_every_stored_credential(db, settings):
    from nija_tg.redaction import registry

    ring = KeyRing.generate()
    await _seed(db, ring, 3000)
    before = registry().capacity
    try:
        await prepare_keys(Runtime(settings, db, ring))
        assert registry().capacity >= 4 * 3000
    finally:
        registry().set_capacity(before)  # the registry is process-wide
