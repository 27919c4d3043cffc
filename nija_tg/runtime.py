"""What the processes open at start: the data directory and the database; the engine
(and the operator's key commands) also open the key ring. The bot never does."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nija_tg.config import Settings
from nija_tg.redaction import register_secret
from nija_tg.storage.db import Database

if TYPE_CHECKING:  # the bot never loads the key ring at run time
    from nija_tg.vault.fernet_legacy import Vault as LegacyVault
    from nija_tg.vault.keyring import KeyRing


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: KeyRing | None = None  # the engine's KeyRing; None in the bot

    async def close(self) -> None:
        await self.db.close()


def shared_data_dir(data_dir: Path) -> bool:
    """True when the operator set the data directory up for two OS users (the production
    layout: bot and engine users in one group, directory setgid, docs/security.md)."""
    try:
        return bool(data_dir.stat().st_mode & stat.S_ISGID)
    except FileNotFoundError:
        return False


def restrict_file_modes(data_dir: Path | None = None) -> None:
    """Files this process creates are readable by its own user only (umask 077): the
    database, its WAL, backups and logs. In a shared (setgid) data directory the group
    may read and write them too (umask 007), so bot and engine can run as two users; key
    files and backups are written 0600 whatever the umask."""
    shared = data_dir is not None and shared_data_dir(data_dir)
    os.umask(0o007 if shared else 0o077)


def init_data_dir(settings: Settings) -> list[str]:
    """Create what is missing (data dir 0700, logs dir, engine key file 0600). Returns
    what was created, for the operator."""
    from nija_tg.vault.keyring import generate_private_key, parse_private_keys, write_key_file

    restrict_file_modes(settings.data_dir)
    created = []
    for directory in (settings.data_dir, settings.log_dir):
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            created.append(f"directory {directory}")
    if not shared_data_dir(settings.data_dir):
        os.chmod(settings.data_dir, 0o700)
    key_file = settings.effective_engine_key_file
    if not settings.engine_key and not key_file.exists():
        keys = parse_private_keys(generate_private_key(), "new key")
        write_key_file(key_file, keys)
        created.append(
            f"engine key file {key_file} (mode 0600; only the engine's user may read it; "
            "back it up apart from the data)"
        )
    return created


def share_database(settings: Settings) -> None:
    """In a shared data directory the group reads and writes the database (SQLite makes
    it 0644 whatever the umask; its -wal and -shm files follow the database's mode)."""
    if not shared_data_dir(settings.data_dir):
        return
    for path in (
        settings.db_path,
        *(settings.db_path.with_name(settings.db_path.name + x) for x in ("-wal", "-shm")),
    ):
        try:
            if path.exists() and path.stat().st_uid == os.getuid():
                os.chmod(path, 0o660)
        except OSError:
            pass  # another user's file: theirs to share


def register_config_secrets(settings: Settings) -> None:
    """The configuration's secrets are redacted for the life of the process (pinned: the
    registry's size bound never drops them)."""
    register_secret(settings.telegram_token, pin=True)
    register_secret(settings.webhook_secret, pin=True)
    for value in (settings.master_key, settings.engine_key):
        for part in (value or "").split(","):
            register_secret(part.strip(), pin=True)


def open_keyring(settings: Settings) -> KeyRing:
    """The engine's private keys (NIJA_ENGINE_KEY, else the key file)."""
    from nija_tg.vault.keyring import KeyRing

    return KeyRing.from_env_or_file(settings.engine_key, settings.effective_engine_key_file)


def open_legacy_vault(settings: Settings) -> LegacyVault | None:
    """The pre-sealing Fernet keys, when configured or present (only to migrate old
    rows); None otherwise."""
    from nija_tg.vault.fernet_legacy import Vault

    key_file = settings.effective_master_key_file
    if not settings.master_key and not key_file.exists():
        return None
    return Vault.from_env_or_file(settings.master_key, key_file)


async def open_runtime(settings: Settings, *, with_keyring: bool = False) -> Runtime:
    restrict_file_modes(settings.data_dir)
    register_config_secrets(settings)
    keyring = open_keyring(settings) if with_keyring else None
    db = await Database.open(settings.db_path)
    share_database(settings)
    return Runtime(settings=settings, db=db, keyring=keyring)


def database_exists(path: Path) -> bool:
    return path.is_file() and os.path.getsize(path) > 0
