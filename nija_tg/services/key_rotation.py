"""Engine key rotation and the migration of legacy (Fernet) rows.

Operator flow, ``nija-tg rotate-key`` (run as the user that owns the engine key file):
1. a new key pair; its private half goes first into the key file (the marker file
   remembers it, so a rerun after a crash resumes with the same key);
2. its public half is published as the current sealing key: from this commit on every
   process seals to it, and a blob sealed to an older key is refused at submission;
3. every stored and pending credential sealed to another key is re-sealed to it, each
   with a compare-and-set in a small transaction;
4. once none is left, the old keys are marked retired (the running engine forgets their
   private halves within a second) and leave the key file.
Each step is idempotent: kill -9 anywhere and rerun.

With ``NIJA_ENGINE_KEY`` (keys in the environment) the operator restarts the engine with
the new key first, then runs ``rotate-key --env``: it refuses while a running engine does
not hold the new key, because rows would be sealed to a key that engine cannot open.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from nija_tg.core.errors import ConfigError, MasterKeyError, VaultError
from nija_tg.storage import credentials, seal_keys
from nija_tg.storage.db import Database
from nija_tg.vault.fernet_legacy import Vault as LegacyVault
from nija_tg.vault.keyring import (
    KeyRing,
    parse_private_keys,
    public_of,
    read_key_file,
    write_key_file,
)
from nija_tg.vault.sealing import container_key_id

log = logging.getLogger("nija_tg.keys")
BATCH = 500
ENGINE_FRESH_S = 60.0  # an engine that reported its keys this recently is running


@dataclass(frozen=True)
class RotationReport:
    rotated: int
    already_current: int
    total: int
    old_keys_removed: bool


def _marker(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".rotating")


async def publish_primary(db: Database, ring: KeyRing) -> bool:
    """Publish the ring's primary public key when no key is current yet (first start)."""
    async with db.transaction() as tx:
        if await seal_keys.current(tx) is not None:
            return False
        return await seal_keys.publish(tx, ring.primary.key_id, ring.primary.raw)


async def reseal_all(
    db: Database, ring: KeyRing, legacy: LegacyVault | None = None, *, only_legacy: bool = False
) -> tuple[int, int, int]:
    """Re-seal every row not under the ring's primary key. Legacy Fernet rows are opened
    with ``legacy`` (skipped, and counted as not current, without it). Returns
    (re-sealed, already current, total)."""
    target = ring.primary.key_id
    resealed = current = total = 0
    for table in credentials.SEALED_TABLES:
        after = 0
        while batch := await credentials.rotation_batch(db, table, after, BATCH):
            changes = []
            for user_id, exchange_id, blob in batch:
                total += 1
                if only_legacy and container_key_id(blob) is not None:
                    current += 1
                    continue
                try:
                    new = _resealed(ring, legacy, target, blob, user_id, exchange_id)
                except VaultError as err:
                    log.error("user %s: credential not re-sealed (%s)", user_id, err)
                    continue
                if new is None:
                    current += 1
                else:
                    changes.append((user_id, blob, new))
            async with db.transaction() as tx:
                for user_id, old, new in changes:
                    if await credentials.replace_ciphertext(tx, table, user_id, old, new):
                        resealed += 1
            after = batch[-1][0]
    return resealed, current, total


def _resealed(
    ring: KeyRing,
    legacy: LegacyVault | None,
    target: str,
    blob: bytes,
    user_id: int,
    exchange_id: str,
) -> bytes | None:
    key_id = container_key_id(blob)
    if key_id == target:
        return None
    if key_id is not None:
        return ring.reseal(blob, user_id, exchange_id)
    if legacy is None:
        raise MasterKeyError("legacy credential and no legacy master key to open it")
    return ring.seal(user_id, exchange_id, legacy.decrypt(blob, user_id, exchange_id))


async def count_not_current(db: Database, key_id: str) -> int:
    left = 0
    for table in credentials.SEALED_TABLES:
        after = 0
        while batch := await credentials.rotation_batch(db, table, after, BATCH):
            left += sum(1 for _, _, blob in batch if container_key_id(blob) != key_id)
            after = batch[-1][0]
    return left


async def _finish(db: Database, ring: KeyRing) -> tuple[int, int, int]:
    async with db.transaction() as tx:
        await seal_keys.publish(tx, ring.primary.key_id, ring.primary.raw)
    # Rows sealed before the publish commit are all visible now; later ones are refused
    # unless sealed to the new key. Two passes catch a row re-sealed by a racing CAS.
    first = await reseal_all(db, ring)
    if await count_not_current(db, ring.primary.key_id):
        await reseal_all(db, ring)
    if await count_not_current(db, ring.primary.key_id):
        raise MasterKeyError("some credentials are not yet under the new key; run again")
    async with db.transaction() as tx:
        await seal_keys.retire_all_but_current(tx)
    return first


async def rotate_file_keys(db: Database, key_file: Path) -> RotationReport:
    """The whole operator flow for a key file: new primary, publish, re-seal, retire."""
    marker = _marker(key_file)
    if marker.exists():
        new = read_key_file(marker)[0]  # resume with the key the crashed run chose
    else:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        new = X25519PrivateKey.generate()
        write_key_file(marker, [new])
    new_id = public_of(new).key_id
    keys = read_key_file(key_file)
    if public_of(keys[0]).key_id != new_id:
        others = [k for k in keys if public_of(k).key_id != new_id]
        write_key_file(key_file, [new, *others])
    ring = KeyRing(read_key_file(key_file))
    rotated, current, total = await _finish(db, ring)
    write_key_file(key_file, [new])
    marker.unlink(missing_ok=True)
    return RotationReport(rotated, current, total, old_keys_removed=True)


async def rotate_env_keys(db: Database, env_value: str) -> RotationReport:
    """Keys from NIJA_ENGINE_KEY, the new one first. Refused while a running engine
    does not hold it. Removing the old key from the environment is the operator's."""
    ring = KeyRing(parse_private_keys(env_value, "NIJA_ENGINE_KEY"))
    reported = await seal_keys.engine_keys(db)
    if reported is not None:
        held, at = reported
        if time.time() - at < ENGINE_FRESH_S and ring.primary.key_id not in held:
            raise ConfigError(
                "the running engine does not hold the new key yet: restart the engine with "
                "NIJA_ENGINE_KEY=<new>,<old> first, then run `nija-tg rotate-key --env` again"
            )
    rotated, current, total = await _finish(db, ring)
    return RotationReport(rotated, current, total, old_keys_removed=False)


async def migrate_legacy_rows(db: Database, ring: KeyRing, legacy: LegacyVault | None) -> int:
    """Engine start: re-seal rows still under the Fernet master key to the current key.
    Returns how many rows were migrated."""
    if legacy is None:
        return 0
    resealed, _, _ = await reseal_all(db, ring, legacy, only_legacy=True)
    return resealed
