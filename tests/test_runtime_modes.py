"""File modes: private by default; group-shared only in a setgid data directory (the
two-user production layout of docs/security.md); keys and backups always 0600."""

from __future__ import annotations

import os
import stat

from nija_tg.config import load_settings
from nija_tg.runtime import init_data_dir, open_runtime


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_private_by_default(tmp_path):
    settings = load_settings({"NIJA_DATA_DIR": str(tmp_path / "data")}, dotenv=None)
    init_data_dir(settings)
    runtime = await open_runtime(settings)
    try:
        await runtime.db.backup(tmp_path / "backup.sqlite3")
    finally:
        await runtime.close()
    assert _mode(settings.data_dir) == 0o700
    assert _mode(settings.db_path) == 0o600
    assert _mode(settings.effective_engine_key_file) == 0o600
    assert _mode(tmp_path / "backup.sqlite3") == 0o600


async def test_setgid_data_dir_is_shared_with_the_group_but_keys_stay_private(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o2770)  # what the operator sets up for bot and engine users
    settings = load_settings({"NIJA_DATA_DIR": str(data)}, dotenv=None)
    init_data_dir(settings)  # init must not take the group away again
    runtime = await open_runtime(settings)
    try:
        await runtime.db.backup(tmp_path / "backup.sqlite3")
    finally:
        await runtime.close()
    assert _mode(data) == 0o2770
    assert _mode(settings.db_path) == 0o660
    assert _mode(settings.effective_engine_key_file) == 0o600
    assert _mode(tmp_path / "backup.sqlite3") == 0o600
