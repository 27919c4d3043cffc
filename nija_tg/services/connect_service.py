"""Connecting an exchange account, the bot's half: which credentials to ask for, sealing
each one to the engine's public key the moment it arrives, submitting the sealed set.

This side can only seal: it holds no private key and never opens a credential. The
engine opens a submitted (pending) credential, verifies it with the exchange and its
withdraw-permission probe, and tells the user its verdict (engine/key_intake.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nija_tg.core.errors import (
    NoSealKeyError,
    SealKeyRotatedError,
    UnknownExchangeError,
    ValidationError,
)
from nija_tg.core.exchange_catalogue import EXCHANGE_ID_RE, allowed_fields
from nija_tg.redaction import register_secret
from nija_tg.storage import audit, credentials, seal_keys
from nija_tg.storage.db import Database
from nija_tg.vault.sealing import PublicSealKey, SealedCredentials

MAX_SECRET_LEN = 4096
ATTEMPTS_PER_WINDOW = 5
ATTEMPT_WINDOW_S = 600.0


@dataclass(frozen=True)
class SealedDraft:
    """What the conversation keeps between messages: sealed parts, never plain text."""

    user_id: int
    exchange_id: str
    sealed: SealedCredentials
    key_tail: str = ""

    def __repr__(self) -> str:
        return f"SealedDraft(user_id={self.user_id}, exchange_id={self.exchange_id!r})"


@dataclass(frozen=True)
class ConnectionInfo:
    exchange_id: str
    key_tail: str
    verified: bool
    reason: str
    permissions: tuple[str, ...]
    pending: bool = False


class ConnectService:
    def __init__(self, db: Database, *, allow_unproven: bool = False) -> None:
        self._db = db
        self._allow_unproven = allow_unproven

    def fields_for(self, raw_exchange_id: str) -> tuple[str, list[tuple[str, str]]]:
        """(normalised id, [(credential name, label)]); UnknownExchangeError, or
        ExchangeNotAllowedError (wallet keys, or no withdraw proof and not allowed)."""
        exchange_id = raw_exchange_id.strip().lower()
        if not EXCHANGE_ID_RE.match(exchange_id):
            raise UnknownExchangeError("malformed exchange id")
        return exchange_id, allowed_fields(exchange_id, allow_unproven=self._allow_unproven)

    async def attempt_allowed(self, user_id: int) -> bool:
        """At most ATTEMPTS_PER_WINDOW submissions per user in ATTEMPT_WINDOW_S: each
        one makes private calls from the server's IP, which exchanges ban for abuse."""
        since = time.time() - ATTEMPT_WINDOW_S
        return await audit.count_since(self._db, user_id, "credentials.submit", since) < (
            ATTEMPTS_PER_WINDOW
        )

    async def seal(
        self,
        user_id: int,
        exchange_id: str,
        draft: SealedDraft | None,
        name: str,
        value: str,
    ) -> SealedDraft:
        """Seal one credential to the current public key and add it to the draft."""
        value = value.strip()
        if not value or len(value) > MAX_SECRET_LEN:
            raise ValidationError("credential empty or too long", code="credential_malformed")
        if any(not (ch.isprintable() or ch in "\r\n") for ch in value):
            raise ValidationError(
                "credential with control characters", code="credential_characters"
            )
        register_secret(value)
        key = await self.current_key()
        if draft is None:
            draft = SealedDraft(user_id, exchange_id, SealedCredentials(key.key_id))
        elif draft.sealed.key_id != key.key_id:  # rotated between two parts
            raise SealKeyRotatedError("the sealing key changed during /connect")
        part = key.seal_part(user_id, exchange_id, name, value)
        tail = value[-4:] if name == "apiKey" else draft.key_tail
        return SealedDraft(user_id, exchange_id, draft.sealed.with_part(name, part), tail)

    async def current_key(self) -> PublicSealKey:
        """The current public key, read per seal so a rotation takes effect at once."""
        row = await seal_keys.current(self._db)
        if row is None:
            raise NoSealKeyError("no sealing key is published")
        return PublicSealKey.from_raw(row.public_key)

    async def submit(self, user_id: int, draft: SealedDraft) -> None:
        """Store the sealed set as pending for the engine to verify."""
        if draft.user_id != user_id:
            raise ValidationError("draft of another user")
        async with self._db.transaction() as tx:
            stored = await credentials.submit_pending(
                tx,
                user_id,
                draft.exchange_id,
                draft.sealed.to_bytes(),
                draft.key_tail,
                draft.sealed.key_id,
            )
            if stored:
                await audit.record(
                    tx, user_id, "credentials.submit", user_id, exchange=draft.exchange_id
                )
        if not stored:
            raise SealKeyRotatedError("sealed to a key that is no longer current")

    async def is_pending(self, user_id: int) -> bool:
        """True while the engine has not yet given its verdict on a submitted key."""
        return await credentials.has_pending(self._db, user_id)

    async def disconnect(self, user_id: int) -> bool:
        async with self._db.transaction() as tx:
            removed = await credentials.delete(tx, user_id)
            await audit.record(tx, user_id, "credentials.disconnect", user_id, removed=removed)
        return removed

    async def info(self, user_id: int) -> ConnectionInfo | None:
        row = await credentials.get(self._db, user_id)
        if row is None:
            return None
        return ConnectionInfo(
            exchange_id=row.exchange_id,
            key_tail="••••" + row.key_tail,
            verified=row.verified,
            reason=row.verify_reason,
            permissions=tuple(row.permissions),
        )

    async def audit_group_leak(self, user_id: int, chat_id: int, deleted: bool) -> None:
        async with self._db.transaction() as tx:
            await audit.record(
                tx, user_id, "credentials.group_attempt", user_id, chat=chat_id, deleted=deleted
            )
