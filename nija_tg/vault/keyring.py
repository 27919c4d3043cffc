"""The engine's private keys: the only thing that opens a stored credential.

Keys come from ``NIJA_ENGINE_KEY`` (comma-separated, primary first) or from a 0600 key
file (one key a line, primary first), never from the database: the database holds only
the public halves. Each key is 32 bytes of X25519, written as url-safe base64.

The ring re-reads its file when asked to open a blob sealed to a key id it does not hold
(``nija-tg rotate-key`` added one while the engine ran), and forgets keys the database
marks retired (``forget``), so a retired private key leaves the running engine at once.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from nija_tg.core.errors import CiphertextMismatchError, MasterKeyError
from nija_tg.redaction import register_secret
from nija_tg.vault.sealing import (
    PublicSealKey,
    SealedCredentials,
    open_parts,
    parse_container,
    public_bytes,
)

KEYGEN_HINT = "generate one with `nija-tg keygen` or create the file with `nija-tg init`"


def generate_private_key() -> str:
    """A new private key in the text form the key file and NIJA_ENGINE_KEY hold."""
    return _encode(X25519PrivateKey.generate())


def _encode(key: X25519PrivateKey) -> str:
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.urlsafe_b64encode(raw).decode()


def parse_private_keys(text: str, origin: str) -> list[X25519PrivateKey]:
    keys = []
    for part in text.replace(",", "\n").splitlines():
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        register_secret(part, pin=True)
        try:
            raw = base64.urlsafe_b64decode(part.encode())
            if len(raw) != 32:
                raise ValueError("length")
            keys.append(X25519PrivateKey.from_private_bytes(raw))
        except (ValueError, binascii.Error):
            raise MasterKeyError(
                f"{origin} holds a value that is not an engine key (32 bytes of url-safe "
                f"base64); {KEYGEN_HINT}"
            ) from None
    if not keys:
        raise MasterKeyError(f"{origin} holds no key; {KEYGEN_HINT}")
    return keys


def read_key_file(path: Path) -> list[X25519PrivateKey]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MasterKeyError(f"engine key file {path} does not exist; {KEYGEN_HINT}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(
            f"engine key file {path} is readable by others; run `chmod 600 {path}`"
        )
    return parse_private_keys(path.read_text(encoding="ascii"), str(path))


def write_key_file(path: Path, keys: list[X25519PrivateKey]) -> None:
    """Atomically replace the key file (0600), fsynced: a crash leaves the old or the new
    file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, "".join(_encode(k) + "\n" for k in keys).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def public_of(key: X25519PrivateKey) -> PublicSealKey:
    return PublicSealKey.from_raw(public_bytes(key.public_key()))


class KeyRing:
    """Private keys by key id, primary first."""

    def __init__(
        self,
        keys: list[X25519PrivateKey],
        reload: Callable[[], list[X25519PrivateKey]] | None = None,
    ) -> None:
        if not keys:
            raise MasterKeyError("no engine key configured")
        self._reload = reload
        self._forgotten: set[str] = set()
        self._set(keys)

    @classmethod
    def generate(cls) -> KeyRing:
        return cls([X25519PrivateKey.generate()])

    @classmethod
    def from_env_or_file(cls, env_value: str | None, key_file: Path) -> KeyRing:
        if env_value:
            return cls(parse_private_keys(env_value, "NIJA_ENGINE_KEY"))
        return cls(read_key_file(key_file), reload=lambda: read_key_file(key_file))

    def _set(self, keys: list[X25519PrivateKey]) -> None:
        pairs = [(public_of(k), k) for k in keys]
        self._keys = {pub.key_id: k for pub, k in pairs if pub.key_id not in self._forgotten}
        self._primary = pairs[0][0]

    @property
    def primary(self) -> PublicSealKey:
        """The public half of the primary key (what ``init`` and rotation publish)."""
        return self._primary

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def holds(self, key_id: str) -> bool:
        return key_id in self._keys

    def forget(self, key_ids: set[str] | frozenset[str]) -> None:
        """Drop retired keys from memory, for good (a reload does not bring them back)."""
        self._forgotten |= set(key_ids)
        for key_id in key_ids:
            self._keys.pop(key_id, None)

    def reload(self) -> bool:
        """Re-read the key file; True when the set of keys changed."""
        if self._reload is None:
            return False
        before = set(self._keys)
        self._set(self._reload())
        return set(self._keys) != before

    def seal(self, user_id: int, exchange_id: str, credentials: dict[str, str]) -> bytes:
        """Seal a whole set to the primary public key (tests and tools; the bot seals
        part by part with the published public key only)."""
        sealed = SealedCredentials(self._primary.key_id)
        for name, value in credentials.items():
            register_secret(value)
            sealed = sealed.with_part(
                name, self._primary.seal_part(user_id, exchange_id, name, value)
            )
        return sealed.to_bytes()

    def open(self, blob: bytes, user_id: int, exchange_id: str) -> dict[str, str]:
        """The credentials in ``blob``, checked to belong to this user and exchange.

        Raises MasterKeyError when the blob's key is not (or no longer) held, and
        CiphertextMismatchError when it belongs to another row."""
        sealed = parse_container(blob)
        if sealed is None:
            raise MasterKeyError("credential is in the legacy format and not yet migrated")
        key = self._keys.get(sealed.key_id)
        if key is None and sealed.key_id not in self._forgotten and self.reload():
            key = self._keys.get(sealed.key_id)
        if key is None:
            raise MasterKeyError("credential is sealed to a key this engine does not hold")
        if not sealed.parts:
            raise CiphertextMismatchError("credential container holds nothing")
        opened = open_parts(key, sealed, user_id, exchange_id)
        for value in opened.values():
            register_secret(value)
        return opened

    def reseal(self, blob: bytes, user_id: int, exchange_id: str) -> bytes:
        """Open ``blob`` and seal it again to the primary key (rotation)."""
        return self.seal(user_id, exchange_id, self.open(blob, user_id, exchange_id))
