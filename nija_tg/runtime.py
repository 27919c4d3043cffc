"""What the processes open at start: the data directory and the database; the engine
(and the operator's key commands) also open the key ring. The bot never does."""

from __future__ import annotations

import os
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


def restrict_file_modes() -> None:
    """Files this process creates are readable by its own user only (umask 077): the
    database, its WAL, backups, logs and key files."""
    os.umask(0o077)


def init_data_dir(settings: Settings) -> list[str]:
    """Create what is missing (data dir 0700, logs dir, engine key file 0600). Returns
    what was created, for the operator."""
    from nija_tg.vault.keyring import generate_private_key, parse_private_keys, write_key_file

    restrict_file_modes()
    created = []
    for directory in (settings.data_dir, settings.log_dir):
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            created.append(f"directory {directory}")
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


def register_config_secrets(settings: Settings) -> None:
    register_secret(settings.telegram_token)
    register_secret(settings.webhook_secret)
    for value in (settings.master_key, settings.engine_key):
        for part in (value or "").split(","):
            register_secret(part.strip())


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
    restrict_file_modes()
    register_config_secrets(settings)
    keyring = open_keyring(settings) if with_keyring else None
    db = await Database.open(settings.db_path)
    return Runtime(settings=settings, db=db, keyring=keyring)


def database_exists(path: Path) -> bool:
    return path.is_file() and os.path.getsize(path) > 0
