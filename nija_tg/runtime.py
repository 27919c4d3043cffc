"""What both processes open at start: the data directory, the database, the vault."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nija_tg.config import Settings
from nija_tg.redaction import register_secret
from nija_tg.storage.db import Database
from nija_tg.vault import Vault, generate_key, write_key_file


@dataclass
class Runtime:
    settings: Settings
    db: Database
    vault: Vault

    async def close(self) -> None:
        await self.db.close()


def init_data_dir(settings: Settings) -> list[str]:
    """Create what is missing (data dir, logs dir, master key file). Returns what was
    created, for the operator."""
    created = []
    for directory in (settings.data_dir, settings.log_dir):
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            created.append(f"directory {directory}")
    key_file = settings.effective_master_key_file
    if not settings.master_key and not key_file.exists():
        write_key_file(key_file, [generate_key().encode()])
        created.append(f"master key file {key_file} (mode 0600; back it up apart from the data)")
    return created


def register_config_secrets(settings: Settings) -> None:
    register_secret(settings.telegram_token)
    register_secret(settings.webhook_secret)
    if settings.master_key:
        for part in settings.master_key.split(","):
            register_secret(part.strip())


def open_vault(settings: Settings) -> Vault:
    return Vault.from_env_or_file(settings.master_key, settings.effective_master_key_file)


async def open_runtime(settings: Settings) -> Runtime:
    register_config_secrets(settings)
    vault = open_vault(settings)
    db = await Database.open(settings.db_path)
    return Runtime(settings=settings, db=db, vault=vault)


def database_exists(path: Path) -> bool:
    return path.is_file() and os.path.getsize(path) > 0
