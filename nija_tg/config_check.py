"""``nija-tg check``: prove the configuration before anything starts.

Each step either adds one line to the report or raises with one clear line: the bot
token (set, well-formed, and accepted by the Bot API: ``getMe`` names the bot), the
engine key file's mode, and the database (its schema version against this release's,
writable). A database or key file that does not exist yet is fine: ``init`` makes them.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from nija_tg.config import Settings
from nija_tg.core.errors import ConfigError, NijaError
from nija_tg.redaction import redact
from nija_tg.runtime import database_exists
from nija_tg.storage.db import schema_versions

BOT_API_TIMEOUT_S = 10.0


class CheckFailed(NijaError):
    """The configuration does not work; the message says what to do."""


async def check_configuration(settings: Settings) -> list[str]:
    """The report's lines, one per step; raises ConfigError (missing or malformed
    settings) or CheckFailed (a step failed)."""
    token = settings.require_token()
    return [
        await check_bot_token(token, settings.telegram_api_base_url),
        check_key_file(settings),
        check_database(settings.db_path),
    ]


async def check_bot_token(token: str, api: str) -> str:
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError
    from telegram.request import HTTPXRequest

    request = HTTPXRequest(
        connect_timeout=BOT_API_TIMEOUT_S, read_timeout=BOT_API_TIMEOUT_S, connection_pool_size=1
    )
    bot = Bot(token, base_url=f"{api}/bot", request=request, get_updates_request=request)
    try:
        me = await bot.get_me()
    except InvalidToken:
        raise CheckFailed(
            f"the Bot API at {api} refused TELEGRAM_BOT_TOKEN (Unauthorized): copy the "
            "token again from @BotFather (/mybots -> API Token)"
        ) from None
    except NetworkError as exc:
        raise CheckFailed(
            f"the Bot API at {api} could not be reached ({redact(str(exc))[:120]}): check "
            "the network, a proxy, or TELEGRAM_API_BASE_URL"
        ) from None
    except TelegramError as exc:
        raise CheckFailed(f"the Bot API at {api} answered: {redact(str(exc))[:160]}") from None
    finally:
        await request.shutdown()
    return f"ok: bot @{me.username} (id {me.id}) answers at {api}"


def check_key_file(settings: Settings) -> str:
    if settings.engine_key:
        return "ok: engine key from NIJA_ENGINE_KEY"
    path = settings.effective_engine_key_file
    if not path.exists():
        return f"ok: no engine key file yet ({path}): `nija-tg init` creates it"
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CheckFailed(
            f"the engine key file {path} is readable by others (mode {mode:04o}): chmod 600 {path}"
        )
    return f"ok: engine key file {path} (mode {mode:04o})"


def check_database(db_path: Path) -> str:
    if not database_exists(db_path):
        parent = _existing_parent(db_path.parent)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CheckFailed(f"the database {db_path} cannot be created: {parent} is read-only")
        return f"ok: no database yet ({db_path}): `nija-tg init` creates it"
    try:
        version, latest = schema_versions(db_path)
    except sqlite3.DatabaseError as exc:
        raise CheckFailed(f"the database {db_path} cannot be read: {exc}") from None
    if version is not None and version > latest:
        raise CheckFailed(
            f"the database {db_path} has schema {version}, newer than this release's "
            f"({latest}): run the release that wrote it, or restore a backup"
        )
    for path in (db_path, db_path.parent):
        if not os.access(path, os.W_OK):
            raise CheckFailed(f"the database {db_path} is not writable ({path} is read-only)")
    if version == latest:
        return f"ok: database {db_path} (schema {version}, current)"
    return f"ok: database {db_path} (schema {version or 0}; migrates to {latest} at start)"


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


__all__ = ["CheckFailed", "ConfigError", "check_configuration"]
