"""Legacy Fernet vault (before key sealing): kept only to migrate old credential rows.

Ciphertexts are MultiFernet tokens over a JSON payload that names the owner:
``{"v": 1, "user_id": ..., "exchange_id": ..., "credentials": {...}}``. Decryption
checks both, so a blob copied into another user's (or exchange's) row is refused.

Master keys come from ``NIJA_MASTER_KEY`` (comma-separated) or from the old 0600 key
file; the engine reads them at start only to re-seal rows of the old format
(``key_rotation.migrate_legacy_rows``). Nothing new is ever encrypted with them outside
tests that make such rows.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from nija_tg.core.errors import CiphertextMismatchError, MasterKeyError
from nija_tg.redaction import register_secret

PAYLOAD_VERSION = 1


def generate_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(text: str, origin: str) -> list[bytes]:
    keys = []
    for part in text.replace(",", "\n").splitlines():
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        try:
            Fernet(part.encode())
        except (ValueError, TypeError):
            raise MasterKeyError(
                f"{origin} holds a value that is not a Fernet key "
                "(44 characters of url-safe base64); generate one with `nija-tg keygen`"
            ) from None
        register_secret(part)
        keys.append(part.encode())
    if not keys:
        raise MasterKeyError(f"{origin} holds no key; run `nija-tg init` or `nija-tg keygen`")
    return keys


def read_key_file(path: Path) -> list[bytes]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MasterKeyError(
            f"master key file {path} does not exist; run `nija-tg init` to create it"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(
            f"master key file {path} is readable by others; run `chmod 600 {path}`"
        )
    return parse_keys(path.read_text(encoding="ascii"), str(path))


class Vault:
    def __init__(self, keys: list[bytes], reload: Callable[[], list[bytes]] | None = None):
        self._reload = reload
        self._set_keys(keys)

    def _set_keys(self, keys: list[bytes]) -> None:
        if not keys:
            raise MasterKeyError("no master key configured")
        self._keys = list(keys)
        self._fernet = MultiFernet([Fernet(k) for k in self._keys])
        self._primary = Fernet(self._keys[0])

    @classmethod
    def from_env_or_file(cls, env_value: str | None, key_file: Path) -> Vault:
        if env_value:
            return cls(parse_keys(env_value, "NIJA_MASTER_KEY"))
        return cls(read_key_file(key_file), reload=lambda: read_key_file(key_file))

    def encrypt(self, user_id: int, exchange_id: str, credentials: dict[str, str]) -> bytes:
        for value in credentials.values():
            register_secret(value)
        payload = {
            "v": PAYLOAD_VERSION,
            "user_id": int(user_id),
            "exchange_id": exchange_id,
            "credentials": dict(credentials),
        }
        return self._fernet.encrypt(json.dumps(payload).encode())

    def decrypt(self, token: bytes, user_id: int, exchange_id: str) -> dict[str, str]:
        raw = self._decrypt_raw(token)
        try:
            payload = json.loads(raw)
            owner, exchange = int(payload["user_id"]), str(payload["exchange_id"])
            credentials = {str(k): str(v) for k, v in payload["credentials"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CiphertextMismatchError("credential payload is malformed") from None
        if owner != int(user_id) or exchange != exchange_id:
            raise CiphertextMismatchError(
                f"credential blob belongs to another owner (row user {user_id})"
            )
        for value in credentials.values():
            register_secret(value)
        return credentials

    def _decrypt_raw(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            pass
        if self._reload is not None:
            keys = self._reload()
            if keys != self._keys:
                self._set_keys(keys)
                try:
                    return self._fernet.decrypt(token)
                except InvalidToken:
                    pass
        raise MasterKeyError("credential cannot be decrypted with the configured master keys")
