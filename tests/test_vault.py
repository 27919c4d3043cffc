import asyncio
import os
import random
import signal

import pytest

from nija_tg.core.errors import CiphertextMismatchError, MasterKeyError
from nija_tg.core.models import Role
from nija_tg.services import key_rotation
from nija_tg.storage import credentials, users
from nija_tg.vault import Vault, generate_key, read_key_file, write_key_file
from tests.conftest import PYTHON, REPO, make_env

CREDS = {"apiKey": "AKsentinel-key-1234", "secret": "SECRETsentinel-5678"}


def test_round_trip_and_binding(vault):
    blob = vault.encrypt(1, "kraken", CREDS)
    assert b"sentinel" not in blob
    assert vault.decrypt(blob, 1, "kraken") == CREDS
    with pytest.raises(CiphertextMismatchError):
        vault.decrypt(blob, 2, "kraken")  # copied into another user's row
    with pytest.raises(CiphertextMismatchError):
        vault.decrypt(blob, 1, "bingx")  # copied under another exchange


def test_other_master_key_cannot_decrypt(vault):
    blob = vault.encrypt(1, "kraken", CREDS)
    with pytest.raises(MasterKeyError) as err:
        Vault([generate_key().encode()]).decrypt(blob, 1, "kraken")
    assert "sentinel" not in str(err.value)


def test_key_file_must_be_private(tmp_path):
    path = tmp_path / "master.key"
    write_key_file(path, [generate_key().encode()])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    read_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        read_key_file(path)


def test_key_file_garbage_and_missing(tmp_path):
    path = tmp_path / "master.key"
    with pytest.raises(MasterKeyError, match="does not exist"):
        read_key_file(path)
    path.write_text("not a key\n")
    os.chmod(path, 0o600)
    with pytest.raises(MasterKeyError, match="not a Fernet key"):
        read_key_file(path)


def test_vault_rereads_key_file_after_rotation_elsewhere(tmp_path):
    path = tmp_path / "master.key"
    old = generate_key().encode()
    write_key_file(path, [old])
    running = Vault.from_env_or_file(None, path)  # a process started before rotation
    new = generate_key().encode()
    write_key_file(path, [new])
    blob = Vault([new]).encrypt(5, "kraken", CREDS)
    assert running.decrypt(blob, 5, "kraken") == CREDS


async def _seed(db, vault, n):
    async with db.transaction() as tx:
        for uid in range(1, n + 1):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
            blob = vault.encrypt(uid, "kraken", {"apiKey": f"key-{uid}", "secret": f"sec-{uid}"})
            await credentials.store(tx, uid, "kraken", blob, f"{uid:04d}"[-4:], verified=True)


async def test_rotation_reencrypts_and_drops_old_key(db, settings):
    key_file = settings.effective_master_key_file
    write_key_file(key_file, [generate_key().encode()])
    old = read_key_file(key_file)[0]
    await _seed(db, Vault([old]), 30)
    report = await key_rotation.rotate_file_keys(db, key_file)
    assert (report.rotated, report.total) == (30, 30)
    keys = read_key_file(key_file)
    assert keys != [old] and len(keys) == 1
    only_new = Vault(keys)
    for uid in range(1, 31):
        row = await credentials.get(db, uid)
        assert only_new.decrypt(row.ciphertext, uid, "kraken")["secret"] == f"sec-{uid}"


async def test_rotation_killed_half_way_then_rerun(db, settings, tmp_path):
    key_file = settings.effective_master_key_file
    write_key_file(key_file, [generate_key().encode()])
    old = read_key_file(key_file)[0]
    await _seed(db, Vault([old]), 4000)
    env = make_env(settings.data_dir)
    rng = random.Random(7)
    for _attempt in range(3):
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
        await asyncio.sleep(rng.uniform(0.6, 1.4))
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        # Whatever the moment of the kill: every row is readable with the key file.
        current = Vault(read_key_file(key_file))
        rows = await credentials.rotation_batch(db, 0, 10_000)
        assert len(rows) == 4000
        for uid, blob in rows[::97]:
            assert current.decrypt(blob, uid, "kraken")["apiKey"] == f"key-{uid}"
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
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    keys = read_key_file(key_file)
    assert len(keys) == 1 and keys[0] != old
    final = Vault(keys)
    for uid, blob in await credentials.rotation_batch(db, 0, 10_000):
        assert final.decrypt(blob, uid, "kraken")["apiKey"] == f"key-{uid}"
