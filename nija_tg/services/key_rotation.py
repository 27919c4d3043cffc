"""Master-key rotation: re-encrypt every credential row under the primary key.

Crash-safe by construction: the key file (when keys live in a file) gains the new key
as primary *before* any row changes, each row is replaced with a compare-and-set in a
small transaction, and the old key leaves the file only after every row was verified
under the new one. A rerun after a crash resumes (the marker file names the new key),
and rows already rotated are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nija_tg.core.errors import MasterKeyError
from nija_tg.storage import credentials
from nija_tg.storage.db import Database
from nija_tg.vault import Vault, generate_key, parse_keys, read_key_file, write_key_file

BATCH = 500


@dataclass(frozen=True)
class RotationReport:
    rotated: int
    already_current: int
    total: int
    old_keys_removed: bool


def _marker(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".rotating")


def begin_file_rotation(key_file: Path) -> None:
    """Make a new primary key, keeping the old ones, unless a rotation is pending."""
    marker = _marker(key_file)
    if marker.exists():
        new = read_key_file(marker)[0]  # resume with the key the crashed run chose
    else:
        new = generate_key().encode()
        write_key_file(marker, [new])  # remember which key we are rotating to
    keys = read_key_file(key_file)
    if keys[0] != new:
        write_key_file(key_file, [new, *[k for k in keys if k != new]])


async def reencrypt_all(db: Database, vault: Vault) -> tuple[int, int, int]:
    rotated = current = total = 0
    after = 0
    while True:
        batch = await credentials.rotation_batch(db, after, BATCH)
        if not batch:
            return rotated, current, total
        async with db.transaction() as tx:
            for user_id, blob in batch:
                total += 1
                if vault.is_current(blob):
                    current += 1
                elif await credentials.replace_ciphertext(tx, user_id, blob, vault.rotate(blob)):
                    rotated += 1
        after = batch[-1][0]


async def verify_all_current(db: Database, vault: Vault) -> bool:
    after = 0
    while True:
        batch = await credentials.rotation_batch(db, after, BATCH)
        if not batch:
            return True
        if not all(vault.is_current(blob) for _, blob in batch):
            return False
        after = batch[-1][0]


async def rotate_file_keys(db: Database, key_file: Path) -> RotationReport:
    """The whole operator flow for a key file: new primary, re-encrypt, drop old keys."""
    begin_file_rotation(key_file)
    vault = Vault(read_key_file(key_file))
    rotated, current, total = await reencrypt_all(db, vault)
    if not await verify_all_current(db, vault):
        raise MasterKeyError("some credentials are not yet under the new key; run again")
    keys = read_key_file(key_file)
    write_key_file(key_file, keys[:1])
    _marker(key_file).unlink(missing_ok=True)
    return RotationReport(rotated, current, total, old_keys_removed=True)


async def rotate_env_keys(db: Database, env_value: str) -> RotationReport:
    """Keys from NIJA_MASTER_KEY: the operator put the new key first; we re-encrypt.
    Removing the old key from the environment is then theirs to do."""
    vault = Vault(parse_keys(env_value, "NIJA_MASTER_KEY"))
    rotated, current, total = await reencrypt_all(db, vault)
    return RotationReport(rotated, current, total, old_keys_removed=False)
